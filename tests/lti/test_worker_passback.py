"""A score owed to the LMS survives what production does to it: a platform that refuses for a
while (Celery retries) and a worker killed in the middle (the sweeper sends it again), with real
Celery workers on PostgreSQL and Redis."""

from __future__ import annotations

import signal
from datetime import UTC, datetime

import pytest
from processes import REDIS_URL, demo_service_environment, grader_command, running, wait_until
from sqlalchemy import select, update

from grader.config import Settings
from grader.extensions import db
from grader.lti_models import LtiGradeSend, LtiIdentity, LtiResourceLink, PassbackState
from grader.services.lti.staging import SENDS_TO_DELIVER
from grader.web import create_web_app
from lti.conftest import launch, place

# Slow: starts Celery workers on PostgreSQL and Redis.
pytestmark = pytest.mark.slow

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def service(tmp_path):
    """The demo course in a fresh PostgreSQL database, and an app of the test's own on it."""
    with demo_service_environment(tmp_path / "instance") as env:
        settings = Settings(
            instance_dir=tmp_path / "tests-instance",
            database_url=env["GRADER_DATABASE_URL"],
            broker_url=REDIS_URL,
            queue_name=env["GRADER_QUEUE"],
        )
        app = create_web_app(settings)
        app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
        yield env, app
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(service):  # the LMS fixture registers itself with this app
    return service[1]


def owe_a_score(app, lms) -> int:
    """Ann opened a placed link; she is owed 11 of 14 points, committed as pending (which sends
    the delivery task)."""
    link = place(app, lms)
    launch(app, lms, "ann-1", link=link.id)
    with app.app_context():
        resource_link = db.session.scalar(select(LtiResourceLink))
        ann = db.session.scalar(select(LtiIdentity.user_id).where(LtiIdentity.subject == "ann-1"))
        send = LtiGradeSend(
            resource_link_id=resource_link.id,
            user_id=ann,
            score_given=11.0,
            score_maximum=14.0,
            enqueued_at=datetime.now(UTC),
        )
        db.session.add(send)
        db.session.flush()
        db.session.info.setdefault(SENDS_TO_DELIVER, set()).add(send.id)
        db.session.commit()
        return send.id


def send_state(app, send_id: int) -> tuple[PassbackState, int]:
    with app.app_context():
        send = db.session.get(LtiGradeSend, send_id)
        return send.state, send.attempts


def test_score_survives_refusals_and_a_killed_worker(service, lms, tmp_path):
    env, app = service
    env = {**env, "GRADER_WARM_KERNELS": "0", "GRADER_SWEEP_INTERVAL_SECONDS": "1"}
    lms.score_outages = 10_000  # away for as long as the first worker lives
    send_id = owe_a_score(app, lms)
    scores_tried = lambda: [r for r in lms.requests if r["path"].endswith("/scores")]  # noqa: E731
    with running(grader_command("worker"), env, tmp_path / "worker-1.log") as first:
        wait_until(lambda: scores_tried(), 60, "the first worker to try the score")
        # Killed outright while its retry waits: nothing it held is handed back.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert send_state(app, send_id)[0] == PassbackState.PENDING
    assert lms.latest_score(lms.links[next(iter(lms.links))].lineitem, "ann-1") is None
    # Back, but refusing once more; and the lost delivery is old enough for the sweeper.
    lms.score_outages = 1
    with app.app_context():
        db.session.execute(
            update(LtiGradeSend).where(LtiGradeSend.id == send_id).values(enqueued_at=LONG_AGO)
        )
        db.session.commit()
    with running(grader_command("worker", "--beat"), env, tmp_path / "worker-2.log"):
        wait_until(
            lambda: send_state(app, send_id)[0] == PassbackState.SENT,
            90,
            "the second worker to deliver the score",
        )
    state, attempts = send_state(app, send_id)
    # At least: the first worker's try, the second's refused try, and its retry that succeeded.
    assert attempts >= 3
    [lineitem] = lms.lineitems
    score = lms.latest_score(lineitem, "ann-1")
    assert (score["scoreGiven"], score["scoreMaximum"]) == (11.0, 14.0)
