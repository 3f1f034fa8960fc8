"""Pages for TAs and instructors: re-grading (dashboards and the grading queue build on this)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user, login_required

from grader.queue import enqueue_grading
from grader.services import feedback, manual_grading

bp = Blueprint("staff", __name__)


@bp.post("/submissions/<int:submission_id>/regrade")
@login_required
def regrade_submission(submission_id: int):
    try:
        run_id = manual_grading.request_regrade(current_user._get_current_object(), submission_id)
    except (feedback.NotFound, manual_grading.GradingForbidden):
        abort(404)
    enqueue_grading(run_id)
    flash("Re-grading this submission; manual scores are kept.", "info")
    return redirect(url_for("pages.submission", submission_id=submission_id), code=303)


@bp.post("/assignments/<int:assignment_id>/regrade")
@login_required
def regrade_all(assignment_id: int):
    try:
        run_ids = manual_grading.request_regrade_all(current_user._get_current_object(), assignment_id)
    except (feedback.NotFound, manual_grading.GradingForbidden):
        abort(404)
    for run_id in run_ids:
        enqueue_grading(run_id)
    flash(f"Re-grading {len(run_ids)} submission{'s' if len(run_ids) != 1 else ''}; manual scores are kept.", "info")
    return redirect(url_for("pages.index"), code=303)
