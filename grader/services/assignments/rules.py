"""An assignment's rules: release and due dates, late penalty, attempt limit, which score counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from grader.models import Assignment, ScorePolicy

DAY = timedelta(days=1)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; every timestamp we store is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


def is_released(assignment: Assignment, at: datetime | None = None) -> bool:
    release = as_utc(assignment.release_at)
    return release is None or release <= (at or now())


def days_late(assignment: Assignment, submitted_at: datetime) -> int:
    """Started days past the due date: one second late is one day late."""
    due = as_utc(assignment.due_at)
    overdue = as_utc(submitted_at) - due if due is not None else timedelta(0)
    return math.ceil(overdue / DAY) if overdue > timedelta(0) else 0


def penalty_percent(assignment: Assignment, late_days: int) -> float:
    return min(
        assignment.late_penalty_percent_per_day * late_days,
        assignment.late_penalty_cap_percent,
        100.0,
    )


@dataclass(frozen=True)
class Lateness:
    days: int
    penalty_percent: float

    @property
    def late(self) -> bool:
        return self.days > 0

    def apply(self, score: float) -> float:
        return round(score * (1 - self.penalty_percent / 100), 6)

    def describe(self) -> str:
        if not self.late:
            return "On time"
        days = f"{self.days} day{'s' if self.days != 1 else ''} late"
        return (
            f"{days}: {self.penalty_percent:g}% penalty"
            if self.penalty_percent
            else f"{days}: no penalty"
        )


def lateness(assignment: Assignment, submitted_at: datetime) -> Lateness:
    late_days = days_late(assignment, submitted_at)
    return Lateness(days=late_days, penalty_percent=penalty_percent(assignment, late_days))


def attempts_left(assignment: Assignment, attempts_used: int) -> int | None:
    """None when uploads are unlimited."""
    if assignment.max_attempts is None:
        return None
    return max(assignment.max_attempts - attempts_used, 0)


@dataclass(frozen=True)
class ScoredAttempt:
    """One graded submission's score after its late penalty."""

    submission_id: int
    submitted_at: datetime
    score: float
    points: float
    lateness: Lateness


def counting_attempt(assignment: Assignment, attempts: list[ScoredAttempt]) -> ScoredAttempt | None:
    """The attempt whose score counts: the best (the latest among equals) or simply the latest."""
    if not attempts:
        return None
    by_time = sorted(
        attempts, key=lambda attempt: (as_utc(attempt.submitted_at), attempt.submission_id)
    )
    if assignment.score_policy == ScorePolicy.LAST:
        return by_time[-1]
    return max(reversed(by_time), key=lambda attempt: attempt.score)


def is_open(assignment: Assignment, at: datetime | None = None) -> bool:
    """Released, and an upload now still earns something: on time, or late under a penalty below
    100%."""
    moment = at or now()
    late_days = days_late(assignment, moment)
    return is_released(assignment, moment) and penalty_percent(assignment, late_days) < 100
