"""What students see about a submission: its latest run's status, progress, errors and notebook."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.orm import joinedload, selectinload

from grader.engine.checks import shown_details
from grader.engine.checks.free_response import WRITTEN_ANSWER
from grader.extensions import db
from grader.models import GradingRun, ManualScore, QuestionResult, RunStatus, Submission, User
from grader.services.assignments.rules import Lateness, lateness
from grader.services.errors import NotFound
from grader.services.paging import Page, page_of_query
from grader.services.storage.blobs import get_blob


@dataclass(frozen=True)
class RunStatusView:
    submission_id: int
    run_id: int
    status: str
    finished: bool
    cells_done: int
    cells_total: int
    error_message: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "run_id": self.run_id,
            "status": self.status,
            "finished": self.finished,
            "progress": {"cells_done": self.cells_done, "cells_total": self.cells_total},
            "error_message": self.error_message,
        }


@dataclass(frozen=True)
class QuestionView:
    key: str
    title: str
    score: float
    max_score: float
    manual_points: float
    status: str
    message: str
    answer_source: str
    traceback: str | None
    has_plot: bool
    manual_score: float | None = None
    manual_comment: str = ""
    # A written (free-response) answer's text, as the check found it.
    answer_text: str = ""

    @property
    def points(self) -> float:
        """All the question's points: what the engine can award plus what is left to TAs."""
        return self.max_score + self.manual_points

    @property
    def final_score(self) -> float:
        """A TA's score wins over the automatic one."""
        return self.manual_score if self.manual_score is not None else self.score

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "score": self.score,
            "max_score": self.max_score,
            "manual_points": self.manual_points,
            "status": self.status,
            "message": self.message,
            "manual_score": self.manual_score,
            "manual_comment": self.manual_comment,
            "final_score": self.final_score,
            "points": self.points,
        }


@dataclass(frozen=True)
class ReusedResult:
    """The latest run took the result of an identical notebook graded before: nothing ran."""

    # The student's own earlier submission it was identical to; None when it was another student's,
    # who is never named to a student (staff see who in grader.services.staff.review).
    own_submission_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"submission_id": self.own_submission_id}


@dataclass(frozen=True)
class SubmissionView:
    id: int
    student_id: int
    assignment_title: str
    student_email: str
    original_filename: str
    created_at: datetime
    run: RunStatusView
    cell_errors: list[dict[str, Any]] = field(default_factory=list)
    has_executed_notebook: bool = False
    questions: list[QuestionView] = field(default_factory=list)
    score: float | None = None
    max_score: float | None = None
    manual_pending: float | None = None
    sandbox_warning: str | None = None
    lateness: Lateness = Lateness(days=0, penalty_percent=0.0)
    reused: ReusedResult | None = None
    # The questions (titles) whose model was the same as one trained before: its score was reused,
    # nothing was trained again.
    models_reused: list[str] = field(default_factory=list)

    @property
    def final_total(self) -> float:
        """The question scores added up, a TA's scores winning, before any late penalty."""
        return round(sum(q.final_score for q in self.questions), 6)

    @property
    def total_after_penalty(self) -> float:
        return self.lateness.apply(self.final_total)

    @property
    def points_total(self) -> float:
        return round(sum(q.points for q in self.questions), 6)

    @property
    def awaiting_ta(self) -> float:
        """Points still to be graded by hand: free-response parts no TA has scored yet."""
        return round(sum(q.manual_points for q in self.questions if q.manual_score is None), 6)


def latest_run(submission_id: int) -> GradingRun:
    run = db.session.scalar(
        select(GradingRun)
        .where(GradingRun.submission_id == submission_id)
        .order_by(GradingRun.number.desc())
        .limit(1)
    )
    if run is None:
        raise NotFound(f"There is no submission {submission_id}.")
    return run


def run_status(submission_id: int) -> RunStatusView:
    """The latest run's status and progress, cheap enough to poll."""
    return _status_of(latest_run(submission_id))


def _status_of(run: GradingRun) -> RunStatusView:
    submission_id = run.submission_id
    status = RunStatus(run.status)
    return RunStatusView(
        submission_id=submission_id,
        run_id=run.id,
        status=status.value,
        finished=status.finished,
        cells_done=run.cells_done,
        cells_total=run.cells_total,
        error_message=run.error_message,
    )


def submission_view(submission_id: int) -> SubmissionView:
    """Everything the feedback page shows about one submission."""
    views = submission_views(Submission.id == submission_id)
    if not views:
        raise NotFound(f"There is no submission {submission_id}.")
    return views[0]


def submission_views(*criteria: ColumnElement[bool]) -> list[SubmissionView]:
    """The views of every submission matching `criteria`, oldest first,
    in three statements however many."""
    runs = db.session.scalars(
        select(GradingRun)
        .where(latest_runs_of(*criteria))
        .options(
            joinedload(GradingRun.submission).joinedload(Submission.assignment),
            joinedload(GradingRun.submission).joinedload(Submission.student),
            selectinload(GradingRun.question_results),
            joinedload(GradingRun.reused_from).joinedload(GradingRun.submission),
        )
        .order_by(GradingRun.submission_id)
    ).all()
    manual = {
        (m.submission_id, m.question_key): m
        for m in db.session.scalars(
            select(ManualScore)
            .join(Submission, Submission.id == ManualScore.submission_id)
            .where(*criteria)
        )
    }
    return [_view_of(run, manual) for run in runs]


def latest_runs_of(*criteria: ColumnElement[bool]) -> ColumnElement[bool]:
    """True for the latest grading run of each submission matching `criteria`."""
    latest = (
        select(GradingRun.submission_id, func.max(GradingRun.number))
        .join(Submission, Submission.id == GradingRun.submission_id)
        .where(*criteria)
        .group_by(GradingRun.submission_id)
    )
    return tuple_(GradingRun.submission_id, GradingRun.number).in_(latest)


def _view_of(run: GradingRun, manual: dict[tuple[int, str], ManualScore]) -> SubmissionView:
    submission = run.submission
    titles = {
        result.question_key: (result.details or {}).get("title") for result in run.question_results
    }
    return SubmissionView(
        id=submission.id,
        student_id=submission.student_id,
        assignment_title=submission.assignment.title,
        student_email=submission.student.email,
        original_filename=submission.original_filename,
        created_at=submission.created_at,
        run=_status_of(run),
        cell_errors=list(run.cell_errors or []),
        has_executed_notebook=run.executed_sha256 is not None,
        questions=[
            _question_view(result, manual.get((submission.id, result.question_key)))
            for result in run.question_results
        ],
        score=run.score,
        max_score=run.max_score,
        manual_pending=run.manual_pending,
        sandbox_warning=run.sandbox_warning,
        lateness=lateness(submission.assignment, submission.created_at),
        reused=_reused_result(run),
        models_reused=[titles.get(key) or key for key in run.models_from_cache],
    )


def _reused_result(run: GradingRun) -> ReusedResult | None:
    source = run.reused_from
    if source is None:
        return None
    own = source.submission.student_id == run.submission.student_id
    return ReusedResult(own_submission_id=source.submission_id if own else None)


def _question_view(result: QuestionResult, manual: ManualScore | None) -> QuestionView:
    details = result.details or {}
    return QuestionView(
        key=result.question_key,
        title=details.get("title", result.question_key),
        score=result.auto_score,
        max_score=result.max_score,
        manual_points=result.manual_points,
        status=result.status,
        message=result.message,
        answer_source=details.get("answer_source", ""),
        traceback=details.get("traceback"),
        has_plot="plot_sha256" in details,
        manual_score=manual.score if manual else None,
        manual_comment=manual.comment if manual else "",
        answer_text=shown_details(details).get(WRITTEN_ANSWER, ""),
    )


def question_plot(submission_id: int, question_key: str) -> bytes:
    """The PNG picture of one question's result."""
    run = latest_run(submission_id)
    result = next((r for r in run.question_results if r.question_key == question_key), None)
    if result is None or "plot_sha256" not in (result.details or {}):
        raise NotFound(f"Submission {submission_id} has no picture for {question_key!r}.")
    return get_blob(result.details["plot_sha256"])


def executed_notebook(submission_id: int) -> bytes:
    return _stored(submission_id, "executed_sha256", "executed notebook")


def executed_notebook_html(submission_id: int) -> bytes:
    return _stored(submission_id, "executed_html_sha256", "rendered notebook")


def _stored(submission_id: int, column: str, what: str) -> bytes:
    digest = getattr(latest_run(submission_id), column)
    if digest is None:
        raise NotFound(f"Submission {submission_id} has no {what} yet.")
    return get_blob(digest)


def submissions_of(user: User, page: int | None = None) -> Page[SubmissionView]:
    """One page of the user's uploads, newest first."""
    ids = page_of_query(
        select(Submission.id)
        .where(Submission.student_id == user.id)
        .order_by(Submission.id.desc()),
        page,
    )
    views = {view.id: view for view in submission_views(Submission.id.in_(ids.items))}
    return replace(ids, items=[views[submission_id] for submission_id in ids.items])
