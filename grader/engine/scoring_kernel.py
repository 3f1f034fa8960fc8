"""The scoring kernel, seen from the trusted side: a sandboxed process that retrains described
models.

It is started as soon as a grading needs it, runs beside the student's notebook (retraining one
answer's model overlaps the notebook's later cells) and never sees a line of student code, a
student's file or a held-out label. Jobs go in as JSON lines; answers come back the same way.
Answers are cached by a hash of everything that determines them, so an unchanged model is never
trained twice.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from grader.engine.result_cache import ResultCache
from grader.runtime import KERNEL_PACKAGE_DIR, SCORING_PACKAGE_DIR
from grader.sandbox import Sandbox, SandboxLimits
from grader.sandbox.bubblewrap import HOME as SANDBOX_HOME
from grader.sandbox.policy import KernelLaunch

log = logging.getLogger(__name__)

RUNTIME_DIR = ".grader"
# The answer stream carries predictions for a grid of points, not much more.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
READER_JOIN_SECONDS = 10
_BOOTSTRAP = (
    "import sys; sys.path[:0] = [{runtime!r}]\nfrom scoring_kernel.serve import main; main()"
)


@dataclass(frozen=True)
class _Process:
    """The running scoring process, its pipes and its sandbox."""

    popen: subprocess.Popen[str]
    jobs: IO[str]
    answers: IO[str]
    launch: KernelLaunch


class ScoringKernel:
    """One grading's scoring process: `submit` jobs as answers are exported, then `results` waits
    for them."""

    def __init__(
        self,
        sandbox: Sandbox,
        limits: SandboxLimits,
        env: dict[str, str],
        settings: dict[str, Any],
        cache: ResultCache | None = None,
    ) -> None:
        self.sandbox, self.limits, self.env, self.settings, self.cache = (
            sandbox,
            limits,
            env,
            settings,
            cache,
        )
        self._answers: dict[str, dict[str, Any]] = {}
        # Jobs answered from the cache, in the order they came; and whether any job failed on our
        # side (a timeout, the process dying), which a later grading should not inherit.
        self.cached: list[str] = []
        self.failed = False
        self._pending: dict[str, str] = {}  # job id -> cache key
        self._done = threading.Condition()
        self._resources = ExitStack()
        self._process: _Process | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> _Process:
        """Start the process now (it imports its libraries at a low CPU share until the first job
        arrives)."""
        if self._process is not None:
            return self._process
        try:
            home = Path(
                self._resources.enter_context(tempfile.TemporaryDirectory(prefix="grader-scoring-"))
            )
            runtime = home / RUNTIME_DIR
            for package in (KERNEL_PACKAGE_DIR, SCORING_PACKAGE_DIR):
                shutil.copytree(
                    package, runtime / package.name, ignore=shutil.ignore_patterns("__pycache__")
                )
            shared = Path(
                self._resources.enter_context(
                    tempfile.TemporaryDirectory(prefix="grader-scoring-io-")
                )
            )
            launch = self._resources.enter_context(
                self.sandbox.kernel(self.limits, home, shared, self.env)
            )
            launch.set_background(True)
            home_inside = Path(SANDBOX_HOME) if self.sandbox.enforced else home
            # -P: neither the working folder nor a script's folder goes on sys.path; -s: no user
            # site.
            command = launch.wrap(
                [
                    sys.executable,
                    "-P",
                    "-s",
                    "-c",
                    _BOOTSTRAP.format(runtime=str(home_inside / RUNTIME_DIR)),
                ]
            )
            popen = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=home,
                env=launch.env,
                text=True,
            )
            assert (
                popen.stdin is not None and popen.stdout is not None
            )  # both pipes were asked for above
            process = self._process = _Process(popen, popen.stdin, popen.stdout, launch)
            process.jobs.write(json.dumps(self.settings) + "\n")
            process.jobs.flush()
            self._reader = threading.Thread(
                target=self._read_answers, args=(process,), name="scoring-answers", daemon=True
            )
            self._reader.start()
        except BaseException:
            self.close()
            raise
        return process

    def submit(self, job_id: str, job: dict[str, Any]) -> None:
        """Queue one job; a cached answer is used at once, without the process."""
        key = self.cache.key(job) if self.cache else None
        cached = self.cache.get(key) if self.cache and key else None
        if cached is not None:
            with self._done:
                self._answers[job_id] = cached
                self.cached.append(job_id)
            return
        process = self.start()
        process.launch.set_background(False)
        with self._done:
            self._pending[job_id] = key or ""
        try:
            process.jobs.write(json.dumps({**job, "id": job_id}) + "\n")
            process.jobs.flush()
        except (BrokenPipeError, OSError):
            self._fail_pending("the scoring kernel stopped before it could train this model")

    def results(self, timeout: float) -> dict[str, dict[str, Any]]:
        """Every answer, waiting up to `timeout` seconds for those still training; late ones become
        errors."""
        deadline = time.monotonic() + timeout
        with self._done:
            while self._pending and self._done.wait(max(0.0, deadline - time.monotonic())):
                pass
        if self._pending:
            self._fail_pending(
                f"retraining took longer than {int(timeout)} seconds", timed_out=True
            )
        with self._done:
            return dict(self._answers)

    def close(self) -> None:
        """Stop the process and remove its sandbox, cgroup and folders."""
        process = self._process
        if process is not None and process.popen.poll() is None:
            process.popen.kill()
        # Removing the sandbox's cgroup kills every process in it, so nothing can hold the answer
        # pipe open and the reader thread sees its end.
        self._resources.close()
        if process is not None:
            process.popen.wait()
            if self._reader is not None:
                self._reader.join(timeout=READER_JOIN_SECONDS)
            for stream in (process.jobs, process.answers):
                try:
                    stream.close()
                except OSError:  # the pipe broke when the process died; nothing is left to flush
                    pass

    def __enter__(self) -> ScoringKernel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read_answers(self, process: _Process) -> None:
        for line in process.answers:
            if len(line) > MAX_ANSWER_BYTES:
                self._fail_pending("the scoring kernel's answer was too large")
                break
            try:
                answer = json.loads(line)
                job_id = str(answer.pop("id"))
            except (ValueError, KeyError, AttributeError):
                log.warning("unreadable line from the scoring kernel: %.200s", line)
                continue
            with self._done:
                key = self._pending.pop(job_id, None)
                if key is None:
                    continue
                self._answers[job_id] = answer
                self._done.notify_all()
            if key and self.cache:
                self.cache.put(key, answer)
        process.popen.wait()
        if self._pending:
            cause = (
                "it used more than its memory limit"
                if process.launch.out_of_memory()
                else f"it stopped with exit code {process.popen.returncode}"
            )
            self._fail_pending(f"the scoring kernel stopped while training ({cause})")

    def _fail_pending(self, message: str, timed_out: bool = False) -> None:
        with self._done:
            self.failed = self.failed or bool(self._pending)
            for job_id in self._pending:
                self._answers[job_id] = {"error": message, "timed_out": timed_out}
            self._pending.clear()
            self._done.notify_all()
