"""Pages for instructors: creating assignments, their settings, the rubric editor and validation."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from grader.models import Assignment
from grader.notebooks import human_size
from grader.services.assignments import authoring, prerelease, rubric_editor
from grader.services.assignments.authoring import AuthoringError, PackageParts
from grader.services.submissions.feedback import NotFound
from grader.task_queue import enqueue_validation

bp = Blueprint("instructor", __name__)
PACKAGE_UPLOADS = {"instructor.new_assignment", "instructor.import_rubric"}


@bp.url_value_preprocessor
def _allow_package_uploads(endpoint: str | None, _values) -> None:
    # Runs before any before_request hook (CSRF reads the body there), so packages get their own cap.
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
    course = _or_404(authoring.instructor_course, course_id)
    return render_template(
        "instructor_course.html",
        course=course,
        assignments=authoring.course_assignments(course),
        release_state=authoring.release_state,
    )


@bp.route("/courses/<int:course_id>/assignments/new", methods=["GET", "POST"])
@login_required
def new_assignment(course_id: int):
    course = _or_404(authoring.instructor_course, course_id)
    if request.method == "GET":
        return _new_page(course)
    try:
        upload = request.files.get("package")
        package = _read(upload) if upload and upload.filename else _parts()
        assignment = authoring.create_assignment(
            course,
            request.form.get("slug", ""),
            request.form.get("title", ""),
            package,
            filename=upload.filename if upload else "",
        )
    except AuthoringError as exc:
        return _new_page(course, str(exc).splitlines()), 400
    flash(
        f"Created {assignment.title}. Students cannot see it until you release it below; validate it first.",
        "info",
    )
    return redirect(url_for(".assignment", assignment_id=assignment.id), code=303)


@bp.route("/assignments/<int:assignment_id>/settings", methods=["GET", "POST"])
@login_required
def assignment(assignment_id: int):
    assignment = _or_404(authoring.instructor_assignment, assignment_id)
    if request.method == "POST":
        try:
            authoring.save_settings(assignment, authoring.parse_settings(request.form))
        except AuthoringError as exc:
            return _settings_page(assignment, request.form, str(exc).splitlines()), 400
        flash("Settings saved.", "info")
        return redirect(url_for(".assignment", assignment_id=assignment_id), code=303)
    return _settings_page(assignment, authoring.settings_fields(assignment))


@bp.route("/assignments/<int:assignment_id>/rubric", methods=["GET", "POST"])
@login_required
def rubric(assignment_id: int):
    assignment = _or_404(authoring.instructor_assignment, assignment_id)
    if request.method == "GET":
        return _rubric_page(assignment, rubric_editor.current_rows(assignment))
    rows = rubric_editor.rows_from_form(request.form)
    if request.form.get("action") == "add":
        return _rubric_page(assignment, rows + [rubric_editor.QuestionRow(kind=rubric_editor.KINDS[0])])
    try:
        rubric_editor.save_rows(assignment, rows)
    except AuthoringError as exc:
        return _rubric_page(assignment, rows, str(exc).splitlines()), 400
    flash("Rubric saved. Graded submissions keep their scores until you re-grade them.", "info")
    return redirect(url_for(".rubric", assignment_id=assignment_id), code=303)


@bp.get("/assignments/<int:assignment_id>/rubric.yaml")
@login_required
def rubric_yaml(assignment_id: int):
    assignment = _or_404(authoring.instructor_assignment, assignment_id)
    return Response(
        rubric_editor.export_rubric(assignment),
        mimetype="application/yaml",
        headers={"Content-Disposition": f"attachment; filename={assignment.slug}-rubric.yaml"},
    )


@bp.post("/assignments/<int:assignment_id>/rubric/import")
@login_required
def import_rubric(assignment_id: int):
    assignment = _or_404(authoring.instructor_assignment, assignment_id)
    try:
        rubric_editor.import_rubric(assignment, _read(request.files.get("rubric_file"), "rubric.yaml file"))
    except AuthoringError as exc:
        return _rubric_page(
            assignment, rubric_editor.current_rows(assignment), import_errors=str(exc).splitlines()
        ), 400
    flash("Rubric imported.", "info")
    return redirect(url_for(".rubric", assignment_id=assignment_id), code=303)


@bp.post("/assignments/<int:assignment_id>/validate")
@login_required
def validate(assignment_id: int):
    assignment = _or_404(authoring.instructor_assignment, assignment_id)
    enqueue_validation(prerelease.request_validation(assignment, current_user._get_current_object()))
    flash("Validation queued: the solution and the template are being graded.", "info")
    return redirect(url_for(".assignment", assignment_id=assignment_id, _anchor="validation"), code=303)


@bp.get("/assignments/<int:assignment_id>/validation.json")
@login_required
def validation_status(assignment_id: int):
    view = prerelease.latest_validation(_or_404(authoring.instructor_assignment, assignment_id))
    return view.to_dict() if view else {"status": None, "finished": True}


def _or_404(lookup, item_id: int):
    try:
        return lookup(current_user._get_current_object(), item_id)
    except NotFound:
        abort(404)


def _read(upload, what: str = "package zip") -> bytes:
    if upload is None or not upload.filename:
        raise AuthoringError(f"Choose a {what} to upload.")
    return upload.read()


def _parts() -> PackageParts:
    """The package as separate files: template, rubric and optional solution, data and hidden files."""
    files = request.files
    solution = files.get("solution")
    return PackageParts(
        template=_read(files.get("template"), "template notebook (or a package zip)"),
        rubric=_read(files.get("rubric"), "rubric.yaml"),
        solution=solution.read() if solution and solution.filename else None,
        data=_named("data"),
        hidden=_named("hidden"),
    )


def _named(field: str) -> dict[str, bytes]:
    return {upload.filename: upload.read() for upload in request.files.getlist(field) if upload.filename}


def _new_page(course, errors: list[str] | None = None) -> str:
    return render_template(
        "instructor_new.html",
        course=course,
        form=request.form,
        errors=errors or [],
        limit=human_size(authoring.MAX_PACKAGE_UPLOAD_BYTES),
    )


def _settings_page(assignment: Assignment, fields, errors: list[str] | None = None) -> str:
    return render_template(
        "instructor_settings.html",
        assignment=assignment,
        fields=fields,
        errors=errors or [],
        validation=prerelease.latest_validation(assignment),
    )


def _rubric_page(
    assignment: Assignment,
    rows,
    errors: list[str] | None = None,
    import_errors: list[str] | None = None,
) -> str:
    return render_template(
        "instructor_rubric.html",
        assignment=assignment,
        rows=rows,
        kinds=rubric_editor.KINDS,
        kind_fields=rubric_editor.kind_fields(),
        errors=errors or [],
        import_errors=import_errors or [],
    )
