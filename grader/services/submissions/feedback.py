"""What students see about a submission: its latest run's status, progress, errors and notebook."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from grader.extensions import db
from grader.models import GradingRun, ManualScore, QuestionResult, RunStatus, Submission, User
from grader.services.assignments.rules import Lateness, lateness
from grader.services.permissions import can_view_submission
from grader.services.storage.blobs import get_blob


class NotFound(LookupError):
    """The thing asked for does not exist (or is not the asker's to see)."""


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
class SubmissionView:
    id: int
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
        raise NotFound(f"submission {submission_id}")
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
    submission = db.session.get(Submission, submission_id)
    if submission is None:
        raise NotFound(f"submission {submission_id}")
    run = latest_run(submission_id)
    manual = manual_scores(submission_id)
    return SubmissionView(
        id=submission.id,
        assignment_title=submission.assignment.title,
        student_email=submission.student.email,
        original_filename=submission.original_filename,
        created_at=submission.created_at,
        run=_status_of(run),
        cell_errors=list(run.cell_errors or []),
        has_executed_notebook=run.executed_sha256 is not None,
        questions=[
            _question_view(result, manual.get(result.question_key)) for result in run.question_results
        ],
        score=run.score,
        max_score=run.max_score,
        manual_pending=run.manual_pending,
        sandbox_warning=run.sandbox_warning,
        lateness=lateness(submission.assignment, submission.created_at),
    )


def manual_scores(submission_id: int) -> dict[str, ManualScore]:
    return {
        m.question_key: m
        for m in db.session.scalars(select(ManualScore).where(ManualScore.submission_id == submission_id))
    }


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
        answer_text=details.get("answer", ""),
    )


def question_plot(submission_id: int, question_key: str) -> bytes:
    """The PNG picture of one question's result."""
    run = latest_run(submission_id)
    result = next((r for r in run.question_results if r.question_key == question_key), None)
    if result is None or "plot_sha256" not in (result.details or {}):
        raise NotFound(f"no picture for {question_key}")
    return get_blob(result.details["plot_sha256"])


def executed_notebook(submission_id: int) -> bytes:
    return _stored(submission_id, "executed_sha256", "executed notebook")


def executed_notebook_html(submission_id: int) -> bytes:
    return _stored(submission_id, "executed_html_sha256", "rendered notebook")


def _stored(submission_id: int, column: str, what: str) -> bytes:
    digest = getattr(latest_run(submission_id), column)
    if digest is None:
        raise NotFound(f"submission {submission_id} has no {what} yet")
    return get_blob(digest)


def check_visible(user: User, submission_id: int) -> None:
    """Raise NotFound unless `user` may see the submission (so others' ids do not even confirm it exists)."""
    submission = db.session.get(Submission, submission_id)
    if submission is None or not can_view_submission(user, submission):
        raise NotFound(f"submission {submission_id}")


def submissions_of(user: User, limit: int = 20) -> list[SubmissionView]:
    """The user's latest uploads, newest first."""
    ids = db.session.scalars(
        select(Submission.id)
        .where(Submission.student_id == user.id)
        .order_by(Submission.id.desc())
        .limit(limit)
    )
    return [submission_view(submission_id) for submission_id in ids]
