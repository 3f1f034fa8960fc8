"""Every command explains itself with --help, and docker-compose.yml is a valid compose file."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from processes import REPO, grader_command

COMMANDS = [[], ["serve"], ["worker"], ["beat"], ["demo"], ["db"], ["db", "upgrade"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "grader")
def test_help(command):
    result = subprocess.run(grader_command(*command, "--help"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage:")


def test_compose_file_validates():
    assert shutil.which("docker-compose"), "tests/run.sh installs docker-compose"
    result = subprocess.run(["docker-compose", "config", "-q"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_compose_keeps_database_and_broker_on_an_internal_network():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert compose["networks"]["backend"]["internal"] is True
    for service in ("postgres", "redis", "worker", "migrate"):
        assert compose["services"][service]["networks"] == ["backend"]
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


def test_compose_worker_gets_what_the_sandbox_needs_and_nothing_more():
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    worker = services["worker"]
    assert worker["cap_add"] == ["SYS_ADMIN"] and "/sys/fs/cgroup:/sys/fs/cgroup:rw" in worker["volumes"]
    assert "privileged" not in worker
    assert "cap_add" not in services["web"]
