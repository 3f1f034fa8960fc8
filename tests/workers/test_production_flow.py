"""Production setup with real processes: gunicorn, a Celery worker, Redis and PostgreSQL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
import redis
from conftest import notebook_bytes
from processes import (
    REDIS_URL,
    api_token,
    demo_service_environment,
    free_port,
    grader_command,
    running,
    upload,
    wait_for_http,
    wait_until_finished,
)
from sqlalchemy import create_engine, text

# Slow: starts gunicorn and Celery workers on PostgreSQL and Redis.
pytestmark = pytest.mark.slow


@pytest.fixture
def production_env(tmp_path):
    with demo_service_environment(tmp_path / "instance") as env:
        yield {**env, "TOKEN": api_token(env)}


def test_upload_is_graded_by_a_real_worker_through_redis_and_postgres(production_env, tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    web = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "grader.wsgi:app",
    ]
    # Not warmed on start (tests/workers/test_warm_on_start.py covers that): the pool learns the
    # profile from the first notebook.
    cold_start = {**production_env, "GRADER_WARM_ON_START": "0"}
    with (
        running(web, production_env, tmp_path / "web.log") as web_process,
        running(grader_command("worker"), cold_start, tmp_path / "worker.log"),
    ):
        wait_for_http(base_url + "/", web_process, tmp_path / "web.log")
        token = production_env["TOKEN"]
        accepted = upload(
            base_url,
            token,
            notebook_bytes("total = sum(range(10))\nprint(total)", "undefined_name"),
        )
        status = wait_until_finished(base_url, token, accepted["submission_id"])
        # Meanwhile the worker warmed a kernel for this assignment: the next upload finds it
        # waiting.
        second = upload(base_url, token, notebook_bytes("print('second')"))
        assert wait_until_finished(base_url, token, second["submission_id"])["status"] == "graded"

    assert status["status"] == "graded", (tmp_path / "worker.log").read_text()[-3000:]
    assert [e["ename"] for e in status["cell_errors"]] == ["NameError"]
    engine = create_engine(production_env["GRADER_DATABASE_URL"])
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT r.attempts, r.warm_kernel, r.execution_seconds, b.content "
                "FROM grading_runs r "
                "JOIN blobs b ON b.sha256 = r.executed_sha256 WHERE r.id = :id"
            ),
            {"id": accepted["run_id"]},
        ).one()
        warm = connection.execute(
            text("SELECT warm_kernel FROM grading_runs WHERE id = :id"), {"id": second["run_id"]}
        ).scalar_one()
    engine.dispose()
    executed = nbformat.reads(bytes(row.content).decode(), as_version=4)
    assert row.attempts == 1
    # The worker logs JSON lines that carry the run id, so one submission can be followed through
    # the logs.
    lines = [
        json.loads(line)
        for line in (tmp_path / "worker.log").read_text().splitlines()
        if line.startswith("{")
    ]
    about_run = [line for line in lines if line.get("run_id") == accepted["run_id"]]
    assert any(
        line["message"].startswith("grading run") and line["level"] == "INFO" for line in about_run
    )
    assert (row.warm_kernel, warm) == (False, True) and row.execution_seconds > 0
    assert executed.cells[0].outputs[0]["text"] == "45\n"
    assert redis.Redis.from_url(REDIS_URL).llen(production_env["GRADER_QUEUE"]) == 0


def test_worker_survives_hostile_notebooks_and_keeps_grading(production_env, tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    web = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "1",
        "--bind",
        f"127.0.0.1:{port}",
        "grader.wsgi:app",
    ]
    hostile = [
        notebook_bytes("import os\nwhile True:\n    os.fork()"),
        notebook_bytes("x = bytearray(8 * 1024**3)"),
        notebook_bytes("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
    ]
    with (
        running(web, production_env, tmp_path / "web.log") as web_process,
        running(grader_command("worker"), production_env, tmp_path / "worker.log") as worker,
    ):
        wait_for_http(base_url + "/", web_process, tmp_path / "web.log")
        token = production_env["TOKEN"]
        accepted = [upload(base_url, token, notebook) for notebook in hostile]
        accepted.append(upload(base_url, token, notebook_bytes("print(6 * 7)")))
        finished = [
            wait_until_finished(base_url, token, a["submission_id"], timeout=300) for a in accepted
        ]
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    assert [status["status"] for status in finished] == ["graded"] * 4
    # The memory bomb's kernel died once: the grader replaced it and went on, and the cell that
    # killed it says why.
    died = [error for error in finished[1]["cell_errors"] if error["ename"] == "KernelDied"]
    assert len(died) == 1 and "memory limit" in died[0]["evalue"]


def test_workers_on_separate_machines_share_only_postgres_and_redis(production_env, tmp_path):
    """Each worker gets its own empty instance folder, as on another machine: all it needs comes
    from the database and the broker."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    web = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "grader.wsgi:app",
    ]
    machines = [
        {
            **production_env,
            "GRADER_INSTANCE_DIR": str(tmp_path / f"machine-{n}"),
            "GRADER_WARM_KERNELS": "0",
        }
        for n in (1, 2)
    ]
    with (
        running(web, production_env, tmp_path / "web.log") as web_process,
        running(grader_command("worker"), machines[0], tmp_path / "worker-1.log"),
        running(grader_command("worker"), machines[1], tmp_path / "worker-2.log"),
    ):
        wait_for_http(base_url + "/", web_process, tmp_path / "web.log")
        token = production_env["TOKEN"]
        accepted = [
            upload(base_url, token, notebook_bytes("import time; time.sleep(2)", f"print({n})"))
            for n in range(6)
        ]
        finished = [
            wait_until_finished(base_url, token, a["submission_id"], timeout=240) for a in accepted
        ]
    assert [status["status"] for status in finished] == ["graded"] * 6
    engine = create_engine(production_env["GRADER_DATABASE_URL"])
    with engine.connect() as connection:
        workers = set(
            connection.execute(text("SELECT DISTINCT worker FROM grading_runs")).scalars()
        )
    engine.dispose()
    assert len(workers) == 2, "both machines graded"
    for machine in machines:
        assert any((Path(machine["GRADER_INSTANCE_DIR"]) / "packages").iterdir())
