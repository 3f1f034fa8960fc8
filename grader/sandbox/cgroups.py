"""Control groups for one kernel: a memory ceiling TensorFlow tolerates, a process cap, a CPU quota
and a kill switch.

RLIMIT_AS would be simpler, but TensorFlow reserves large virtual ranges for thread stacks and its
allocator, so it fails at import under any useful address-space limit. A memory cgroup limits
resident memory instead, for the kernel and every process it starts, together.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000
# CPU weights are in cgroup v2 units; every process outside a grading kernel has the default.
DEFAULT_CPU_WEIGHT = 100
MIN_CPU_WEIGHT, MAX_CPU_WEIGHT = 1, 10_000
# cgroup v1 counts the same default as 1024 shares, and accepts no fewer than 2.
DEFAULT_CPU_SHARES, MIN_CPU_SHARES = 1024, 2


class CgroupsUnavailable(RuntimeError):
    pass


def _own_path(controller: str) -> Path | None:
    """Where this process sits in `controller`'s hierarchy (cgroup v1), or in the unified one
    (v2)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return CGROUP_ROOT / controller / path.lstrip("/")
    unified = next(
        (
            line.split(":", 2)[2]
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            if line.startswith("0::")
        ),
        None,
    )
    if unified is not None and (CGROUP_ROOT / "cgroup.controllers").exists():
        return CGROUP_ROOT / unified.lstrip("/")
    return None


def _write_controlled(group: Path, name: str, value: str) -> None:
    """Write a cgroup v2 control file, naming the controller the operator must delegate when it is
    absent."""
    if not (group / name).exists():
        raise OSError(
            f"the {name.split('.')[0]} controller is not enabled for the grader's cgroup "
            f"(add it to {group.parent / 'cgroup.subtree_control'})"
        )
    (group / name).write_text(value)


def cpu_shares(weight: int) -> int:
    """A cgroup v2 CPU weight in cgroup v1's `cpu.shares` units."""
    return max(MIN_CPU_SHARES, weight * DEFAULT_CPU_SHARES // DEFAULT_CPU_WEIGHT)


class KernelCgroup:
    """A fresh cgroup (v1 memory + pids + cpu, or v2) that the sandboxed kernel joins before it
    starts.

    `cpu_weight` (cgroup v2 units) is the kernel's share of a busy CPU against every other process,
    which has 100: below that, grading yields to the web processes answering uploads and pages.
    """

    def __init__(
        self,
        memory_bytes: int,
        max_processes: int,
        cpus: int,
        cpu_weight: int = DEFAULT_CPU_WEIGHT,
    ):
        self.name = f"grader-{uuid.uuid4().hex[:12]}"
        self.dirs: list[Path] = []
        self.unified = (CGROUP_ROOT / "cgroup.controllers").exists()
        self.cpu_weight = cpu_weight
        try:
            if self.unified:
                group = self._make(_own_path("memory"))
                (group / "memory.max").write_text(str(memory_bytes))
                (group / "memory.swap.max").write_text("0")
                (group / "pids.max").write_text(str(max_processes))
                _write_controlled(group, "cpu.max", f"{cpus * CPU_PERIOD_US} {CPU_PERIOD_US}")
                _write_controlled(group, "cpu.weight", str(cpu_weight))
            else:
                memory = self._make(_own_path("memory"))
                (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
                swap = memory / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    swap.write_text(str(memory_bytes))
                (self._make(_own_path("pids")) / "pids.max").write_text(str(max_processes))
                cpu = self._make(_own_path("cpu"))
                (cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                (cpu / "cpu.cfs_quota_us").write_text(str(cpus * CPU_PERIOD_US))
                (cpu / "cpu.shares").write_text(str(cpu_shares(cpu_weight)))
        except OSError as exc:
            self.remove()
            raise CgroupsUnavailable(f"cannot create a cgroup here: {exc}") from exc

    def _make(self, parent: Path | None) -> Path:
        if parent is None:
            raise OSError("controller not mounted")
        group = parent / self.name
        group.mkdir()
        self.dirs.append(group)
        return group

    @property
    def procs_files(self) -> list[str]:
        """Files a launcher writes its own pid into, to put itself and its children in the group."""
        return [str(group / "cgroup.procs") for group in self.dirs]

    def cpu_quota(self) -> float | None:
        """How many CPUs the group may use at most; None when it has no quota."""
        for group in self.dirs:
            if (group / "cpu.max").exists():
                quota, period = (group / "cpu.max").read_text().split()
                return None if quota == "max" else int(quota) / int(period)
            if (group / "cpu.cfs_quota_us").exists():
                microseconds = int((group / "cpu.cfs_quota_us").read_text())
                return (
                    None
                    if microseconds < 0
                    else microseconds / int((group / "cpu.cfs_period_us").read_text())
                )
        return None

    def oom_killed(self) -> bool:
        for group in self.dirs:
            for name in ("memory.oom_control", "memory.events"):
                path = group / name
                if path.exists() and any(
                    line.split()[0] == "oom_kill" and int(line.split()[1]) > 0
                    for line in path.read_text().splitlines()
                    if line.strip()
                ):
                    return True
        return False

    def set_background(self, background: bool) -> None:
        """A kernel warming up ahead of time yields the CPU to the kernels that are grading; back in
        the foreground it has the group's own weight again."""
        for group in self.dirs:
            for name, lowest, own in (
                ("cpu.shares", MIN_CPU_SHARES, cpu_shares(self.cpu_weight)),
                ("cpu.weight", MIN_CPU_WEIGHT, self.cpu_weight),
            ):
                if (group / name).exists():
                    (group / name).write_text(str(lowest if background else own))

    def kill_all(self) -> None:
        """SIGKILL everything in the group, however it detached itself (setsid, double fork)."""
        for _ in range(20):
            pids = {
                int(pid)
                for group in self.dirs
                if (group / "cgroup.procs").exists()
                for pid in (group / "cgroup.procs").read_text().split()
            }
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def remove(self) -> None:
        self.kill_all()
        for group in reversed(self.dirs):
            for _ in range(40):
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        self.dirs = []
