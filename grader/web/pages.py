"""HTML pages: the upload form and a submission's live feedback page."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from grader.notebooks import NotebookRejected, human_size
from grader.services.people.accounts import courses_taught
from grader.services.staff.gradebook import gradebook_csv
from grader.services.staff.manual_grading import GradingForbidden
from grader.services.submissions import feedback
from grader.services.submissions.standings import standings_for
from grader.web.uploads import accept_from_request

bp = Blueprint("pages", __name__)

# The rendered notebook holds the student's own outputs, which may include HTML and scripts. It is
# served with a sandbox CSP (and shown in a sandboxed iframe) so it can never act as our site. Only our
# own submission page may frame it; the app-wide headers leave these in place.
NOTEBOOK_CSP = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "frame-ancestors 'self'"
)
NOTEBOOK_HEADERS = {"Content-Security-Policy": NOTEBOOK_CSP, "X-Frame-Options": "SAMEORIGIN"}


@bp.get("/")
@login_required
def index():
    return _upload_page()


@bp.post("/submissions")
@login_required
def upload():
    try:
        accepted = accept_from_request()
    except NotebookRejected as exc:
        flash(exc.message, "error")
        return _upload_page(), exc.http_status
    return redirect(url_for("pages.submission", submission_id=accepted.submission_id), code=303)


@bp.get("/submissions/<int:submission_id>")
@login_required
def submission(submission_id: int):
    view = _or_404(feedback.submission_view, submission_id)
    return render_template("submission.html", view=view)


@bp.get("/submissions/<int:submission_id>/status")
@login_required
def status(submission_id: int):
    return _or_404(feedback.run_status, submission_id).to_dict()


@bp.get("/submissions/<int:submission_id>/notebook.html")
@login_required
def notebook_html(submission_id: int):
    body = _or_404(feedback.executed_notebook_html, submission_id)
    return Response(body, mimetype="text/html", headers=NOTEBOOK_HEADERS)


@bp.get("/submissions/<int:submission_id>/plots/<question_key>.png")
@login_required
def question_plot(submission_id: int, question_key: str):
    png = _or_404(lambda submission: feedback.question_plot(submission, question_key), submission_id)
    return Response(png, mimetype="image/png")


@bp.get("/submissions/<int:submission_id>/executed.ipynb")
@login_required
def executed_notebook(submission_id: int):
    body = _or_404(feedback.executed_notebook, submission_id)
    return Response(
        body,
        mimetype="application/x-ipynb+json",
        headers={"Content-Disposition": f"attachment; filename=submission-{submission_id}-executed.ipynb"},
    )


@bp.get("/assignments/<int:assignment_id>/gradebook.csv")
@login_required
def gradebook(assignment_id: int):
    try:
        body = gradebook_csv(current_user._get_current_object(), assignment_id)
    except (feedback.NotFound, GradingForbidden):
        abort(404)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=gradebook-{assignment_id}.csv"},
    )


def _upload_page() -> str:
    user = current_user._get_current_object()
    standings = standings_for(user)
    return render_template(
        "index.html",
        standings=standings,
        teaching_courses=courses_taught(user),
        open_assignments=[s.assignment for s in standings if s.attempts_left != 0],
        submissions=feedback.submissions_of(user),
        max_upload=human_size(current_app.config["GRADER"].max_upload_bytes),
    )


def _or_404(lookup, submission_id: int):
    """`lookup(submission_id)`, or 404 when it does not exist or is not the current user's to see."""
    try:
        feedback.check_visible(current_user._get_current_object(), submission_id)
        return lookup(submission_id)
    except feedback.NotFound:
        abort(404)
