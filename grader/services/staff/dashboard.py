"""A TA's view of one assignment: run counts, the students × questions grid,
and the numbers for its charts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from grader.engine.report import STATUSES
from grader.extensions import db
from grader.models import Assignment, GradingRun, RunStatus, Submission, User
from grader.services.assignments.rules import Lateness
from grader.services.errors import BadFilter
from grader.services.grading import workers
from grader.services.paging import Page, page_of
from grader.services.permissions import require_staff
from grader.services.staff import charts, review
from grader.services.staff.class_results import (
    QuestionColumn,
    StudentResult,
    question_columns,
    student_results,
)
from grader.services.submissions.feedback import QuestionView, latest_runs_of

RUN_STATUSES = tuple(status.value for status in RunStatus) + ("not_submitted",)
# A question a TA has scored shows as such, whatever the engine said about it.
QUESTION_STATUSES = STATUSES + ("graded_by_ta",)
FIXED_SORTS = ("student", "submitted", "late", "total")
QUESTION_SORT = "q:"


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    question_status: str | None = None
    # Limits `question_status` to one question; None means any question.
    question: str | None = None
    min_total: float | None = None
    max_total: float | None = None
    sort: str = "student"
    descending: bool = False

    def check(self, columns: list[QuestionColumn]) -> None:
        keys = {column.key for column in columns}
        if self.status not in (None, *RUN_STATUSES):
            raise BadFilter(f"unknown status {self.status!r}")
        if self.question_status not in (None, *QUESTION_STATUSES):
            raise BadFilter(f"unknown question status {self.question_status!r}")
        if self.question is not None and self.question not in keys:
            raise BadFilter(f"unknown question {self.question!r}")
        if self.sort not in FIXED_SORTS and self.sort.removeprefix(QUESTION_SORT) not in keys:
            raise BadFilter(f"cannot sort by {self.sort!r}")


@dataclass(frozen=True)
class GridCell:
    score: float
    points: float
    status: str


@dataclass(frozen=True)
class GridRow:
    student: User
    submission_id: int | None
    submitted_at: datetime | None
    status: str
    lateness: Lateness | None
    # False when the row shows the latest upload because no attempt is graded yet.
    counting: bool
    cells: dict[str, GridCell] = field(default_factory=dict)
    total: float | None = None
    points: float | None = None
    # The shown submission's latest run recorded tampering: staff look closer;
    # the scores stand as they are.
    tampered: bool = False


@dataclass(frozen=True)
class Dashboard:
    assignment: Assignment
    run_counts: dict[str, int]
    columns: list[QuestionColumn]
    # The page of rows shown: those the filters keep, in the chosen order.
    rows: Page[GridRow]
    students: int
    submitted: int
    filters: Filters
    points: float
    histogram: list[charts.Bin]
    histogram_alt: str
    pass_rates: list[charts.PassRate]
    pass_rate_alt: str
    # The whole grader's backlog and capacity: how long this assignment's new uploads will wait.
    waiting_everywhere: int
    live_workers: int


def dashboard(
    actor: User, assignment_id: int, filters: Filters = Filters(), page: int | None = None
) -> Dashboard:
    """An assignment's dashboard for its staff; raises BadFilter for filters that name nothing."""
    assignment = require_staff(actor, assignment_id)
    results = student_results(assignment)
    columns = question_columns(results)
    filters.check(columns)
    tampered = review.tampered_runs(result.view.run.run_id for result in results if result.view)
    rows = [_row(result, tampered) for result in results]
    graded = [row for row in rows if row.total is not None]
    points = round(sum(column.points for column in columns), 6)
    totals = [row.total for row in graded]
    rates = _pass_rates(columns, graded)
    # Rows come in e-mail order and sorting is stable, so ties stay in e-mail order.
    shown = [row for row in rows if _matches(row, filters)]
    return Dashboard(
        assignment=assignment,
        run_counts=run_counts(assignment.id),
        columns=columns,
        rows=page_of(_sorted(shown, filters), page),
        students=len(rows),
        submitted=sum(1 for row in rows if row.submission_id is not None),
        filters=filters,
        points=points,
        histogram=charts.histogram(totals, points),
        histogram_alt=charts.histogram_alt(totals, points),
        pass_rates=rates,
        pass_rate_alt=charts.pass_rate_alt(rates),
        waiting_everywhere=workers.queue_depth(),
        live_workers=workers.live_workers(),
    )


def run_counts(assignment_id: int) -> dict[str, int]:
    """How many submissions' latest runs are in each state."""
    counted = db.session.execute(
        select(GradingRun.status, func.count())
        .where(latest_runs_of(Submission.assignment_id == assignment_id))
        .group_by(GradingRun.status)
    ).all()
    counts = {status.value: 0 for status in RunStatus}
    counts.update({RunStatus(status).value: number for status, number in counted})
    return counts


def _row(result: StudentResult, tampered_runs: set[int]) -> GridRow:
    view = result.view
    if view is None:
        return GridRow(
            student=result.student,
            submission_id=None,
            submitted_at=None,
            status=result.status,
            lateness=None,
            counting=False,
        )
    graded = result.graded
    return GridRow(
        student=result.student,
        submission_id=view.id,
        submitted_at=view.created_at,
        status=result.status,
        lateness=view.lateness,
        counting=result.counting,
        cells={q.key: GridCell(q.final_score, q.points, _cell_status(q)) for q in view.questions},
        total=view.total_after_penalty if graded else None,
        points=view.points_total if graded else None,
        tampered=view.run.run_id in tampered_runs,
    )


def _pass_rates(columns: list[QuestionColumn], graded: list[GridRow]) -> list[charts.PassRate]:
    return [
        charts.PassRate(
            column.key,
            column.title,
            full_marks=sum(1 for row in graded if _full_marks(row.cells.get(column.key))),
            graded=sum(1 for row in graded if column.key in row.cells),
        )
        for column in columns
    ]


def _cell_status(question: QuestionView) -> str:
    return "graded_by_ta" if question.manual_score is not None else question.status


def _full_marks(cell: GridCell | None) -> bool:
    return cell is not None and cell.score >= cell.points - 1e-9


def _matches(row: GridRow, filters: Filters) -> bool:
    if filters.status and row.status != filters.status:
        return False
    if filters.question_status:
        cells = [row.cells.get(filters.question)] if filters.question else list(row.cells.values())
        if not any(cell is not None and cell.status == filters.question_status for cell in cells):
            return False
    if filters.min_total is not None and (row.total is None or row.total < filters.min_total):
        return False
    return filters.max_total is None or (row.total is not None and row.total <= filters.max_total)


def _sorted(rows: list[GridRow], filters: Filters) -> list[GridRow]:
    """Rows in the chosen order; rows without a value for that column stay last either way."""
    value = _sort_value(filters.sort)
    known = [row for row in rows if value(row) is not None]
    unknown = [row for row in rows if value(row) is None]
    return sorted(known, key=value, reverse=filters.descending) + unknown


def _sort_value(sort: str) -> Callable[[GridRow], Any]:
    if sort == "student":
        return lambda row: row.student.email
    if sort == "submitted":
        return lambda row: row.submitted_at
    if sort == "late":
        return lambda row: row.lateness.days if row.lateness else None
    if sort == "total":
        return lambda row: row.total
    key = sort.removeprefix(QUESTION_SORT)
    return lambda row: row.cells[key].score if key in row.cells else None
