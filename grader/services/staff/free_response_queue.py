"""The free-response grading queue: answers that still need a TA, question by question,
first come first."""

from __future__ import annotations

from dataclasses import dataclass

from grader.models import Assignment, User
from grader.services.errors import NotFound
from grader.services.paging import Page, page_of
from grader.services.permissions import require_staff
from grader.services.staff.class_results import question_columns, student_results


@dataclass(frozen=True)
class Answer:
    """One student's answer to a question that is (partly) graded by hand."""

    submission_id: int
    student: User
    key: str
    title: str
    # What the student wrote: the new text of a written answer, else the section's code.
    answer: str
    auto_score: float
    points: float
    message: str
    # A TA has scored it already.
    graded: bool


@dataclass(frozen=True)
class QuestionLeft:
    key: str
    title: str
    left: int


@dataclass(frozen=True)
class GradingQueue:
    assignment: Assignment
    # Every hand-graded answer in grading order, graded or not, so a position survives grading.
    answers: list[Answer]
    question: str | None
    questions: list[QuestionLeft]
    # The page of `answers` listed below the answer being graded.
    listed: Page[Answer]

    @property
    def left(self) -> int:
        return sum(1 for answer in self.answers if not answer.graded)

    def next_after(self, submission_id: int | None = None, key: str | None = None) -> Answer | None:
        """The first answer still to grade after the given one, wrapping around,
        so skipped answers come back."""
        start = next(
            (
                i + 1
                for i, answer in enumerate(self.answers)
                if (answer.submission_id, answer.key) == (submission_id, key)
            ),
            0,
        )
        ordered = self.answers[start:] + self.answers[:start]
        return next((answer for answer in ordered if not answer.graded), None)

    def find(self, submission_id: int, key: str) -> Answer:
        for answer in self.answers:
            if (answer.submission_id, answer.key) == (submission_id, key):
                return answer
        raise NotFound(f"no hand-graded answer {key!r} in submission {submission_id}")


def grading_queue(
    actor: User, assignment_id: int, question: str | None = None, page: int | None = None
) -> GradingQueue:
    """Hand-graded answers on each student's counting submission, optionally of one question
    (staff only)."""
    assignment = require_staff(actor, assignment_id)
    results = [result for result in student_results(assignment) if result.graded]
    order = {column.key: index for index, column in enumerate(question_columns(results))}
    answers = sorted(
        (
            Answer(
                submission_id=result.view.id,
                student=result.student,
                key=q.key,
                title=q.title,
                answer=q.answer_text or q.answer_source,
                auto_score=q.score,
                points=q.points,
                message=q.message,
                graded=q.manual_score is not None,
            )
            for result in results
            for q in result.view.questions
            if q.manual_points > 0
        ),
        key=lambda answer: (order[answer.key], answer.submission_id),
    )
    titles = {answer.key: answer.title for answer in answers}
    questions = [
        QuestionLeft(key, title, sum(1 for a in answers if a.key == key and not a.graded))
        for key, title in titles.items()
    ]
    if question is not None and question not in titles:
        raise NotFound(f"no hand-graded question {question!r}")
    chosen = [a for a in answers if question in (None, a.key)]
    return GradingQueue(
        assignment=assignment,
        answers=chosen,
        question=question,
        questions=questions,
        listed=page_of(chosen, page),
    )
