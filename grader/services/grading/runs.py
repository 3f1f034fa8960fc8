"""Grading a stored run: claim it, grade the notebook through the engine, record the report."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import nbformat
import yaml
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.exc import OperationalError

from grader import metrics
from grader.config import Settings
from grader.engine.environments import EnvironmentStore
from grader.engine.grade import GradeResult, grade_notebook
from grader.engine.kernel_pool import KernelPool
from grader.engine.result_cache import ResultCache
from grader.engine.rubric import Rubric, parse_rubric
from grader.extensions import db
from grader.models import Assignment, GradingRun, QuestionResult, RunStatus, Submission
from grader.rendering import notebook_to_html
from grader.sandbox import sandbox_from_mode
from grader.services.assignments.rubric_editor import export_rubric
from grader.services.grading.identical import copy_result, identical_graded_run
from grader.services.storage.blobs import get_blob, put_blob
from grader.services.storage.packages import open_package

log = logging.getLogger(__name__)

NOTEBOOK_FAILED_TO_RUN = (
    "We could not run your notebook. This is usually a problem on our side; "
    "staff have the details. You do not need to upload again."
)
NO_RUBRIC = "This assignment has no rubric yet, so it cannot be graded. Staff have been told."
TOO_MANY_ATTEMPTS = (
    "Grading this notebook stopped the grader {} times (it may crash the machine it runs on), so "
    "it was not tried again. Check for code that exits, kills processes or uses all memory, "
    "and upload again."
)
TOO_LONG = (
    "Grading took longer than {} and was stopped. "
    "Look for cells that run for a very long time, and upload again."
)
RUN_HEARTBEAT_SECONDS = 5
# After the soft time limit, the time left to stop the kernels and record the failure before the
# task's process is killed.
HARD_LIMIT_GRACE_SECONDS = 60
# Packages never change (they are addressed by their hash), so neither does their budget.
_budgets: dict[tuple[str, int], int] = {}


def grade_run(
    run_id: int,
    settings: Settings,
    kernels: KernelPool | None = None,
    worker: str = "",
    time_limit: float | None = None,
) -> RunStatus | None:
    """Grade run `run_id` unless it is finished, missing or being graded by a live worker;
    return its status.

    `kernels` is the worker's pool of kernels started ahead of time, if it keeps one; `worker` names
    the worker process, for staff and logs; `time_limit` is the task's soft time limit, named to the
    student when it stops the grading.
    """
    run = _claim(run_id, settings, worker)
    if run is None:
        log.info(
            "run %s is finished or in another worker's hands; nothing to do",
            run_id,
            extra={"run_id": run_id},
        )
        return None
    log.info("grading run %s (attempt %s)", run_id, run.attempts, extra={"run_id": run_id})
    assignment = run.submission.assignment
    if run.attempts > settings.max_grading_attempts:
        _finish(
            run,
            RunStatus.FAILED,
            error_message=TOO_MANY_ATTEMPTS.format(settings.max_grading_attempts),
        )
        return run.status
    if assignment.package_sha256 is None:
        _finish(run, RunStatus.FAILED, error_message=NO_RUBRIC)
        return run.status
    # An identical upload may have been graded while this one waited in the queue.
    if settings.reuse_identical and reuse_identical_grading(run):
        log.info(
            "run %s took the result of identical run %s",
            run_id,
            run.reused_from_id,
            extra={"run_id": run_id},
        )
        return run.status
    run.package_sha256 = assignment.package_sha256
    try:
        notebook = nbformat.reads(get_blob(run.submission.sha256).decode("utf-8-sig"), as_version=4)
        with (
            open_package(assignment.package_sha256, settings.instance_dir / "packages") as package,
            _heartbeat(run_id),
        ):
            result = grade_notebook(
                notebook,
                package,
                sandbox_from_mode(settings.sandbox_mode, settings.kernel_cpu_weight),
                on_progress=lambda done, total: _record_progress(run_id, done, total),
                kernels=kernels,
                cache=ResultCache(settings.result_cache_dir),
                environments=EnvironmentStore(settings.environments_dir),
                # Identical uploads take an earlier run's result from the database (see
                # reuse_identical_grading); a run that reaches this point must be graded afresh.
                reuse_gradings=False,
            )
    except OperationalError:
        db.session.rollback()
        raise  # the database is away for a moment: the task is retried, and the run is still ours
    except SoftTimeLimitExceeded:
        # Raised wherever grading was; unwinding through grade_notebook stopped both kernels.
        log.warning("grading run %s went over its time limit", run_id, extra={"run_id": run_id})
        db.session.rollback()
        run = db.session.get(GradingRun, run_id)
        limit = f"{time_limit:.0f} seconds" if time_limit else "its time limit"
        _finish(run, RunStatus.FAILED, TOO_LONG.format(limit))
        return run.status
    except Exception:
        log.exception("grading run %s failed", run_id, extra={"run_id": run_id})
        db.session.rollback()
        _finish(
            db.session.get(GradingRun, run_id),
            RunStatus.FAILED,
            error_message=NOTEBOOK_FAILED_TO_RUN,
        )
        raise
    _record_result(run, result)
    return run.status


def reuse_identical_grading(run: GradingRun) -> bool:
    """Finish `run` with the result of an identical notebook graded before, if there is one
    (grader.services.grading.identical); whether it did. Nothing is run."""
    source = identical_graded_run(run)
    if source is None:
        return False
    copy_result(source, run)
    _finish(run, RunStatus.GRADED)
    return True


def time_limits(run_id: int, settings: Settings) -> dict[str, int]:
    """Celery's soft and hard time limits for grading run `run_id`, from its assignment's rubric,
    if any."""
    assignment = db.session.scalar(
        select(Assignment).join(Submission).join(GradingRun).where(GradingRun.id == run_id)
    )
    if assignment is None or assignment.package_sha256 is None:
        return {}
    budget = assignment_budget(assignment, settings)
    return {"soft_time_limit": budget, "time_limit": budget + HARD_LIMIT_GRACE_SECONDS}


def assignment_budget(assignment: Assignment, settings: Settings) -> int:
    """`time_budget` of the assignment's current package, read from its rubric once per process."""
    key = (assignment.package_sha256 or "", settings.grading_margin_seconds)
    if key not in _budgets:
        rubric = parse_rubric(yaml.safe_load(export_rubric(assignment)))
        _budgets[key] = time_budget(rubric, settings.grading_margin_seconds)
    return _budgets[key]


def time_budget(rubric: Rubric, margin_seconds: int) -> int:
    """Seconds grading a notebook for `rubric` may take: the notebook's limit, every answer's check
    and the wait for retrained models, and the margin for starting kernels and recording the
    result."""
    runtime = rubric.runtime
    return (
        runtime.notebook_timeout
        + runtime.probe_timeout * (len(rubric.questions) + 1)
        + margin_seconds
    )


def _claim(run_id: int, settings: Settings, worker: str) -> GradingRun | None:
    """Take the run and count the attempt, in one atomic update.

    Only a queued run, or a running one whose worker stopped writing heartbeats (it died), can be
    taken: a finished run, or one a live worker is grading, is left alone, so a task delivered twice
    grades once.
    """
    now = datetime.now(UTC)
    # This very process retrying after the database went away: its earlier attempt has ended, and it
    # was not the notebook's fault, so it does not count as an attempt.
    own_retry = (GradingRun.status == RunStatus.RUNNING) & (GradingRun.worker == worker)
    claimed = db.session.execute(
        update(GradingRun)
        .where(
            GradingRun.id == run_id,
            or_(
                GradingRun.status == RunStatus.QUEUED,
                own_retry,
                (GradingRun.status == RunStatus.RUNNING) & stale_heartbeat(settings, now),
            ),
        )
        .values(
            status=RunStatus.RUNNING,
            attempts=GradingRun.attempts + case((own_retry, 0), else_=1),
            started_at=now,
            heartbeat_at=now,
            worker=worker[:200],
            cells_done=0,
        )
    )
    db.session.commit()
    if claimed.rowcount == 0:
        return None
    return db.session.get(GradingRun, run_id)


def stale_heartbeat(settings: Settings, now: datetime):
    """SQL condition: the run's worker has been silent for longer than a live one ever is."""
    silent_since = now - timedelta(seconds=settings.stale_after_seconds)
    return or_(GradingRun.heartbeat_at.is_(None), GradingRun.heartbeat_at < silent_since)


@contextmanager
def _heartbeat(run_id: int) -> Iterator[None]:
    """Write the run's heartbeat every few seconds from a thread, however long one cell takes."""
    engine, stop = db.engine, threading.Event()

    def beat() -> None:
        while not stop.wait(RUN_HEARTBEAT_SECONDS):
            try:
                with engine.begin() as connection:
                    connection.execute(
                        update(GradingRun)
                        .where(GradingRun.id == run_id)
                        .values(heartbeat_at=datetime.now(UTC))
                    )
            except Exception:  # the database is away for a moment; the next beat tries again
                log.warning(
                    "could not write the heartbeat of run %s", run_id, extra={"run_id": run_id}
                )

    thread = threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _record_progress(run_id: int, done: int, total: int) -> None:
    db.session.execute(
        update(GradingRun)
        .where(GradingRun.id == run_id)
        .values(cells_done=done, cells_total=total, heartbeat_at=datetime.now(UTC))
    )
    db.session.commit()


def _record_result(run: GradingRun, result: GradeResult) -> None:
    report = result.report
    run.executed_sha256 = put_blob(nbformat.writes(result.executed).encode())
    run.executed_html_sha256 = put_blob(notebook_to_html(result.executed).encode())
    run.cell_errors = report.cell_errors
    run.score, run.max_score, run.manual_pending = (
        report.total,
        report.max_total,
        report.manual_pending,
    )
    run.sandbox_warning = report.sandbox_warning
    run.tamper = list(report.tamper)
    run.execution_seconds, run.scoring_seconds = result.execution_seconds, result.scoring_seconds
    run.warm_kernel = result.warm_kernel
    run.reusable, run.models_from_cache = result.reusable, list(result.from_cache)
    # A redelivered task may find rows from an attempt that died half-way: replace them,
    # never duplicate.
    db.session.execute(delete(QuestionResult).where(QuestionResult.run_id == run.id))
    for question in report.questions:
        details = {
            **question.details,
            "title": question.title,
            "answer_source": question.answer_source,
            "traceback": question.traceback,
        }
        if question.plot_png:
            details["plot_sha256"] = put_blob(question.plot_png)
        db.session.add(
            QuestionResult(
                run_id=run.id,
                question_key=question.key,
                auto_score=question.score,
                max_score=question.max_score,
                manual_points=question.manual_points,
                status=question.status,
                message=question.message,
                details=details,
            )
        )
    _finish(run, RunStatus.GRADED, error_message=report.stopped_reason)
    metrics.grading_recorded(result)


def _finish(run: GradingRun, status: RunStatus, error_message: str | None = None) -> None:
    run.status = status
    run.error_message = error_message
    run.finished_at = datetime.now(UTC)
    db.session.commit()
    metrics.run_finished(run)
