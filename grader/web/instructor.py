"""Pages for instructors: creating assignments, their settings, the rubric editor and validation."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from grader.models import Assignment, Course
from grader.services.assignments import authoring, prerelease, rubric_editor
from grader.services.errors import AuthoringError
from grader.services.notebooks import human_size
from grader.services.permissions import require_course_instructor, require_instructor
from grader.task_queue import enqueue_validation
from grader.web.forms import problems
from grader.web.forms.instructor import (
    NewAssignmentForm,
    RubricForm,
    RubricImportForm,
    SettingsForm,
)

bp = Blueprint("instructor", __name__)
PACKAGE_UPLOADS = {"instructor.new_assignment", "instructor.import_rubric"}


@bp.url_value_preprocessor
def _allow_package_uploads(endpoint: str | None, _values) -> None:
    # Runs before any before_request hook (CSRF reads the body there),
    # so packages get their own cap.
    if endpoint in PACKAGE_UPLOADS:
        request.max_content_length = authoring.MAX_PACKAGE_UPLOAD_BYTES


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    message = (
        f"The upload is larger than {human_size(authoring.MAX_PACKAGE_UPLOAD_BYTES)}. "
        "Leave large generated files out of the package."
    )
    return render_template("error.html", code=413, message=message), 413


@bp.get("/courses/<int:course_id>/assignments")
@login_required
def course(course_id: int):
    course = require_course_instructor(current_user._get_current_object(), course_id)
    return render_template(
        "instructor_course.html",
        course=course,
        assignments=authoring.course_assignments(course),
        release_state=authoring.release_state,
    )


@bp.route("/courses/<int:course_id>/assignments/new", methods=["GET", "POST"])
@login_required
def new_assignment(course_id: int):
    course = require_course_instructor(current_user._get_current_object(), course_id)
    form = NewAssignmentForm()
    if not form.validate_on_submit():
        return _new_page(course, form, [error for field in form for error in field.errors])
    try:
        assignment = authoring.create_assignment(
            course,
            form.slug.data,
            form.title.data,
            form.upload(),
            filename=form.package.data.filename if form.package.data else "",
        )
    except AuthoringError as exc:
        # The form again with what was typed, and every problem listed above it.
        return _new_page(course, form, str(exc).splitlines())
    flash(
        (
            f"Created {assignment.title}. Students cannot see it until you release it below; "
            "validate it first."
        ),
        "info",
    )
    return redirect(url_for(".assignment", assignment_id=assignment.id), code=303)


@bp.route("/assignments/<int:assignment_id>/settings", methods=["GET", "POST"])
@login_required
def assignment(assignment_id: int):
    assignment = _taught(assignment_id)
    if request.method == "GET":
        return _settings_page(assignment, SettingsForm.of(assignment))
    form = SettingsForm()
    if not form.validate():
        return _settings_page(assignment, form, problems(form, SettingsForm.NAMES))
    try:
        authoring.save_settings(assignment, form.settings())
    except AuthoringError as exc:
        return _settings_page(assignment, form, str(exc).splitlines())
    flash("Settings saved.", "info")
    return redirect(url_for(".assignment", assignment_id=assignment_id), code=303)


@bp.route("/assignments/<int:assignment_id>/rubric", methods=["GET", "POST"])
@login_required
def rubric(assignment_id: int):
    assignment = _taught(assignment_id)
    if request.method == "GET":
        return _rubric_page(assignment, RubricForm.of(rubric_editor.current_rows(assignment)))
    form = RubricForm()
    rows = form.rows()
    if form.add.data:
        return _rubric_page(
            assignment,
            RubricForm.of([*rows, rubric_editor.QuestionRow(kind=rubric_editor.KINDS[0])]),
        )
    try:
        rubric_editor.save_rows(assignment, rows)
    except AuthoringError as exc:
        return _rubric_page(assignment, RubricForm.of(rows), str(exc).splitlines())
    flash("Rubric saved. Graded submissions keep their scores until you re-grade them.", "info")
    return redirect(url_for(".rubric", assignment_id=assignment_id), code=303)


@bp.get("/assignments/<int:assignment_id>/rubric.yaml")
@login_required
def rubric_yaml(assignment_id: int):
    assignment = _taught(assignment_id)
    return Response(
        rubric_editor.export_rubric(assignment),
        mimetype="application/yaml",
        headers={"Content-Disposition": f"attachment; filename={assignment.slug}-rubric.yaml"},
    )


@bp.post("/assignments/<int:assignment_id>/rubric/import")
@login_required
def import_rubric(assignment_id: int):
    assignment = _taught(assignment_id)
    form = RubricImportForm()
    if not form.validate():
        errors = form.rubric_file.errors
    else:
        try:
            rubric_editor.import_rubric(assignment, form.rubric_file.data.read())
        except AuthoringError as exc:
            errors = str(exc).splitlines()
        else:
            flash("Rubric imported.", "info")
            return redirect(url_for(".rubric", assignment_id=assignment_id), code=303)
    editor = RubricForm.of(rubric_editor.current_rows(assignment))
    return _rubric_page(assignment, editor, import_form=form, import_errors=errors)


@bp.post("/assignments/<int:assignment_id>/validate")
@login_required
def validate(assignment_id: int):
    assignment = _taught(assignment_id)
    enqueue_validation(
        prerelease.request_validation(assignment, current_user._get_current_object())
    )
    flash("Validation queued: the solution and the template are being graded.", "info")
    return redirect(
        url_for(".assignment", assignment_id=assignment_id, _anchor="validation"), code=303
    )


@bp.get("/assignments/<int:assignment_id>/validation.json")
@login_required
def validation_status(assignment_id: int):
    view = prerelease.latest_validation(_taught(assignment_id))
    return view.to_dict() if view else {"status": None, "finished": True}


def _taught(assignment_id: int) -> Assignment:
    return require_instructor(current_user._get_current_object(), assignment_id)


def _new_page(course: Course, form: NewAssignmentForm, errors: list[str]) -> tuple[str, int] | str:
    page = render_template(
        "instructor_new.html",
        course=course,
        form=form,
        errors=errors,
        limit=human_size(authoring.MAX_PACKAGE_UPLOAD_BYTES),
    )
    return (page, 400) if errors else page


def _settings_page(assignment: Assignment, form: SettingsForm, errors: list[str] | None = None):
    page = render_template(
        "instructor_settings.html",
        assignment=assignment,
        form=form,
        errors=errors or [],
        validation=prerelease.latest_validation(assignment),
    )
    return (page, 400) if errors else page


def _rubric_page(
    assignment: Assignment,
    form: RubricForm,
    errors: list[str] | None = None,
    import_form: RubricImportForm | None = None,
    import_errors: list[str] | None = None,
):
    page = render_template(
        "instructor_rubric.html",
        assignment=assignment,
        form=form,
        import_form=import_form or RubricImportForm(formdata=None),
        kind_fields=rubric_editor.kind_fields(),
        errors=errors or [],
        import_errors=import_errors or [],
    )
    return (page, 400) if errors or import_errors else page
