"""Grading a stored run: claim it, execute the notebook through the engine, record the outcome."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import nbformat
from sqlalchemy import update

from grader.config import Settings
from grader.engine.execute import ExecutionResult, execute_notebook
from grader.extensions import db
from grader.models import GradingRun, RunStatus
from grader.rendering import notebook_to_html
from grader.services.blobs import get_blob, put_blob

log = logging.getLogger(__name__)

FAILED_TO_RUN = ("We could not run your notebook. This is usually a problem on our side; "
                 "staff have the details. You do not need to upload again.")


def grade_run(run_id: int, settings: Settings) -> RunStatus | None:
    """Grade run `run_id` unless it is already finished or missing; return its final status."""
    run = _claim(run_id)
    if run is None:
        return None
    log.info("grading run", extra={"run_id": run_id, "attempt": run.attempts})
    try:
        notebook = nbformat.reads(get_blob(run.submission.sha256).decode("utf-8-sig"), as_version=4)
        result = execute_notebook(notebook, cell_timeout=settings.cell_timeout_seconds,
                                  notebook_timeout=settings.notebook_timeout_seconds,
                                  on_progress=lambda done, total: _record_progress(run_id, done, total))
    except Exception:
        log.exception("execution failed", extra={"run_id": run_id})
        db.session.rollback()
        _finish(db.session.get(GradingRun, run_id), RunStatus.FAILED, error_message=FAILED_TO_RUN)
        raise
    _record_result(run, result)
    return run.status


def _claim(run_id: int) -> GradingRun | None:
    """Mark the run running and count the attempt; a finished run is left alone so re-delivery is harmless."""
    claimed = db.session.execute(
        update(GradingRun)
        .where(GradingRun.id == run_id, GradingRun.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]))
        .values(status=RunStatus.RUNNING, attempts=GradingRun.attempts + 1,
                started_at=datetime.now(timezone.utc), cells_done=0))
    db.session.commit()
    if claimed.rowcount == 0:
        return None
    return db.session.get(GradingRun, run_id)


def _record_progress(run_id: int, done: int, total: int) -> None:
    db.session.execute(update(GradingRun).where(GradingRun.id == run_id)
                       .values(cells_done=done, cells_total=total))
    db.session.commit()


def _record_result(run: GradingRun, result: ExecutionResult) -> None:
    executed = nbformat.writes(result.notebook).encode()
    run.executed_sha256 = put_blob(executed)
    run.executed_html_sha256 = put_blob(notebook_to_html(result.notebook).encode())
    run.cell_errors = [error.to_dict() for error in result.cell_errors]
    if result.stopped_reason:
        _finish(run, RunStatus.FAILED, error_message=result.stopped_reason)
    else:
        _finish(run, RunStatus.GRADED)


def _finish(run: GradingRun, status: RunStatus, error_message: str | None = None) -> None:
    run.status = status
    run.error_message = error_message
    run.finished_at = datetime.now(timezone.utc)
    db.session.commit()
