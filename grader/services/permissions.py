"""Who may see and do what; every role check in the grader goes through here.

Students see their own submissions and their courses' released assignments; a course's TAs and
instructors see all of its work and grade it; only its instructors author its assignments. Whoever
may not see a thing is told it does not exist (`NotFound`), so ids from other courses confirm
nothing; whoever sees a thing but may not act on it (a student and their own submission's score) is
told so (`Forbidden`).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select

from grader.extensions import db
from grader.models import Assignment, Course, Enrollment, Role, Submission, User
from grader.services.assignments.rules import is_released
from grader.services.errors import Forbidden, NotFound

STAFF = (Role.TA, Role.INSTRUCTOR)


def role_in(user: User, course_id: int) -> Role | None:
    enrollment = db.session.scalar(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id == course_id)
    )
    return Role(enrollment.role) if enrollment else None


def is_staff_role(role: Role | None) -> bool:
    """TAs and instructors are a course's staff."""
    return role in STAFF


def is_instructor_role(role: Role | None) -> bool:
    return role == Role.INSTRUCTOR


def is_staff(user: User, course_id: int) -> bool:
    """Whether `user` is a TA or instructor of the course: only they see its staff-only parts."""
    return is_staff_role(role_in(user, course_id))


def can_view_submission(user: User, submission: Submission) -> bool:
    return submission.student_id == user.id or is_staff(user, submission.assignment.course_id)


def require_visible(user: User, submission_id: int) -> Submission:
    """The submission, if `user` may see it; NotFound otherwise."""
    submission = db.session.get(Submission, submission_id)
    if submission is None or not can_view_submission(user, submission):
        raise NotFound(f"There is no submission {submission_id}.")
    return submission


def require_grader(user: User, submission_id: int) -> Submission:
    """The submission, if `user` is staff of its course; Forbidden for its student,
    NotFound for others."""
    submission = require_visible(user, submission_id)
    if not is_staff(user, submission.assignment.course_id):
        raise Forbidden("only TAs and instructors of the course can grade")
    return submission


def require_staff(user: User, assignment_id: int) -> Assignment:
    """The assignment, if `user` is a TA or instructor of its course; NotFound for anyone else."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or not is_staff(user, assignment.course_id):
        raise NotFound(f"There is no assignment {assignment_id}.")
    return assignment


def require_instructor(user: User, assignment_id: int) -> Assignment:
    """The assignment, if `user` teaches its course; NotFound for anyone else."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or not is_instructor_role(role_in(user, assignment.course_id)):
        raise NotFound(f"There is no assignment {assignment_id}.")
    return assignment


def require_course_instructor(user: User, course_id: int) -> Course:
    """The course, if `user` teaches it; NotFound for anyone else."""
    course = db.session.get(Course, course_id)
    if course is None or not is_instructor_role(role_in(user, course_id)):
        raise NotFound(f"There is no course {course_id}.")
    return course


def courses_taught(user: User) -> list[Course]:
    """Courses in which `user` is an instructor."""
    return list(
        db.session.scalars(
            select(Course)
            .join(Enrollment)
            .where(Enrollment.user_id == user.id, Enrollment.role == Role.INSTRUCTOR)
            .order_by(Course.code)
        )
    )


def visible_assignments(user: User, *where: ColumnElement[bool]) -> list[tuple[Assignment, Role]]:
    """Assignments of the user's courses matching `where`, and the user's role;
    students see released ones."""
    rows = db.session.execute(
        select(Assignment, Enrollment.role)
        .join(Enrollment, Enrollment.course_id == Assignment.course_id)
        .where(Enrollment.user_id == user.id, *where)
    )
    return [
        (assignment, role)
        for assignment, role in rows
        if is_staff_role(role) or is_released(assignment)
    ]
