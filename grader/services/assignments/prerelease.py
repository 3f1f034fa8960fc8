"""Validating a stored package before release: grade its solution and template,
record what stands in the way."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nbformat
from sqlalchemy import select, update

from grader.config import Settings
from grader.engine.environments import EnvironmentBuildError, EnvironmentStore
from grader.engine.report import Report
from grader.engine.validation import check_package
from grader.extensions import db
from grader.models import Assignment, PackageValidation, RunStatus, User
from grader.sandbox import sandbox_from_mode
from grader.services.storage.packages import open_package

log = logging.getLogger(__name__)

VALIDATION_FAILED_TO_RUN = (
    "The check could not run to the end; the worker's log has the details. Try again."
)
NOTEBOOKS = ("solution", "template")


def request_validation(assignment: Assignment, requested_by: User) -> int:
    """A queued validation of the assignment's current package
    (committed; the caller enqueues it)."""
    validation = PackageValidation(
        assignment_id=assignment.id,
        package_sha256=assignment.package_sha256,
        requested_by_id=requested_by.id,
        status=RunStatus.QUEUED,
    )
    db.session.add(validation)
    db.session.commit()
    return validation.id


def run_validation(validation_id: int, settings: Settings) -> RunStatus | None:
    """Grade the package's solution and template unless this validation already finished;
    return its status."""
    validation = _claim(validation_id)
    if validation is None:
        return None
    try:
        with open_package(validation.package_sha256, settings.instance_dir / "packages") as package:
            solution = (
                nbformat.read(package.solution_path, as_version=4)
                if package.solution_path.is_file()
                else None
            )
            outcome = check_package(
                package,
                sandbox_from_mode(settings.sandbox_mode, settings.kernel_cpu_weight),
                solution,
                environments=EnvironmentStore(settings.environments_dir),
            )
    except EnvironmentBuildError as exc:
        # Nothing was graded: the package's own packages are what the instructor must fix.
        db.session.rollback()
        validation = db.session.get(PackageValidation, validation_id)
        validation.problems = [str(exc)]
        _finish(validation, RunStatus.GRADED)
        return validation.status
    except Exception:
        # Recorded for the instructor, who can press Validate again;
        # a retry would most likely fail the same way.
        log.exception("validation %s failed", validation_id)
        db.session.rollback()
        validation = db.session.get(PackageValidation, validation_id)
        _finish(validation, RunStatus.FAILED, error_message=VALIDATION_FAILED_TO_RUN)
        return validation.status
    validation.outcome = {
        "solution": _summary(outcome.solution),
        "template": _summary(outcome.template),
    }
    validation.problems = outcome.problems
    _finish(validation, RunStatus.GRADED)
    return validation.status


def _claim(validation_id: int) -> PackageValidation | None:
    """Mark it running; a finished (or missing) validation is left alone,
    so a redelivered task does nothing."""
    claimed = db.session.execute(
        update(PackageValidation)
        .where(
            PackageValidation.id == validation_id,
            PackageValidation.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]),
        )
        .values(status=RunStatus.RUNNING)
    )
    db.session.commit()
    return db.session.get(PackageValidation, validation_id) if claimed.rowcount else None


def _finish(
    validation: PackageValidation, status: RunStatus, error_message: str | None = None
) -> None:
    validation.status = status
    validation.error_message = error_message
    validation.finished_at = datetime.now(UTC)
    db.session.commit()


def _summary(report: Report | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "total": report.total,
        "max_total": report.max_total,
        "manual_pending": report.manual_pending,
        "stopped_reason": report.stopped_reason,
        "questions": [
            {
                "key": q.key,
                "title": q.title,
                "score": q.score,
                "max_score": q.max_score,
                "status": q.status,
                "message": q.message,
            }
            for q in report.questions
        ],
    }


@dataclass(frozen=True)
class NotebookOutcome:
    """One notebook's result for one question, and whether it stands in the way of release."""

    score: float
    max_score: float
    status: str
    message: str
    problem: bool


@dataclass(frozen=True)
class OutcomeRow:
    key: str
    title: str
    solution: NotebookOutcome | None
    template: NotebookOutcome | None


@dataclass(frozen=True)
class ValidationView:
    id: int
    status: str
    finished: bool
    created_at: datetime
    # False when the package has changed since: the outcome describes an earlier version.
    current: bool
    problems: list[str]
    error_message: str | None
    rows: list[OutcomeRow]
    totals: dict[str, dict[str, Any] | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "finished": self.finished,
            "current": self.current,
            "problems": self.problems,
            "error_message": self.error_message,
        }


def latest_validation(assignment: Assignment) -> ValidationView | None:
    """The assignment's most recent validation as the settings page shows it,
    or None if never validated."""
    validation = db.session.scalar(
        select(PackageValidation)
        .where(PackageValidation.assignment_id == assignment.id)
        .order_by(PackageValidation.id.desc())
        .limit(1)
    )
    if validation is None:
        return None
    outcome = validation.outcome or {}
    by_notebook = {
        name: {q["key"]: q for q in (outcome.get(name) or {}).get("questions", [])}
        for name in NOTEBOOKS
    }
    keys = list(dict.fromkeys([*by_notebook["template"], *by_notebook["solution"]]))
    rows = []
    for key in keys:
        solution, template = by_notebook["solution"].get(key), by_notebook["template"].get(key)
        rows.append(
            OutcomeRow(
                key=key,
                title=(solution or template)["title"],
                solution=_cell(solution, solution and solution["score"] < solution["max_score"]),
                template=_cell(template, template and template["score"] > 0),
            )
        )
    status = RunStatus(validation.status)
    return ValidationView(
        id=validation.id,
        status=status.value,
        finished=status.finished,
        created_at=validation.created_at,
        current=validation.package_sha256 == assignment.package_sha256,
        problems=list(validation.problems or []),
        error_message=validation.error_message,
        rows=rows,
        totals={name: outcome.get(name) for name in NOTEBOOKS},
    )


def _cell(result: dict[str, Any] | None, problem: Any) -> NotebookOutcome | None:
    if result is None:
        return None
    return NotebookOutcome(
        score=result["score"],
        max_score=result["max_score"],
        status=result["status"],
        message=result["message"],
        problem=bool(problem),
    )
