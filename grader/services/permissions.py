"""Who may see what: students their own submissions and released assignments, staff all of their courses'."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select

from grader.extensions import db
from grader.models import Assignment, Enrollment, Role, Submission, User
from grader.services.assignments.rules import is_released
from grader.services.people.accounts import role_in

STAFF = (Role.TA, Role.INSTRUCTOR)


def is_course_staff(user: User, course_id: int) -> bool:
    """Whether `user` is a TA or instructor of the course: only they see its staff-only parts."""
    return role_in(user, course_id) in STAFF


def can_view_submission(user: User, submission: Submission) -> bool:
    if submission.student_id == user.id:
        return True
    return is_course_staff(user, submission.assignment.course_id)


def visible_assignments(user: User, *where: ColumnElement[bool]) -> list[tuple[Assignment, Role]]:
    """Assignments of the user's courses matching `where`, and the user's role; students see released ones."""
    rows = db.session.execute(
        select(Assignment, Enrollment.role)
        .join(Enrollment, Enrollment.course_id == Assignment.course_id)
        .where(Enrollment.user_id == user.id, *where)
    )
    return [(assignment, role) for assignment, role in rows if role in STAFF or is_released(assignment)]
