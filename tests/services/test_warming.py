"""Which assignment a starting worker warms kernels for: the open one due soonest, with its exact
profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from grader.engine.assignment import load_assignment
from grader.engine.grade import kernel_profile
from grader.extensions import db
from grader.models import Assignment, Course
from grader.services.assignments.rules import is_open
from grader.services.demo import FIXTURES
from grader.services.grading.warming import assignment_to_warm, warming_target

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def lab6() -> Assignment:
    return db.session.scalar(select(Assignment).where(Assignment.slug == "lab6"))


def add(slug: str, *, package: bool = True, **rules) -> Assignment:
    """An assignment of the demo course, with lab 6's package unless `package` is False."""
    assignment = Assignment(
        course_id=db.session.scalar(select(Course.id)),
        slug=slug,
        title=slug.title(),
        package_sha256=lab6().package_sha256 if package else None,
        **rules,
    )
    db.session.add(assignment)
    db.session.commit()
    return assignment


def warmed_slug() -> str | None:
    chosen = assignment_to_warm(at=NOW)
    return chosen.slug if chosen else None


def test_the_open_assignment_due_soonest_is_chosen_over_unreleased_closed_and_unpackaged(app):
    with app.app_context():
        add("unreleased", release_at=NOW + HOUR, due_at=NOW + 2 * HOUR)
        add("no-package", package=False, due_at=NOW + HOUR)
        # Due an hour ago, and a day late costs everything: uploads no longer earn anything.
        add("closed", due_at=NOW - HOUR, late_penalty_percent_per_day=100)
        add("later", due_at=NOW + 72 * HOUR)
        soon = add("soon", release_at=NOW - HOUR, due_at=NOW + 24 * HOUR)
        assert warmed_slug() == "soon"
        db.session.delete(soon)
        db.session.commit()
        assert warmed_slug() == "later"


def test_past_deadlines_still_taking_late_work_come_before_assignments_without_one(app):
    with app.app_context():
        # lab6 has no due date; it comes last.
        past_due = [
            add("long-ago", due_at=NOW - 48 * HOUR, late_penalty_percent_per_day=10),
            add("yesterday", due_at=NOW - 24 * HOUR, late_penalty_percent_per_day=10),
        ]
        assert warmed_slug() == "yesterday"
        for assignment in past_due:
            db.session.delete(assignment)
        db.session.commit()
        assert warmed_slug() == "lab6"
        lab6().release_at = NOW + HOUR
        db.session.commit()
        assert warmed_slug() is None


def test_an_assignment_closes_when_a_late_upload_would_earn_nothing(app):
    with app.app_context():
        assignment = lab6()
        assignment.due_at = NOW
        assignment.late_penalty_percent_per_day = 50
        assert is_open(assignment, NOW)
        assert is_open(assignment, NOW + HOUR)  # one day late: 50% off
        assert not is_open(assignment, NOW + 25 * HOUR)  # two days: 100% off
        assignment.late_penalty_cap_percent = 80
        assert is_open(assignment, NOW + 1000 * HOUR)
        assignment.release_at = NOW + 2000 * HOUR
        assert not is_open(assignment, NOW + 1000 * HOUR)


def test_the_warmed_profile_is_the_one_grading_the_assignment_asks_for(app):
    with app.app_context():
        target = warming_target(app.config["GRADER"])
    with load_assignment(FIXTURES / "lab6") as package:
        expected = kernel_profile(package.rubric.runtime, package.template)
    assert target is not None and (target.slug, target.title) == ("lab6", "Lab 6 - Deep Learning 1")
    assert target.profile == expected
    assert "tensorflow" in target.profile.preload


def test_nothing_is_warmed_when_no_assignment_is_open(app):
    with app.app_context():
        lab6().release_at = datetime.now(UTC) + HOUR
        db.session.commit()
        assert warming_target(app.config["GRADER"]) is None
