"""Grading a stored run: claim it, grade the notebook through the engine, record the report."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import nbformat
from sqlalchemy import delete, update

from grader.config import Settings
from grader.engine.grade import GradeResult, grade_notebook
from grader.engine.kernel_pool import KernelPool
from grader.extensions import db
from grader.models import GradingRun, QuestionResult, RunStatus
from grader.rendering import notebook_to_html
from grader.sandbox import sandbox_from_mode
from grader.services.blobs import get_blob, put_blob
from grader.services.packages import open_package

log = logging.getLogger(__name__)

FAILED_TO_RUN = ("We could not run your notebook. This is usually a problem on our side; "
                 "staff have the details. You do not need to upload again.")
NO_RUBRIC = "This assignment has no rubric yet, so it cannot be graded. Staff have been told."


def grade_run(run_id: int, settings: Settings, kernels: KernelPool | None = None) -> RunStatus | None:
    """Grade run `run_id` unless it is already finished or missing; return its final status.

    `kernels` is the worker's pool of kernels started ahead of time, if it keeps one.
    """
    run = _claim(run_id)
    if run is None:
        return None
    log.info("grading run %s (attempt %s)", run_id, run.attempts, extra={"run_id": run_id})
    assignment = run.submission.assignment
    if assignment.package_sha256 is None:
        _finish(run, RunStatus.FAILED, error_message=NO_RUBRIC)
        return run.status
    try:
        notebook = nbformat.reads(get_blob(run.submission.sha256).decode("utf-8-sig"), as_version=4)
        with open_package(assignment.package_sha256, settings.instance_dir / "packages") as package:
            result = grade_notebook(notebook, package, sandbox_from_mode(settings.sandbox_mode),
                                    on_progress=lambda done, total: _record_progress(run_id, done, total),
                                    kernels=kernels)
    except Exception:
        log.exception("grading run %s failed", run_id, extra={"run_id": run_id})
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


def _record_result(run: GradingRun, result: GradeResult) -> None:
    report = result.report
    run.executed_sha256 = put_blob(nbformat.writes(result.executed).encode())
    run.executed_html_sha256 = put_blob(notebook_to_html(result.executed).encode())
    run.cell_errors = report.cell_errors
    run.score, run.max_score, run.manual_pending = report.total, report.max_total, report.manual_pending
    run.sandbox_warning = report.sandbox_warning
    run.execution_seconds, run.scoring_seconds = result.execution_seconds, result.scoring_seconds
    run.warm_kernel = result.warm_kernel
    # A redelivered task may find rows from an attempt that died half-way: replace them, never duplicate.
    db.session.execute(delete(QuestionResult).where(QuestionResult.run_id == run.id))
    for question in report.questions:
        details = {**question.details, "title": question.title, "answer_source": question.answer_source,
                   "traceback": question.traceback}
        if question.plot_png:
            details["plot_sha256"] = put_blob(question.plot_png)
        db.session.add(QuestionResult(run_id=run.id, question_key=question.key, auto_score=question.score,
                                      max_score=question.max_score, manual_points=question.manual_points,
                                      status=question.status, message=question.message, details=details))
    _finish(run, RunStatus.GRADED, error_message=report.stopped_reason)


def _finish(run: GradingRun, status: RunStatus, error_message: str | None = None) -> None:
    run.status = status
    run.error_message = error_message
    run.finished_at = datetime.now(timezone.utc)
    db.session.commit()
