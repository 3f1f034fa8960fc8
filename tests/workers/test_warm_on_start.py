"""A worker warms kernels for the open assignment due soonest when it starts, so the first notebook
of the night is warm too; with GRADER_WARM_ON_START=0 (the baseline) it starts cold."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import add_mini_assignment, notebook_bytes
from processes import (
    REDIS_URL,
    api_token,
    demo_service_environment,
    free_port,
    grader_command,
    running,
    upload,
    wait_for_http,
    wait_until,
    wait_until_finished,
)
from sqlalchemy import create_engine, select, text

from grader.config import Settings
from grader.engine.assignment import load_assignment
from grader.engine.grade import kernel_profile
from grader.extensions import db
from grader.models import Assignment
from grader.web import create_web_app
from worker import kernels

# Slow: starts gunicorn and a Celery worker on PostgreSQL and Redis, with sandboxed kernels.
pytestmark = pytest.mark.slow

STARTED = "keeping 1 kernel(s) warm between notebooks"
WARMING_MINI = "warming 1 kernel(s) for mini (Mini lab), the open assignment due soonest"


@pytest.fixture
def service(tmp_path):
    """The demo course on PostgreSQL plus the mini lab, due tomorrow (lab 6 has no due date), and a
    web server answering uploads."""
    with demo_service_environment(tmp_path / "instance") as env:
        add_due_mini_assignment(env["GRADER_DATABASE_URL"], tmp_path)
        port = free_port()
        web = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "grader.wsgi:app"]
        with running(web, env, tmp_path / "web.log") as web_process:
            base_url = f"http://127.0.0.1:{port}"
            wait_for_http(base_url + "/", web_process, tmp_path / "web.log")
            yield {**env, "BASE_URL": base_url, "TOKEN": api_token(env)}


def add_due_mini_assignment(database_url: str, tmp_path: Path) -> None:
    app = create_web_app(
        Settings(instance_dir=tmp_path / "setup", database_url=database_url, broker_url=REDIS_URL)
    )
    slug = add_mini_assignment(app, tmp_path / "mini")
    with app.app_context():
        mini = db.session.scalar(select(Assignment).where(Assignment.slug == slug))
        mini.due_at = datetime.now(UTC) + timedelta(days=1)
        db.session.commit()
        db.engine.dispose()


def logged(log_path: Path) -> list[str]:
    """The messages of the worker's JSON log lines so far."""
    return [
        json.loads(line)["message"]
        for line in log_path.read_text().splitlines()
        if line.startswith("{")
    ]


def first_notebook_warm(service: dict, tmp_path: Path, warm_on_start: str) -> tuple[bool, list]:
    """Start a worker, let it come up, upload one notebook; whether its run found a warm kernel,
    and the worker's log messages."""
    log_path = tmp_path / "worker.log"
    env = {**service, "GRADER_WARM_ON_START": warm_on_start}
    ready = WARMING_MINI if warm_on_start == "1" else STARTED
    with running(grader_command("worker"), env, log_path) as worker:

        def up() -> bool:
            assert worker.poll() is None, log_path.read_text()[-3000:]
            return ready in logged(log_path)

        wait_until(up, 120, f"the worker to log {ready!r}")
        token = service["TOKEN"]
        accepted = upload(service["BASE_URL"], token, notebook_bytes("print(6 * 7)"), "mini")
        status = wait_until_finished(service["BASE_URL"], token, accepted["submission_id"])
        assert status["status"] == "graded", log_path.read_text()[-3000:]
        messages = logged(log_path)
    engine = create_engine(service["GRADER_DATABASE_URL"])
    with engine.connect() as connection:
        warm = connection.execute(
            text("SELECT warm_kernel FROM grading_runs WHERE id = :id"), {"id": accepted["run_id"]}
        ).scalar_one()
    engine.dispose()
    return warm, messages


def test_the_first_notebook_after_a_worker_starts_finds_a_warm_kernel(service, tmp_path):
    warm, messages = first_notebook_warm(service, tmp_path, warm_on_start="1")
    assert warm is True
    # Warmed for the open assignment due soonest, before any notebook arrived.
    assert messages.index(WARMING_MINI) < next(
        index for index, message in enumerate(messages) if message.startswith("grading run")
    )


def test_without_warming_on_start_the_first_notebook_starts_cold(service, tmp_path):
    warm, messages = first_notebook_warm(service, tmp_path, warm_on_start="0")
    assert warm is False
    assert not any(message.startswith("warming") for message in messages)


def test_an_assignment_released_while_the_worker_runs_is_warmed_without_a_restart(
    app, tmp_path, monkeypatch, caplog
):
    slug = add_mini_assignment(app, tmp_path / "mini")
    with app.app_context():
        for assignment in db.session.scalars(select(Assignment)):
            assignment.release_at = datetime.now(UTC) + timedelta(days=1)
        db.session.commit()
    monkeypatch.setattr(kernels, "WARM_CHECK_SECONDS", 0.2)
    caplog.set_level("INFO", logger=kernels.__name__)
    kernels.start_warm(app)
    try:
        pool = kernels.start(app.config["GRADER"])
        time.sleep(2)  # ten looks, and nothing is open yet
        assert pool is not None and pool.empty
        with app.app_context():
            mini = db.session.scalar(select(Assignment).where(Assignment.slug == slug))
            mini.release_at = datetime.now(UTC) - timedelta(minutes=1)
            db.session.commit()
        wait_until(lambda: not pool.empty, 30, "a kernel for the released assignment")
        assert WARMING_MINI in caplog.messages
        with load_assignment(tmp_path / "mini") as package:
            grading_asks_for = kernel_profile(package.rubric.runtime, package.template)
        kernel = pool.take(grading_asks_for)
        assert kernel is not None, "the warmed kernel fits the assignment's gradings"
        kernel.close()
    finally:
        kernels.stop()
