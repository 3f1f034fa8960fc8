"""JSON API: upload a notebook and read its grading status."""
from __future__ import annotations

from flask import Blueprint, jsonify, url_for

from grader.notebooks import NotebookRejected
from grader.services import feedback
from grader.web.uploads import accept_from_request

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.post("/submissions")
def create_submission():
    try:
        accepted = accept_from_request()
    except NotebookRejected as exc:
        return jsonify(error=exc.message), exc.http_status
    body = {"submission_id": accepted.submission_id, "run_id": accepted.run_id, "status": "queued",
            "url": url_for("pages.submission", submission_id=accepted.submission_id, _external=True),
            "status_url": url_for("api.submission_status", submission_id=accepted.submission_id,
                                  _external=True)}
    return jsonify(body), 201, {"Location": body["url"]}


@bp.get("/submissions/<int:submission_id>")
def submission_status(submission_id: int):
    try:
        view = feedback.submission_view(submission_id)
    except feedback.NotFound:
        return jsonify(error=f"There is no submission {submission_id}."), 404
    return jsonify(id=view.id, assignment=view.assignment_title, filename=view.original_filename,
                   created_at=view.created_at.isoformat(), cell_errors=view.cell_errors, score=view.score,
                   max_score=view.max_score, manual_pending=view.manual_pending,
                   sandbox_warning=view.sandbox_warning,
                   questions=[question.to_dict() for question in view.questions], **view.run.to_dict())
