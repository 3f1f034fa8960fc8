"""Each student's result on an assignment as staff see it: the submission that counts,
one per student."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from grader.extensions import db
from grader.models import Assignment, Enrollment, Role, Submission, User
from grader.services.assignments.rules import counting_attempt
from grader.services.submissions.feedback import SubmissionView
from grader.services.submissions.standings import StudentAttempts, class_attempts


@dataclass(frozen=True)
class StudentResult:
    """One student and the submission that stands for them (None when they submitted nothing)."""

    student: User
    view: SubmissionView | None
    # True when `view` is the attempt the policy counts; False when it is merely the latest,
    # ungraded one.
    counting: bool

    @property
    def graded(self) -> bool:
        return self.view is not None and bool(self.view.questions)

    @property
    def status(self) -> str:
        """The latest grading run's status, or "not_submitted"."""
        return self.view.run.status if self.view else "not_submitted"


@dataclass(frozen=True)
class QuestionColumn:
    key: str
    title: str
    points: float


def student_results(assignment: Assignment) -> list[StudentResult]:
    """Every enrolled student and everyone who submitted, by e-mail,
    each with the submission that counts."""
    submitted = select(Submission.student_id).where(Submission.assignment_id == assignment.id)
    enrolled = select(Enrollment.user_id).where(
        Enrollment.course_id == assignment.course_id, Enrollment.role == Role.STUDENT
    )
    students = db.session.scalars(
        select(User).where(User.id.in_(submitted.union(enrolled))).order_by(User.email)
    )
    attempts = class_attempts(assignment)
    return [
        _result_of(assignment, student, attempts.get(student.id) or StudentAttempts.of([]))
        for student in students
    ]


def _result_of(assignment: Assignment, student: User, attempts: StudentAttempts) -> StudentResult:
    counting = counting_attempt(assignment, attempts.scored)
    if counting is not None:
        return StudentResult(
            student=student, view=attempts.view_of(counting.submission_id), counting=True
        )
    # Nothing graded yet: show the latest upload, so staff see it queued, running or failed.
    latest = attempts.views[-1] if attempts.views else None
    return StudentResult(student=student, view=latest, counting=False)


def question_columns(results: list[StudentResult]) -> list[QuestionColumn]:
    """Questions in the order runs report them; a rubric change may add some, so take the union."""
    columns: dict[str, QuestionColumn] = {}
    for result in results:
        for question in result.view.questions if result.view else []:
            columns.setdefault(
                question.key, QuestionColumn(question.key, question.title, question.points)
            )
    return list(columns.values())
