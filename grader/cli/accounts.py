"""`grader users|courses|roster|tokens ...`: managing people and courses from the command line."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from grader.extensions import db
from grader.models import Course, Role, User
from grader.services.assignments.rules import now
from grader.services.errors import AccountError
from grader.services.people.accounts import (
    DEFAULT_TOKEN_DAYS,
    create_api_token,
    create_user,
    enroll,
    find_user,
    import_roster,
    list_api_tokens,
    revoke_api_token,
    revoke_api_tokens_of,
    set_password,
)

users = AppGroup("users", help="Create people, set their passwords and give them roles in courses.")
courses = AppGroup("courses", help="Create courses.")
roster = AppGroup("roster", help="Import a course roster.")
tokens = AppGroup("tokens", help="API tokens for the JSON API.")


def _course(code: str) -> Course:
    course = db.session.scalar(select(Course).where(Course.code == code))
    if course is None:
        raise click.ClickException(
            f"there is no course {code!r}; create it with `grader courses create`"
        )
    return course


def _done(message: str) -> None:
    db.session.commit()
    click.echo(message)


@courses.command("create")
@click.argument("code")
@click.argument("title")
def create_course(code: str, title: str) -> None:
    """Create a course with a short CODE (e.g. BT-AI) and a TITLE."""
    if db.session.scalar(select(Course).where(Course.code == code)) is not None:
        raise click.ClickException(f"course {code} already exists")
    db.session.add(Course(code=code, title=title))
    _done(f"Created course {code}.")


@users.command("create")
@click.argument("email")
@click.option("--name", default="", help="Full name (default: the part of the e-mail before @).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Password (asked for when not given).",
)
@click.option("--course", "course_code", help="Enroll in this course too.")
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default="student", show_default=True
)
def create_user_command(
    email: str, name: str, password: str, course_code: str | None, role: str
) -> None:
    """Create an account for EMAIL, optionally enrolled in a course."""
    try:
        user = create_user(email, name, password)
        if course_code:
            enroll(user, _course(course_code), Role(role))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    _done(f"Created {user.email}" + (f" as {role} in {course_code}." if course_code else "."))


@users.command("enroll")
@click.argument("email")
@click.argument("course_code")
@click.argument("role", type=click.Choice([r.value for r in Role]))
def enroll_command(email: str, course_code: str, role: str) -> None:
    """Give EMAIL the ROLE (student, ta, instructor) in COURSE_CODE."""
    user = _user(email)
    enroll(user, _course(course_code), Role(role))
    _done(f"{user.email} is now {role} in {course_code}.")


@roster.command("import")
@click.argument("course_code")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_roster_command(course_code: str, csv_file: Path) -> None:
    """Enroll everyone in CSV_FILE (columns: email, name, role) in COURSE_CODE."""
    try:
        result = import_roster(_course(course_code), csv_file.read_text(encoding="utf-8-sig"))
    except (AccountError, UnicodeDecodeError) as exc:
        db.session.rollback()
        raise click.ClickException(f"{csv_file.name}: {exc}") from None
    _done(f"Enrolled {result.enrolled} people in {course_code} ({result.created} new accounts).")


@users.command("set-password")
@click.argument("email")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (first line)."
)
def set_password_command(email: str, password_stdin: bool) -> None:
    """Set EMAIL's password (asked for twice unless --password-stdin); ends all their sessions."""
    user = _user(email)
    password = (
        sys.stdin.readline().rstrip("\r\n")
        if password_stdin
        else click.prompt("New password", hide_input=True, confirmation_prompt=True)
    )
    try:
        set_password(user, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    _done(f"Password set for {user.email}; their sessions have ended.")


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
@click.option(
    "--days", default=DEFAULT_TOKEN_DAYS, show_default=True, help="Days until the token expires."
)
def create_token_command(email: str, name: str, days: int) -> None:
    """Print a new API token for EMAIL (shown once; use it as 'Authorization: Bearer TOKEN')."""
    try:
        token = create_api_token(_user(email), name, days)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(token)


@tokens.command("list")
@click.argument("email", required=False)
def list_tokens_command(email: str | None) -> None:
    """List API tokens (everyone's, or EMAIL's): id, owner, dates and state; never the token
    itself."""
    rows = list_api_tokens(_user(email) if email else None)
    click.echo("\t".join(["id", "owner", "name", "created", "expires", "last used", "state"]))
    at = now()
    for row in rows:
        state = "revoked" if row.revoked_at else "expired" if row.expires_at <= at else "active"
        click.echo(
            "\t".join(
                [
                    str(row.id),
                    row.owner,
                    row.name or "-",
                    _when(row.created_at),
                    _when(row.expires_at),
                    _when(row.last_used_at),
                    state,
                ]
            )
        )


@tokens.command("revoke")
@click.argument("token_id", type=click.IntRange(1, 2**31 - 1), required=False)
@click.option("--all", "all_of", metavar="EMAIL", help="Revoke every token of EMAIL instead.")
def revoke_token_command(token_id: int | None, all_of: str | None) -> None:
    """Revoke the API token TOKEN_ID (see `grader tokens list`), or with --all EMAIL all of
    someone's."""
    if (token_id is None) == (all_of is None):
        raise click.UsageError("give either a TOKEN_ID or --all EMAIL")
    if all_of:
        count = revoke_api_tokens_of(_user(all_of))
        _done(f"Revoked {count} token(s) of {all_of}.")
        return
    try:
        revoke_api_token(token_id)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    _done(f"Revoked token {token_id}.")


def _user(email: str) -> User:
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no account for {email}")
    return user


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def register(cli: click.Group) -> None:
    for group in (users, courses, roster, tokens):
        cli.add_command(group)
