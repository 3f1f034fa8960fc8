"""The worker refuses to grade when notebooks cannot be isolated, and unsafe runs are labelled."""
from __future__ import annotations

import os
import subprocess
import sys

from engine.conftest import SANDBOX
from grader.sandbox import sandbox_from_mode
from grader.sandbox.selfcheck import isolation_problems
from processes import grader_command


def test_the_sandbox_passes_its_own_isolation_check(tmp_path):
    assert isolation_problems(SANDBOX, [str(tmp_path)]) == []


def test_no_sandbox_fails_the_isolation_check(tmp_path):
    problems = isolation_problems(sandbox_from_mode("off"), [str(tmp_path)])
    assert "notebooks would run as root" in problems
    assert "notebooks could reach the network" in problems or os.geteuid() != 0
    assert f"notebooks could read {tmp_path}" in problems


def test_worker_without_bubblewrap_refuses_to_start(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path), "GRADER_INSTANCE_DIR": str(tmp_path / "instance")}
    done = subprocess.run(grader_command("worker"), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Refusing to grade: missing bwrap" in done.stderr + done.stdout


def test_unknown_sandbox_mode_refuses_to_start(tmp_path):
    env = {**os.environ, "GRADER_SANDBOX": "docker", "GRADER_INSTANCE_DIR": str(tmp_path / "instance")}
    done = subprocess.run([sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--pool", "solo"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "unknown sandbox mode 'docker'" in done.stderr + done.stdout
