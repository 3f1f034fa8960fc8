"""Who may see what: students their own submissions, staff the submissions of their courses."""
from __future__ import annotations

from grader.models import Role, Submission, User
from grader.services.accounts import role_in

STAFF = (Role.TA, Role.INSTRUCTOR)


def is_course_staff(user: User, course_id: int) -> bool:
    """Whether `user` is a TA or instructor of the course: only they see its staff-only parts."""
    return role_in(user, course_id) in STAFF


def can_view_submission(user: User, submission: Submission) -> bool:
    if submission.student_id == user.id:
        return True
    return is_course_staff(user, submission.assignment.course_id)
