"""Who an LMS user is here, and what their LMS roles make them: shared by launches and class-list
syncs."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from grader.extensions import db
from grader.lti_models import LtiIdentity
from grader.models import Role, User
from grader.services.people.accounts import create_user, find_user

# LTI role URIs end in a name after '#' (or are a bare name, as LTI 1.1 sent them). A TA is named
# TeachingAssistant, often alongside Instructor (it is a sub-role of it), so it is looked for
# first: a TA must not become an instructor.
ROLE_NAMES = (
    ("TeachingAssistant", Role.TA),
    ("Instructor", Role.INSTRUCTOR),
    ("Learner", Role.STUDENT),
)


def course_role(lti_roles: list[str]) -> Role | None:
    """The role here of someone with these LTI roles; None when none of them maps."""
    # Institution and system roles (…/institution/person#Instructor) describe the person, not
    # this course.
    names = {
        role.rsplit("#", 1)[-1]
        for role in lti_roles
        if "/institution/" not in role and "/system/" not in role
    }
    return next((role for name, role in ROLE_NAMES if name in names), None)


def user_for_subject(platform_id: int, subject: str, name: str, email: str | None) -> User:
    """The account a platform's user id stands for, made on first sight.

    The LMS's e-mail is only shown: it becomes the account's e-mail when no other account has it,
    and is never used to find an account (an LMS user could otherwise take over someone's
    password account by setting that e-mail in their LMS profile).
    """
    identity = db.session.scalar(
        select(LtiIdentity).where(
            LtiIdentity.platform_id == platform_id, LtiIdentity.subject == subject
        )
    )
    if identity is None:
        user = create_user(_free_email(email) or _placeholder_email(platform_id, subject), name)
        identity = LtiIdentity(platform_id=platform_id, subject=subject, user_id=user.id)
        db.session.add(identity)
        db.session.flush()
        return user
    user = identity.user
    if name:
        user.name = name
    if email and email.lower() != user.email.lower() and _free_email(email):
        user.email = email.strip().lower()
    return user


def _free_email(email: str | None) -> str | None:
    if not email or "@" not in email or len(email) > 254:
        return None
    return email.strip().lower() if find_user(email) is None else None


def _placeholder_email(platform_id: int, subject: str) -> str:
    digest = hashlib.sha256(f"{platform_id}:{subject}".encode()).hexdigest()[:20]
    return f"lms-{platform_id}-{digest}@lti.invalid"
