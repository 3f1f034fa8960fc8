"""The sweeper: finds grading runs whose task message was lost or whose worker died,
so they are sent again."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update

from grader.config import Settings
from grader.extensions import db
from grader.models import GradingRun, RunStatus
from grader.services.grading.runs import stale_heartbeat

log = logging.getLogger(__name__)


def requeue_stuck_runs(settings: Settings) -> list[int]:
    """Mark stuck runs queued again and return their ids for the caller to enqueue
    (committed first).

    Stuck means queued with no worker taking it for `requeue_after_seconds` (the broker may have
    lost the message, or enqueueing failed), or running with no heartbeat for `stale_after_seconds`
    (its worker died). Each run is taken by one atomic update, so two sweepers never both send it.
    """
    now = datetime.now(UTC)
    unsent_since = now - timedelta(seconds=settings.requeue_after_seconds)
    stuck = or_(
        and_(
            GradingRun.status == RunStatus.QUEUED,
            or_(GradingRun.enqueued_at.is_(None), GradingRun.enqueued_at < unsent_since),
        ),
        and_(GradingRun.status == RunStatus.RUNNING, stale_heartbeat(settings, now)),
    )
    requeued = []
    for run_id in db.session.scalars(
        select(GradingRun.id).where(stuck).order_by(GradingRun.id)
    ).all():
        taken = db.session.execute(
            update(GradingRun)
            .where(GradingRun.id == run_id, stuck)
            .values(status=RunStatus.QUEUED, enqueued_at=now)
        )
        if taken.rowcount:
            requeued.append(run_id)
    db.session.commit()
    if requeued:
        log.warning("re-sending %s stuck grading run(s): %s", len(requeued), requeued)
    return requeued
