"""Each student's result on an assignment as staff see it: the submission that counts, one per student."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import select

from grader.extensions import db
from grader.models import Assignment, Enrollment, Role, Submission, User
from grader.services.access import STAFF
from grader.services.accounts import role_in
from grader.services.feedback import NotFound, SubmissionView, submission_view
from grader.services.manual_grading import GradingForbidden
from grader.services.policy import counting_attempt
from grader.services.standings import scored_attempts


@dataclass(frozen=True)
class StudentResult:
    """One student and the submission that stands for them (None when they submitted nothing)."""
    student: User
    view: Optional[SubmissionView]
    # True when `view` is the attempt the policy counts; False when it is merely the latest, ungraded one.
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


def staff_assignment(actor: User, assignment_id: int) -> Assignment:
    """The assignment, if `actor` is a TA or instructor of its course."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound(f"assignment {assignment_id}")
    if role_in(actor, assignment.course_id) not in STAFF:
        raise GradingForbidden("only TAs and instructors of the course can see its results")
    return assignment


def student_results(assignment: Assignment) -> list[StudentResult]:
    """Every enrolled student and everyone who submitted, by e-mail, each with the submission that counts."""
    submitted = select(Submission.student_id).where(Submission.assignment_id == assignment.id)
    enrolled = select(Enrollment.user_id).where(Enrollment.course_id == assignment.course_id,
                                                Enrollment.role == Role.STUDENT)
    students = db.session.scalars(select(User).where(User.id.in_(submitted.union(enrolled)))
                                  .order_by(User.email))
    return [_result_of(assignment, student) for student in students]


def _result_of(assignment: Assignment, student: User) -> StudentResult:
    attempts, _used, _pending = scored_attempts(assignment, student.id)
    counting = counting_attempt(assignment, attempts)
    if counting is not None:
        return StudentResult(student=student, view=submission_view(counting.submission_id), counting=True)
    # Nothing graded yet: show the latest upload, so staff see it queued, running or failed.
    latest = db.session.scalar(select(Submission.id).where(Submission.assignment_id == assignment.id,
                                                           Submission.student_id == student.id)
                               .order_by(Submission.id.desc()).limit(1))
    return StudentResult(student=student, view=submission_view(latest) if latest else None, counting=False)


def question_columns(results: list[StudentResult]) -> list[QuestionColumn]:
    """The questions in the order runs report them; a rubric change may add some, so take the union."""
    columns: dict[str, QuestionColumn] = {}
    for result in results:
        for question in result.view.questions if result.view else []:
            columns.setdefault(question.key, QuestionColumn(question.key, question.title, question.points))
    return list(columns.values())
