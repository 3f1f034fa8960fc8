"""The demo course the embedded setup starts with, so a new install has something to grade."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from grader.extensions import db
from grader.models import Assignment, Course, Role
from grader.services.assignments.catalog import upsert_assignment
from grader.services.people.accounts import create_user, enroll, find_user, set_password

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DEMO_COURSE = ("BT-AI", "Building Tomorrow: AI")
DEMO_ASSIGNMENTS = [("lab6", "Lab 6 - Deep Learning 1", FIXTURES / "lab6")]
# Well-known passwords: the demo is for trying the grader on one machine, never for real courses.
DEMO_PASSWORD = "grader-demo"
DEMO_PEOPLE = [
    ("student@example.edu", "Demo Student", Role.STUDENT),
    ("ta@example.edu", "Demo TA", Role.TA),
    ("instructor@example.edu", "Demo Instructor", Role.INSTRUCTOR),
]


class DemoRefused(Exception):
    """The demo's published passwords would make anyone an instructor on a database others use."""


def load_demo(force: bool = False) -> Course:
    """Create the demo course, its assignments and people; running it again changes nothing.

    Only into the embedded setup's SQLite database unless `force`d: on a shared one it would be a
    way in.
    """
    backend = db.engine.url.get_backend_name()
    if backend != "sqlite" and not force:
        raise DemoRefused(
            f"refusing to load the demo course into a {backend} database: its accounts, "
            f"instructor included, have the published password {DEMO_PASSWORD!r}, so anyone "
            "could sign in; it is meant for `grader serve` on SQLite"
        )
    code, title = DEMO_COURSE
    course = db.session.scalar(select(Course).where(Course.code == code))
    if course is None:
        course = Course(code=code, title=title)
        db.session.add(course)
        db.session.flush()
    existing = set(
        db.session.scalars(select(Assignment.slug).where(Assignment.course_id == course.id))
    )
    for slug, assignment_title, package_dir in DEMO_ASSIGNMENTS:
        # Only when missing: an instructor's edits to the demo assignment survive a restart.
        if slug not in existing:
            upsert_assignment(course.id, slug, assignment_title, package_dir)
    for email, name, role in DEMO_PEOPLE:
        user = find_user(email) or create_user(email, name)
        if user.password_hash is None:
            set_password(user, DEMO_PASSWORD)
        enroll(user, course, role)
    db.session.commit()
    return course
