"""Instructors' work on assignments: who may author, creating one from a package, and its settings."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from grader.engine.assignment import AssignmentError, AssignmentPackage, load_assignment
from grader.extensions import db
from grader.models import Assignment, Course, Role, ScorePolicy, User
from grader.notebooks import NotebookRejected, parse_notebook
from grader.services.assignments.catalog import upsert_assignment
from grader.services.assignments.rules import as_utc
from grader.services.people.accounts import role_in
from grader.services.submissions.feedback import NotFound

# Uploaded packages may be larger than a notebook; the loader separately caps the unpacked size.
MAX_PACKAGE_UPLOAD_BYTES = 100 * 1024 * 1024
# Release dates are required to be in the past for students to see an assignment (None means released),
# so "not released yet" is a date no course reaches: new assignments start there until validated.
NOT_RELEASED = datetime(9999, 1, 1, tzinfo=UTC)
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PLAIN_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_. -]{0,127}$")


class AuthoringError(ValueError):
    """Input an instructor must fix; the message (one line per problem) says what and where."""


def instructor_course(user: User, course_id: int) -> Course:
    """The course, if `user` teaches it; anyone else is told it does not exist."""
    course = db.session.get(Course, course_id)
    if course is None or role_in(user, course_id) != Role.INSTRUCTOR:
        raise NotFound(f"course {course_id}")
    return course


def instructor_assignment(user: User, assignment_id: int) -> Assignment:
    """The assignment, if `user` teaches its course; anyone else is told it does not exist."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or role_in(user, assignment.course_id) != Role.INSTRUCTOR:
        raise NotFound(f"assignment {assignment_id}")
    return assignment


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
    course: Course, slug: str, title: str, package: bytes | PackageParts, filename: str = "package.zip"
) -> Assignment:
    """Validate the package (a zip's bytes or separate files) and add it to the course, not yet released."""
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
        raise AuthoringError(f"{path.name}: {exc.message}") from None


@dataclass(frozen=True)
class AssignmentSettings:
    title: str
    release_at: datetime | None
    due_at: datetime | None
    late_penalty_percent_per_day: float
    late_penalty_cap_percent: float
    max_attempts: int | None
    score_policy: ScorePolicy


def parse_settings(fields: Mapping[str, str]) -> AssignmentSettings:
    """The settings form's text fields as typed values; AuthoringError lists every problem at once."""
    problems: list[str] = []

    def attempt(parse, label: str):
        try:
            return parse()
        except ValueError as exc:
            problems.append(f"{label}: {exc}")

    title = fields.get("title", "").strip()
    if not 1 <= len(title) <= 200:
        problems.append("Title: give 1–200 characters")
    parse_release = {"never": lambda: NOT_RELEASED, "now": lambda: None}.get(
        fields.get("release", "later"), lambda: _utc(fields.get("release_at", ""), required=True)
    )
    release_at = attempt(parse_release, "Release date")
    due_at = attempt(lambda: _utc(fields.get("due_at", "")), "Due date")
    per_day = attempt(
        lambda: _percent(fields.get("late_penalty_percent_per_day", "0")), "Late penalty per day"
    )
    cap = attempt(lambda: _percent(fields.get("late_penalty_cap_percent", "100")), "Penalty cap")
    max_attempts = attempt(lambda: _attempts(fields.get("max_attempts", "")), "Maximum attempts")
    policy = attempt(lambda: _policy(fields.get("score_policy", "")), "Score that counts")
    if release_at and due_at and release_at != NOT_RELEASED and due_at <= release_at:
        problems.append("Due date: must be after the release date")
    if problems:
        raise AuthoringError("\n".join(problems))
    return AssignmentSettings(title, release_at, due_at, per_day, cap, max_attempts, policy)


def save_settings(assignment: Assignment, settings: AssignmentSettings) -> None:
    """Apply validated settings and commit."""
    for name, value in vars(settings).items():
        setattr(assignment, name, value)
    db.session.commit()


def settings_fields(assignment: Assignment) -> dict[str, str]:
    """The assignment's settings as the form's text fields: what parse_settings reads back."""
    state = release_state(assignment)
    return {
        "title": assignment.title,
        "release": state,
        "release_at": _local(assignment.release_at) if state == "later" else "",
        "due_at": _local(assignment.due_at),
        "late_penalty_percent_per_day": f"{assignment.late_penalty_percent_per_day:g}",
        "late_penalty_cap_percent": f"{assignment.late_penalty_cap_percent:g}",
        "max_attempts": "" if assignment.max_attempts is None else str(assignment.max_attempts),
        "score_policy": ScorePolicy(assignment.score_policy).value,
    }


def release_state(assignment: Assignment) -> str:
    """'never' (not released), 'now' (released, no date) or 'later' (released at a date, past or future)."""
    release = as_utc(assignment.release_at)
    return "now" if release is None else "never" if release >= NOT_RELEASED else "later"


def _local(moment: datetime | None) -> str:
    """A UTC timestamp as a datetime-local input's value."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _utc(text: str, required: bool = False) -> datetime | None:
    text = text.strip()
    if not text:
        if required:
            raise ValueError("give a date and time (UTC)")
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time like 2025-03-01T17:00") from None


def _percent(text: str) -> float:
    try:
        value = float(text.strip() or 0)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not 0 <= value <= 100:
        raise ValueError("must be between 0 and 100 percent")
    return value


def _attempts(text: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError("leave blank for unlimited, or give a whole number of at least 1")
    return int(text)


def _policy(text: str) -> ScorePolicy:
    try:
        return ScorePolicy(text)
    except ValueError:
        raise ValueError("choose the best or the last graded attempt") from None
