"""Assignment and Grade Services, second half: owed scores (grader.services.lti.staging) sent to
their line items, retried, resent by staff or the sweeper, and shown to staff."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from grader import metrics
from grader.extensions import db
from grader.lti_models import (
    LtiGradeSend,
    LtiIdentity,
    LtiPlatform,
    LtiResourceLink,
    PassbackState,
)
from grader.models import (
    User,
    utcnow,
)
from grader.services.assignments.rules import as_utc
from grader.services.errors import LtiServiceFailed
from grader.services.lti.platforms import http_session, registration_of
from grader.services.lti.staging import (
    deliver_after_commit,
    linked_students,
    make_pending,
    stage_scores,
)
from grader.services.permissions import require_staff

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
            make_pending(send)
            sends.append(send)
    ids = deliver_after_commit(db.session, sends)
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
        for identity in linked_students(db.session, link.context, None):
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
