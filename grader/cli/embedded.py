"""The embedded setup behind `grader serve`: its own secret key, and the worker it starts and
stops."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import click
from billiard.util import set_pdeathsig

from grader.config import DEV_SECRET_KEY, Settings

SECRET_KEY_FILE = "secret_key"
# Signals that stop `grader serve`: Ctrl-C, `kill`/systemd/a container stop, and a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Celery's warm shutdown lets the worker finish the notebook in hand; one that takes longer than
# this is cut short (cold shutdown), and a worker that still has not exited is killed.
WARM_SHUTDOWN_SECONDS = 60
COLD_SHUTDOWN_SECONDS = 10


def embedded_settings() -> Settings:
    """The environment's settings, with the instance folder's own key unless GRADER_SECRET_KEY is
    set."""
    settings = Settings.from_env()
    if settings.secret_key == DEV_SECRET_KEY:
        settings = replace(settings, secret_key=instance_secret_key(settings.instance_dir))
    settings.require_production_secret()
    return settings


def instance_secret_key(instance_dir: Path) -> str:
    """A random key made on first use and kept (owner-readable only), so sign-ins survive
    restarts."""
    path = instance_dir / SECRET_KEY_FILE
    instance_dir.mkdir(parents=True, exist_ok=True)
    try:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
    except FileExistsError:  # made by an earlier start
        pass
    return path.read_text().strip()


def start_worker(command: list[str], settings: Settings) -> subprocess.Popen:
    """Start the embedded worker with serve's key; only serve signals it, and it stops if serve
    dies."""
    return subprocess.Popen(
        command,
        env={**os.environ, "GRADER_SECRET_KEY": settings.secret_key},
        start_new_session=True,
        preexec_fn=_terminate_with_parent,
    )


def _terminate_with_parent() -> None:
    # Runs in the child before exec: even a serve killed outright (SIGKILL) leaves no worker behind.
    try:
        set_pdeathsig(signal.SIGTERM)
    except OSError:  # not Linux: serve's own shutdown still stops the worker
        pass


def stop_worker(process: subprocess.Popen) -> None:
    """Stop the worker with its beat and kernels: warm shutdown, then cold, then killed.

    Another Ctrl-C or SIGTERM meanwhile skips to the next step instead of leaving the worker behind.
    """
    hurry: list[int] = []
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda received, _frame: hurry.append(received))
    click.echo(
        "Stopping the worker: it finishes the notebook it is grading "
        f"(at most {WARM_SHUTDOWN_SECONDS}"
        " s; Ctrl-C to stop it now)."
    )
    for signum, grace in (
        (signal.SIGTERM, WARM_SHUTDOWN_SECONDS),
        (signal.SIGQUIT, COLD_SHUTDOWN_SECONDS),
    ):
        process.send_signal(signum)
        if _exits_within(process, grace, hurry):
            return
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _exits_within(process: subprocess.Popen, seconds: float, hurry: list[int]) -> bool:
    """Wait for `process` to exit, giving up after `seconds` or when another stop signal arrives."""
    deadline, asked = time.monotonic() + seconds, len(hurry)
    while time.monotonic() < deadline and len(hurry) == asked:
        try:
            process.wait(timeout=0.2)
            return True
        except subprocess.TimeoutExpired:
            pass
    return process.poll() is not None
