"""Creating and updating assignments together with their packages."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from grader.extensions import db
from grader.models import Assignment
from grader.services.storage.packages import store_package


def upsert_assignment(course_id: int, slug: str, title: str, package_dir: Path) -> Assignment:
    """Create the assignment or point it at the package's current content
    (in the caller's transaction)."""
    assignment = db.session.scalar(
        select(Assignment).where(Assignment.course_id == course_id, Assignment.slug == slug)
    )
    if assignment is None:
        assignment = Assignment(course_id=course_id, slug=slug, title=title)
        db.session.add(assignment)
    assignment.title = title
    assignment.package_sha256 = store_package(package_dir)
    db.session.flush()
    return assignment
