"""The gradebook: one row per student, a column per question (a TA's score wins), and the total."""
from __future__ import annotations

import csv
import io

from sqlalchemy import select

from grader.extensions import db
from grader.models import Assignment, Submission, User
from grader.services.access import STAFF
from grader.services.accounts import role_in
from grader.services.feedback import NotFound, submission_view
from grader.services.manual_grading import GradingForbidden


def gradebook_csv(actor: User, assignment_id: int) -> str:
    """CSV of each student's latest graded submission for the assignment (staff of its course only)."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound(f"assignment {assignment_id}")
    if role_in(actor, assignment.course_id) not in STAFF:
        raise GradingForbidden("only TAs and instructors of the course can download its gradebook")
    latest: dict[int, Submission] = {}
    for submission in db.session.scalars(select(Submission).where(Submission.assignment_id == assignment_id)
                                         .order_by(Submission.id)):
        latest[submission.student_id] = submission
    views = [(submission.student, submission_view(submission.id)) for submission in latest.values()]
    keys: list[str] = []
    for _, view in views:
        keys += [q.key for q in view.questions if q.key not in keys]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "name", "submission", "status", *keys, "total"])
    for student, view in sorted(views, key=lambda item: item[0].email):
        scores = {q.key: q.final_score for q in view.questions}
        writer.writerow([student.email, student.name, view.id, view.run.status,
                         *[_number(scores.get(key)) for key in keys], _number(view.final_total)])
    return out.getvalue()


def _number(value) -> str:
    return "" if value is None else f"{value:g}"
