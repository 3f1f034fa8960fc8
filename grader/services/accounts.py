"""People, their roles per course, passwords, API tokens and roster imports."""
from __future__ import annotations

import csv
import hashlib
import io
import secrets
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from grader.extensions import db
from grader.models import ApiToken, Course, Enrollment, Role, User

MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """A request about accounts that cannot be carried out; the message says why."""


def find_user(email: str) -> Optional[User]:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(email: str, name: str = "", password: Optional[str] = None) -> User:
    """Create a person (in the caller's transaction); email addresses are unique, case-insensitively."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AccountError(f"{email!r} is not an e-mail address")
    if find_user(email) is not None:
        raise AccountError(f"{email} already has an account")
    user = User(email=email, name=name or email.split("@")[0])
    if password is not None:
        set_password(user, password)
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = generate_password_hash(password)


def authenticate(email: str, password: str) -> Optional[User]:
    """The user with this e-mail and password, or None (the same answer for a wrong e-mail or password)."""
    user = find_user(email or "")
    if user is None or not user.password_hash or not check_password_hash(user.password_hash, password or ""):
        return None
    return user


def enroll(user: User, course: Course, role: Role) -> Enrollment:
    """Give `user` `role` in `course`, replacing any role they had there."""
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.user_id == user.id,
                                                            Enrollment.course_id == course.id))
    if enrollment is None:
        enrollment = Enrollment(user_id=user.id, course_id=course.id, role=role)
        db.session.add(enrollment)
    enrollment.role = role
    db.session.flush()
    return enrollment


def role_in(user: User, course_id: int) -> Optional[Role]:
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.user_id == user.id,
                                                            Enrollment.course_id == course_id))
    return Role(enrollment.role) if enrollment else None


@dataclass(frozen=True)
class RosterResult:
    created: int
    enrolled: int


def import_roster(course: Course, csv_text: str) -> RosterResult:
    """Enroll everyone in a CSV with columns email, name and (optionally) role; new people get accounts."""
    reader = csv.DictReader(io.StringIO(csv_text))
    if not reader.fieldnames or "email" not in [f.strip().lower() for f in reader.fieldnames]:
        raise AccountError("the roster needs a header row with at least an 'email' column")
    created = enrolled = 0
    for line, row in enumerate(reader, start=2):
        row = {key.strip().lower(): (value or "").strip() for key, value in row.items() if key}
        try:
            role = Role(row.get("role") or "student")
        except ValueError:
            raise AccountError(f"line {line}: role must be student, ta or instructor") from None
        user = find_user(row["email"])
        if user is None:
            user = create_user(row["email"], row.get("name", ""))
            created += 1
        enroll(user, course, role)
        enrolled += 1
    return RosterResult(created=created, enrolled=enrolled)


def create_api_token(user: User, name: str = "") -> str:
    """A new API token for `user`; only its hash is kept, so this is the one time it can be shown."""
    token = "grd_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_sha256=_digest(token), name=name))
    db.session.flush()
    return token


def user_for_token(token: str) -> Optional[User]:
    record = db.session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))
    return record.user if record else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def courses_taught(user: User) -> list[Course]:
    """Courses in which `user` is an instructor."""
    return list(db.session.scalars(select(Course).join(Enrollment).where(
        Enrollment.user_id == user.id, Enrollment.role == Role.INSTRUCTOR).order_by(Course.code)))
