"""The worker process's warm kernel pool: started when the process starts, closed when it stops."""

from __future__ import annotations

import logging
import threading

from flask import Flask

from grader.config import Settings
from grader.engine.grade import kernel_pool
from grader.engine.kernel_pool import KernelPool
from grader.sandbox import sandbox_from_mode
from grader.services.grading import warming

log = logging.getLogger(__name__)
# How often an empty pool looks for an open assignment: one released since the last look gets warm
# kernels within this time, without a restart.
WARM_CHECK_SECONDS = 60
_pool: KernelPool | None = None
# Set when this process stops, so the warming thread stops looking.
_stop_warming = threading.Event()


def start(settings: Settings) -> KernelPool | None:
    """The process's pool; it warms kernels for whatever assignment it graded last."""
    global _pool
    if _pool is None and settings.warm_kernels > 0:
        sandbox = sandbox_from_mode(settings.sandbox_mode, settings.kernel_cpu_weight)
        _pool = kernel_pool(sandbox, size=settings.warm_kernels)
        log.info("keeping %s kernel(s) warm between notebooks", settings.warm_kernels)
    return _pool


def start_warm(app: Flask) -> None:
    """Start the pool and, unless GRADER_WARM_ON_START=0, warm it for the open assignment due
    soonest now and whenever it holds no kernel."""
    global _stop_warming
    settings: Settings = app.config["GRADER"]
    pool = start(settings)
    if pool is None or not settings.warm_on_start:
        return
    _stop_warming = threading.Event()
    threading.Thread(
        target=_warm_while_empty,
        args=(app, pool, _stop_warming),
        name="kernel-warmer",
        daemon=True,
    ).start()


def _warm_while_empty(app: Flask, pool: KernelPool, stopped: threading.Event) -> None:
    while True:
        # Once a notebook was graded the pool keeps that profile warm; this only fills an empty one.
        if pool.empty:
            _warm_for_open_assignment(app, pool)
        if stopped.wait(WARM_CHECK_SECONDS):
            return


def _warm_for_open_assignment(app: Flask, pool: KernelPool) -> None:
    try:
        with app.app_context():
            target = warming.warming_target(app.config["GRADER"])
        if target is not None and pool.warm_if_empty(target.profile):
            log.info(
                "warming %s kernel(s) for %s (%s), the open assignment due soonest",
                pool.size,
                target.slug,
                target.title,
            )
    except Exception:  # the database is away, or the packages cannot be built: notebooks start cold
        log.warning("could not warm kernels for the open assignment", exc_info=True)


def stop() -> None:
    global _pool
    _stop_warming.set()
    if _pool is not None:
        _pool.close()
        _pool = None
