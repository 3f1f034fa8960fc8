"""People, their roles per course, passwords, API tokens and roster imports."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from grader.extensions import db
from grader.models import ApiToken, Course, Enrollment, Role, User, new_session_token
from grader.services.assignments.rules import as_utc, now
from grader.services.errors import AccountError, TokenRejected

MIN_PASSWORD_LENGTH = 8
DEFAULT_TOKEN_DAYS = 90
LAST_USED_PRECISION = timedelta(minutes=1)
NEW_TOKEN = "Ask for a new one (`grader tokens create EMAIL`)."


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(email: str, name: str = "", password: str | None = None) -> User:
    """Create a person (in the caller's transaction); emails are unique, case-insensitively."""
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
    """Set `user`'s password, which also ends every session they have open."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = generate_password_hash(password)
    end_sessions(user)


def change_password(user: User, current: str, new: str) -> None:
    """Replace `user`'s password once the current one is confirmed (which ends their sessions)."""
    if not user.password_hash or not check_password_hash(user.password_hash, current or ""):
        raise AccountError("The current password is wrong.")
    set_password(user, new)


def end_sessions(user: User) -> None:
    """Make every session cookie issued to `user` so far worthless (they carry the old token)."""
    user.session_token = new_session_token()


def authenticate(email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None (the same for a wrong e-mail or password)."""
    user = find_user(email or "")
    # Without an account (or a password) the password is still checked, against a hash of nothing,
    # so the time taken does not tell who has an account.
    has_password = user is not None and bool(user.password_hash)
    matches = check_password_hash(
        user.password_hash if has_password else _dummy_hash(), password or ""
    )
    return user if matches and has_password else None


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


def enroll(user: User, course: Course, role: Role) -> Enrollment:
    """Give `user` `role` in `course`, replacing any role they had there."""
    enrollment = db.session.scalar(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
    )
    if enrollment is None:
        enrollment = Enrollment(user_id=user.id, course_id=course.id, role=role)
        db.session.add(enrollment)
    enrollment.role = role
    db.session.flush()
    return enrollment


@dataclass(frozen=True)
class RosterResult:
    created: int
    enrolled: int


def import_roster(course: Course, csv_text: str) -> RosterResult:
    """Enroll everyone in a CSV with columns email, name and (optionally) role;
    new people get accounts."""
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


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about an API token: never the token itself."""

    id: int
    owner: str
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def create_api_token(user: User, name: str = "", days: int = DEFAULT_TOKEN_DAYS) -> str:
    """A new API token for `user`, valid `days` days; only its hash is kept, so it is shown once."""
    if days < 1:
        raise AccountError("a token must be valid for at least one day")
    token, created = "grd_" + secrets.token_urlsafe(32), now()
    db.session.add(
        ApiToken(
            user_id=user.id,
            token_sha256=_digest(token),
            name=name,
            created_at=created,
            expires_at=created + timedelta(days=days),
        )
    )
    db.session.flush()
    return token


def user_for_token(token: str) -> User:
    """The owner of a live API token (noting when used); TokenRejected saying why otherwise."""
    record = db.session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))
    if record is None:
        raise TokenRejected(f"This API token is not valid. {NEW_TOKEN}")
    if record.revoked_at is not None:
        raise TokenRejected(f"This API token was revoked on {_day(record.revoked_at)}. {NEW_TOKEN}")
    moment = now()
    if as_utc(record.expires_at) <= moment:
        raise TokenRejected(f"This API token expired on {_day(record.expires_at)}. {NEW_TOKEN}")
    # At most one write a minute per token: a busy script must not turn every read into a write.
    if record.last_used_at is None or moment - as_utc(record.last_used_at) > LAST_USED_PRECISION:
        record.last_used_at = moment
        db.session.commit()
    return record.user


def list_api_tokens(user: User | None = None) -> list[TokenInfo]:
    """Everyone's API tokens, or `user`'s, oldest first."""
    query = select(ApiToken, User.email).join(User).order_by(ApiToken.id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return [
        TokenInfo(
            id=token.id,
            owner=email,
            name=token.name,
            created_at=as_utc(token.created_at),
            expires_at=as_utc(token.expires_at),
            last_used_at=as_utc(token.last_used_at),
            revoked_at=as_utc(token.revoked_at),
        )
        for token, email in db.session.execute(query)
    ]


def revoke_api_token(token_id: int) -> None:
    """Revoke one token by its id (as `list_api_tokens` shows it)."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise AccountError(f"there is no API token {token_id}")
    token.revoked_at = token.revoked_at or now()


def revoke_api_tokens_of(user: User) -> int:
    """Revoke every live token of `user`; return how many."""
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for token in tokens:
        token.revoked_at = now()
    return len(tokens)


def _day(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
