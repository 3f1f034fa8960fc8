"""A worker's metrics: its pool's processes write them to one folder, and Celery's main process
serves their sums on GRADER_WORKER_METRICS_PORT."""

from __future__ import annotations

import logging
import os

from grader import metrics
from grader.config import Settings
from grader.sandbox import SandboxUnavailable

log = logging.getLogger(__name__)


def start(settings: Settings) -> None:
    """Choose the folder before the pool's processes are forked, then serve it (port 0: do not)."""
    metrics.use_folder("worker", settings.instance_dir, owner_pid=os.getpid())
    port = settings.worker_metrics_port
    if port == 0:
        return
    try:
        metrics.serve(port)
    except OSError as exc:
        # Grading matters more than its metrics: another worker on this machine may hold the port.
        log.warning("not serving metrics on port %s: %s", port, exc)
        return
    log.info("serving this worker's metrics on port %s", port)


def count_sandbox_refusal(exception: BaseException | None = None, **_) -> None:
    """Celery's task_failure: count a grading refused because the sandbox could not start."""
    if isinstance(exception, SandboxUnavailable):
        metrics.sandbox_refused("grading")


def forget_process(**_) -> None:
    """Celery's worker_process_shutdown: a pool process is gone (its counts still count)."""
    metrics.process_exited()
