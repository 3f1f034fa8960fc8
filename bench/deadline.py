"""Deadline night: a course's uploads, shaped like the hours before a deadline, against the real
service (gunicorn, Celery workers, Redis, PostgreSQL), baseline against tuned, with 1 and 2
workers; then how many worker cores larger courses need.

    .venv/bin/python bench/deadline.py                 # 60 students over 300 s: ~30 minutes
    .venv/bin/python bench/deadline.py --short         # a check of the script: ~3 minutes
    .venv/bin/python bench/deadline.py --students 120 --window-seconds 600 --workers 2 \\
        --configs tuned --keep-logs /tmp/deadline

The replay. The window stands for the last six hours before the deadline, compressed: the upload
rate grows exponentially towards the deadline, steep enough that the last sixth of the window (the
last "hour") holds --last-hour-share of the uploads (default 55%). Each student uploads one to
three versions of the notebook (50/35/15%), getting better each time: the lab's cells crash, then
the total is off by one, then it is not printed, then all is right (scores 0, 1, 2, 3 of 3). On
top of those, --identical-share of all uploads (default 25%) repeat a notebook byte for byte: most
are a student sending the same notebook again, a tenth go back to their first version after a
later one, and a tenth are a group partner sending the other's notebook. Every student's
notebooks carry their name, so only these repeats are identical. The plan is drawn once from
--seed and replayed unchanged in every round: each upload is sent at its time (from --clients
threads, each with its own connection) with the student's own API token.

A round: a fresh database and Redis queue, the burst lab (bench/burst_setup.py, due shortly after
the replay so it is the open assignment due soonest), one API token per student, gunicorn with 2
processes and N workers (bench/stack.py); the replay; then waiting until every run is finished.
The configurations differ only in the environment of every process of the round:
  * baseline: GRADER_REUSE_IDENTICAL=0 GRADER_WARM_ON_START=0 GRADER_KERNEL_CPU_WEIGHT=100, the
    service as it was before issue 15 (no reuse of identical submissions, a cold first notebook,
    kernels competing with the web processes on equal terms);
  * tuned: the defaults (the three variables are removed from this script's environment).
Compare them on a quiet machine only: tuned kernels yield the CPU to every other process, so on a
machine busy with other work they fall behind while the baseline's do not.
A round fails loudly, and the script exits 1, if any upload is not accepted (201), any submission
lacks exactly one graded run with its variant's score, or anything is left in the queue.

How to read the per-round table:
  * feedback p50/p95/max s: time to feedback, the run's `finished_at` (from the database) minus
    the moment the upload was sent. What a student waits for; p95 is what staff feel.
  * graded/min: graded runs over the time from the first upload sent to the last run finished.
    Mostly the arrival rate: the replay, not the workers, sets the pace until the last "hour".
  * upload p50/p99 ms: `POST /api/submissions` until its 201, while the workers grade.
  * CPU s/sub machine: busy CPU time of the whole machine (/proc/stat: user, nice, system, irq,
    softirq, steal) over the same span, per submission. It includes PostgreSQL, Redis, gunicorn
    and this script, and anything else running: trust it only on a quiet machine.
    CPU s/sub workers: CPU time of the worker process trees (Celery processes, sandboxes and
    kernels, warm ones included), per submission: utime + stime of every process in them, sampled
    every 0.2 s (bench/stack.py, TreeCpu, says what that misses). The capacity model uses this one.
  * warm %: share of the runs that executed (not reused) whose kernel was started ahead of time.
    reused %: share of the runs that took an earlier identical grading's result instead of
    running (`grading_runs.reused_from_id`; n/a on a schema without it).
  * late send s: how far behind its planned time the latest upload was sent (the clients could
    not keep up if it is more than a fraction of a second).
Then baseline and tuned side by side per worker count, with tuned/baseline ratios (below 1 is
better for times and CPU).

The capacity model (printed last, from the tuned rounds). A course of N students makes N x u
uploads (u: uploads per student in the replay). The same curve over six real hours puts a share
q of them in the busiest 10 minutes, the last ones (q follows from --last-hour-share; ~12%), so
the peak arrival rate is lambda = N u q / 600 s. Each submission costs c worker CPU-seconds
(measured, tuned; the larger figure of the tuned rounds), so a core grades 1/c per second and the
peak keeps lambda c cores busy. Cores are servers of an M/M/C queue (Erlang C) with service rate
1/c: the table gives the fewest cores C for which the chance of waiting longer than (target -
p95 grading time) is at most 5%, i.e. p95 time to feedback under --target-p95-seconds. A core is
only kept busy by enough worker processes (`grader worker --concurrency`): grading also waits
(sandbox and kernel start, the database), so the last column applies the same queue with the
measured mean wall-clock grading time as the service time, giving the worker processes (slots)
needed across those cores. The model assumes that the peak lasts long enough to reach a steady
state (10 minutes against seconds of grading), and that the notebooks cost what this lab costs: a
real lab (Lab 6 trains Keras models) costs far more per submission, so measure it and scale c.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import requests
from arrivals import VARIANTS, Upload, plan_uploads, share_in_last, steepness_for
from burst_setup import SLUG, build_package, enroll_students
from capacity import servers_needed
from stack import (
    REDIS_URL,
    TreeCpu,
    connect,
    log_trouble,
    machine_cpu_seconds,
    percentile,
    print_table,
    say,
    service_stack,
    wait_for_runs,
)

# The settings issue 15 added, as the service was before it.
BASELINE = {
    "GRADER_REUSE_IDENTICAL": "0",
    "GRADER_WARM_ON_START": "0",
    "GRADER_KERNEL_CPU_WEIGHT": "100",
}
CONFIGS = {"baseline": BASELINE, "tuned": {}}
REAL_WINDOW_SECONDS = 6 * 3600
PEAK_SECONDS = 600
COURSE_SIZES = (100, 250, 500, 1000, 2000)


@dataclass
class Sent:
    """What happened to one upload: when it left, how long its 201 took, the submission it made."""

    upload: Upload
    planned_at: float
    sent_at: float = 0.0
    latency_ms: float = 0.0
    submission_id: int | None = None
    error: str = ""


def replay(base_url: str, tokens: list[str], plan: list[Upload], clients: int) -> list[Sent]:
    """Send every upload at its planned moment from `clients` threads; what each one got."""
    start = time.time()
    sent = [Sent(upload, start + upload.at) for upload in plan]
    local = threading.local()

    def send(record: Sent) -> None:
        local.session = getattr(local, "session", None) or requests.Session()
        record.sent_at, began = time.time(), time.perf_counter()
        try:
            response = local.session.post(
                f"{base_url}/api/submissions",
                data={"assignment": SLUG},
                files={"file": ("lab.ipynb", record.upload.body, "application/x-ipynb+json")},
                headers={"Authorization": f"Bearer {tokens[record.upload.student]}"},
                timeout=120,
            )
        except requests.RequestException as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            return
        record.latency_ms = (time.perf_counter() - began) * 1000
        if response.status_code == 201:
            record.submission_id = response.json()["submission_id"]
        else:
            record.error = f"HTTP {response.status_code}: {response.text[:300]}"

    with ThreadPoolExecutor(max_workers=clients) as pool:
        for record in sent:
            time.sleep(max(0.0, record.planned_at - time.time()))
            pool.submit(send, record)
    return sent


def records_reuse(connection) -> bool:
    """Whether runs record the earlier run whose result they took (migration 0011 on)."""
    return bool(
        connection.execute(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_name = 'grading_runs' AND column_name = 'reused_from_id'"
        ).fetchone()
    )


def runs_of(database_url: str) -> tuple[dict[int, list[dict]], bool]:
    """Every submission's runs as the database holds them, and whether reuse is recorded at all."""
    with connect(database_url) as connection:
        reuse_recorded = records_reuse(connection)
        reused = "r.reused_from_id IS NOT NULL" if reuse_recorded else "false"
        rows = connection.execute(
            "SELECT s.id, r.status::text, r.score, r.started_at, r.finished_at, "
            f"coalesce(r.warm_kernel, false), {reused} "
            "FROM submissions s LEFT JOIN grading_runs r ON r.submission_id = s.id"
        ).fetchall()
    runs: dict[int, list[dict]] = {}
    for submission, status, score, started, finished, warm, was_reused in rows:
        runs.setdefault(submission, [])
        if status is not None:
            runs[submission].append(
                {
                    "status": status,
                    "score": score,
                    "started": started,
                    "finished": finished,
                    "warm": warm,
                    "reused": was_reused,
                }
            )
    return runs, reuse_recorded


def problems_of(sent: list[Sent], runs: dict[int, list[dict]], queue_left: int) -> list[str]:
    """Every refused upload, every submission without exactly one run graded with its variant's
    score, and any message left in the queue."""
    problems = [
        f"upload at {r.upload.at:.2f}s (student {r.upload.student + 1}, {r.upload.kind}): {r.error}"
        for r in sent
        if r.error
    ]
    for record in sent:
        if record.submission_id is None:
            continue
        own = runs.get(record.submission_id, [])
        name, _, score = VARIANTS[record.upload.variant]
        if len(own) != 1 or own[0]["status"] != "graded" or own[0]["score"] != score:
            problems.append(
                f"submission {record.submission_id} ({name}, {record.upload.kind}): expected one "
                f"run graded {score}/3, found {[(r['status'], r['score']) for r in own]}"
            )
    ours = {record.submission_id for record in sent}
    problems += [f"submission {other}: not sent by this replay" for other in runs.keys() - ours]
    if queue_left:
        problems.append(f"redis: {queue_left} message(s) left in the queue")
    return problems


def run_round(
    workers: int,
    config: str,
    plan: list[Upload],
    args: argparse.Namespace,
    logs: Path,
    package_root: Path,
) -> dict:
    """One round of the replay with `workers` workers in `config`; its figures and problems."""
    due_at = datetime.now(UTC) + timedelta(seconds=args.window_seconds + 3600)
    with service_stack(workers, logs, package_root, CONFIGS[config], due_at) as stack:
        tokens = enroll_students(stack.env, args.students)
        say(f"  {workers} worker(s) ready, {config}; replaying {len(plan)} uploads")
        machine_before = machine_cpu_seconds()
        with TreeCpu([child.pid for child in stack.workers]) as worker_cpu:
            sent = replay(stack.base_url, tokens, plan, args.clients)
            accepted = sum(record.submission_id is not None for record in sent)
            say(f"  {accepted} accepted; waiting for grading")
            drained = wait_for_runs(
                stack.database_url, accepted, args.grading_timeout, stack.check_alive
            )
        machine = machine_cpu_seconds() - machine_before
        runs, reuse_recorded = runs_of(stack.database_url)
        queue_left = redis.Redis.from_url(REDIS_URL).llen(stack.queue)
    figures = figures_of(sent, runs, reuse_recorded, machine, worker_cpu.seconds)
    problems = problems_of(sent, runs, queue_left)
    if not drained:
        problems.append(f"runs still unfinished after {args.grading_timeout:.0f}s")
    return {
        "workers": workers,
        "config": config,
        **figures,
        "problems": problems,
        "log_trouble": log_trouble(logs),
    }


def figures_of(
    sent: list[Sent],
    runs: dict[int, list[dict]],
    reuse_recorded: bool,
    machine_cpu: float,
    worker_cpu: float,
) -> dict:
    """The round's figures from what the clients saw and what the database holds."""
    accepted = [r for r in sent if r.submission_id is not None]
    finished = [
        (record, run)
        for record in accepted
        for run in runs.get(record.submission_id, [])[:1]
        if run["finished"] is not None
    ]
    feedback = [run["finished"].timestamp() - record.sent_at for record, run in finished]
    executed = [run for _, run in finished if not run["reused"]]
    service = [
        (run["finished"] - run["started"]).total_seconds() for run in executed if run["started"]
    ]
    graded = sum(run["status"] == "graded" for _, run in finished)
    span = max((run["finished"].timestamp() for _, run in finished), default=math.nan) - min(
        (r.sent_at for r in sent), default=math.nan
    )
    submissions = max(len(accepted), 1)
    return {
        "uploads": len(sent),
        "graded": graded,
        "feedback_p50": percentile(feedback, 0.5),
        "feedback_p95": percentile(feedback, 0.95),
        "feedback_max": max(feedback, default=math.nan),
        "graded_per_min": graded / span * 60,
        "upload_p50": percentile([r.latency_ms for r in accepted], 0.5),
        "upload_p99": percentile([r.latency_ms for r in accepted], 0.99),
        "cpu_machine": machine_cpu / submissions,
        "cpu_workers": worker_cpu / submissions,
        "service_p95": percentile(service, 0.95),
        "service_mean": sum(service) / len(service) if service else math.nan,
        "warm_pct": 100 * sum(run["warm"] for run in executed) / max(len(executed), 1),
        "reused_pct": (
            100 * (len(finished) - len(executed)) / max(len(finished), 1)
            if reuse_recorded
            else math.nan
        ),
        "late_send": max((r.sent_at - r.planned_at for r in sent), default=0.0),
    }


def print_rounds(rounds: list[dict], args: argparse.Namespace, plan: list[Upload]) -> None:
    kinds = {
        kind: sum(u.kind == kind for u in plan) for kind in dict.fromkeys(u.kind for u in plan)
    }
    last_hour = sum(u.at >= args.window_seconds * 5 / 6 for u in plan)
    print(
        f"\nDeadline replay: {args.students} students, {len(plan)} uploads over "
        f"{args.window_seconds:.0f}s ({100 * last_hour / len(plan):.0f}% in the last sixth), "
        + ", ".join(f"{count} {kind}" for kind, count in kinds.items())
        + f"; gunicorn --workers 2, {os.cpu_count()} CPU cores, seed {args.seed}"
    )
    header = (
        "workers", "config", "uploads", "graded", "feedback p50 s", "p95 s", "max s",
        "graded/min", "upload p50 ms", "p99 ms", "CPU s/sub machine", "workers",
        "warm %", "reused %", "late send s",
    )  # fmt: skip
    print_table(
        header,
        [
            (
                r["workers"],
                r["config"],
                r["uploads"],
                r["graded"],
                f"{r['feedback_p50']:.1f}",
                f"{r['feedback_p95']:.1f}",
                f"{r['feedback_max']:.1f}",
                f"{r['graded_per_min']:.1f}",
                f"{r['upload_p50']:.0f}",
                f"{r['upload_p99']:.0f}",
                f"{r['cpu_machine']:.2f}",
                f"{r['cpu_workers']:.2f}",
                f"{r['warm_pct']:.0f}",
                shown(r["reused_pct"], "{:.0f}"),
                f"{r['late_send']:.2f}",
            )
            for r in rounds
        ],
    )


COMPARED = (
    ("feedback p50 s", "feedback_p50", "{:.1f}"),
    ("feedback p95 s", "feedback_p95", "{:.1f}"),
    ("feedback max s", "feedback_max", "{:.1f}"),
    ("graded/min", "graded_per_min", "{:.1f}"),
    ("upload p50 ms", "upload_p50", "{:.0f}"),
    ("upload p99 ms", "upload_p99", "{:.0f}"),
    ("CPU s/sub machine", "cpu_machine", "{:.2f}"),
    ("CPU s/sub workers", "cpu_workers", "{:.2f}"),
    ("warm %", "warm_pct", "{:.0f}"),
    ("reused %", "reused_pct", "{:.0f}"),
)


def shown(value: float, style: str) -> str:
    """`value` in `style`, or n/a when it could not be measured."""
    return "n/a" if math.isnan(value) else style.format(value)


def print_comparison(rounds: list[dict]) -> None:
    """Baseline and tuned side by side for each worker count that has both."""
    pairs = {
        workers: (baseline, tuned)
        for workers in dict.fromkeys(r["workers"] for r in rounds)
        for baseline in rounds
        for tuned in rounds
        if baseline["workers"] == tuned["workers"] == workers
        and (baseline["config"], tuned["config"]) == ("baseline", "tuned")
    }
    if not pairs:
        return
    print("\nBaseline against tuned (ratio: tuned / baseline)")
    header = ["figure"]
    for workers in pairs:
        header += [f"{workers}w baseline", f"{workers}w tuned", "ratio"]
    rows = []
    for label, key, style in COMPARED:
        row = [label]
        for baseline, tuned in pairs.values():
            before, after = baseline[key], tuned[key]
            ratio = after / before if before and not math.isnan(before) else math.nan
            row += [shown(before, style), shown(after, style), shown(ratio, "{:.2f}")]
        rows.append(row)
    print_table(header, rows)


def print_capacity(rounds: list[dict], args: argparse.Namespace, plan: list[Upload]) -> None:
    """How many worker cores a course needs for p95 time to feedback under the target."""
    measured = [r for r in rounds if r["config"] == "tuned"] or rounds
    cpu = max(r["cpu_workers"] for r in measured)
    grading_p95 = max(r["service_p95"] for r in measured)
    grading_wall = max(r["service_mean"] for r in measured)
    uploads_per_student = len(plan) / args.students
    peak_share = share_in_last(
        steepness_for(args.last_hour_share), PEAK_SECONDS / REAL_WINDOW_SECONDS
    )
    wait_budget = args.target_p95_seconds - grading_p95
    print(
        f"\nWorker cores for p95 time to feedback under {args.target_p95_seconds:.0f}s "
        f"({measured[0]['config']} rounds: c = {cpu:.2f} worker CPU-s per submission, so "
        f"{3600 / cpu:.0f} submissions per core-hour; grading {grading_wall:.1f}s wall on "
        f"average, p95 {grading_p95:.1f}s; {uploads_per_student:.2f} uploads per student, "
        f"{100 * peak_share:.1f}% of them in the busiest 10 minutes)"
    )
    if not wait_budget > 0:
        print("  none: one notebook's grading alone takes longer than the target")
        return
    rows = []
    for students in COURSE_SIZES:
        peak_uploads = students * uploads_per_student * peak_share
        arrivals = peak_uploads / PEAK_SECONDS
        cores = servers_needed(arrivals, cpu, wait_budget)
        rows.append(
            (
                students,
                f"{peak_uploads:.0f}",
                f"{arrivals * 60:.1f}",
                f"{arrivals * cpu:.2f}",
                cores,
                f"{100 * arrivals * cpu / cores:.0f}",
                servers_needed(arrivals, grading_wall, wait_budget),
            )
        )
    header = (
        "students", "uploads in peak 10 min", "per min", "busy cores", "cores", "busy %",
        "worker processes",
    )  # fmt: skip
    print_table(header, rows)


def report(rounds: list[dict]) -> bool:
    """Print every problem and error log line; True when there was no problem."""
    for result in rounds:
        where = f"{result['workers']} worker(s), {result['config']}"
        for line in result["problems"]:
            print(f"PROBLEM ({where}): {line}")
        for line in result["log_trouble"][:20]:
            print(f"log ({where}): {line}")
    ok = not any(result["problems"] for result in rounds)
    print(
        "\nOK: every upload accepted, every submission graded once with its variant's score, "
        "nothing left in the queue."
        if ok
        else "\nFAILED: see the problems above."
    )
    return ok


SHORT = {"students": 10, "window_seconds": 30.0, "workers": [1]}
DEFAULTS = {"students": 60, "window_seconds": 300.0, "workers": [1, 2]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--students", type=int, help="students in the course (default: 60; --short: 10)"
    )
    parser.add_argument(
        "--window-seconds",
        type=float,
        help="the replay's length, standing for six hours (default: 300; --short: 30)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        metavar="N",
        help="worker counts, a round each per configuration (default: 1 2; --short: 1)",
    )
    parser.add_argument(
        "--configs",
        type=lambda text: text.split(","),
        default=list(CONFIGS),
        help="comma-separated, from baseline,tuned (default: both)",
    )
    parser.add_argument(
        "--short", action="store_true", help="a tiny run that checks the script (~3 minutes)"
    )
    parser.add_argument(
        "--last-hour-share",
        type=float,
        default=0.55,
        help="share of the uploads in the window's last sixth (default: 0.55)",
    )
    parser.add_argument(
        "--identical-share",
        type=float,
        default=0.25,
        help="share of the uploads that repeat a notebook byte for byte (default: 0.25)",
    )
    parser.add_argument(
        "--target-p95-seconds",
        type=float,
        default=300,
        help="p95 time to feedback the capacity table aims for (default: 300)",
    )
    parser.add_argument(
        "--clients", type=int, default=16, help="uploading client threads (default: 16)"
    )
    parser.add_argument("--seed", type=int, default=15, help="draws the replay (default: 15)")
    parser.add_argument(
        "--keep-logs",
        type=Path,
        metavar="DIR",
        help="keep each round's logs in DIR/<config>-workers-N/ (default: discarded)",
    )
    parser.add_argument(
        "--grading-timeout",
        type=float,
        default=3600,
        help="seconds a round may take to finish grading after the replay (default: 3600)",
    )
    args = parser.parse_args(argv)
    for name, value in (SHORT if args.short else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    unknown = set(args.configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(sorted(unknown))}")
    if not 1 / 6 < args.last_hour_share < 1 or not 0 <= args.identical_share < 1:
        parser.error("--last-hour-share must be in (1/6, 1) and --identical-share in [0, 1)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Tuned means the defaults: a value exported here would reach every process of the round.
    for name in BASELINE:
        os.environ.pop(name, None)
    # `kill` unwinds like Ctrl-C, through the blocks that stop the processes and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    plan = plan_uploads(args)
    scratch = Path(tempfile.mkdtemp(prefix="grader-deadline-"))
    rounds = []
    try:
        package_root = build_package(scratch / "package")
        for workers in args.workers:
            for config in args.configs:
                logs = (args.keep_logs or scratch) / f"{config}-workers-{workers}"
                shutil.rmtree(logs, ignore_errors=True)
                logs.mkdir(parents=True)
                say(f"Round: {workers} worker(s), {config}; logs in {logs}")
                rounds.append(run_round(workers, config, plan, args, logs, package_root))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print_rounds(rounds, args, plan)
    print_comparison(rounds)
    print_capacity(rounds, args, plan)
    return 0 if report(rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
