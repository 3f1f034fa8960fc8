"""HTML pages: the upload form and a submission's live feedback page."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from grader.services import permissions
from grader.services.errors import DomainError
from grader.services.notebooks import human_size
from grader.services.staff.gradebook import gradebook_csv
from grader.services.submissions import feedback
from grader.services.submissions.standings import standings_for
from grader.web.errors import status_of
from grader.web.forms.submissions import UploadForm
from grader.web.uploads import accept

bp = Blueprint("pages", __name__)
# `{% if role is staff_role %}`: templates ask the permissions module too.
bp.add_app_template_test(permissions.is_staff_role, "staff_role")
bp.add_app_template_test(permissions.is_instructor_role, "instructor_role")

# The rendered notebook holds the student's own outputs, which may include HTML and scripts. It is
# served with a sandbox CSP (and shown in a sandboxed iframe) so it can never act as our site. Only
# our own submission page may frame it; the app-wide headers leave these in place.
NOTEBOOK_CSP = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "frame-ancestors 'self'"
)
NOTEBOOK_HEADERS = {"Content-Security-Policy": NOTEBOOK_CSP, "X-Frame-Options": "SAMEORIGIN"}


@bp.get("/")
@login_required
def index():
    form = UploadForm()
    # An LMS link opens this page with its assignment chosen.
    form.assignment.data = request.args.get("assignment")
    return _upload_page(form)


@bp.post("/submissions")
@login_required
def upload():
    form = UploadForm()
    try:
        accepted = accept(form.assignment.data, form.file.data)
    except DomainError as exc:
        # The upload page again, with the reason above the form.
        flash(str(exc), "error")
        return _upload_page(form), status_of(exc)
    return redirect(url_for("pages.submission", submission_id=accepted.submission_id), code=303)


@bp.get("/submissions/<int:submission_id>")
@login_required
def submission(submission_id: int):
    _visible(submission_id)
    return render_template("submission.html", view=feedback.submission_view(submission_id))


@bp.get("/submissions/<int:submission_id>/status")
@login_required
def status(submission_id: int):
    _visible(submission_id)
    return feedback.run_status(submission_id).to_dict()


@bp.get("/submissions/<int:submission_id>/notebook.html")
@login_required
def notebook_html(submission_id: int):
    _visible(submission_id)
    return Response(
        feedback.executed_notebook_html(submission_id),
        mimetype="text/html",
        headers=NOTEBOOK_HEADERS,
    )


@bp.get("/submissions/<int:submission_id>/plots/<question_key>.png")
@login_required
def question_plot(submission_id: int, question_key: str):
    _visible(submission_id)
    return Response(feedback.question_plot(submission_id, question_key), mimetype="image/png")


@bp.get("/submissions/<int:submission_id>/executed.ipynb")
@login_required
def executed_notebook(submission_id: int):
    _visible(submission_id)
    return Response(
        feedback.executed_notebook(submission_id),
        mimetype="application/x-ipynb+json",
        headers={
            "Content-Disposition": f"attachment; filename=submission-{submission_id}-executed.ipynb"
        },
    )


@bp.get("/assignments/<int:assignment_id>/gradebook.csv")
@login_required
def gradebook(assignment_id: int):
    return Response(
        gradebook_csv(current_user._get_current_object(), assignment_id),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=gradebook-{assignment_id}.csv"},
    )


def _visible(submission_id: int) -> None:
    permissions.require_visible(current_user._get_current_object(), submission_id)


def _upload_page(form: UploadForm) -> str:
    user = current_user._get_current_object()
    standings = standings_for(user)
    open_assignments = [s.assignment for s in standings if s.attempts_left != 0]
    return render_template(
        "index.html",
        standings=standings,
        teaching_courses=permissions.courses_taught(user),
        open_assignments=open_assignments,
        form=form.offer(open_assignments),
        submissions=feedback.submissions_of(user, request.args.get("page", type=int)),
        max_upload=human_size(current_app.config["GRADER"].max_upload_bytes),
    )
