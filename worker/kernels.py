"""The worker process's warm kernel pool: started when the process starts, closed when it stops."""

from __future__ import annotations

import logging

from grader.config import Settings
from grader.engine.grade import kernel_pool
from grader.engine.kernel_pool import KernelPool
from grader.sandbox import sandbox_from_mode

log = logging.getLogger(__name__)
_pool: KernelPool | None = None


def start(settings: Settings) -> KernelPool | None:
    """The process's pool; it warms kernels for whatever assignment it graded last."""
    global _pool
    if _pool is None and settings.warm_kernels > 0:
        _pool = kernel_pool(sandbox_from_mode(settings.sandbox_mode), size=settings.warm_kernels)
        log.info("keeping %s kernel(s) warm between notebooks", settings.warm_kernels)
    return _pool


def stop() -> None:
    global _pool
    if _pool is not None:
        _pool.close()
        _pool = None
