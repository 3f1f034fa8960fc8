"""Deadline rush: many students upload at once to gunicorn, real Redis and PostgreSQL, N workers.

    .venv/bin/python bench/burst.py                      # 200 uploads, 20 clients, 1 then 2 workers
    .venv/bin/python bench/burst.py --uploads 20 --clients 5 --workers 1 --keep-logs /tmp/burst

Each round gets a fresh PostgreSQL database and its own Redis queue, runs `grader db upgrade` and
`grader demo`, adds a tiny TensorFlow-free assignment (one `value` and one `output` question, built
in a temporary folder), starts gunicorn (2 processes) and N `grader worker` processes, waits until
every worker says it is ready, then sends the uploads from concurrent clients (threads with
`requests`) and waits until every submission is finished. It fails loudly unless every upload got
201, every submission was graded with full marks, and the database holds exactly one submission and
one graded run per upload, with the Redis queue empty at the end.

How to read the table:
  * upload p50/p99 ms: time from sending `POST /api/submissions` to its 201 (validate, store,
    commit, enqueue). This is what students feel at the deadline; it must not grow with the grading
    backlog.
  * uploads/s: uploads divided by the time from the first request to the last 201.
  * graded/min: uploads divided by the time from the first request to the last run's `finished_at`,
    i.e. the whole backlog drained, including the queue wait. The ratio column is this figure over
    the 1-worker one.
  * exec s p50: the runs' own `execution_seconds`; warm %: runs that found a kernel started ahead of
    time.
  * redelivered: runs with more than one attempt (a task delivered twice); it should be 0 in a calm
    run.
Workers share the machine's cores with each other, with gunicorn and with the kernels they warm
ahead of time, so the 2-worker ratio stays below 2 on a 2-core machine. Each warm kernel serves one
notebook and preloads what the assignment's template imports (here only pandas), so the first
notebook of a round starts cold and the rest find a kernel waiting; run once more with
GRADER_WARM_KERNELS=0 (exported; the workers inherit it) to compare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import redis
import requests
from burst_setup import ANSWERS, FULL_MARKS, SLUG, STUDENT, build_package, lab_notebook, run_grader
from stack import (
    REDIS_URL,
    connect,
    log_trouble,
    percentile,
    print_table,
    say,
    service_stack,
    wait_for_runs,
)


@dataclass
class Burst:
    """What the clients saw: 201 latencies, the accepted submissions, and every refusal or error
    verbatim."""

    latencies_ms: list[float] = field(default_factory=list)
    accepted: list[dict] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    started: float = 0.0
    last_accepted: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def send_burst(base_url: str, token: str, uploads: int, clients: int) -> Burst:
    """`uploads` distinct correct notebooks from `clients` threads, each with its own connection."""
    burst = Burst()
    bodies = [
        nbformat.writes(lab_notebook(ANSWERS, f"upload {i}")).encode() for i in range(uploads)
    ]
    local = threading.local()

    def send(index: int) -> None:
        local.session = getattr(local, "session", None) or requests.Session()
        began = time.perf_counter()
        try:
            response = local.session.post(
                f"{base_url}/api/submissions",
                data={"assignment": SLUG},
                timeout=120,
                files={"file": (f"burst-{index}.ipynb", bodies[index], "application/x-ipynb+json")},
                headers={"Authorization": f"Bearer {token}"},
            )
        except requests.RequestException as exc:
            with burst.lock:
                burst.refused.append(f"upload {index}: {type(exc).__name__}: {exc}")
            return
        ended = time.perf_counter()
        with burst.lock:
            if response.status_code == 201:
                burst.latencies_ms.append((ended - began) * 1000)
                burst.accepted.append(response.json())
                burst.last_accepted = max(burst.last_accepted, ended)
            else:
                burst.refused.append(
                    f"upload {index}: HTTP {response.status_code}: {response.text[:300]}"
                )

    burst.started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(send, range(uploads)))
    return burst


def database_counts(database_url: str) -> dict:
    """What the database says about the round: rows, statuses, attempts, scores and timings."""
    with connect(database_url) as connection:

        def one(sql: str):
            return connection.execute(sql).fetchone()[0]

        return {
            "submissions": one("SELECT count(*) FROM submissions"),
            "runs": one("SELECT count(*) FROM grading_runs"),
            "submissions_without_one_run": one(
                "SELECT count(*) FROM submissions s WHERE (SELECT count(*) FROM "
                "grading_runs r WHERE r.submission_id = s.id) <> 1"
            ),
            "finished": one(
                "SELECT count(*) FROM grading_runs WHERE status IN ('graded', 'failed')"
            ),
            "graded": one("SELECT count(*) FROM grading_runs WHERE status = 'graded'"),
            "full_marks": one(
                "SELECT count(*) FROM grading_runs WHERE status = 'graded' AND score = max_score "
                "AND max_score > 0"
            ),
            "unfinished_ids": one(
                "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM grading_runs "
                "WHERE status NOT IN ('graded', 'failed')"
            ),
            "redelivered": one("SELECT count(*) FROM grading_runs WHERE attempts > 1"),
            "warm": one("SELECT count(*) FROM grading_runs WHERE warm_kernel"),
            "exec_p50": one(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY execution_seconds) "
                "FROM grading_runs"
            ),
            "exec_max": one("SELECT max(execution_seconds) FROM grading_runs"),
            "last_finished": one("SELECT max(finished_at) FROM grading_runs"),
        }


def check_reports(base_url: str, token: str, accepted: list[dict]) -> list[str]:
    """Read every accepted submission back through the API; list any not graded with full marks."""
    problems = []
    with requests.Session() as session:
        for item in accepted:
            status = session.get(
                item["status_url"], headers={"Authorization": f"Bearer {token}"}, timeout=60
            ).json()
            if not (
                status["finished"]
                and status["status"] == "graded"
                and status["score"] == FULL_MARKS
            ):
                problems.append(
                    f"submission {item['submission_id']}: {status['status']}, "
                    f"score {status['score']}"
                    f"/{status['max_score']}, error {status['error_message']!r}"
                )
    return problems


def run_round(workers: int, args: argparse.Namespace, logs: Path, package_root: Path) -> dict:
    """One round with `workers` worker processes; returns its figures and the problems found."""
    # One token stands for the whole class here, so the per-person upload limit must not bite.
    with service_stack(
        workers, logs, package_root, {"GRADER_UPLOAD_LIMIT": "1000000/hour"}
    ) as stack:
        token = run_grader(stack.env, "tokens", "create", STUDENT).strip().splitlines()[-1]
        say(
            f"  {workers} worker(s) ready; sending {args.uploads} uploads "
            f"from {args.clients} clients"
        )
        burst = send_burst(stack.base_url, token, args.uploads, args.clients)
        began_at = datetime.now(UTC).timestamp() - (time.perf_counter() - burst.started)
        say(
            f"  {len(burst.accepted)} accepted in {burst.last_accepted - burst.started:.1f}s; "
            "waiting for grading"
        )
        wait_for_runs(
            stack.database_url, len(burst.accepted), args.grading_timeout, stack.check_alive
        )
        counts = database_counts(stack.database_url)
        problems = list(burst.refused) + check_reports(stack.base_url, token, burst.accepted)
        queue_left = redis.Redis.from_url(REDIS_URL).llen(stack.queue)
    expected = {
        "submissions": args.uploads,
        "runs": args.uploads,
        "submissions_without_one_run": 0,
        "graded": args.uploads,
        "full_marks": args.uploads,
    }
    problems += [
        f"database: {key} is {counts[key]}, expected {value}"
        for key, value in expected.items()
        if counts[key] != value
    ]
    if counts["unfinished_ids"]:
        problems.append(
            f"database: runs still unfinished after {args.grading_timeout:.0f}s: "
            f"{counts['unfinished_ids']}"
        )
    if queue_left:
        problems.append(f"redis: {queue_left} message(s) left in the queue")
    drained = (
        (counts["last_finished"].timestamp() - began_at)
        if counts["last_finished"]
        else float("nan")
    )
    latencies = sorted(burst.latencies_ms) or [float("nan")]
    return {
        "workers": workers,
        "accepted": len(burst.accepted),
        "graded": counts["graded"],
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "uploads_per_s": len(burst.accepted) / max(burst.last_accepted - burst.started, 1e-9),
        "graded_per_min": counts["graded"] / drained * 60,
        "drained_s": drained,
        "exec_p50": counts["exec_p50"] or float("nan"),
        "exec_max": counts["exec_max"] or float("nan"),
        "warm_pct": 100 * counts["warm"] / max(counts["runs"], 1),
        "redelivered": counts["redelivered"],
        "problems": problems,
        "log_trouble": log_trouble(logs),
    }


def print_rounds(rounds: list[dict], args: argparse.Namespace) -> None:
    base = next(
        (r["graded_per_min"] for r in rounds if r["workers"] == 1), rounds[0]["graded_per_min"]
    )
    print(
        f"\nBurst: {args.uploads} uploads from {args.clients} clients, gunicorn --workers 2, "
        f"{os.cpu_count()} CPU cores, "
        f"GRADER_WARM_KERNELS={os.environ.get('GRADER_WARM_KERNELS', '1')}"
    )
    header = (
        "workers",
        "accepted",
        "graded",
        "upload p50 ms",
        "upload p99 ms",
        "uploads/s",
        "graded/min",
        "ratio",
        "drained s",
        "exec s p50",
        "exec s max",
        "warm %",
        "redelivered",
    )
    rows = [
        (
            r["workers"],
            r["accepted"],
            r["graded"],
            f"{r['p50']:.0f}",
            f"{r['p99']:.0f}",
            f"{r['uploads_per_s']:.1f}",
            f"{r['graded_per_min']:.1f}",
            f"{r['graded_per_min'] / base:.2f}",
            f"{r['drained_s']:.0f}",
            f"{r['exec_p50']:.2f}",
            f"{r['exec_max']:.2f}",
            f"{r['warm_pct']:.0f}",
            r["redelivered"],
        )
        for r in rounds
    ]
    print_table(header, rows)


def report(rounds: list[dict]) -> bool:
    """Print every problem and error log line; True when there was no problem."""
    for result in rounds:
        for line in result["problems"]:
            print(f"PROBLEM ({result['workers']} worker(s)): {line}")
        for line in result["log_trouble"][:20]:
            print(f"log ({result['workers']} worker(s)): {line}")
    ok = not any(result["problems"] for result in rounds)
    print(
        "\nOK: every upload accepted and graded with full marks; "
        "one submission and one graded run per upload; "
        "nothing left in the queue."
        if ok
        else "\nFAILED: see the problems above."
    )
    return ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--uploads", type=int, default=200, help="notebooks uploaded per round (default: 200)"
    )
    parser.add_argument(
        "--clients", type=int, default=20, help="concurrent uploading clients (default: 20)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        metavar="N",
        help="one round per worker count, each with a fresh database (default: 1 2)",
    )
    parser.add_argument(
        "--keep-logs",
        type=Path,
        metavar="DIR",
        help="keep each round's gunicorn and worker logs in DIR/workers-N/ (default: discarded)",
    )
    parser.add_argument(
        "--grading-timeout",
        type=float,
        default=3600,
        help=(
            "seconds a round may take to grade its uploads before the rest count as lost "
            "(default: 3600)"
        ),
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # `kill` unwinds like Ctrl-C, through the blocks that stop the processes and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scratch = Path(tempfile.mkdtemp(prefix="grader-burst-"))
    rounds = []
    try:
        package_root = build_package(scratch / "package")
        for workers in args.workers:
            logs = (args.keep_logs or scratch) / f"workers-{workers}"
            shutil.rmtree(logs, ignore_errors=True)
            logs.mkdir(parents=True)
            say(f"Round with {workers} worker(s), logs in {logs}")
            rounds.append(run_round(workers, args, logs, package_root))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print_rounds(rounds, args)
    return 0 if report(rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
