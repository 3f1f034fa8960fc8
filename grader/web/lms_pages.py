"""Staff pages about the LMS: each student's grade passback on an assignment (with resend), and
the class-list sync of a course."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from grader.services.lti import passback, roster
from grader.services.permissions import is_instructor_role, require_staff, role_in
from grader.web.forms import ActionForm

bp = Blueprint("lms", __name__)


@bp.get("/assignments/<int:assignment_id>/lms-grades")
@login_required
def grades(assignment_id: int):
    user = current_user._get_current_object()
    assignment = require_staff(user, assignment_id)
    return render_template(
        "lms_grades.html",
        assignment=assignment,
        rows=passback.passback_rows(user, assignment_id),
        may_sync=is_instructor_role(role_in(user, assignment.course_id)),
    )


@bp.post("/assignments/<int:assignment_id>/lms-grades/resend")
@login_required
def resend(assignment_id: int):
    if ActionForm().validate_on_submit():
        student = request.form.get("student_id", "")
        sent = passback.resend(
            current_user._get_current_object(),
            assignment_id,
            int(student) if student.isdigit() else None,
        )
        flash(f"Sending {len(sent)} score(s) to the LMS again.", "success")
    return redirect(url_for("lms.grades", assignment_id=assignment_id), code=303)


@bp.post("/courses/<int:course_id>/lms-roster")
@login_required
def sync_roster(course_id: int):
    if ActionForm().validate_on_submit():
        result = roster.sync_roster(current_user._get_current_object(), course_id)
        flash(
            f"Class list synced from the LMS: {result.enrolled} enrolled"
            + (f", {result.skipped} skipped (other roles or inactive)." if result.skipped else "."),
            "success",
        )
    return redirect(url_for("instructor.course", course_id=course_id), code=303)
