"""Faults with real processes: a worker killed mid-grade, Redis restarted mid-burst, PostgreSQL away
for a moment, the same task delivered more than once. Nothing is lost and every submission is graded
once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from conftest import notebook_bytes
from processes import (
    REDIS_URL,
    api_token,
    free_port,
    fresh_postgres_database,
    grader_command,
    running,
    upload,
    wait_for_http,
    wait_until,
    wait_until_finished,
)
from sqlalchemy import create_engine, text
from tcp_proxy import proxied

from grader.config import Settings
from grader.services.demo import DEMO_PASSWORD
from grader.task_queue import enqueue_grading
from grader.web import create_web_app

# Slow: starts workers on PostgreSQL and Redis and breaks them.
pytestmark = pytest.mark.slow

# Short deadlines so a test sees the sweeper act within seconds; cold kernels so the tests stay
# quick.
FAST_RECOVERY = {
    "GRADER_STALE_AFTER_SECONDS": "6",
    "GRADER_REQUEUE_AFTER_SECONDS": "8",
    "GRADER_SWEEP_INTERVAL_SECONDS": "2",
    "GRADER_WARM_KERNELS": "0",
}


@contextmanager
def service(tmp_path: Path, database_url: str, broker_url: str = REDIS_URL) -> Iterator[dict]:
    """A migrated database with the demo course, and the environment every setup process shares."""
    env = {
        "GRADER_DATABASE_URL": database_url,
        "GRADER_BROKER_URL": broker_url,
        "GRADER_QUEUE": f"test-{uuid.uuid4().hex}",
        "GRADER_INSTANCE_DIR": str(tmp_path / "instance"),
        # The tests' browser session speaks plain http to gunicorn, so cookies must not be
        # Secure-only.
        "GRADER_SECURE_COOKIES": "0",
        **FAST_RECOVERY,
    }
    for step in (("db", "upgrade"), ("demo", "--force")):
        subprocess.run(
            grader_command(*step),
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            timeout=120,
        )
    yield {**env, "TOKEN": api_token(env)}


@contextmanager
def web(env: dict, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "grader.wsgi:app",
    ]
    with running(command, env, tmp_path / "web.log") as process:
        wait_for_http(f"http://127.0.0.1:{port}/login", process, tmp_path / "web.log")
        yield f"http://127.0.0.1:{port}"


def runs_of(database_url: str, submission_ids: list[int]) -> list:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT s.id AS submission, r.status, r.attempts, "
                "(SELECT count(*) FROM question_results q WHERE q.run_id = r.id) AS results "
                "FROM submissions s JOIN grading_runs r ON r.submission_id = s.id "
                "WHERE s.id = ANY(:ids) "
                "ORDER BY s.id"
            ),
            {"ids": submission_ids},
        ).all()
    engine.dispose()
    return rows


def status_of(base_url: str, token: str, submission_id: int) -> dict:
    return requests.get(
        f"{base_url}/api/submissions/{submission_id}",
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
    ).json()


def signed_in_session(base_url: str) -> requests.Session:
    """A browser-like session signed in as the demo student through the real login form."""
    session = requests.Session()
    form = session.get(f"{base_url}/login", timeout=30).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    response = session.post(
        f"{base_url}/login",
        timeout=30,
        data={"csrf_token": csrf, "email": "student@example.edu", "password": DEMO_PASSWORD},
    )
    assert response.ok and "Your assignments" in response.text
    return session


def test_worker_killed_mid_grading_is_graded_exactly_once_after_restart(tmp_path):
    with (
        fresh_postgres_database() as database_url,
        service(tmp_path, database_url) as env,
        web(env, tmp_path) as base_url,
        running(grader_command("beat"), env, tmp_path / "beat.log"),
    ):
        token = env["TOKEN"]
        with running(grader_command("worker"), env, tmp_path / "worker-1.log") as first:
            accepted = upload(
                base_url, token, notebook_bytes("import time; time.sleep(6)", "print('finished')")
            )
            wait_until(
                lambda: (
                    status_of(base_url, token, accepted["submission_id"])["status"] == "running"
                ),
                60,
                "the worker to start grading",
            )
            os.killpg(
                first.pid, signal.SIGKILL
            )  # the whole worker: main process, pool process and kernel
            first.wait()
        with running(grader_command("worker"), env, tmp_path / "worker-2.log"):
            status = wait_until_finished(base_url, token, accepted["submission_id"], timeout=120)
        [run] = runs_of(database_url, [accepted["submission_id"]])
    assert status["status"] == "graded", (tmp_path / "worker-2.log").read_text()[-3000:]
    assert run.attempts == 2 and run.results == len(status["questions"]) > 0


def test_redis_restarted_during_a_burst_loses_nothing(tmp_path):
    port = free_port()
    redis_command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    broker = f"redis://127.0.0.1:{port}/0"
    with (
        fresh_postgres_database() as database_url,
        running(redis_command, {}, tmp_path / "redis-1.log") as redis,
    ):
        with (
            service(tmp_path, database_url, broker) as env,
            web(env, tmp_path) as base_url,
            running(grader_command("worker", "--beat"), env, tmp_path / "worker.log"),
        ):
            token = env["TOKEN"]
            accepted = [upload(base_url, token, notebook_bytes(f"print({n})")) for n in range(6)]
            # Redis goes down with whatever it held (no persistence) and comes back empty.
            redis.terminate()
            redis.wait()
            accepted += [
                upload(base_url, token, notebook_bytes(f"print({n})")) for n in range(6, 9)
            ]
            with running(redis_command, {}, tmp_path / "redis-2.log"):
                accepted += [
                    upload(base_url, token, notebook_bytes(f"print({n})")) for n in range(9, 12)
                ]
                finished = [
                    wait_until_finished(base_url, token, a["submission_id"], timeout=240)
                    for a in accepted
                ]
        runs = runs_of(database_url, [a["submission_id"] for a in accepted])
    assert [status["status"] for status in finished] == ["graded"] * 12
    assert len(runs) == 12 and all(run.status == "graded" for run in runs)


def test_database_away_for_a_moment_gives_503_then_recovers_and_the_worker_finishes(tmp_path):
    with fresh_postgres_database() as direct_url, proxied(5432) as database:
        database_url = direct_url.replace(":5432/", f":{database.port}/")
        with (
            service(tmp_path, database_url) as env,
            web(env, tmp_path) as base_url,
            running(grader_command("worker"), env, tmp_path / "worker.log"),
        ):
            token = env["TOKEN"]
            browser = signed_in_session(base_url)
            accepted = upload(
                base_url,
                token,
                notebook_bytes("import time; time.sleep(3)", "time.sleep(3)", "print('survived')"),
            )
            wait_until(
                lambda: (
                    status_of(base_url, token, accepted["submission_id"])["status"] == "running"
                ),
                60,
                "the worker to start grading",
            )
            database.cut()
            away = requests.get(
                f"{base_url}/api/submissions/{accepted['submission_id']}",
                timeout=30,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert away.status_code == 503 and away.headers["Retry-After"] == "30"
            assert "cannot reach its database" in away.json()["error"]
            page = browser.get(f"{base_url}/", timeout=30)
            assert page.status_code == 503 and "cannot reach its database" in page.text
            health = requests.get(f"{base_url}/health", timeout=30)
            assert health.status_code == 503 and health.json()["checks"]["database"].startswith(
                "unavailable"
            )
            time.sleep(8)
            database.restore()
            status = wait_until_finished(base_url, token, accepted["submission_id"], timeout=180)
            assert requests.get(f"{base_url}/health", timeout=30).status_code == 200
        [run] = runs_of(direct_url, [accepted["submission_id"]])
    assert status["status"] == "graded", (tmp_path / "worker.log").read_text()[-3000:]
    assert status["cell_errors"] == []
    # Retried by the same worker after the outage: not the notebook's fault, so not an extra
    # attempt.
    assert run.attempts == 1


def test_the_same_task_delivered_several_times_gives_one_result(tmp_path):
    deliveries = 3
    with (
        fresh_postgres_database() as database_url,
        service(tmp_path, database_url) as env,
        web(env, tmp_path) as base_url,
    ):
        accepted = upload(
            base_url, env["TOKEN"], notebook_bytes("import time; time.sleep(2)", "print(42)")
        )
        sender = create_web_app(
            Settings(
                instance_dir=tmp_path / "sender",
                database_url=database_url,
                broker_url=REDIS_URL,
                queue_name=env["GRADER_QUEUE"],
            )
        )
        with sender.app_context():
            for _ in range(deliveries - 1):
                assert enqueue_grading(accepted["run_id"])
        # Two pool processes, so duplicates can be taken at the same moment.
        with running(grader_command("worker", "--concurrency", "2"), env, tmp_path / "worker.log"):
            status = wait_until_finished(
                base_url, env["TOKEN"], accepted["submission_id"], timeout=120
            )
            time.sleep(3)  # let the duplicates be consumed
        [run] = runs_of(database_url, [accepted["submission_id"]])
    assert status["status"] == "graded"
    assert run.attempts == 1 and run.results == len(status["questions"])
