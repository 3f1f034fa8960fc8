"""Settings read from GRADER_* environment variables, each with a laptop-friendly default."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(f"GRADER_{name}", default)


def _flag(name: str, default: bool) -> bool:
    """A yes/no setting: 0, false, no and off (any case) say no."""
    return _env(name, "1" if default else "0").strip().lower() not in ("0", "false", "no", "off")


def default_instance_dir() -> Path:
    return Path(_env("INSTANCE_DIR", str(Path.cwd() / "instance"))).resolve()


# What the key is when GRADER_SECRET_KEY is unset: fine for tests and commands that serve no
# requests.
DEV_SECRET_KEY = "dev-only-secret-change-me"
# Keys this project published (code, compose file, docs): anyone could sign session cookies with
# them.
PUBLISHED_SECRET_KEYS = frozenset(
    {DEV_SECRET_KEY, "change-me-before-deploying", "change-me", "changeme"}
)
MIN_SECRET_KEY_BYTES = 32
GENERATE_SECRET_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


class InsecureSecretKey(RuntimeError):
    """The secret key would let anyone forge a session cookie, so the service refuses to start with
    it."""


def secret_key_problem(key: str) -> str | None:
    """Why `key` cannot sign cookies on a real deployment, or None when it can."""
    if key == DEV_SECRET_KEY:
        return "GRADER_SECRET_KEY is not set"
    if key.strip().lower() in PUBLISHED_SECRET_KEYS:
        return "GRADER_SECRET_KEY is a published default"
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        return f"GRADER_SECRET_KEY is shorter than {MIN_SECRET_KEY_BYTES} bytes"
    return None


@dataclass(frozen=True)
class Settings:
    """Everything the web app, the worker and the CLI need to know about their surroundings."""

    instance_dir: Path = field(default_factory=default_instance_dir)
    database_url: str = ""
    broker_url: str = ""
    queue_name: str = "grading"
    secret_key: str = DEV_SECRET_KEY
    max_upload_bytes: int = 20 * 1024 * 1024
    sandbox_mode: str = "bubblewrap"
    # Kernels each worker process keeps started ahead of time (0: start one per notebook).
    warm_kernels: int = 1
    # Warm them when the worker starts, for the open assignment due soonest, rather than after the
    # first notebook (which then starts cold).
    warm_on_start: bool = True
    # A submission identical (code and answers) to one already graded against the same package
    # takes that grading's result instead of running again.
    reuse_identical: bool = True
    # The CPU weight of grading kernels, in cgroup v2 units (1-10000; web processes and every other
    # process have 100): on a busy machine uploads and pages still answer at once.
    kernel_cpu_weight: int = 20
    # A notebook whose grading was cut short this many times (it kills workers) is marked failed.
    max_grading_attempts: int = 3
    # The sweeper re-sends runs queued this long without a worker taking them (their message may be
    # lost)...
    requeue_after_seconds: int = 600
    # ...and runs whose worker has not written a heartbeat for this long (it died).
    stale_after_seconds: int = 90
    sweep_interval_seconds: int = 30
    # A grading task may run this long beyond its rubric's notebook and check time limits (kernel
    # start, setup, recording the result); then it is stopped and its run failed.
    grading_margin_seconds: int = 600
    # Session and remember cookies only over https; `grader serve` (plain http on localhost) turns
    # it off.
    secure_cookies: bool = True
    # A sign-in lasts this long, however active the session is.
    session_hours: int = 12
    # Throttles, in Flask-Limiter's notation ("30/minute", "20 per hour").
    login_limit_per_address: str = "30/minute"
    login_limit_per_account: str = "5/minute"
    upload_limit: str = "20/hour"
    # LMS logins (each writes a pending login to the database) from one client address.
    lti_login_limit_per_address: str = "120/minute"
    # Where the throttles count; empty: the Redis broker when there is one, else this process's
    # memory.
    ratelimit_storage_url: str = ""
    # Reverse proxies in front of the web app whose X-Forwarded-For/-Proto to believe (0: none, so a
    # client cannot pick its own address for the per-address throttle).
    proxy_hops: int = 0
    # Where a worker's main process serves its processes' metrics to Prometheus (0: nowhere).
    worker_metrics_port: int = 9808

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from the environment, filling in defaults under the instance folder."""
        instance_dir = default_instance_dir()
        return cls(
            instance_dir=instance_dir,
            database_url=_env("DATABASE_URL", f"sqlite:///{instance_dir / 'grader.sqlite'}"),
            broker_url=_env("BROKER_URL", f"filesystem://{instance_dir / 'broker'}"),
            queue_name=_env("QUEUE", "grading"),
            # Set but empty counts as unset, as it does for compose's ${GRADER_SECRET_KEY:?}.
            secret_key=_env("SECRET_KEY", "") or DEV_SECRET_KEY,
            max_upload_bytes=int(_env("MAX_UPLOAD_BYTES", str(20 * 1024 * 1024))),
            sandbox_mode=_env("SANDBOX", "bubblewrap"),
            warm_kernels=int(_env("WARM_KERNELS", "1")),
            warm_on_start=_flag("WARM_ON_START", True),
            reuse_identical=_flag("REUSE_IDENTICAL", True),
            kernel_cpu_weight=int(_env("KERNEL_CPU_WEIGHT", "20")),
            max_grading_attempts=int(_env("MAX_GRADING_ATTEMPTS", "3")),
            requeue_after_seconds=int(_env("REQUEUE_AFTER_SECONDS", "600")),
            stale_after_seconds=int(_env("STALE_AFTER_SECONDS", "90")),
            sweep_interval_seconds=int(_env("SWEEP_INTERVAL_SECONDS", "30")),
            grading_margin_seconds=int(_env("GRADING_MARGIN_SECONDS", "600")),
            secure_cookies=_flag("SECURE_COOKIES", True),
            session_hours=int(_env("SESSION_HOURS", "12")),
            login_limit_per_address=_env("LOGIN_LIMIT_PER_ADDRESS", "30/minute"),
            login_limit_per_account=_env("LOGIN_LIMIT_PER_ACCOUNT", "5/minute"),
            upload_limit=_env("UPLOAD_LIMIT", "20/hour"),
            lti_login_limit_per_address=_env("LTI_LOGIN_LIMIT_PER_ADDRESS", "120/minute"),
            ratelimit_storage_url=_env("RATELIMIT_STORAGE_URL", ""),
            proxy_hops=int(_env("PROXY_HOPS", "0")),
            worker_metrics_port=int(_env("WORKER_METRICS_PORT", "9808")),
        )

    def require_production_secret(self) -> None:
        """Refuse to serve requests (web, worker, beat) with a key anyone could know or guess."""
        problem = secret_key_problem(self.secret_key)
        if problem:
            raise InsecureSecretKey(
                f"Refusing to start: {problem}. Generate one with {GENERATE_SECRET_KEY} "
                "and give the same value to the web app, every worker and beat."
            )

    @property
    def result_cache_dir(self) -> Path:
        """Retrained models' answers and reusable gradings, kept per machine: a cache only, nothing
        is lost without it."""
        return self.instance_dir / "result-cache"

    @property
    def environments_dir(self) -> Path:
        """Assignments' own packages (`runtime.packages`), built per machine when first needed."""
        return self.instance_dir / "environments"

    @property
    def rate_limit_storage(self) -> str:
        """Where throttles count: shared by every web process through Redis, or per process in
        memory."""
        if self.ratelimit_storage_url:
            return self.ratelimit_storage_url
        return (
            self.broker_url
            if self.broker_url.startswith(("redis://", "rediss://"))
            else "memory://"
        )

    @property
    def uses_filesystem_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")

    @property
    def filesystem_broker_dir(self) -> Path:
        return Path(self.broker_url.removeprefix("filesystem://"))
