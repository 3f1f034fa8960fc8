"""Grading kernels run at the configured CPU weight, below the web processes' 100; warming ones at
the lowest."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from engine.mini_package import build
from processes import wait_until

from grader.engine.assignment import load_assignment
from grader.engine.grade import kernel_environment, kernel_pool, kernel_profile, scratch_skeleton
from grader.engine.kernel_pool import KernelProfile, WarmKernel
from grader.engine.scoring_kernel import ScoringKernel
from grader.sandbox import SandboxLimits, SandboxUnavailable, sandbox_from_mode
from grader.sandbox.cgroups import KernelCgroup, cpu_shares
from grader.sandbox.policy import KernelLaunch

WEIGHT = 20
# What cgroup v1 and v2 call that weight, and the lowest, which a kernel warming ahead of time has.
CONFIGURED = {"cpu.shares": "204", "cpu.weight": "20"}
LOWEST = {"cpu.shares": "2", "cpu.weight": "1"}


def test_a_weight_in_cgroup_v1_shares_keeps_its_ratio_to_the_default():
    assert [cpu_shares(weight) for weight in (100, 20, 1, 10_000)] == [1024, 204, 10, 102_400]


def test_the_sandbox_carries_the_weight_and_refuses_one_cgroups_would_not_take():
    assert sandbox_from_mode("off", WEIGHT).cpu_weight == WEIGHT
    assert sandbox_from_mode("off").cpu_weight == 100
    for weight in (0, 10_001):
        with pytest.raises(SandboxUnavailable, match="1-10000"):
            sandbox_from_mode("off", weight)


def joined(cgroup: KernelCgroup | None) -> bool:
    """A process of the kernel runs in every one of its cgroups."""
    assert cgroup is not None
    return all((group / "cgroup.procs").read_text().split() for group in cgroup.dirs)


def weight_of(cgroup: KernelCgroup | None) -> dict[str, str]:
    """The CPU weight file of a running kernel's cgroup."""
    assert cgroup is not None and joined(cgroup), "no kernel process in its cgroup"
    for group in cgroup.dirs:
        for name in CONFIGURED:
            if (group / name).exists():
                return {name: (group / name).read_text().strip()}
    raise AssertionError(f"no CPU weight file in {cgroup.dirs}")


def expected(values: dict[str, str], cgroup: KernelCgroup | None) -> dict[str, str]:
    name = "cpu.weight" if cgroup is not None and cgroup.unified else "cpu.shares"
    return {name: values[name]}


def assert_weights_while_running(launch: KernelLaunch) -> None:
    cgroup = launch.cgroup
    assert weight_of(cgroup) == expected(CONFIGURED, cgroup)
    launch.set_background(True)
    assert weight_of(cgroup) == expected(LOWEST, cgroup)
    launch.set_background(False)
    assert weight_of(cgroup) == expected(CONFIGURED, cgroup), "back to the configured weight"


@pytest.mark.slow
def test_a_kernel_started_for_a_notebook_runs_at_the_configured_weight():
    sandbox = sandbox_from_mode("bubblewrap", WEIGHT)
    env = {"PATH": "/usr/bin:/bin"}
    with (
        tempfile.TemporaryDirectory() as home,
        tempfile.TemporaryDirectory() as shared,
        sandbox.kernel(SandboxLimits(), Path(home), Path(shared), env) as launch,
    ):
        # Waits for a line on its input, so it runs until the weights are read.
        waiting = launch.wrap([sys.executable, "-c", "input()"])
        process = subprocess.Popen(waiting, stdin=subprocess.PIPE, cwd=home)
        try:
            wait_until(lambda: joined(launch.cgroup), timeout=30, what="the process to start")
            assert_weights_while_running(launch)
        finally:
            process.communicate(b"\n", timeout=30)


@pytest.fixture
def mini_profile(tmp_path) -> KernelProfile:
    package = load_assignment(build(tmp_path / "package"))
    return kernel_profile(package.rubric.runtime, package.template)


@pytest.mark.slow
def test_a_kernel_warming_ahead_of_time_has_the_lowest_weight(mini_profile):
    sandbox = sandbox_from_mode("bubblewrap", WEIGHT)
    with WarmKernel(sandbox, mini_profile, scratch_skeleton) as kernel:
        kernel.start()
        assert kernel.alive()
        assert weight_of(kernel.launch.cgroup) == expected(LOWEST, kernel.launch.cgroup)


@pytest.mark.slow
def test_a_warm_kernel_handed_out_for_grading_has_the_configured_weight(mini_profile):
    pool = kernel_pool(sandbox_from_mode("bubblewrap", WEIGHT))
    try:
        pool.warm(mini_profile)
        pool.wait_until_ready()
        kernel = pool.take(mini_profile)
        assert kernel is not None
        with kernel:
            assert kernel.alive()
            assert weight_of(kernel.launch.cgroup) == expected(CONFIGURED, kernel.launch.cgroup)
    finally:
        pool.close()


@pytest.mark.slow
def test_the_scoring_kernel_starts_at_the_lowest_weight_and_trains_at_the_configured_one():
    sandbox = sandbox_from_mode("bubblewrap", WEIGHT)
    with ScoringKernel(sandbox, SandboxLimits(), kernel_environment(), {}) as scoring:
        cgroup = scoring.start().launch.cgroup
        wait_until(lambda: joined(cgroup), timeout=30, what="the scoring kernel to start")
        assert weight_of(cgroup) == expected(LOWEST, cgroup)
        # A job describing no model: it is answered with an error, but it brings the kernel forward.
        scoring.submit("nothing", {})
        assert weight_of(cgroup) == expected(CONFIGURED, cgroup)
        assert "error" in scoring.results(timeout=60)["nothing"]
