"""Fail closed: before grading anything, prove that the sandbox really isolates."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from grader.sandbox.limits import SandboxLimits
from grader.sandbox.policy import KernelLaunch, Sandbox

_PROBE = Path(__file__).with_name("isolation_probe.py")
PROBE_TIMEOUT = 60


def isolation_problems(sandbox: Sandbox, secret_paths: list[str]) -> list[str]:
    """What a sandboxed process could do that it must not, or lacks that it needs; empty when all
    holds."""
    limits = SandboxLimits()
    with (
        tempfile.TemporaryDirectory() as visible,
        tempfile.TemporaryDirectory() as shared,
        sandbox.kernel(limits, Path(visible), Path(shared), {"PATH": "/usr/bin:/bin"}) as launch,
    ):
        command = launch.wrap(
            [sys.executable, "-c", _PROBE.read_text(), "/etc/shadow", *secret_paths]
        )
        found, failure = _run_probe(command, visible)
        if found is None:
            return [failure]
        return _found_problems(found) + _cgroup_problems(launch, limits)


def _run_probe(command: list[str], cwd: str) -> tuple[dict[str, Any] | None, str]:
    """The probe's findings, or why there are none."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT, cwd=cwd
        )
    except subprocess.TimeoutExpired:
        return None, f"the sandbox probe did not finish within {PROBE_TIMEOUT} seconds"
    try:
        return json.loads(done.stdout.strip().splitlines()[-1]), ""
    except (ValueError, IndexError) as exc:
        return None, f"the sandbox probe did not run ({exc}); stderr: {done.stderr[-500:]}"


def _found_problems(found: dict[str, Any]) -> list[str]:
    problems = []
    if found["uid"] == 0:
        problems.append("notebooks would run as root")
    if found["network"] or found["dns"]:
        problems.append("notebooks could reach the network")
    problems += [f"notebooks could read {path}" for path in found["readable"]]
    if "allowed" in (found["user_namespace"], found["clone_user_namespace"]):
        problems.append(
            "notebooks could create user namespaces (bubblewrap --disable-userns, seccomp)"
        )
    if found["mount"] == "allowed":
        problems.append("notebooks could mount file systems")
    if found["ptrace"] == "allowed":
        problems.append("notebooks could trace other processes with ptrace")
    if (found["seccomp_mode"], found["unshare_nothing"], found["clone3"]) != (
        "2",
        "EPERM",
        "ENOSYS",
    ):
        problems.append("the grader's seccomp filter is not active in the sandbox")
    if found["shared_memory"] != "allowed":
        problems.append(
            f"/dev/shm is not writable in the sandbox ({found['shared_memory']}): "
            "joblib and multiprocessing would fail or run serially"
        )
    return problems


def _cgroup_problems(launch: KernelLaunch, limits: SandboxLimits) -> list[str]:
    quota = launch.cgroup.cpu_quota() if launch.cgroup else None
    if quota != limits.threads:
        return [f"kernels have no CPU quota (cgroup cpu.max or cpu.cfs_quota_us; found {quota})"]
    return []
