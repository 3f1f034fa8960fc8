"""The service for one benchmark round, started and cleaned up; and what rounds measure and print
with.

A round gets a fresh PostgreSQL database and its own Redis queue, runs `grader db upgrade` and
`grader demo`, adds the burst lab (bench/burst_setup.py), starts gunicorn (2 processes) and N
`grader worker` processes, and waits until every worker says it is ready. Afterwards it stops every
process it started (with the kernels in their process groups), deletes its Redis keys and drops the
database.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import redis
from burst_setup import (
    free_port,
    fresh_database,
    grader,
    gunicorn,
    prepare,
    process,
    wait_for,
    web_up,
    workers_ready,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Stack:
    """A started round: where to reach it and the processes to watch."""

    env: dict[str, str]
    database_url: str
    base_url: str
    queue: str
    web: subprocess.Popen
    workers: list[subprocess.Popen]
    worker_logs: list[Path]

    def check_alive(self) -> None:
        """Raise if a worker has exited: a round without it would measure something else."""
        workers_ready(self.workers, self.worker_logs)


@contextlib.contextmanager
def service_stack(
    workers: int,
    logs: Path,
    package_root: Path,
    extra_env: dict[str, str] | None = None,
    due_at: datetime | None = None,
) -> Iterator[Stack]:
    """Everything a round runs against, ready to take uploads; all of it gone after the block."""
    with fresh_database() as database_url, contextlib.ExitStack() as stack:
        queue = f"bench-{uuid.uuid4().hex}"
        env = {
            "GRADER_DATABASE_URL": database_url,
            "GRADER_BROKER_URL": REDIS_URL,
            "GRADER_QUEUE": queue,
            "GRADER_INSTANCE_DIR": str(logs / "instance"),
            "GRADER_SECRET_KEY": secrets.token_urlsafe(48),
            **(extra_env or {}),
        }
        stack.callback(forget_redis_keys, queue)
        # Before the workers start, so a worker that warms kernels for open assignments sees it.
        prepare(env, package_root, due_at)
        base_url = f"http://127.0.0.1:{(port := free_port())}"
        web = stack.enter_context(process(gunicorn(port), env, logs / "web.log"))
        worker_logs = [logs / f"worker-{n}.log" for n in range(1, workers + 1)]
        started = [stack.enter_context(process(grader("worker"), env, log)) for log in worker_logs]
        wait_for(lambda: web_up(base_url, web, logs / "web.log"), 120, "gunicorn to answer")
        wait_for(
            lambda: workers_ready(started, worker_logs), 300, "the workers to say they are ready"
        )
        yield Stack(env, database_url, base_url, queue, web, started, worker_logs)


def forget_redis_keys(queue: str) -> None:
    """Delete the round's keys: its queue (with Celery's priority lists), kombu's bindings of it
    and the upload throttle's counts, all named after the queue (unique to the round)."""
    client = redis.Redis.from_url(REDIS_URL)
    patterns = (f"{queue}*", f"_kombu.binding*.{queue}", f"grader-limits:{queue}*")
    keys = [key for pattern in patterns for key in client.scan_iter(match=pattern)]
    if keys:
        client.delete(*keys)


def connect(database_url: str) -> psycopg.Connection:
    """A plain psycopg connection to the round's database (the URL is SQLAlchemy's)."""
    return psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"))


def wait_for_runs(
    database_url: str, expected: int, timeout: float, alive: Callable[[], object]
) -> bool:
    """Poll the database until `expected` runs exist and all are finished, saying how far it got
    every 15 s; False when `timeout` passed first."""
    deadline = time.monotonic() + timeout
    said = time.monotonic()
    while True:
        alive()
        with connect(database_url) as connection:
            runs, finished = connection.execute(
                "SELECT count(*), count(*) FILTER (WHERE status IN ('graded', 'failed')) "
                "FROM grading_runs"
            ).fetchone()
        if runs >= expected and finished == runs:
            return True
        if time.monotonic() > deadline:
            return False
        if time.monotonic() - said > 15:
            said = time.monotonic()
            say(f"  {finished}/{runs} finished")
        time.sleep(0.5)


def machine_cpu_seconds() -> float:
    """CPU time every core of the machine has spent busy since boot (/proc/stat), in seconds."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


class TreeCpu:
    """CPU time spent by the processes under `roots` (themselves included) while the block runs.

    Sampled from /proc/PID/stat (utime + stime of each process) every `interval` seconds in a
    thread, because a kernel's time never reaches its worker's cutime: its sandbox is killed as a
    whole, so nobody in the tree reaps it. A process counts from its first sample (from zero if it
    started after the block began) to its last, so each one that ends loses at most `interval` s,
    and one that lives shorter than that between samples (a shell that execs at once) is missed.
    """

    def __init__(self, roots: Sequence[int], interval: float = 0.2):
        self.roots = list(roots)
        self.interval = interval
        self.first: dict[tuple[int, int], int] = {}
        self.last: dict[tuple[int, int], int] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._keep_sampling, daemon=True)

    def __enter__(self) -> TreeCpu:
        self.first = dict(_tree_ticks(self.roots))
        self.last = dict(self.first)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopped.set()
        self._thread.join()
        self.last.update(_tree_ticks(self.roots))

    def _keep_sampling(self) -> None:
        while not self._stopped.wait(self.interval):
            self.last.update(_tree_ticks(self.roots))

    @property
    def seconds(self) -> float:
        return sum(ticks - self.first.get(key, 0) for key, ticks in self.last.items()) / CLOCK_TICKS


def _tree_ticks(roots: Sequence[int]) -> dict[tuple[int, int], int]:
    """utime + stime, in clock ticks, of each live process under `roots`, keyed by pid and start
    time (a pid may be reused)."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, tuple[tuple[int, int], int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                # The fields after the command name (which may hold spaces and parentheses):
                # ppid at 1, utime and stime at 11 and 12, the start time at 19.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                pid = int(entry.name)
                children.setdefault(int(fields[1]), []).append(pid)
                ticks[pid] = ((pid, int(fields[19])), int(fields[11]) + int(fields[12]))
    found, frontier = {}, [root for root in roots if root in ticks]
    while frontier:
        pid = frontier.pop()
        key, spent = ticks[pid]
        found[key] = spent
        frontier += children.get(pid, [])
    return found


def log_trouble(logs: Path) -> list[str]:
    """Lines in the round's logs that report errors, with the file they come from."""
    return [
        f"{log.name}: {line.strip()}"
        for log in sorted(logs.glob("*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if any(word in line for word in ("ERROR", "CRITICAL", "Traceback", "WORKER TIMEOUT"))
    ]


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (0.95 for p95) of `values`, interpolated; NaN when there are none."""
    ordered = sorted(values)
    if len(ordered) < 2:
        return ordered[0] if ordered else float("nan")
    return statistics.quantiles(ordered, n=1000, method="inclusive")[round(share * 1000) - 1]


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Columns right-aligned to their widest cell."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)))


def say(message: str) -> None:
    """Progress, on stderr so the tables on stdout stay clean."""
    print(message, file=sys.stderr, flush=True)
