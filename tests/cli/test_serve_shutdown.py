"""`grader serve` stops cleanly: on SIGTERM or Ctrl-C its worker, beat and sandboxed kernels stop
with it."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import psutil
import pytest
import requests
from conftest import notebook_bytes
from processes import (
    api_token,
    free_port,
    grader_command,
    running,
    upload,
    wait_for_http,
    wait_until,
    wait_until_finished,
)

from grader.cli.embedded import WARM_SHUTDOWN_SECONDS
from grader.sandbox.bubblewrap import SANDBOX_UID

# Slow: starts `grader serve` with its worker and sandboxed kernels.
pytestmark = pytest.mark.slow

CGROUP_ROOT = Path("/sys/fs/cgroup")


class ProcessTree:
    """Every process started under one root, remembered even after its parent dies (re-parented)."""

    def __init__(self, root_pid: int) -> None:
        self.seen = {root_pid: psutil.Process(root_pid)}

    def update(self) -> None:
        for process in list(self.seen.values()):
            try:
                for child in process.children(recursive=True):
                    self.seen.setdefault(child.pid, child)
            except psutil.NoSuchProcess:
                pass

    def alive(self) -> list[psutil.Process]:
        """Processes still running (psutil tells a reused pid from ours by its start time)."""
        self.update()
        return [process for process in self.seen.values() if _running(process)]

    def kernels(self) -> list[psutil.Process]:
        """Processes of the sandboxed kernels: they run as the unprivileged sandbox user."""
        return [process for process in self.alive() if _uid(process) == SANDBOX_UID]

    def kill_leftovers(self) -> None:
        for process in self.alive():
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _uid(process: psutil.Process) -> int | None:
    try:
        return process.uids().real
    except psutil.NoSuchProcess:
        return None


def warmed_up(kernels: list[psutil.Process]) -> bool:
    """The kernel has imported what it preloads (TensorFlow: hundreds of MB) and sits idle."""
    try:
        return (
            sum(kernel.memory_info().rss for kernel in kernels) > 300 * 2**20
            and sum(kernel.cpu_percent(interval=1) for kernel in kernels) < 5
        )
    except psutil.NoSuchProcess:
        return False


def kernel_cgroups(kernels: list[psutil.Process]) -> set[Path]:
    """The cgroup folders the sandbox made for these kernels (grader-...), in every hierarchy."""
    folders = set()
    for kernel in kernels:
        for line in Path(f"/proc/{kernel.pid}/cgroup").read_text().splitlines():
            relative = line.split(":", 2)[2].lstrip("/")
            if Path(relative).name.startswith("grader-"):
                hierarchies = [
                    CGROUP_ROOT,
                    *(path for path in CGROUP_ROOT.iterdir() if path.is_dir()),
                ]
                folders |= {root / relative for root in hierarchies if (root / relative).is_dir()}
    return folders


def live_workers(base_url: str) -> int:
    try:
        return requests.get(f"{base_url}/health", timeout=10).json().get("live_workers", 0)
    except (requests.ConnectionError, requests.Timeout, ValueError):
        return 0


def heartbeats(instance: Path) -> int:
    with sqlite3.connect(instance / "grader.sqlite") as connection:
        return connection.execute("SELECT count(*) FROM worker_heartbeats").fetchone()[0]


def started_serve(tmp_path: Path):
    """`grader serve` as the README starts it (no key set: it makes its own), on a free port."""
    port = free_port()
    env = {"GRADER_INSTANCE_DIR": str(tmp_path / "instance"), "GRADER_SECRET_KEY": ""}
    log = tmp_path / "serve.log"
    serve = running(grader_command("serve", "--port", str(port)), env, log)
    return f"http://127.0.0.1:{port}", env, log, serve


def stop_and_check(serve, tree: ProcessTree, signum: int, log: Path, timeout: float = 90) -> float:
    """Signal serve alone, as `kill` or systemd would; return seconds until all it started ended."""
    tree.update()
    started = time.monotonic()
    serve.send_signal(signum)
    while time.monotonic() - started < timeout and (serve.poll() is None or tree.alive()):
        time.sleep(0.3)
    assert not tree.alive(), f"still running: {tree.alive()}\n{log.read_text()[-3000:]}"
    assert serve.returncode == 0, log.read_text()[-3000:]
    return time.monotonic() - started


def test_sigterm_stops_the_worker_its_beat_and_its_warm_sandboxed_kernel(tmp_path):
    base_url, env, log, serve_context = started_serve(tmp_path)
    with serve_context as serve:
        tree = ProcessTree(serve.pid)
        try:
            wait_for_http(base_url + "/login", serve, log)
            wait_until(
                lambda: live_workers(base_url) >= 1, 120, "the worker to report itself alive"
            )
            token = api_token(env)
            accepted = upload(base_url, token, notebook_bytes("print('graded before the stop')"))
            # Generous: other graders' tests may share this machine's two cores.
            assert (
                wait_until_finished(base_url, token, accepted["submission_id"], 300)["status"]
                == "graded"
            )
            # Having graded Lab 6, the worker keeps the next kernel warm (TensorFlow preloaded),
            # sandboxed.
            kernels = wait_until(tree.kernels, 120, "a warm sandboxed kernel")
            wait_until(
                lambda: warmed_up(tree.kernels()), 300, "the warm kernel to finish preloading"
            )
            cgroups = kernel_cgroups(kernels)
            assert cgroups, "the sandbox puts every kernel in cgroups of its own"
            assert (
                len(tree.alive()) >= 5
            )  # serve, celery, its pool process and beat, the kernel's sandbox

            seconds = stop_and_check(serve, tree, signal.SIGTERM, log)

            # A warm shutdown, not a kill: the kernels' cgroups were removed and the worker said
            # goodbye.
            assert seconds < WARM_SHUTDOWN_SECONDS
            assert not [folder for folder in cgroups if folder.exists()]
            assert heartbeats(tmp_path / "instance") == 0
        finally:
            tree.kill_leftovers()


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "terminal-closed"]
)
def test_ctrl_c_or_a_closed_terminal_stops_the_worker_too(tmp_path, signum):
    base_url, _env, log, serve_context = started_serve(tmp_path)
    with serve_context as serve:
        tree = ProcessTree(serve.pid)
        try:
            wait_for_http(base_url + "/login", serve, log)
            wait_until(
                lambda: live_workers(base_url) >= 1, 120, "the worker to report itself alive"
            )
            assert len(tree.alive()) >= 4  # serve, celery, its pool process and beat
            stop_and_check(serve, tree, signum, log)
        finally:
            tree.kill_leftovers()


def test_the_worker_stops_even_when_serve_is_killed_outright(tmp_path):
    base_url, _env, log, serve_context = started_serve(tmp_path)
    with serve_context as serve:
        tree = ProcessTree(serve.pid)
        try:
            wait_for_http(base_url + "/login", serve, log)
            wait_until(
                lambda: live_workers(base_url) >= 1, 120, "the worker to report itself alive"
            )
            tree.update()
            os.kill(serve.pid, signal.SIGKILL)
            serve.wait(timeout=30)
            wait_until(
                lambda: not tree.alive(),
                90,
                f"the orphaned worker to stop; still: {tree.alive()}",
                interval=0.5,
            )
        finally:
            tree.kill_leftovers()
