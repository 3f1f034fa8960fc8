"""`grader users|courses|roster|tokens ...`: managing people and courses from the command line."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from grader.extensions import db
from grader.models import Course, Role
from grader.services.accounts import AccountError, create_api_token, create_user, enroll, find_user, import_roster

users = AppGroup("users", help="Create people and give them roles in courses.")
courses = AppGroup("courses", help="Create courses.")
roster = AppGroup("roster", help="Import a course roster.")
tokens = AppGroup("tokens", help="API tokens for the JSON API.")


def _course(code: str) -> Course:
    course = db.session.scalar(select(Course).where(Course.code == code))
    if course is None:
        raise click.ClickException(f"there is no course {code!r}; create it with `grader courses create`")
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
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Password (asked for when not given).")
@click.option("--course", "course_code", help="Enroll in this course too.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="student", show_default=True)
def create_user_command(email: str, name: str, password: str, course_code: str | None, role: str) -> None:
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
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no account for {email}")
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


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
def create_token_command(email: str, name: str) -> None:
    """Print a new API token for EMAIL (shown once; use it as 'Authorization: Bearer TOKEN')."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no account for {email}")
    token = create_api_token(user, name)
    db.session.commit()
    click.echo(token)


def register(cli: click.Group) -> None:
    for group in (users, courses, roster, tokens):
        cli.add_command(group)
