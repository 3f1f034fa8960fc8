"""Warm kernels: sandboxed kernels started ahead of time with the course's heavy imports already
loaded.

Starting a kernel and importing TensorFlow costs seconds per notebook. A pool starts the next kernel
in the background while the current notebook runs, so a submission finds one ready. Each kernel
serves exactly one submission and is then destroyed with its sandbox, home folder and cgroup:
nothing one student's code did (variables, patched modules, files) can reach the next student.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import tempfile
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from jupyter_client.session import Session

from grader.sandbox import Sandbox, SandboxLimits
from grader.sandbox.kernel import sandboxed_kernel_manager

log = logging.getLogger(__name__)

START_TIMEOUT = 300
# Lays out a kernel's working folder before the kernel starts (see `grade.scratch_skeleton`).
Skeleton = Callable[[Path], None]
T = TypeVar("T")


@dataclass(frozen=True)
class KernelProfile:
    """What a kernel is started with before the submission is known; a warm kernel fits only its
    profile."""

    limits: SandboxLimits
    # The legacy Keras runtime needs TF_USE_LEGACY_KERAS set before TensorFlow is imported.
    legacy_keras: bool
    environment: tuple[tuple[str, str], ...]
    # Modules imported ahead of time: what the assignment's notebook imports (TensorFlow for Lab 6,
    # pandas alone for a light lab, whose kernels then start in a second).
    preload: tuple[str, ...] = ()
    # The assignment's own packages (`runtime.packages`), first on the kernel's import path.
    library_dirs: tuple[Path, ...] = ()

    @property
    def env(self) -> dict[str, str]:
        env = dict(self.environment)
        if self.legacy_keras:
            env["TF_USE_LEGACY_KERAS"] = "1"
        return env


def preload_source(modules: tuple[str, ...]) -> str:
    """Import `modules` into the kernel without leaving a single name in the notebook's
    namespace."""
    return (
        "def _grader_preload(names):\n"
        "    import importlib\n"
        "    for name in names:\n"
        "        try:\n"
        "            importlib.import_module(name)\n"
        "        except Exception:\n"
        "            pass  # a module this machine lacks is simply imported by the notebook, "
        "or not\n"
        f"_grader_preload({list(modules)!r})\n"
        "del _grader_preload\n"
    )


class WarmKernel:
    """One sandboxed kernel, its home folder and its sockets; used once, then closed."""

    def __init__(self, sandbox: Sandbox, profile: KernelProfile, skeleton: Skeleton) -> None:
        self.profile = profile
        self._resources = ExitStack()
        try:
            self.working_dir = Path(
                self._resources.enter_context(tempfile.TemporaryDirectory(prefix="grader-scratch-"))
            )
            # The folders the sandbox shows read-only must exist before it starts; their files come
            # later.
            skeleton(self.working_dir)
            sockets = Path(
                self._resources.enter_context(tempfile.TemporaryDirectory(prefix="grader-kernel-"))
            )
            self.launch = self._resources.enter_context(
                sandbox.kernel(
                    profile.limits, self.working_dir, sockets, profile.env, profile.library_dirs
                )
            )
            # Warming happens while another notebook is graded; it must not slow that one down.
            self.launch.set_background(True)
            self.km = sandboxed_kernel_manager(self.launch, sockets)
        except BaseException:
            self._resources.close()
            raise

    def start(self) -> None:
        asyncio.run(self._start(self.profile.preload))

    async def _start(self, preload: tuple[str, ...]) -> None:
        await self.km.start_kernel(
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.launch.env,
            cwd=str(self.working_dir),
        )
        # A session of its own: the notebook's client later shares the manager's session, whose
        # record of seen message signatures must not already hold the preloading's.
        client = self.km.client(
            session=Session(
                key=self.km.session.key, signature_scheme=self.km.session.signature_scheme
            )
        )
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=START_TIMEOUT)
            reply = await client.execute_interactive(
                preload_source(preload),
                store_history=False,
                timeout=START_TIMEOUT,
                output_hook=lambda _msg: None,
            )
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"preloading failed: {reply['content'].get('evalue', '')}")
        finally:
            client.stop_channels()

    def alive(self) -> bool:
        alive: bool = _wait(self.km.is_alive())
        return alive

    def close(self) -> None:
        """Stop the kernel if it still runs and remove its sandbox, cgroup and folders."""
        try:
            if self.km.has_kernel:
                _wait(self.km.shutdown_kernel(now=True))
        except Exception:  # already gone; the cleanup below still has to happen
            log.debug("warm kernel was already stopped", exc_info=True)
        finally:
            self._resources.close()

    def __enter__(self) -> WarmKernel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _wait(awaitable: Awaitable[T]) -> T:
    """Run one of jupyter_client's awaitables to its end (asyncio.run takes only a coroutine)."""

    async def waited() -> T:
        return await awaitable

    return asyncio.run(waited())


@dataclass
class _Pending:
    kernel: WarmKernel
    ready: Future[None]


class KernelPool:
    """Keeps `size` kernels of the last-used profile started; `take` hands one out and starts its
    successor.

    A worker warms it for the open assignment due soonest when it starts (`warm_if_empty`); else
    the first notebook of an assignment starts cold and teaches the pool the profile. From then on,
    during a deadline rush of that assignment, every notebook finds a kernel waiting.
    """

    def __init__(self, sandbox: Sandbox, skeleton: Skeleton, size: int = 1) -> None:
        self.sandbox = sandbox
        self.skeleton = skeleton
        self.size = size
        self.served_warm = 0
        self._pending: list[_Pending] = []
        self._lock = threading.Lock()
        # Set by `close`: a warming asked for afterwards (from another thread) starts nothing.
        self._closed = False
        # One starter thread: kernels start one after another, never competing with each other for
        # the CPU.
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warm-kernel")

    def warm(self, profile: KernelProfile) -> None:
        """Start kernels for `profile` until `size` are ready or starting; drop kernels of other
        profiles."""
        with self._lock:
            stale = self._fill(profile)
        for entry in stale:
            self._discard(entry)

    @property
    def empty(self) -> bool:
        """No kernel is ready or starting (nothing was warmed yet, or the pool is closed)."""
        with self._lock:
            return not self._pending

    def warm_if_empty(self, profile: KernelProfile) -> bool:
        """Warm `profile` only if the pool holds no kernel, so a guess never replaces the profile
        of the notebooks being graded; True if it did."""
        with self._lock:
            if self._pending or self._closed:
                return False
            self._fill(profile)
        return True

    def _fill(self, profile: KernelProfile) -> list[_Pending]:
        """Start kernels for `profile` (the lock held) and return the other profiles' kernels."""
        if self._closed:
            return []
        stale = [entry for entry in self._pending if entry.kernel.profile != profile]
        self._pending = [entry for entry in self._pending if entry.kernel.profile == profile]
        while len(self._pending) < self.size:
            kernel = WarmKernel(self.sandbox, profile, self.skeleton)
            self._pending.append(_Pending(kernel, self._starter.submit(kernel.start)))
        return stale

    def take(self, profile: KernelProfile) -> WarmKernel | None:
        """A started kernel for `profile` (waiting for one that is still starting), or None to start
        cold."""
        with self._lock:
            entry = next((e for e in self._pending if e.kernel.profile == profile), None)
            if entry is not None:
                self._pending.remove(entry)
        self.warm(profile)
        if entry is None:
            return None
        # Still starting: it is needed now, so it gets a grading kernel's CPU weight; waiting for it
        # is then never slower than starting a kernel from nothing.
        entry.kernel.launch.set_background(False)
        try:
            entry.ready.result(timeout=START_TIMEOUT)
            if entry.kernel.alive():
                self.served_warm += 1
                return entry.kernel
        except Exception:
            log.warning("a warm kernel failed to start; starting one cold", exc_info=True)
        entry.kernel.close()
        return None

    def wait_until_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until every kernel being started has started (or failed to)."""
        with self._lock:
            pending = list(self._pending)
        for entry in pending:
            entry.ready.exception(timeout=timeout)

    def close(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._closed = True
        for entry in pending:
            # A kernel still warming up holds up the worker's shutdown: let it finish at a grading
            # kernel's CPU weight.
            entry.kernel.launch.set_background(False)
            self._discard(entry)
        self._starter.shutdown(wait=True)

    @staticmethod
    def _discard(entry: _Pending) -> None:
        # A kernel still starting is closed once its start finishes, so its process is never left
        # behind.
        entry.ready.add_done_callback(lambda _future: entry.kernel.close())
