"""GET /health: can this app reach its database and broker? For load balancers and monitoring."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from grader.extensions import db
from grader.services.grading.workers import live_workers, queue_depth
from grader.task_queue import broker_problem

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    checks, numbers = {}, {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
        numbers = {"queued_runs": queue_depth(), "live_workers": live_workers()}
    except (
        Exception
    ) as exc:  # any failure to answer means "not healthy"; say which, not a stack trace
        db.session.rollback()
        checks["database"] = f"unavailable: {type(exc).__name__}"
    problem = broker_problem()
    checks["broker"] = "ok" if problem is None else f"unavailable: {problem}"
    healthy = all(value == "ok" for value in checks.values())
    return jsonify(
        status="ok" if healthy else "unavailable", checks=checks, **numbers
    ), 200 if healthy else 503
