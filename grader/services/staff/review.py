"""What staff see beyond the student's view: the assignment, run timings, tamper flags,
the audit history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from grader.extensions import db
from grader.models import GradingRun, Submission, User
from grader.services.assignments.rules import as_utc
from grader.services.permissions import is_staff
from grader.services.staff.manual_grading import score_history
from grader.services.submissions.feedback import latest_run


@dataclass(frozen=True)
class HistoryEntry:
    question_key: str
    old_score: float | None
    new_score: float
    reason: str
    actor_email: str
    created_at: datetime


@dataclass(frozen=True)
class RunTimings:
    """Where the latest run's time went, and who ran it: for staff chasing a slow or stuck
    submission."""

    number: int
    attempts: int
    worker: str | None
    queue_wait_seconds: float | None
    execution_seconds: float | None
    scoring_seconds: float | None
    warm_kernel: bool | None


@dataclass(frozen=True)
class ReusedSource:
    """The graded run whose result the latest run took, its notebook being identical: for staff, a
    copy signal when it is another student's."""

    submission_id: int
    run_id: int
    run_number: int
    student_email: str
    same_student: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "run_id": self.run_id,
            "run_number": self.run_number,
            "student_email": self.student_email,
            "same_student": self.same_student,
        }


@dataclass(frozen=True)
class StaffPanel:
    assignment_id: int
    history: list[HistoryEntry]
    timings: RunTimings
    # What the latest run's notebook rebound or forged; scores never depend on it
    # (clean-room scoring).
    tamper: list[str]
    reused_from: ReusedSource | None = None


def staff_panel(actor: User, submission_id: int) -> StaffPanel | None:
    """The staff tools for a submission, or None when `actor` is not staff of its course."""
    submission = db.session.get(Submission, submission_id)
    if submission is None or not is_staff(actor, submission.assignment.course_id):
        return None
    run = latest_run(submission_id)
    changes = score_history(submission_id)
    emails = dict(
        db.session.execute(
            select(User.id, User.email).where(User.id.in_({change.actor_id for change in changes}))
        ).all()
    )
    return StaffPanel(
        assignment_id=submission.assignment_id,
        history=[
            HistoryEntry(
                question_key=change.question_key,
                old_score=change.old_score,
                new_score=change.new_score,
                reason=change.reason,
                actor_email=emails[change.actor_id],
                created_at=change.created_at,
            )
            for change in changes
        ],
        timings=run_timings(run),
        tamper=list(run.tamper),
        reused_from=_reused_source(run),
    )


def _reused_source(run: GradingRun) -> ReusedSource | None:
    source = run.reused_from
    if source is None:
        return None
    return ReusedSource(
        submission_id=source.submission_id,
        run_id=source.id,
        run_number=source.number,
        student_email=source.submission.student.email,
        same_student=source.submission.student_id == run.submission.student_id,
    )


def tampered_runs(run_ids: Iterable[int]) -> set[int]:
    """The runs among `run_ids` that recorded tampering (for staff pages only)."""
    rows = db.session.execute(
        select(GradingRun.id, GradingRun.tamper).where(GradingRun.id.in_(list(run_ids)))
    )
    return {run_id for run_id, tamper in rows if tamper}


def run_timings(run: GradingRun) -> RunTimings:
    started, queued = as_utc(run.started_at), as_utc(run.queued_at)
    return RunTimings(
        number=run.number,
        attempts=run.attempts,
        worker=run.worker,
        queue_wait_seconds=(started - queued).total_seconds() if started and queued else None,
        execution_seconds=run.execution_seconds,
        scoring_seconds=run.scoring_seconds,
        warm_kernel=run.warm_kernel,
    )
