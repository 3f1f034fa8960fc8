"""Where a student stands on each assignment: attempts used, the score that counts, late or not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from grader.extensions import db
from grader.models import Assignment, Role, RunStatus, Submission, User
from grader.services.assignments.rules import ScoredAttempt, as_utc, attempts_left, counting_attempt, now
from grader.services.permissions import visible_assignments
from grader.services.submissions.feedback import SubmissionView, submission_view


@dataclass(frozen=True)
class Standing:
    assignment: Assignment
    role: Role
    due_at: datetime | None
    attempts_used: int
    attempts_left: int | None
    counting: ScoredAttempt | None
    # Some attempt is still queued or running, so the counting score may yet change.
    grading: bool

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and self.due_at < now()


@dataclass(frozen=True)
class StudentAttempts:
    """A student's uploads for one assignment, oldest first, and the graded ones scored after late penalties."""

    views: list[SubmissionView]
    scored: list[ScoredAttempt]

    @property
    def used(self) -> int:
        return len(self.views)

    @property
    def pending(self) -> bool:
        """Some attempt is still queued or running."""
        return any(not view.run.finished for view in self.views)

    def view_of(self, submission_id: int) -> SubmissionView:
        return next(view for view in self.views if view.id == submission_id)


def student_attempts(assignment: Assignment, student_id: int) -> StudentAttempts:
    submission_ids = db.session.scalars(
        select(Submission.id)
        .where(Submission.assignment_id == assignment.id, Submission.student_id == student_id)
        .order_by(Submission.id)
    )
    views = [submission_view(submission_id) for submission_id in submission_ids]
    scored = [
        ScoredAttempt(
            submission_id=view.id,
            submitted_at=as_utc(view.created_at),
            score=view.total_after_penalty,
            points=view.points_total,
            lateness=view.lateness,
        )
        for view in views
        if view.run.status == RunStatus.GRADED.value and view.questions
    ]
    return StudentAttempts(views=views, scored=scored)


def standing(assignment: Assignment, role: Role, student_id: int) -> Standing:
    attempts = student_attempts(assignment, student_id)
    return Standing(
        assignment=assignment,
        role=role,
        due_at=as_utc(assignment.due_at),
        attempts_used=attempts.used,
        attempts_left=attempts_left(assignment, attempts.used),
        counting=counting_attempt(assignment, attempts.scored),
        grading=attempts.pending,
    )


def standings_for(user: User) -> list[Standing]:
    """The user's assignments, soonest due first; students see only released ones."""
    visible = visible_assignments(user)
    far_future = datetime.max.replace(tzinfo=UTC)
    visible.sort(key=lambda row: (as_utc(row[0].due_at) or far_future, row[0].id))
    return [standing(assignment, role, user.id) for assignment, role in visible]
