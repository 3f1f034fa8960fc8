"""Which sandbox a kernel runs in: bubblewrap with limits, or (only when asked for) none at all."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox.bubblewrap import SANDBOX_UID, bwrap_command
from grader.sandbox.cgroups import (
    DEFAULT_CPU_WEIGHT,
    MAX_CPU_WEIGHT,
    MIN_CPU_WEIGHT,
    CgroupsUnavailable,
    KernelCgroup,
)
from grader.sandbox.limits import SandboxLimits
from grader.sandbox.seccomp import SeccompUnavailable, filter_program

MIN_BWRAP = (0, 8)
UNSAFE_LABEL = (
    "UNSAFE: this notebook ran without a sandbox (GRADER_SANDBOX=off); "
    "do not use on untrusted work."
)


class SandboxUnavailable(RuntimeError):
    """The machine cannot isolate kernels; grading refuses to run rather than run unisolated."""


def thread_environment(limits: SandboxLimits) -> dict[str, str]:
    """Numeric libraries use as many threads as the limits allow, not one per host core."""
    threads = str(limits.threads)
    return {
        name: threads
        for name in (
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "TF_NUM_INTRAOP_THREADS",
            "TF_NUM_INTEROP_THREADS",
        )
    }


def _bwrap_version() -> tuple[int, ...]:
    done = subprocess.run(["bwrap", "--version"], capture_output=True, text=True, timeout=10)
    found = re.search(r"(\d+)\.(\d+)", done.stdout)
    return tuple(int(part) for part in found.groups()) if found else (0, 0)


def _seccomp_program() -> bytes:
    try:
        return filter_program()
    except SeccompUnavailable as exc:
        raise SandboxUnavailable(str(exc)) from exc


@dataclass(frozen=True)
class Confinement:
    """What an enforced sandbox holds for one kernel: its cgroup and its compiled seccomp
    program."""

    cgroup: KernelCgroup
    seccomp_file: Path


@dataclass
class KernelLaunch:
    """How to start one kernel: the command wrapper and what to clean up afterwards."""

    sandbox: Sandbox
    limits: SandboxLimits
    readonly_entries: Path
    shared_dir: Path
    env: dict[str, str]
    # None only in the explicit unsafe local mode.
    confinement: Confinement | None = None
    library_dirs: tuple[Path, ...] = ()

    @property
    def cgroup(self) -> KernelCgroup | None:
        return self.confinement.cgroup if self.confinement else None

    def wrap(self, kernel_cmd: list[str], connection_file: str | None = None) -> list[str]:
        if self.confinement is None:
            return kernel_cmd
        # The kernel runs as an unprivileged user: it must own its socket folder and read its
        # connection file.
        for path in (self.shared_dir, connection_file):
            if path is not None:
                os.chown(path, SANDBOX_UID, SANDBOX_UID)
        return bwrap_command(
            kernel_cmd,
            limits=self.limits,
            readonly_entries=self.readonly_entries,
            shared_dir=self.shared_dir,
            env=self.env,
            cgroup_procs=self.confinement.cgroup.procs_files,
            seccomp_file=self.confinement.seccomp_file,
            library_dirs=self.library_dirs,
        )

    def out_of_memory(self) -> bool:
        return self.cgroup is not None and self.cgroup.oom_killed()

    def set_background(self, background: bool) -> None:
        """Lower the kernel's CPU share to the lowest, or restore the sandbox's weight; unconfined,
        it keeps the share of any other process."""
        if self.cgroup is not None:
            self.cgroup.set_background(background)


@dataclass
class Sandbox:
    """`enforced=False` is the explicit unsafe local mode; every report then says so.

    `cpu_weight` is each kernel's CPU weight in cgroup v2 units (every other process has 100); a
    worker sets it lower, so that the web processes on the same machine answer at once.
    """

    enforced: bool = True
    cpu_weight: int = DEFAULT_CPU_WEIGHT

    @property
    def label(self) -> str | None:
        return None if self.enforced else UNSAFE_LABEL

    @contextmanager
    def kernel(
        self,
        limits: SandboxLimits,
        readonly_entries: Path,
        shared_dir: Path,
        env: dict[str, str],
        library_dirs: tuple[Path, ...] = (),
    ) -> Iterator[KernelLaunch]:
        """Resources for one kernel (its cgroup and seccomp program), released however the kernel
        ends. `library_dirs` come first on the kernel's import path, read-only."""
        env = {**env, **thread_environment(limits)}
        if library_dirs:
            env["PYTHONPATH"] = os.pathsep.join(map(str, library_dirs))
        if not self.enforced:
            yield KernelLaunch(
                self, limits, readonly_entries, shared_dir, env, library_dirs=library_dirs
            )
            return
        try:
            cgroup = KernelCgroup(
                limits.memory_mb * 1024 * 1024, limits.processes, limits.threads, self.cpu_weight
            )
        except CgroupsUnavailable as exc:
            raise SandboxUnavailable(str(exc)) from exc
        try:
            with tempfile.NamedTemporaryFile(prefix="grader-seccomp-", suffix=".bpf") as program:
                program.write(_seccomp_program())
                program.flush()
                confinement = Confinement(cgroup, Path(program.name))
                yield KernelLaunch(
                    self, limits, readonly_entries, shared_dir, env, confinement, library_dirs
                )
        finally:
            cgroup.remove()


def sandbox_from_mode(mode: str, cpu_weight: int = DEFAULT_CPU_WEIGHT) -> Sandbox:
    """`bubblewrap` (the default) or `off`, its kernels at `cpu_weight`; refuses to build a
    bubblewrap sandbox the machine cannot run."""
    if not MIN_CPU_WEIGHT <= cpu_weight <= MAX_CPU_WEIGHT:
        raise SandboxUnavailable(
            f"a kernel CPU weight of {cpu_weight} is outside cgroup's range "
            f"{MIN_CPU_WEIGHT}-{MAX_CPU_WEIGHT} (other processes have {DEFAULT_CPU_WEIGHT})"
        )
    if mode == "off":
        return Sandbox(enforced=False, cpu_weight=cpu_weight)
    if mode != "bubblewrap":
        raise SandboxUnavailable(f"unknown sandbox mode {mode!r}; use 'bubblewrap' or 'off'")
    missing = [tool for tool in ("bwrap", "setpriv", "prlimit") if shutil.which(tool) is None]
    if missing:
        raise SandboxUnavailable(f"missing {', '.join(missing)}: install bubblewrap and util-linux")
    version = _bwrap_version()
    if version < MIN_BWRAP:
        raise SandboxUnavailable(
            f"bubblewrap {'.'.join(map(str, version))} is too old: "
            f"{'.'.join(map(str, MIN_BWRAP))} or newer is needed for --disable-userns"
        )
    _seccomp_program()
    if os.geteuid() != 0:
        raise SandboxUnavailable(
            "the bubblewrap sandbox needs root to drop notebooks to an unprivileged "
            "user; run the worker as root in its container, or set GRADER_SANDBOX=off"
        )
    return Sandbox(enforced=True, cpu_weight=cpu_weight)
