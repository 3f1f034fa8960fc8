"""Instructors' work on assignments: creating one from a package, and its settings."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from grader.engine.assignment import AssignmentError, AssignmentPackage, load_assignment
from grader.extensions import db
from grader.models import Assignment, Course, ScorePolicy
from grader.services.assignments.catalog import upsert_assignment
from grader.services.assignments.rules import as_utc
from grader.services.errors import AuthoringError, NotebookRejected
from grader.services.notebooks import parse_notebook

# Uploaded packages may be larger than a notebook; the loader separately caps the unpacked size.
MAX_PACKAGE_UPLOAD_BYTES = 100 * 1024 * 1024
# Release dates are required to be in the past for students to see an assignment (None means
# released), so "not released yet" is a date no course reaches: new assignments start there until
# validated.
NOT_RELEASED = datetime(9999, 1, 1, tzinfo=UTC)
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PLAIN_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_. -]{0,127}$")


def course_assignments(course: Course) -> list[Assignment]:
    return list(
        db.session.scalars(
            select(Assignment).where(Assignment.course_id == course.id).order_by(Assignment.id)
        )
    )


@dataclass
class PackageParts:
    """A package sent as separate files rather than one zip: name -> bytes for data/ and hidden/."""

    template: bytes
    rubric: bytes
    solution: bytes | None = None
    data: dict[str, bytes] = field(default_factory=dict)
    hidden: dict[str, bytes] = field(default_factory=dict)

    def write(self, root: Path) -> Path:
        """Lay the files out as a package folder under `root`; refuse names that could escape it."""
        files = {"template.ipynb": self.template, "rubric.yaml": self.rubric}
        if self.solution is not None:
            files["solution.ipynb"] = self.solution
        for folder, named in (("data", self.data), ("hidden", self.hidden)):
            for name, content in named.items():
                if not PLAIN_FILE_NAME.match(name):
                    raise AuthoringError(
                        f"{folder} file {name!r}: use a plain file name (letters, digits, "
                        "'.', '_', '-', spaces; not starting with a dot)"
                    )
                files[f"{folder}/{name}"] = content
        for relative, content in files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(content)
        return root


def create_assignment(
    course: Course,
    slug: str,
    title: str,
    package: bytes | PackageParts,
    filename: str = "package.zip",
) -> Assignment:
    """Validate the package (a zip's bytes or separate files) and add it to the course,
    not yet released."""
    slug = slug.strip()
    if not SLUG_PATTERN.match(slug):
        raise AuthoringError(
            "Slug: use 1–64 lower-case letters, digits, '-' or '_', starting with a letter "
            "or digit (it appears in URLs and API calls)"
        )
    if db.session.scalar(
        select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug)
    ):
        raise AuthoringError(f"Slug: {course.code} already has an assignment {slug!r}")
    with (
        tempfile.TemporaryDirectory(prefix="grader-upload-") as scratch,
        _load_upload(package, Path(scratch), filename) as loaded,
    ):
        title = title.strip() or loaded.rubric.title
        if len(title) > 200:
            raise AuthoringError("Title: at most 200 characters")
        assignment = upsert_assignment(course.id, slug, title, loaded.root)
    assignment.release_at = NOT_RELEASED
    db.session.commit()
    return assignment


def _load_upload(package: bytes | PackageParts, scratch: Path, filename: str) -> AssignmentPackage:
    if isinstance(package, PackageParts):
        source = package.write(scratch / "package")
    else:
        source = scratch / (
            Path(filename).name if PLAIN_FILE_NAME.match(Path(filename).name) else "package.zip"
        )
        source.write_bytes(package)
    try:
        loaded = load_assignment(source)
    except AssignmentError as exc:
        raise AuthoringError(str(exc)) from None
    try:
        for name in ("template.ipynb", "solution.ipynb"):
            if (loaded.root / name).is_file():
                _check_notebook(loaded.root / name)
    except AuthoringError:
        loaded.close()
        raise
    return loaded


def _check_notebook(path: Path) -> None:
    try:
        parse_notebook(path.read_bytes(), MAX_PACKAGE_UPLOAD_BYTES)
    except NotebookRejected as exc:
        raise AuthoringError(f"{path.name}: {exc}") from None


@dataclass(frozen=True)
class AssignmentSettings:
    title: str
    release_at: datetime | None
    due_at: datetime | None
    late_penalty_percent_per_day: float
    late_penalty_cap_percent: float
    max_attempts: int | None
    score_policy: ScorePolicy


def save_settings(assignment: Assignment, settings: AssignmentSettings) -> None:
    """Apply the settings and commit; AuthoringError when the due date is not after the release
    date."""
    release, due = settings.release_at, settings.due_at
    if release and due and release != NOT_RELEASED and due <= release:
        raise AuthoringError("Due date: must be after the release date")
    for name, value in vars(settings).items():
        setattr(assignment, name, value)
    db.session.commit()


def release_state(assignment: Assignment) -> str:
    """'never' (not released), 'now' (released, no date) or 'later'
    (released at a date, past or future)."""
    release = as_utc(assignment.release_at)
    return "now" if release is None else "never" if release >= NOT_RELEASED else "later"
