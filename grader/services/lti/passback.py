"""Assignment and Grade Services: each LMS-linked student's counting score, sent to the line item.

Nothing calls this after each way a score can change. The session notices the changes as they are
flushed (a run graded, a manual score, an assignment's due date, late policy or score policy), and
just before the commit compares each affected student's counting score with what their line item
was last told. A changed one is written down as pending in the same transaction, so no change is
lost between the two; grader.task_queue sends the delivery task once the commit has happened, and
the sweeper sends again whatever is still pending (a broker away, a worker restarted).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, selectinload

from grader import metrics
from grader.extensions import db
from grader.lti_models import (
    LtiContext,
    LtiGradeSend,
    LtiIdentity,
    LtiPlatform,
    LtiResourceLink,
    PassbackState,
)
from grader.models import (
    Assignment,
    Enrollment,
    GradingRun,
    ManualScore,
    Role,
    RunStatus,
    Submission,
    User,
    utcnow,
)
from grader.services.assignments.rules import as_utc, counting_attempt
from grader.services.errors import LtiServiceFailed
from grader.services.lti.platforms import http_session, registration_of
from grader.services.permissions import require_staff
from grader.services.submissions.standings import (
    StudentAttempts,
    class_attempts,
    student_attempts,
)

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
# session.info keys: changes noticed at flush (assignment id -> student ids, or None for all), and
# the sends made pending by this transaction, for grader.task_queue to deliver after the commit.
CHANGES = "lti_score_changes"
SENDS_TO_DELIVER = "lti_score_sends"
# An assignment's fields that change every student's counting score.
SCORING_FIELDS = (
    "due_at",
    "late_penalty_percent_per_day",
    "late_penalty_cap_percent",
    "score_policy",
)
# Access tokens last an hour on common platforms; a connector (and its tokens) is kept less.
CONNECTOR_LIFETIME_SECONDS = 300
# A pending send whose task has not delivered it after this long is sent again by the sweeper.
RESEND_AFTER = timedelta(minutes=10)

log = logging.getLogger(__name__)
_connectors: dict[tuple, tuple[ServiceConnector, float]] = {}


@dataclass(frozen=True)
class PassbackRow:
    """One student's passback on one LMS link, as staff see it."""

    student: User
    link_title: str
    send: LtiGradeSend | None


# --- noticing changes ------------------------------------------------------------------------
@event.listens_for(Session, "before_flush")
def _notice_score_changes(session: Session, _context, _instances) -> None:
    changes: dict[int, set[int] | None] = session.info.setdefault(CHANGES, {})
    for row in [*session.new, *session.dirty]:
        submission = None
        if isinstance(row, GradingRun) and row.status == RunStatus.GRADED:
            submission = row.submission
        elif isinstance(row, ManualScore) and row.submission_id is not None:
            submission = session.get(Submission, row.submission_id)
        if submission is not None:
            _note(changes, submission.assignment_id, submission.student_id)
        if (
            isinstance(row, Assignment)
            and session.is_modified(row)
            and any(db.inspect(row).attrs[name].history.has_changes() for name in SCORING_FIELDS)
        ):
            changes[row.id] = None


def _note(changes: dict[int, set[int] | None], assignment_id: int, student_id: int) -> None:
    students = changes.setdefault(assignment_id, set())
    if students is not None:
        students.add(student_id)


@event.listens_for(Session, "before_commit")
def _stage_noticed_changes(session: Session) -> None:
    # The commit flushes only after this hook: flush first, so its changes are noticed too.
    session.flush()
    changes = session.info.pop(CHANGES, None)
    if not changes:
        return
    sends: list[LtiGradeSend] = []
    for assignment_id, students in changes.items():
        sends += stage_scores(session, assignment_id, students)
    if sends:
        session.flush()
        session.info.setdefault(SENDS_TO_DELIVER, set()).update(send.id for send in sends)


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(CHANGES, None)
    session.info.pop(SENDS_TO_DELIVER, None)


def stage_scores(
    session: Session, assignment_id: int, student_ids: Iterable[int] | None
) -> list[LtiGradeSend]:
    """Mark pending each linked student's send whose counting score differs from the last one."""
    links = [
        link
        for link in session.scalars(
            select(LtiResourceLink)
            .options(selectinload(LtiResourceLink.context))
            .where(
                LtiResourceLink.assignment_id == assignment_id,
                LtiResourceLink.lineitem_url.is_not(None),
            )
        )
        if SCORE_SCOPE in (link.context.ags_scopes or [])
    ]
    if not links:
        return []
    assignment = session.get(Assignment, assignment_id)
    wanted = None if student_ids is None else set(student_ids)
    # A graded run concerns one student: read only theirs, not the whole class's, each time.
    attempts = (
        class_attempts(assignment)
        if wanted is None
        else {student: student_attempts(assignment, student) for student in wanted}
    )
    staged = []
    for link in links:
        for identity in _linked_students(session, link.context, wanted):
            own = attempts.get(identity.user_id) or StudentAttempts.of([])
            send = _stage(session, assignment, link, identity.user_id, own)
            if send is not None:
                staged.append(send)
    return staged


def _linked_students(
    session: Session, context: LtiContext, wanted: set[int] | None
) -> list[LtiIdentity]:
    query = (
        select(LtiIdentity)
        .join(Enrollment, Enrollment.user_id == LtiIdentity.user_id)
        .where(
            LtiIdentity.platform_id == context.platform_id,
            Enrollment.course_id == context.course_id,
            Enrollment.role == Role.STUDENT,
        )
    )
    if wanted is not None:
        query = query.where(LtiIdentity.user_id.in_(wanted))
    return list(session.scalars(query))


def _stage(
    session: Session,
    assignment: Assignment,
    link: LtiResourceLink,
    student_id: int,
    attempts: StudentAttempts,
) -> LtiGradeSend | None:
    counting = counting_attempt(assignment, attempts.scored)
    if counting is None:
        return None  # nothing graded yet: the line item stays empty
    view = attempts.view_of(counting.submission_id)
    progress = "PendingManual" if view.awaiting_ta else "FullyGraded"
    score, maximum = round(counting.score, 6), round(counting.points, 6)
    send = session.scalar(
        select(LtiGradeSend).where(
            LtiGradeSend.resource_link_id == link.id, LtiGradeSend.user_id == student_id
        )
    )
    if send is None:
        send = LtiGradeSend(resource_link_id=link.id, user_id=student_id)
        session.add(send)
    elif (send.score_given, send.score_maximum, send.grading_progress) == (
        score,
        maximum,
        progress,
    ) and send.state != PassbackState.FAILED:
        return None
    send.score_given, send.score_maximum, send.grading_progress = score, maximum, progress
    _make_pending(send)
    return send


def _make_pending(send: LtiGradeSend) -> None:
    # Each change is a new statement with a later timestamp: platforms keep the latest by it.
    send.state, send.changed_at, send.enqueued_at = PassbackState.PENDING, utcnow(), utcnow()
    send.attempts, send.last_error = 0, None


# --- delivering ------------------------------------------------------------------------------
def deliver(send_id: int) -> PassbackState | None:
    """Send a pending score to its line item; LtiServiceFailed (recorded) if the platform did not
    take it. Two deliveries of one send never race: the row is locked while it is sent."""
    send = db.session.scalar(
        select(LtiGradeSend).where(LtiGradeSend.id == send_id).with_for_update()
    )
    if send is None or send.state != PassbackState.PENDING:
        db.session.commit()
        return send.state if send else None
    link = send.resource_link
    platform = link.context.platform
    subject = db.session.scalar(
        select(LtiIdentity.subject).where(
            LtiIdentity.platform_id == platform.id, LtiIdentity.user_id == send.user_id
        )
    )
    if subject is None:
        send.state, send.last_error = PassbackState.FAILED, "the student is not linked to the LMS"
        db.session.commit()
        return send.state
    grade = (
        Grade()
        .set_score_given(send.score_given)
        .set_score_maximum(send.score_maximum)
        .set_timestamp(_iso(send.changed_at))
        .set_activity_progress("Completed")
        .set_grading_progress(send.grading_progress)
        .set_user_id(subject)
    )
    service_data = {
        "scope": link.context.ags_scopes,
        "lineitems": link.context.lineitems_url,
        "lineitem": link.lineitem_url,
    }
    try:
        _put_grade(platform, service_data, grade)
    except (LtiException, requests.RequestException) as exc:
        problem = _describe(exc)
        send.attempts += 1
        send.last_error = problem[:2000]
        db.session.commit()
        log.warning("LTI score %s not taken: %s", send_id, problem)
        metrics.lti_score_sent("refused")
        raise LtiServiceFailed(problem) from None
    send.state, send.sent_at, send.last_error = PassbackState.SENT, utcnow(), None
    send.attempts += 1
    db.session.commit()
    metrics.lti_score_sent("sent")
    return send.state


def give_up(send_id: int) -> None:
    """After the last retry: failed, until staff resend it or the score changes."""
    db.session.execute(
        update(LtiGradeSend)
        .where(LtiGradeSend.id == send_id, LtiGradeSend.state == PassbackState.PENDING)
        .values(state=PassbackState.FAILED)
    )
    db.session.commit()
    metrics.lti_score_sent("failed")


def resend(actor: User, assignment_id: int, student_id: int | None = None) -> list[int]:
    """Staff: send again one student's scores (or every student's) on this assignment's links,
    recomputed now; the sends are delivered after the commit."""
    require_staff(actor, assignment_id)
    sends = stage_scores(db.session, assignment_id, None if student_id is None else [student_id])
    for send in db.session.scalars(
        select(LtiGradeSend)
        .join(LtiResourceLink)
        .where(LtiResourceLink.assignment_id == assignment_id)
        .where(*([LtiGradeSend.user_id == student_id] if student_id is not None else []))
    ):
        if send not in sends:
            _make_pending(send)
            sends.append(send)
    db.session.flush()
    ids = [send.id for send in sends]
    db.session.info.setdefault(SENDS_TO_DELIVER, set()).update(ids)
    db.session.commit()
    return ids


def sends_to_resend(now: datetime | None = None) -> list[int]:
    """Pending sends whose delivery seems lost; each is marked as sent to the queue again now."""
    now = now or utcnow()
    stale = list(
        db.session.scalars(
            select(LtiGradeSend).where(
                LtiGradeSend.state == PassbackState.PENDING,
                LtiGradeSend.enqueued_at < now - RESEND_AFTER,
            )
        )
    )
    for send in stale:
        send.enqueued_at = now
    db.session.commit()
    return [send.id for send in stale]


def passback_rows(actor: User, assignment_id: int) -> list[PassbackRow]:
    """Each LMS-linked student of the assignment's links and what their line item was told."""
    assignment = require_staff(actor, assignment_id)
    links = list(
        db.session.scalars(
            select(LtiResourceLink)
            .options(selectinload(LtiResourceLink.context))
            .where(LtiResourceLink.assignment_id == assignment.id)
            .order_by(LtiResourceLink.id)
        )
    )
    sends = {
        (send.resource_link_id, send.user_id): send
        for send in db.session.scalars(
            select(LtiGradeSend).where(
                LtiGradeSend.resource_link_id.in_([link.id for link in links])
            )
        )
    }
    rows = []
    for link in links:
        for identity in _linked_students(db.session, link.context, None):
            rows.append(
                PassbackRow(
                    identity.user,
                    link.title or link.resource_link_id,
                    sends.get((link.id, identity.user_id)),
                )
            )
    return sorted(rows, key=lambda row: (row.student.email, row.link_title))


def _put_grade(platform: LtiPlatform, service_data: dict, grade: Grade) -> None:
    key = (platform.id, platform.client_id, platform.auth_token_url)
    try:
        AssignmentsGradesService(_connector(key, platform), service_data).put_grade(grade)
    except LtiServiceException as exc:
        _connectors.pop(key, None)
        if exc.response.status_code != 401:
            raise
        # The cached access token expired or was revoked: once more, with a new one.
        AssignmentsGradesService(_connector(key, platform), service_data).put_grade(grade)


def _connector(key: tuple, platform: LtiPlatform) -> ServiceConnector:
    """A connector to the platform, reused for a few minutes so a class's scores share access
    tokens."""
    cached = _connectors.get(key)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    connector = ServiceConnector(registration_of(platform), requests_session=http_session())
    _connectors[key] = (connector, time.monotonic() + CONNECTOR_LIFETIME_SECONDS)
    return connector


def _describe(exc: Exception) -> str:
    if isinstance(exc, LtiServiceException):
        return f"the LMS answered {exc.response.status_code}: {exc.response.text[:500]}"
    return str(exc) or type(exc).__name__


def _iso(moment: datetime) -> str:
    stamp = as_utc(moment)
    assert stamp is not None
    return stamp.isoformat(timespec="milliseconds")
