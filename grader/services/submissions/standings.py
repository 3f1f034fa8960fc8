"""Where a student stands on each assignment: attempts used, the score that counts, late or not."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from grader.models import Assignment, Role, RunStatus, Submission, User
from grader.services.assignments.rules import (
    ScoredAttempt,
    as_utc,
    attempts_left,
    counting_attempt,
    now,
)
from grader.services.permissions import visible_assignments
from grader.services.submissions.feedback import SubmissionView, submission_views


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
    """A student's uploads for one assignment, oldest first,
    and the graded ones scored after late penalties."""

    views: list[SubmissionView]
    scored: list[ScoredAttempt]

    @classmethod
    def of(cls, views: list[SubmissionView]) -> StudentAttempts:
        """The attempts behind one student's submission views, given oldest first."""
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
        return cls(views=views, scored=scored)

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
    """One student's attempts at the assignment."""
    return StudentAttempts.of(
        submission_views(
            Submission.assignment_id == assignment.id, Submission.student_id == student_id
        )
    )


def class_attempts(assignment: Assignment) -> dict[int, StudentAttempts]:
    """Every student's attempts at the assignment, by student id,
    in the same few statements for any class."""
    views: dict[int, list[SubmissionView]] = defaultdict(list)
    for view in submission_views(Submission.assignment_id == assignment.id):
        views[view.student_id].append(view)
    return {student_id: StudentAttempts.of(own) for student_id, own in views.items()}


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
