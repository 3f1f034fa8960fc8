"""Helpers for tests running the real service: web servers, Celery workers, PostgreSQL databases."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import requests

REPO = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get(
    "GRADER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("GRADER_TEST_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.3):
    """Poll `condition` until it returns something truthy; fail the test with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty PostgreSQL database for one test and drop it afterwards; yield its SQLAlchemy
    URL."""
    name = f"grader_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0]
            + f"/{name}"
        )
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def demo_service_environment(instance_dir: Path) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database, migrated and holding the demo course, and a queue of its own;
    yield the GRADER_* settings that name them."""
    with fresh_postgres_database() as database_url:
        env = {
            "GRADER_DATABASE_URL": database_url,
            "GRADER_BROKER_URL": REDIS_URL,
            "GRADER_QUEUE": f"test-{uuid.uuid4().hex}",
            "GRADER_INSTANCE_DIR": str(instance_dir),
        }
        for step in (("db", "upgrade"), ("demo", "--force")):
            subprocess.run(
                grader_command(*step),
                env={**os.environ, **env},
                check=True,
                capture_output=True,
                timeout=120,
            )
        yield env


@contextmanager
def running(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """Run `command` for the duration of the block, output in `log_path`; stop it afterwards."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, 15)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, 9)
                    process.wait()


def grader_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "grader.cli", *args]


def wait_for_http(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    def up():
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{log_path.read_text()[-3000:]}")
        try:
            return requests.get(url, timeout=5).status_code < 500
        except (
            requests.ConnectionError,
            requests.Timeout,
        ):  # not listening yet, or still importing the app
            return False

    wait_until(up, timeout, f"{url} to answer")


def api_token(env: dict[str, str], email: str = "student@example.edu") -> str:
    """A new API token from `grader tokens create`, as an instructor would make one."""
    done = subprocess.run(
        grader_command("tokens", "create", email),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def upload(base_url: str, token: str, notebook: bytes, assignment: str = "lab6") -> dict:
    response = requests.post(
        f"{base_url}/api/submissions",
        data={"assignment": assignment},
        files={"file": ("lab.ipynb", notebook, "application/x-ipynb+json")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


def wait_until_finished(
    base_url: str, token: str, submission_id: int, timeout: float = 120
) -> dict:
    def finished():
        status = requests.get(
            f"{base_url}/api/submissions/{submission_id}",
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        return status if status["finished"] else None

    return wait_until(finished, timeout, f"submission {submission_id} to finish", interval=0.5)
