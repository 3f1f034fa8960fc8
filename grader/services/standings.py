"""Where a student stands on each assignment: attempts used, the score that counts, late or not."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import select

from grader.extensions import db
from grader.models import Assignment, Enrollment, Role, RunStatus, Submission, User
from grader.services.feedback import submission_view
from grader.services.policy import (ScoredAttempt, as_utc, attempts_left, counting_attempt, is_released, lateness,
                                    now)


@dataclass(frozen=True)
class Standing:
    assignment: Assignment
    role: Role
    due_at: Optional[datetime]
    attempts_used: int
    attempts_left: Optional[int]
    counting: Optional[ScoredAttempt]
    # Some attempt is still queued or running, so the counting score may yet change.
    grading: bool

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and self.due_at < now()


def scored_attempts(assignment: Assignment, student_id: int) -> tuple[list[ScoredAttempt], int, bool]:
    """The student's graded attempts with late penalties applied, how many they made, and whether any is pending."""
    submissions = list(db.session.scalars(select(Submission).where(
        Submission.assignment_id == assignment.id, Submission.student_id == student_id).order_by(Submission.id)))
    attempts, pending = [], False
    for submission in submissions:
        view = submission_view(submission.id)
        status = RunStatus(view.run.status)
        if not status.finished:
            pending = True
        if status == RunStatus.GRADED and view.questions:
            late = lateness(assignment, submission.created_at)
            attempts.append(ScoredAttempt(submission_id=submission.id, submitted_at=as_utc(submission.created_at),
                                          score=late.apply(view.final_total), points=view.points_total,
                                          lateness=late))
    return attempts, len(submissions), pending


def standing(assignment: Assignment, role: Role, student_id: int) -> Standing:
    attempts, used, pending = scored_attempts(assignment, student_id)
    return Standing(assignment=assignment, role=role, due_at=as_utc(assignment.due_at), attempts_used=used,
                    attempts_left=attempts_left(assignment, used), counting=counting_attempt(assignment, attempts),
                    grading=pending)


def standings_for(user: User) -> list[Standing]:
    """The user's assignments, soonest due first; students see only released ones."""
    rows = db.session.execute(select(Assignment, Enrollment.role).join(
        Enrollment, Enrollment.course_id == Assignment.course_id).where(Enrollment.user_id == user.id)).all()
    visible = [(assignment, role) for assignment, role in rows if role != Role.STUDENT or is_released(assignment)]
    far_future = datetime.max.replace(tzinfo=timezone.utc)
    visible.sort(key=lambda row: (as_utc(row[0].due_at) or far_future, row[0].id))
    return [standing(assignment, role, user.id) for assignment, role in visible]
