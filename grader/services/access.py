"""Who may see what: students their own submissions, staff the submissions of their courses."""
from __future__ import annotations

from grader.models import Role, Submission, User
from grader.services.accounts import role_in

STAFF = (Role.TA, Role.INSTRUCTOR)


def can_view_submission(user: User, submission: Submission) -> bool:
    if submission.student_id == user.id:
        return True
    return role_in(user, submission.assignment.course_id) in STAFF
