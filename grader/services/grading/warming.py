"""What a worker warms kernels for before any notebook arrives: the open assignment due soonest.

A deadline night is one assignment's rush; its first notebook should find a kernel waiting, so a
worker guesses the assignment from the deadlines rather than learning it from that notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from grader.config import Settings
from grader.engine.environments import EnvironmentStore
from grader.engine.grade import assignment_library_dirs, kernel_profile
from grader.engine.kernel_pool import KernelProfile
from grader.extensions import db
from grader.models import Assignment
from grader.services.assignments.rules import as_utc, is_open, now
from grader.services.storage.packages import open_package

# Ranks in `warming_order`: a deadline ahead, one passed (late work still earns), none at all.
_DUE_AHEAD, _DUE_PASSED, _NO_DUE_DATE = 0, 1, 2


@dataclass(frozen=True)
class WarmingTarget:
    """The assignment to warm kernels for, and the profile its gradings will ask the pool for."""

    slug: str
    title: str
    profile: KernelProfile


def warming_order(assignment: Assignment, at: datetime) -> tuple[int, float, int]:
    """Sort key: deadlines still ahead, soonest first; then deadlines passed, most recent first;
    then assignments without one."""
    due = as_utc(assignment.due_at)
    if due is None:
        return (_NO_DUE_DATE, 0.0, assignment.id)
    if due >= at:
        return (_DUE_AHEAD, (due - at).total_seconds(), assignment.id)
    return (_DUE_PASSED, (at - due).total_seconds(), assignment.id)


def assignment_to_warm(at: datetime | None = None) -> Assignment | None:
    """The open assignment with a package that comes first in `warming_order`, if any."""
    moment = at or now()
    with_package = db.session.scalars(
        select(Assignment).where(Assignment.package_sha256.is_not(None))
    )
    # Few assignments exist at once; the rules (release, lateness) are applied here, in one place.
    candidates = [assignment for assignment in with_package if is_open(assignment, moment)]
    return min(candidates, key=lambda assignment: warming_order(assignment, moment), default=None)


def warming_target(settings: Settings) -> WarmingTarget | None:
    """The assignment to warm for and its kernel profile, exactly as `grade_notebook` derives it
    (its own packages built first if this machine lacks them); None when no assignment is open."""
    assignment = assignment_to_warm()
    if assignment is None or assignment.package_sha256 is None:
        return None
    with open_package(assignment.package_sha256, settings.instance_dir / "packages") as package:
        library_dirs = assignment_library_dirs(package, EnvironmentStore(settings.environments_dir))
        profile = kernel_profile(package.rubric.runtime, package.template, library_dirs)
    return WarmingTarget(slug=assignment.slug, title=assignment.title, profile=profile)
