"""What a finished run, a recorded grading and a refused sandbox add to the metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from grader.engine.grade import GradeResult
    from grader.models import GradingRun

# Where a grading was refused: when the worker started (it then exits), or for one run.
RefusalPlace = Literal["worker_start", "grading"]
# What became of a score sent to an LMS: taken, refused for now (retried), given up on.
ScoreOutcome = Literal["sent", "refused", "failed"]


def run_finished(run: GradingRun) -> None:
    """Count a run that just finished, by outcome, how long its student waited for it, and
    whether it took an identical upload's result instead of running."""
    from grader.metrics import instruments  # prometheus_client on first use: see grader.metrics

    instruments.RUNS_FINISHED.labels(outcome=run.status.value).inc()
    if run.reused_from_id is not None:
        instruments.REUSED_GRADINGS.inc()
    if run.finished_at is not None:
        waited = _as_utc(run.finished_at) - _as_utc(run.queued_at)
        # The web host queued it and a worker host finished it: their clocks may differ a little.
        instruments.TIME_TO_FEEDBACK.observe(max(waited.total_seconds(), 0.0))


def grading_recorded(result: GradeResult) -> None:
    """Count the retrained models' answers a grading took from the cache, whether its kernel was
    warm and how long it took. (A worker never takes a whole grading from the engine's cache: an
    identical upload's reuse is a database matter, counted by run_finished.)"""
    from grader.metrics import instruments

    instruments.SCORING_CACHE_HITS.inc(len(result.from_cache))
    instruments.KERNEL_POOL.labels(result="hit" if result.warm_kernel else "miss").inc()
    instruments.GRADING_SECONDS.observe(result.execution_seconds + result.scoring_seconds)


def sandbox_refused(where: RefusalPlace) -> None:
    """Count a refusal to grade because the sandbox could not start or does not isolate."""
    from grader.metrics import instruments

    instruments.SANDBOX_REFUSALS.labels(where=where).inc()


def lti_score_sent(outcome: ScoreOutcome) -> None:
    """Count one attempt at giving an LMS a score, or giving up on it."""
    from grader.metrics import instruments

    instruments.LTI_SCORE_SENDS.labels(outcome=outcome).inc()


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back without a zone; every timestamp the grader stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
