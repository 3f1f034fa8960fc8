"""Identical work is done once, with real processes (gunicorn, a Celery worker, Redis, PostgreSQL):
an identical notebook waiting in the queue takes the result graded meanwhile, and one uploaded
after is answered at upload, never queued or run."""

from __future__ import annotations

import sys

import nbformat
import pytest
import redis
from conftest import notebook_bytes
from nbformat import v4
from processes import (
    REDIS_URL,
    free_port,
    grader_command,
    running,
    upload,
    wait_for_http,
    wait_until_finished,
)
from sqlalchemy import create_engine, text

from workers.test_production_flow import production_env  # noqa: F401  # a fixture

# Slow: starts gunicorn and a Celery worker on PostgreSQL and Redis.
pytestmark = pytest.mark.slow

NOTEBOOK = notebook_bytes("total = sum(range(10))\nprint(total)", "undefined_name")


def as_saved_after_running(notebook: bytes) -> bytes:
    """The same notebook with outputs and metadata, as the student's editor saves it."""
    saved = nbformat.reads(notebook.decode(), as_version=4)
    saved.metadata["colab"] = {"provenance": []}
    saved.cells[0].outputs = [v4.new_output("stream", name="stdout", text="45\n")]
    saved.cells[0].execution_count = 1
    return nbformat.writes(saved).encode()


def test_identical_uploads_are_graded_once(production_env, tmp_path):
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
    token = production_env["TOKEN"]
    with (
        running(web, production_env, tmp_path / "web.log") as web_process,
        running(grader_command("worker"), production_env, tmp_path / "worker.log"),
    ):
        wait_for_http(base_url + "/", web_process, tmp_path / "web.log")
        # Nothing is graded yet: both are queued, and the one worker grades them in turn.
        first, waiting = upload(base_url, token, NOTEBOOK), upload(base_url, token, NOTEBOOK)
        assert (first["status"], waiting["status"]) == ("queued", "queued")
        graded = [
            wait_until_finished(base_url, token, body["submission_id"], timeout=300)
            for body in (first, waiting)
        ]
        queued_before = redis.Redis.from_url(REDIS_URL).llen(production_env["GRADER_QUEUE"])

        again = upload(base_url, token, as_saved_after_running(NOTEBOOK))

        # Answered by the upload itself: graded, and nothing sent to the queue.
        assert again["status"] == "graded"
        assert redis.Redis.from_url(REDIS_URL).llen(production_env["GRADER_QUEUE"]) == (
            queued_before
        )
        answered = wait_until_finished(base_url, token, again["submission_id"], timeout=5)
    worker_log = (tmp_path / "worker.log").read_text()
    assert [status["status"] for status in graded] == ["graded"] * 2, worker_log[-3000:]
    assert answered["cell_errors"] == graded[0]["cell_errors"]
    assert [error["ename"] for error in answered["cell_errors"]] == ["NameError"]
    assert answered["reused_from"]["submission_id"] in {
        first["submission_id"],
        waiting["submission_id"],
    }
    engine = create_engine(production_env["GRADER_DATABASE_URL"])
    with engine.connect() as connection:
        runs = {
            row.id: row
            for row in connection.execute(
                text(
                    "SELECT id, reused_from_id, attempts, worker, execution_seconds "
                    "FROM grading_runs"
                )
            )
        }
    engine.dispose()
    executed, took_while_queued, took_at_upload = (
        runs[body["run_id"]] for body in (first, waiting, again)
    )
    assert executed.reused_from_id is None and executed.execution_seconds > 0
    # The worker claimed the waiting one and took the result graded meanwhile: it ran nothing.
    assert took_while_queued.reused_from_id == first["run_id"]
    assert took_while_queued.attempts == 1 and took_while_queued.execution_seconds is None
    # No worker ever saw the last one.
    assert took_at_upload.reused_from_id in {first["run_id"], waiting["run_id"]}
    assert (took_at_upload.attempts, took_at_upload.worker) == (0, None)
    assert took_at_upload.execution_seconds is None
    assert f"grading run {again['run_id']} " not in worker_log
    assert f"grading run {first['run_id']} " in worker_log
