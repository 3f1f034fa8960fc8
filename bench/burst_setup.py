"""What a burst round needs before the burst: a fresh database, a small fast lab, and the service's
processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import nbformat
import psycopg
import requests
import yaml
from nbformat import v4
from sqlalchemy import select

from grader.config import Settings
from grader.extensions import db
from grader.models import Course
from grader.services.assignments.catalog import upsert_assignment
from grader.services.demo import DEMO_COURSE
from grader.services.people.accounts import create_api_token, find_user, import_roster
from grader.web import create_web_app

REPO = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SLUG = "burst"
STUDENT = "student@example.edu"
# TensorFlow-free and quick to grade, so a round measures the service rather than the notebook.
RUBRIC = {
    "title": "Burst lab",
    "runtime": {
        "cell_timeout": 20,
        "notebook_timeout": 120,
        "probe_timeout": 30,
        "legacy_keras": False,
    },
    "questions": [
        {
            "key": "total",
            "title": "The sum of the numbers",
            "points": 2,
            "kind": "value",
            "locator": {"section": "Exercise / Question 1"},
            "params": {"name": "total", "expected": 78},
        },
        {
            "key": "shown",
            "title": "Print the total",
            "points": 1,
            "kind": "output",
            "locator": {"section": "Exercise / Question 2"},
            "params": {"expect": "text"},
        },
    ],
}
FULL_MARKS = sum(question["points"] for question in RUBRIC["questions"])
ANSWERS = {
    "Question 1": (
        'import csv\ntotal = sum(int(row["n"]) for row in csv.DictReader(open("data/numbers.csv")))'
    ),
    "Question 2": "print(total)",
}


def lab_notebook(answers: dict[str, str], note: str = "") -> nbformat.NotebookNode:
    """The burst lab's notebook with the given answers; `note` makes each upload's bytes unique."""
    cells = [v4.new_markdown_cell(f"# Burst lab\n{note}"), v4.new_markdown_cell("## Exercise")]
    for question, answer in answers.items():
        cells += [v4.new_markdown_cell(f"### {question}"), v4.new_code_cell(answer)]
    return v4.new_notebook(cells=cells)


def build_package(root: Path) -> Path:
    """Write the burst lab's package (rubric, template, solution, public data) to `root`."""
    (root / "data").mkdir(parents=True)
    (root / "data/numbers.csv").write_text("n\n" + "".join(f"{n}\n" for n in range(1, 13)))
    (root / "rubric.yaml").write_text(yaml.safe_dump(RUBRIC, sort_keys=False))
    nbformat.write(
        lab_notebook({question: "# FILLME" for question in ANSWERS}), root / "template.ipynb"
    )
    nbformat.write(lab_notebook(ANSWERS), root / "solution.ipynb")
    return root


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """An empty PostgreSQL database for one round, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"grader_burst_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def grader(*args: str) -> list[str]:
    return [sys.executable, "-m", "grader.cli", *args]


def run_grader(env: dict[str, str], *args: str) -> str:
    """Run one `grader` command to completion and return its output, which explains any failure."""
    done = subprocess.run(
        grader(*args),
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"grader {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done.stdout


@contextlib.contextmanager
def app_context(env: dict[str, str]) -> Iterator[None]:
    """The round's web app, in this process, for setting up what the CLI has no command for."""
    settings = Settings(
        instance_dir=Path(env["GRADER_INSTANCE_DIR"]),
        database_url=env["GRADER_DATABASE_URL"],
        broker_url=env["GRADER_BROKER_URL"],
        queue_name=env["GRADER_QUEUE"],
    )
    with create_web_app(settings).app_context():
        yield
        db.session.commit()
        db.engine.dispose()


def add_burst_lab(env: dict[str, str], package_root: Path, due_at: datetime | None = None) -> None:
    """Register the burst lab in the demo course, via the same service the instructor pages use."""
    with app_context(env):
        course = db.session.scalar(select(Course).where(Course.code == DEMO_COURSE[0]))
        upsert_assignment(course.id, SLUG, RUBRIC["title"], package_root).due_at = due_at


def enroll_students(env: dict[str, str], count: int) -> list[str]:
    """`count` new students of the demo course (as a roster import makes them); their API tokens."""
    emails = [f"student-{n:04d}@example.edu" for n in range(1, count + 1)]
    with app_context(env):
        course = db.session.scalar(select(Course).where(Course.code == DEMO_COURSE[0]))
        import_roster(course, "email\n" + "\n".join(emails))
        return [create_api_token(find_user(email)) for email in emails]


def prepare(env: dict[str, str], package_root: Path, due_at: datetime | None = None) -> None:
    """Migrate, load the demo course, add the burst lab to it (due at `due_at`)."""
    run_grader(env, "db", "upgrade")
    run_grader(env, "demo", "--force")  # a throwaway database
    add_burst_lab(env, package_root, due_at)


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """Run `command` in its own process group for the block; then SIGTERM the group, and SIGKILL
    what is left."""
    with open(log_path, "wb") as log:
        child = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
        try:
            yield child
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=30)
            # Also reaps kernels a worker left behind in its group after a warm shutdown.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def gunicorn(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "grader.wsgi:app",
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.5):
    """Poll `condition` until it returns something truthy; raise on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def web_up(base_url: str, web: subprocess.Popen, log: Path) -> bool:
    if web.poll() is not None:
        raise RuntimeError(f"gunicorn exited early:\n{log.read_text(errors='replace')[-2000:]}")
    with contextlib.suppress(requests.RequestException):
        return requests.get(base_url + "/", timeout=5).status_code < 500
    return False


def workers_ready(started: list[subprocess.Popen], logs: list[Path]) -> bool:
    """True once every worker has logged that it is ready; raise if one has exited."""
    for child, log in zip(started, logs):
        if child.poll() is not None:
            raise RuntimeError(
                f"{log.name}: the worker exited early:\n{log.read_text(errors='replace')[-2000:]}"
            )
    return all(" ready." in log.read_text(errors="replace") for log in logs)
