"""Identical work is done once: a notebook identical to one graded before takes that result.

Identical means the same assignment, the same package (a rubric change makes a new one) and the
same fingerprint: the cells' types and sources and the grader's version (grader.engine.reuse). Only
a result that may stand for another is taken: one that ran to the end with nothing in it depending
on time. A re-grade never takes one: staff ask for it precisely to grade again.
"""

from __future__ import annotations

from sqlalchemy import select

from grader.extensions import db
from grader.models import GradingRun, QuestionResult, RunStatus, Submission

# Re-grades are the runs after it (grader.services.staff.manual_grading).
FIRST_GRADING = 1
# A graded run's own columns that make up its automatic result (its questions' are in
# QuestionResult).
RESULT_COLUMNS = (
    "package_sha256",
    "reusable",
    "executed_sha256",
    "executed_html_sha256",
    "cells_total",
    "cells_done",
    "cell_errors",
    "score",
    "max_score",
    "manual_pending",
    "sandbox_warning",
    "tamper",
)


def identical_graded_run(run: GradingRun) -> GradingRun | None:
    """The graded run of an identical notebook whose result `run` may take, or None.

    The uploader's own earlier submission comes first, then the most recent of anyone's.
    """
    submission = run.submission
    package = submission.assignment.package_sha256
    if run.number != FIRST_GRADING or submission.notebook_fingerprint is None or package is None:
        return None
    return db.session.scalar(
        select(GradingRun)
        .join(Submission, Submission.id == GradingRun.submission_id)
        .where(
            Submission.assignment_id == submission.assignment_id,
            Submission.notebook_fingerprint == submission.notebook_fingerprint,
            GradingRun.id != run.id,
            GradingRun.status == RunStatus.GRADED,
            GradingRun.package_sha256 == package,
            GradingRun.reusable.is_(True),
        )
        .order_by(
            (Submission.student_id == submission.student_id).desc(),
            GradingRun.finished_at.desc(),
            GradingRun.id.desc(),
        )
        .limit(1)
    )


def copy_result(source: GradingRun, run: GradingRun) -> None:
    """Give `run` the automatic result of `source`, as if it had been graded; the caller finishes
    it.

    Manual scores are not copied: they belong to a submission, and a TA grades each student's
    written answers. Timings stay empty, since nothing ran.
    """
    run.reused_from_id = source.id
    for column in RESULT_COLUMNS:
        setattr(run, column, getattr(source, column))
    db.session.add_all(
        QuestionResult(
            run_id=run.id,
            question_key=result.question_key,
            auto_score=result.auto_score,
            max_score=result.max_score,
            manual_points=result.manual_points,
            status=result.status,
            message=result.message,
            details=dict(result.details),
        )
        for result in source.question_results
    )
