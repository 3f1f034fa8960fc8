"""Which workers are alive and how much work waits: for the staff dashboard and the health check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update

from grader.extensions import db
from grader.models import GradingRun, RunStatus, WorkerHeartbeat
from grader.services.assignments.rules import as_utc

# A worker writes its heartbeat this often; one silent for three beats is counted as gone.
WORKER_HEARTBEAT_SECONDS = 10
ALIVE_WITHIN = timedelta(seconds=3 * WORKER_HEARTBEAT_SECONDS)


def record_alive(name: str) -> None:
    now = datetime.now(UTC)
    updated = db.session.execute(
        update(WorkerHeartbeat).where(WorkerHeartbeat.name == name).values(last_seen=now)
    )
    if updated.rowcount == 0:
        db.session.add(WorkerHeartbeat(name=name, started_at=now, last_seen=now))
    db.session.commit()


def forget(name: str) -> None:
    db.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.name == name))
    db.session.commit()


def live_workers() -> int:
    since = datetime.now(UTC) - ALIVE_WITHIN
    return db.session.scalar(
        select(func.count()).select_from(WorkerHeartbeat).where(WorkerHeartbeat.last_seen >= since)
    )


def queue_depth() -> int:
    """Runs waiting for a worker in every assignment (the database knows, whatever the broker)."""
    return db.session.scalar(
        select(func.count(GradingRun.id)).where(GradingRun.status == RunStatus.QUEUED)
    )


def oldest_queued_at() -> datetime | None:
    """When the run waiting longest for a worker was queued; None when none waits."""
    return as_utc(
        db.session.scalar(
            select(func.min(GradingRun.queued_at)).where(GradingRun.status == RunStatus.QUEUED)
        )
    )
