"""JSON API: upload a notebook and read its grading status (described in openapi.yaml)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user, login_required

from grader.services.assignments.rules import as_utc
from grader.services.errors import ScoreRejected
from grader.services.permissions import require_visible
from grader.services.staff import manual_grading, review
from grader.services.submissions import feedback
from grader.services.submissions.intake import MAX_ID
from grader.task_queue import enqueue_grading
from grader.web.auth import require_bearer_token
from grader.web.openapi import openapi_document
from grader.web.uploads import accept

bp = Blueprint("api", __name__, url_prefix="/api")
# An id past the database's integer range names nothing:
# routing answers 404 before the driver overflows.
SUBMISSION = f"/submissions/<int(min=1, max={MAX_ID}):submission_id>"
SCORE_BODY = 'send JSON {"score": number, "reason": text}'


@bp.before_request
def require_token():
    if request.endpoint == "api.openapi":
        return None  # the description of the API is public; it holds nothing of anyone's
    # Only bearer tokens, never the session cookie: the API takes no CSRF token, so a cookie must
    # not be enough for another site to submit in a student's name.
    # A bearer token, when sent, is checked even with a valid cookie;
    # the answer says why it was refused.
    return require_bearer_token()


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.post("/submissions")
@login_required
def create_submission():
    accepted = accept(request.form.get("assignment"), request.files.get("file"))
    body = {
        "submission_id": accepted.submission_id,
        "run_id": accepted.run_id,
        "status": "graded" if accepted.reused else "queued",
        "url": url_for("pages.submission", submission_id=accepted.submission_id, _external=True),
        "status_url": url_for(
            "api.submission_status", submission_id=accepted.submission_id, _external=True
        ),
    }
    return jsonify(body), 201, {"Location": body["url"]}


@bp.post(SUBMISSION + "/questions/<question_key>/score")
@login_required
def give_score(submission_id: int, question_key: str):
    score, reason = _score_body(request.get_json(silent=True))
    manual_grading.set_manual_score(
        current_user._get_current_object(), submission_id, question_key, score, reason
    )
    return submission_status(submission_id)


@bp.post(SUBMISSION + "/regrade")
@login_required
def regrade(submission_id: int):
    run_id = manual_grading.request_regrade(current_user._get_current_object(), submission_id)
    enqueue_grading(run_id)
    return jsonify(submission_id=submission_id, run_id=run_id, status="queued"), 202


@bp.get(SUBMISSION)
@login_required
def submission_status(submission_id: int):
    user = current_user._get_current_object()
    require_visible(user, submission_id)
    view = feedback.submission_view(submission_id)
    staff = review.staff_panel(user, submission_id)
    # Tamper flags are evidence for staff: a student's answer has no such key at all.
    staff_only = {"tamper": staff.tamper} if staff else {}
    # Staff see whose result was reused; a student only their own earlier submission, if it was.
    reused_from = staff.reused_from if staff else view.reused
    return jsonify(
        id=view.id,
        assignment=view.assignment_title,
        filename=view.original_filename,
        created_at=as_utc(view.created_at).isoformat(),
        cell_errors=view.cell_errors,
        score=view.score,
        max_score=view.max_score,
        manual_pending=view.manual_pending,
        final_score=view.final_total,
        points=view.points_total,
        awaiting_ta=view.awaiting_ta,
        sandbox_warning=view.sandbox_warning,
        late_days=view.lateness.days,
        late_penalty_percent=view.lateness.penalty_percent,
        total_after_penalty=view.total_after_penalty,
        questions=[question.to_dict() for question in view.questions],
        reused_from=reused_from.to_dict() if reused_from else None,
        models_reused=view.models_reused,
        **staff_only,
        **view.run.to_dict(),
    )


def _score_body(body: object) -> tuple[float, str]:
    """The score and reason of a score body; raise ScoreRejected unless it is exactly
    {score, reason}."""
    if not isinstance(body, dict) or set(body) != {"score", "reason"}:
        raise ScoreRejected(SCORE_BODY)
    score, reason = body["score"], body["reason"]
    # JSON true is an int to Python, but it is no score.
    if (
        isinstance(score, bool)
        or not isinstance(score, (int, float))
        or not isinstance(reason, str)
    ):
        raise ScoreRejected(SCORE_BODY)
    try:
        return float(score), reason
    except OverflowError:  # an integer of hundreds of digits
        raise ScoreRejected("the score is out of range") from None
