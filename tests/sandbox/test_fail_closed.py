"""The worker refuses to grade when notebooks cannot be isolated, and unsafe runs are labelled."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pyseccomp
import pytest
from processes import grader_command

from grader.sandbox import policy, sandbox_from_mode, selfcheck
from grader.sandbox.cgroups import KernelCgroup
from grader.sandbox.selfcheck import isolation_problems

# Slow: probes the bubblewrap sandbox (root) and starts Celery workers.
pytestmark = pytest.mark.slow


def test_the_sandbox_passes_its_own_isolation_check(tmp_path, sandbox):
    assert isolation_problems(sandbox, [str(tmp_path)]) == []


def test_no_sandbox_fails_the_isolation_check(tmp_path):
    problems = isolation_problems(sandbox_from_mode("off"), [str(tmp_path)])
    assert "notebooks would run as root" in problems
    assert "notebooks could reach the network" in problems or os.geteuid() != 0
    assert f"notebooks could read {tmp_path}" in problems


def test_worker_without_bubblewrap_refuses_to_start(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path), "GRADER_INSTANCE_DIR": str(tmp_path / "instance")}
    done = subprocess.run(
        grader_command("worker"), env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "Refusing to grade: missing bwrap" in done.stderr + done.stdout


def test_unknown_sandbox_mode_refuses_to_start(tmp_path):
    env = {
        **os.environ,
        "GRADER_SANDBOX": "docker",
        "GRADER_INSTANCE_DIR": str(tmp_path / "instance"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--pool", "solo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "unknown sandbox mode 'docker'" in done.stderr + done.stdout


def allow_everything() -> bytes:
    """A seccomp program that refuses nothing: a sandbox as it was before it had a filter."""
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    with tempfile.TemporaryFile() as program:
        rules.export_bpf(program)
        program.seek(0)
        return program.read()


def without(*dropped: str):
    """bubblewrap's command line, minus the options `dropped`."""
    real = policy.bwrap_command

    def command(*args, **kwargs) -> list[str]:
        return [word for word in real(*args, **kwargs) if word not in dropped]

    return command


def test_a_sandbox_without_the_seccomp_filter_fails_the_check(tmp_path, monkeypatch, sandbox):
    monkeypatch.setattr(policy, "filter_program", allow_everything)
    problems = isolation_problems(sandbox, [str(tmp_path)])
    assert "the grader's seccomp filter is not active in the sandbox" in problems
    assert "notebooks could trace other processes with ptrace" in problems


def test_a_sandbox_that_lets_notebooks_make_user_namespaces_fails_the_check(
    tmp_path, monkeypatch, sandbox
):
    monkeypatch.setattr(policy, "filter_program", allow_everything)
    monkeypatch.setattr(
        policy, "bwrap_command", without("--disable-userns", "--assert-userns-disabled")
    )
    problems = isolation_problems(sandbox, [str(tmp_path)])
    assert (
        "notebooks could create user namespaces (bubblewrap --disable-userns, seccomp)" in problems
    )
    assert "notebooks could mount file systems" in problems


def test_a_sandbox_without_shared_memory_fails_the_check(tmp_path, monkeypatch, sandbox):
    real = policy.bwrap_command

    def no_shared_memory(*args, **kwargs) -> list[str]:
        words = real(*args, **kwargs)
        at = words.index("/dev/shm")
        return words[: at - 5] + words[at + 1 :]  # "--perms 1777 --size N --tmpfs /dev/shm"

    monkeypatch.setattr(policy, "bwrap_command", no_shared_memory)
    problems = isolation_problems(sandbox, [str(tmp_path)])
    assert any(p.startswith("/dev/shm is not writable in the sandbox") for p in problems), problems


def test_kernels_without_a_cpu_quota_fail_the_check(tmp_path, monkeypatch, sandbox):
    made = KernelCgroup.__init__

    def unlimited(self, *args) -> None:
        made(self, *args)
        for group in self.dirs:
            for name, value in (("cpu.max", "max"), ("cpu.cfs_quota_us", "-1")):
                if (group / name).exists():
                    (group / name).write_text(value)

    monkeypatch.setattr(KernelCgroup, "__init__", unlimited)
    problems = isolation_problems(sandbox, [str(tmp_path)])
    assert problems == [
        "kernels have no CPU quota (cgroup cpu.max or cpu.cfs_quota_us; found None)"
    ]


def test_a_probe_that_hangs_is_reported_not_crashed_on(tmp_path, monkeypatch, sandbox):
    monkeypatch.setattr(selfcheck, "PROBE_TIMEOUT", 0.01)
    problems = isolation_problems(sandbox, [str(tmp_path)])
    assert problems == ["the sandbox probe did not finish within 0.01 seconds"]


def test_worker_with_an_old_bubblewrap_refuses_to_start(tmp_path):
    (tmp_path / "bwrap").write_text("#!/bin/sh\necho bubblewrap 0.6.2\n")
    (tmp_path / "bwrap").chmod(0o755)
    for tool in ("setpriv", "prlimit"):
        (tmp_path / tool).symlink_to(shutil.which(tool))
    env = {**os.environ, "PATH": str(tmp_path), "GRADER_INSTANCE_DIR": str(tmp_path / "instance")}
    done = subprocess.run(
        grader_command("worker"), env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert (
        "Refusing to grade: bubblewrap 0.6 is too old: 0.8 or newer is needed"
        in done.stderr + done.stdout
    )
