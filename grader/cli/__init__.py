"""The `grader` command: serve the embedded setup, run a worker, manage the database."""

from __future__ import annotations

import os
import signal
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext
from flask_migrate import upgrade
from werkzeug.serving import run_simple

from grader import metrics
from grader.cli import accounts, grading, lti
from grader.cli.embedded import STOP_SIGNALS, embedded_settings, start_worker, stop_worker
from grader.config import InsecureSecretKey
from grader.logs import configure_logging
from grader.services.demo import DemoRefused, load_demo
from grader.web import create_web_app


# No `flask run`: it would serve requests with whatever key is set; `grader serve` and gunicorn
# check it.
@click.group(
    cls=FlaskGroup,
    create_app=lambda: create_web_app(),
    add_version_option=False,
    add_default_commands=False,
    help=(
        "Notebook grader. Configuration comes from GRADER_* environment variables; see the README."
    ),
)
@click.pass_context
def main(ctx: click.Context) -> None:
    if ctx.invoked_subcommand == "serve":
        # Before the app is built: the embedded server speaks plain http, where Secure cookies never
        # return.
        os.environ.setdefault("GRADER_SECURE_COOKIES", "0")


main.add_command(shell_command)
main.add_command(routes_command)
grading.register(main)
accounts.register(main)
lti.register(main)


def worker_command(concurrency: int, queue: str, beat: bool = False) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.celery_app",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(concurrency),
        "--queues",
        queue,
        *(["--beat"] if beat else []),
    ]


@main.command("worker")
@click.option(
    "--concurrency", default=1, show_default=True, help="Notebooks graded at once by this worker."
)
@click.option(
    "--beat",
    is_flag=True,
    help=(
        "Also run the sweeper's schedule here (only one process should; or run `grader beat` once)."
    ),
)
@with_appcontext
def worker(concurrency: int, beat: bool) -> None:
    """Run a Celery worker that grades queued submissions."""
    command = worker_command(concurrency, current_app.config["GRADER"].queue_name, beat)
    os.execv(command[0], command)


@main.command("beat")
@with_appcontext
def beat() -> None:
    """Run the schedule that sends the sweeper, which re-sends lost or abandoned grading runs (run
    one)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.celery_app",
        "beat",
        "--loglevel",
        "INFO",
    ]
    os.execv(command[0], command)


@main.command("demo")
@click.option(
    "--force",
    is_flag=True,
    help=(
        "Load it into a database other than SQLite too "
        "(a throwaway one: its passwords are published)."
    ),
)
@with_appcontext
def demo(force: bool) -> None:
    """Create the demo course, its people and the Lab 6 assignment (safe to run twice)."""
    try:
        course = load_demo(force=force)
    except DemoRefused as exc:
        raise click.ClickException(f"{exc}. Pass --force to load it anyway.") from None
    click.echo(f"Demo course {course.code} is ready.")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--no-worker", is_flag=True, help="Do not start a worker alongside the web app.")
def serve(host: str, port: int, no_worker: bool) -> None:
    """Embedded setup: migrate the database, load the demo course, start a worker and the web
    app."""
    # Readable lines on a laptop (the worker inherits this); production processes log JSON.
    os.environ.setdefault("GRADER_LOG_FORMAT", "text")
    configure_logging()
    try:
        settings = embedded_settings()
    except InsecureSecretKey as exc:
        raise click.ClickException(str(exc)) from None
    # The worker below inherits the folder: this web's /metrics shows its gradings too, so the
    # worker serves none of its own.
    metrics.use_folder("embedded", settings.instance_dir, owner_pid=os.getpid())
    os.environ.setdefault("GRADER_WORKER_METRICS_PORT", "0")
    app = create_web_app(settings)
    with app.app_context():
        upgrade()
        try:
            load_demo()
        except DemoRefused as exc:
            click.echo(f"Demo course not loaded: {exc}.")
    # SIGTERM (kill, systemd, a container stop) and SIGHUP end the server as Ctrl-C does, so the
    # worker below is always stopped with it.
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.default_int_handler)
    worker_process = None
    try:
        if not no_worker:
            worker_process = start_worker(
                worker_command(1, settings.queue_name, beat=True), settings
            )
        click.echo(f"Serving on http://{host}:{port} (database {settings.database_url})")
        # Flask refuses app.run() under its own CLI; the dev server itself is fine for one laptop.
        run_simple(host, port, app, threaded=True)
    except KeyboardInterrupt:  # stopped before the server was listening
        pass
    finally:
        if worker_process is not None:
            stop_worker(worker_process)
