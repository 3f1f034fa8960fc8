"""Every grading task has a time budget from its rubric; past it the run fails clearly and all of it
stops."""

from __future__ import annotations

import json
import secrets
import time
from datetime import timedelta

import psutil
import pytest
import yaml
from conftest import REPO, add_mini_assignment, notebook_bytes, queued_messages
from processes import grader_command, running, wait_until

from grader.extensions import db
from grader.models import GradingRun, RunStatus
from grader.services.grading.runs import HARD_LIMIT_GRACE_SECONDS, RUN_HEARTBEAT_SECONDS
from services.test_grading_run import upload

# Slow: starts a Celery worker that grades in the sandbox.
pytestmark = pytest.mark.slow

# Within its rubric's limits (one cell of up to 60 s), but past the small budget its message is sent
# with.
SLEEPER = "import time\ntime.sleep(50)"
BUDGET = 8


def time_limits_sent(settings) -> list[tuple[int, int]]:
    """The (hard, soft) time limits of each grading message waiting in the embedded broker."""
    limits = []
    for message in queued_messages(settings):
        envelope = json.loads(message.read_text())
        assert envelope["headers"]["task"] == "grader.grade_submission"
        limits.append(tuple(envelope["headers"]["timelimit"]))
    return limits


def run_row(app, run_id: int) -> GradingRun:
    with app.app_context():
        run = db.session.get(GradingRun, run_id)
        db.session.expunge(run)
        db.session.remove()
        return run


def test_each_grading_message_carries_time_limits_from_its_rubric(app, client, settings, tmp_path):
    margin = settings.grading_margin_seconds
    upload(client, notebook_bytes("1"))
    lab6 = yaml.safe_load((REPO / "fixtures" / "lab6" / "rubric.yaml").read_text())
    runtime = lab6["runtime"]
    checks = len(lab6["questions"]) + 1  # each answer's, and the wait for retrained models
    lab6_budget = runtime["notebook_timeout"] + runtime["probe_timeout"] * checks + margin
    slug = add_mini_assignment(app, tmp_path / "mini", notebook_timeout=100, probe_timeout=10)
    upload(client, notebook_bytes("1"), assignment=slug)
    mini_budget = 100 + 10 * (5 + 1) + margin
    assert time_limits_sent(settings) == [
        (lab6_budget + HARD_LIMIT_GRACE_SECONDS, lab6_budget),
        (mini_budget + HARD_LIMIT_GRACE_SECONDS, mini_budget),
    ]


def worker_descendants(worker: psutil.Process) -> list[str]:
    """What the worker started besides its pool processes: kernels and sandboxes still running."""
    found = []
    for process in worker.children(recursive=True):
        try:
            command = " ".join(process.cmdline())
        except psutil.NoSuchProcess:
            continue
        if "celery" not in command:
            found.append(command)
    return found


def test_a_run_over_its_budget_is_failed_with_a_reason_and_stops_everything(
    app, client, settings, tmp_path, monkeypatch
):
    slug = add_mini_assignment(app, tmp_path / "mini", cell_timeout=60, notebook_timeout=60)
    with monkeypatch.context() as patch:
        # A budget far below what the rubric allows, so that an ordinary sleeping notebook runs past
        # it.
        patch.setattr("grader.services.grading.runs._budgets", {})
        patch.setattr("grader.services.grading.runs.time_budget", lambda rubric, margin: BUDGET)
        sleeper = upload(client, notebook_bytes(SLEEPER), assignment=slug)
    assert time_limits_sent(settings) == [(BUDGET + HARD_LIMIT_GRACE_SECONDS, BUDGET)]
    env = {
        "GRADER_INSTANCE_DIR": str(settings.instance_dir),
        "GRADER_DATABASE_URL": settings.database_url,
        "GRADER_BROKER_URL": settings.broker_url,
        "GRADER_QUEUE": settings.queue_name,
        "GRADER_WARM_KERNELS": "0",
        "GRADER_SECRET_KEY": secrets.token_urlsafe(48),
    }
    log = tmp_path / "worker.log"
    with running(grader_command("worker"), env, log) as worker:
        failed = wait_until(
            lambda: (run := run_row(app, sleeper["run_id"])).finished_at and run,
            120,
            "the sleeping notebook's run to finish",
        )
        assert failed.status == RunStatus.FAILED, log.read_text()[-3000:]
        assert failed.error_message.startswith(
            f"Grading took longer than {BUDGET} seconds and was stopped."
        )
        assert failed.finished_at - failed.started_at < timedelta(seconds=30), (
            "stopped by the soft limit"
        )
        # The notebook's kernel and the scoring kernel were stopped, and the heartbeat is silent.
        wait_until(
            lambda: worker_descendants(psutil.Process(worker.pid)) == [], 10, "the kernels to stop"
        )
        beat = run_row(app, sleeper["run_id"]).heartbeat_at
        time.sleep(RUN_HEARTBEAT_SECONDS + 1.5)
        assert run_row(app, sleeper["run_id"]).heartbeat_at == beat
        # The same worker goes on grading, within the budget its rubric gives.
        honest = upload(client, notebook_bytes("print(6 * 7)"), assignment=slug)
        graded = wait_until(
            lambda: (run := run_row(app, honest["run_id"])).finished_at and run,
            120,
            "the next run to finish",
        )
        assert graded.status == RunStatus.GRADED, log.read_text()[-3000:]
        assert worker.poll() is None
