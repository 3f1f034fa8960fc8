"""The `grader` command: serve the embedded setup, run a worker, manage the database."""
from __future__ import annotations

import os
import subprocess
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade
from werkzeug.serving import run_simple

from grader import account_commands, grading_commands
from grader.logs import configure_logging
from grader.services.demo import load_demo
from grader.web import create_app


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False,
             help="Notebook grader. Configuration comes from GRADER_* environment variables; "
                  "see the README.")
def main() -> None:
    pass


grading_commands.register(main)
account_commands.register(main)


def worker_command(concurrency: int, queue: str, beat: bool = False) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--loglevel", "INFO",
            "--concurrency", str(concurrency), "--queues", queue, *(["--beat"] if beat else [])]


@main.command("worker")
@click.option("--concurrency", default=1, show_default=True, help="Notebooks graded at once by this worker.")
@click.option("--beat", is_flag=True, help="Also run the sweeper's schedule here (only one process should; "
                                          "or run `grader beat` once).")
@with_appcontext
def worker(concurrency: int, beat: bool) -> None:
    """Run a Celery worker that grades queued submissions."""
    command = worker_command(concurrency, current_app.config["GRADER"].queue_name, beat)
    os.execv(command[0], command)


@main.command("beat")
@with_appcontext
def beat() -> None:
    """Run the schedule that sends the sweeper, which re-sends lost or abandoned grading runs (run one)."""
    command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "--loglevel", "INFO"]
    os.execv(command[0], command)


@main.command("demo")
@with_appcontext
def demo() -> None:
    """Create the demo course, its people and the Lab 6 assignment (safe to run twice)."""
    course = load_demo()
    click.echo(f"Demo course {course.code} is ready.")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--no-worker", is_flag=True, help="Do not start a worker alongside the web app.")
@with_appcontext
def serve(host: str, port: int, no_worker: bool) -> None:
    """Embedded setup: migrate the database, load the demo course, start a worker and the web app."""
    # Readable lines on a laptop (the worker inherits this); production processes log JSON.
    os.environ.setdefault("GRADER_LOG_FORMAT", "text")
    configure_logging()
    upgrade()
    load_demo()
    settings = current_app.config["GRADER"]
    worker_process = None if no_worker else subprocess.Popen(worker_command(1, settings.queue_name, beat=True))
    click.echo(f"Serving on http://{host}:{port} (database {settings.database_url})")
    try:
        # Flask refuses app.run() under its own CLI; the dev server itself is fine for one laptop.
        run_simple(host, port, current_app._get_current_object(), threaded=True)
    finally:
        if worker_process is not None:
            worker_process.terminate()
            worker_process.wait(timeout=30)


if __name__ == "__main__":
    main()
