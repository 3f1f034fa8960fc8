"""TAs' work on a submission: manual scores with an audit trail, re-grades that never erase them."""

from __future__ import annotations

from sqlalchemy import func, select

from grader.extensions import db
from grader.models import GradingRun, ManualScore, RunStatus, ScoreChange, Submission, User
from grader.services.errors import NotFound, ScoreRejected
from grader.services.permissions import require_grader, require_staff
from grader.services.submissions.feedback import latest_run


def set_manual_score(
    actor: User, submission_id: int, question_key: str, score: float, reason: str
) -> ManualScore:
    """Give or change a question's score by hand; the reason goes into the audit log."""
    submission = require_grader(actor, submission_id)
    result = next(
        (r for r in latest_run(submission_id).question_results if r.question_key == question_key),
        None,
    )
    if result is None:
        raise NotFound(f"There is no submission {submission_id} with a question {question_key!r}.")
    points = result.max_score + result.manual_points
    if not 0 <= score <= points:
        raise ScoreRejected(f"the score must be between 0 and {points:g}")
    if not reason.strip():
        raise ScoreRejected("give a reason; students and other TAs see it")
    if not _storable(reason):
        raise ScoreRejected(
            "the reason holds a character that cannot be stored (NUL or a lone surrogate)"
        )
    manual = db.session.scalar(
        select(ManualScore).where(
            ManualScore.submission_id == submission.id, ManualScore.question_key == question_key
        )
    )
    previous = manual.score if manual else result.auto_score
    if manual is None:
        manual = ManualScore(
            submission_id=submission.id, question_key=question_key, score=score, grader_id=actor.id
        )
        db.session.add(manual)
    manual.score, manual.comment, manual.grader_id = score, reason.strip(), actor.id
    db.session.add(
        ScoreChange(
            submission_id=submission.id,
            question_key=question_key,
            old_score=previous,
            new_score=score,
            reason=reason.strip(),
            actor_id=actor.id,
        )
    )
    db.session.commit()
    return manual


def _storable(text: str) -> bool:
    # PostgreSQL's text cannot hold NUL, and a lone surrogate is not UTF-8 to either database.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def request_regrade(actor: User, submission_id: int) -> int:
    """A new run for the submission (committed; the caller enqueues it); manual scores stay."""
    submission = require_grader(actor, submission_id)
    run = _next_run(submission.id)
    db.session.commit()
    return run.id


def request_regrade_all(actor: User, assignment_id: int) -> list[int]:
    """A new run for each submission of the assignment whose latest run has finished (committed)."""
    require_staff(actor, assignment_id)
    submission_ids = db.session.scalars(
        select(Submission.id)
        .where(Submission.assignment_id == assignment_id)
        .order_by(Submission.id)
    ).all()
    # A submission still being graded will be graded with the current package anyway.
    runs = [
        _next_run(submission_id)
        for submission_id in submission_ids
        if RunStatus(latest_run(submission_id).status).finished
    ]
    db.session.commit()
    return [run.id for run in runs]


def _next_run(submission_id: int) -> GradingRun:
    number = db.session.scalar(
        select(func.max(GradingRun.number)).where(GradingRun.submission_id == submission_id)
    )
    run = GradingRun(submission_id=submission_id, number=(number or 0) + 1)
    db.session.add(run)
    db.session.flush()
    return run


def score_history(submission_id: int) -> list[ScoreChange]:
    return list(
        db.session.scalars(
            select(ScoreChange)
            .where(ScoreChange.submission_id == submission_id)
            .order_by(ScoreChange.id)
        )
    )
