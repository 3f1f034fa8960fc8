"""Settings read from GRADER_* environment variables, each with a laptop-friendly default."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(f"GRADER_{name}", default)


def default_instance_dir() -> Path:
    return Path(_env("INSTANCE_DIR", str(Path.cwd() / "instance"))).resolve()


@dataclass(frozen=True)
class Settings:
    """Everything the web app, the worker and the CLI need to know about their surroundings."""

    instance_dir: Path = field(default_factory=default_instance_dir)
    database_url: str = ""
    broker_url: str = ""
    queue_name: str = "grading"
    secret_key: str = "dev-only-secret-change-me"
    max_upload_bytes: int = 20 * 1024 * 1024
    sandbox_mode: str = "bubblewrap"
    # Kernels each worker process keeps started ahead of time (0: start one per notebook).
    warm_kernels: int = 1
    # A notebook whose grading was cut short this many times (it kills workers) is marked failed.
    max_grading_attempts: int = 3
    # The sweeper re-sends runs queued this long without a worker taking them (their message may be lost)...
    requeue_after_seconds: int = 600
    # ...and runs whose worker has not written a heartbeat for this long (it died).
    stale_after_seconds: int = 90
    sweep_interval_seconds: int = 30

    @classmethod
    def from_env(cls) -> "Settings":
        """Read the settings from the environment, filling in defaults under the instance folder."""
        instance_dir = default_instance_dir()
        return cls(
            instance_dir=instance_dir,
            database_url=_env("DATABASE_URL", f"sqlite:///{instance_dir / 'grader.sqlite'}"),
            broker_url=_env("BROKER_URL", f"filesystem://{instance_dir / 'broker'}"),
            queue_name=_env("QUEUE", "grading"),
            secret_key=_env("SECRET_KEY", "dev-only-secret-change-me"),
            max_upload_bytes=int(_env("MAX_UPLOAD_BYTES", str(20 * 1024 * 1024))),
            sandbox_mode=_env("SANDBOX", "bubblewrap"),
            warm_kernels=int(_env("WARM_KERNELS", "1")),
            max_grading_attempts=int(_env("MAX_GRADING_ATTEMPTS", "3")),
            requeue_after_seconds=int(_env("REQUEUE_AFTER_SECONDS", "600")),
            stale_after_seconds=int(_env("STALE_AFTER_SECONDS", "90")),
            sweep_interval_seconds=int(_env("SWEEP_INTERVAL_SECONDS", "30")),
        )

    @property
    def result_cache_dir(self) -> Path:
        """Retrained models' answers and reusable gradings, kept per machine: a cache only, nothing is lost
        without it."""
        return self.instance_dir / "result-cache"

    @property
    def uses_filesystem_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")

    @property
    def filesystem_broker_dir(self) -> Path:
        return Path(self.broker_url.removeprefix("filesystem://"))
