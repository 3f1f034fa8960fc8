"""Nothing lost, nothing graded twice: claiming runs, heartbeats, the attempt cap, the sweeper, a
broker away."""

from __future__ import annotations

import gc
import re
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from conftest import make_app, notebook_bytes, queued_messages, signed_in
from services.test_grading_run import upload
from sqlalchemy import func, select, update

from grader.engine.rubric import RuntimeOptions
from grader.extensions import db
from grader.models import GradingRun, QuestionResult, RunStatus
from grader.services.grading.runs import grade_run
from grader.services.grading.sweeper import requeue_stuck_runs
from grader.services.grading.workers import record_alive
from grader.task_queue import celery_config
from worker.tasks import sweep_runs

# Slow: most tests grade notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def set_run(app, run_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(GradingRun).where(GradingRun.id == run_id).values(**values))
        db.session.commit()


def get_run(app, run_id: int) -> GradingRun:
    with app.app_context():
        run = db.session.get(GradingRun, run_id)
        db.session.expunge(run)
        return run


def grade(app, run_id: int, worker: str = "host:1"):
    with app.app_context():
        return grade_run(run_id, app.config["GRADER"], worker=worker)


@pytest.fixture
def queued(app, client) -> int:
    return upload(client, notebook_bytes("print(6 * 7)"))["run_id"]


# nbclient leaves an event loop behind in each thread that runs a notebook; harmless, but a warning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_same_task_delivered_twice_at_once_grades_once(app, queued):
    outcomes = []
    threads = [
        threading.Thread(target=lambda name=name: outcomes.append(grade(app, queued, name)))
        for name in ("host:1", "host:2")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The threads' event loops go now, inside this test, where their warning is expected.
    gc.collect()
    assert outcomes.count(RunStatus.GRADED) == 1 and outcomes.count(None) == 1
    run = get_run(app, queued)
    assert (run.status, run.attempts) == (RunStatus.GRADED, 1)


def test_a_run_a_live_worker_is_grading_is_left_alone(app, queued):
    set_run(
        app,
        queued,
        status=RunStatus.RUNNING,
        heartbeat_at=datetime.now(UTC),
        worker="other:9",
        attempts=1,
    )
    assert grade(app, queued) is None
    assert get_run(app, queued).attempts == 1


def test_a_run_whose_worker_died_is_taken_over(app, queued):
    set_run(
        app, queued, status=RunStatus.RUNNING, heartbeat_at=LONG_AGO, worker="dead:1", attempts=1
    )
    assert grade(app, queued) == RunStatus.GRADED
    run = get_run(app, queued)
    assert (run.attempts, run.worker) == (2, "host:1")


def test_the_same_worker_retrying_after_a_database_blip_does_not_use_an_attempt(app, queued):
    set_run(
        app,
        queued,
        status=RunStatus.RUNNING,
        heartbeat_at=datetime.now(UTC),
        worker="host:1",
        attempts=1,
    )
    assert grade(app, queued, worker="host:1") == RunStatus.GRADED
    assert get_run(app, queued).attempts == 1


def test_a_notebook_that_keeps_killing_workers_is_stopped_with_a_message(app, queued):
    cap = app.config["GRADER"].max_grading_attempts
    set_run(app, queued, status=RunStatus.RUNNING, heartbeat_at=LONG_AGO, attempts=cap)
    assert grade(app, queued) == RunStatus.FAILED
    run = get_run(app, queued)
    assert run.attempts == cap + 1
    assert f"stopped the grader {cap} times" in run.error_message
    with app.app_context():
        assert db.session.scalar(select(func.count(QuestionResult.id))) == 0


def test_heartbeat_is_written_while_a_long_cell_runs(app, client, monkeypatch):
    monkeypatch.setattr("grader.services.grading.runs.RUN_HEARTBEAT_SECONDS", 0.2)
    run_id = upload(client, notebook_bytes("import time; time.sleep(3)"))["run_id"]
    beats = []

    def watch():
        for _ in range(20):
            with app.app_context():
                beats.append(db.session.get(GradingRun, run_id).heartbeat_at)
                db.session.remove()
            threading.Event().wait(0.25)

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert grade(app, run_id) == RunStatus.GRADED
    watcher.join()
    # The single cell sleeps 3 s without progress, yet the heartbeat kept moving.
    assert len({beat for beat in beats if beat is not None}) >= 4


def test_sweeper_resends_runs_whose_message_is_lost_or_whose_worker_died(app, client):
    lost, dead, waiting, live = (
        upload(client, notebook_bytes(f"print({n})"))["run_id"] for n in range(4)
    )
    set_run(app, lost, enqueued_at=LONG_AGO)
    set_run(app, dead, status=RunStatus.RUNNING, heartbeat_at=LONG_AGO)
    set_run(app, live, status=RunStatus.RUNNING, heartbeat_at=datetime.now(UTC))
    with app.app_context():
        assert requeue_stuck_runs(app.config["GRADER"]) == [lost, dead]
        # A second sweeper right after finds nothing: each run is sent again once.
        assert requeue_stuck_runs(app.config["GRADER"]) == []
    assert get_run(app, dead).status == RunStatus.QUEUED
    assert (
        get_run(app, waiting).status == RunStatus.QUEUED
        and get_run(app, live).status == RunStatus.RUNNING
    )
    assert grade(app, dead) == RunStatus.GRADED


def test_upload_while_the_broker_is_away_is_kept_and_sent_later(settings):
    away = make_app(replace(settings, broker_url="redis://127.0.0.1:1/0"))
    started = time.monotonic()
    response = upload(signed_in(away), notebook_bytes("print(1)"))
    assert time.monotonic() - started < 15, "an upload must not hang while the broker is away"
    assert get_run(away, response["run_id"]).status == RunStatus.QUEUED
    # The broker is back (the usual one, in the same database's app); the sweeper sends the run.
    back = make_app(settings)
    set_run(back, response["run_id"], enqueued_at=LONG_AGO)
    assert queued_messages(settings) == []
    with back.app_context():
        assert sweep_runs.run() == [response["run_id"]]
    assert len(queued_messages(settings)) == 1


def test_dashboard_shows_the_backlog_and_live_workers(app, client):
    upload(client, notebook_bytes("1"))
    ta = signed_in(app, "ta@example.edu")
    with app.app_context():
        lab6 = db.session.scalar(select(GradingRun)).submission.assignment_id
    page = ta.get(f"/assignments/{lab6}/dashboard").get_data(as_text=True)
    assert "<strong>1</strong>\n    run waiting" in page and "no worker is running" in page
    with app.app_context():
        record_alive("host:1")
    page = ta.get(f"/assignments/{lab6}/dashboard").get_data(as_text=True)
    assert "<strong>1</strong> worker process alive" in page and "no worker is running" not in page


def test_staff_see_where_a_runs_time_went_and_students_do_not(app, client, queued):
    assert grade(app, queued) == RunStatus.GRADED
    submission_id = get_run(app, queued).submission_id
    staff_page = (
        signed_in(app, "ta@example.edu").get(f"/submissions/{submission_id}").get_data(as_text=True)
    )
    assert re.search(
        r"Run 1, attempt 1 on host:1:\s+waited [\d.]+ s in the queue,"
        r"\s+ran in [\d.]+ s \(cold kernel\),"
        r"\s+scored in [\d.]+ s",
        staff_page,
    )
    assert "run-timings" not in client.get(f"/submissions/{submission_id}").get_data(as_text=True)


def test_health_checks_the_database_and_the_broker(app, settings):
    healthy = app.test_client().get("/health")
    assert healthy.status_code == 200
    assert healthy.get_json()["checks"] == {"database": "ok", "broker": "ok"}
    broken = (
        make_app(replace(settings, broker_url="redis://127.0.0.1:1/0")).test_client().get("/health")
    )
    assert broken.status_code == 503 and broken.get_json()["checks"]["broker"].startswith(
        "unavailable"
    )


def test_celery_acknowledges_late_and_redelivers_only_after_the_longest_grading(settings):
    config = celery_config(replace(settings, broker_url="redis://127.0.0.1:6379/0"))
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    assert config["worker_cancel_long_running_tasks_on_connection_loss"]
    longest_notebook = RuntimeOptions.model_fields["notebook_timeout"].metadata
    assert config["broker_transport_options"]["visibility_timeout"] > max(
        limit.le for limit in longest_notebook if hasattr(limit, "le")
    )
    sweep = config["beat_schedule"]["sweep-stuck-runs"]
    assert (sweep["task"], sweep["schedule"]) == (
        "grader.sweep_runs",
        settings.sweep_interval_seconds,
    )
