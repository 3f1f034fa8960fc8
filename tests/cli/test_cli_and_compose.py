"""Every command explains itself with --help, and docker-compose.yml is a valid compose file."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml
from processes import REPO, grader_command

# Slow: starts the command line in new processes, and docker-compose.
pytestmark = pytest.mark.slow

COMMANDS = [
    [],
    ["serve"],
    ["worker"],
    ["beat"],
    ["demo"],
    ["db"],
    ["db", "upgrade"],
    ["lti"],
    *(
        ["lti", name]
        for name in ("register", "platforms", "rotate-key", "link-course", "sync-roster")
    ),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "grader")
def test_help(command):
    result = subprocess.run(
        grader_command(*command, "--help"), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage:")


def compose_config(secret_key: str | None) -> subprocess.CompletedProcess:
    """`docker-compose config` as an operator runs it, with or without GRADER_SECRET_KEY set."""
    assert shutil.which("docker-compose"), "tests/run.sh installs docker-compose"
    env = {name: value for name, value in os.environ.items() if name != "GRADER_SECRET_KEY"}
    if secret_key is not None:
        env["GRADER_SECRET_KEY"] = secret_key
    return subprocess.run(
        ["docker-compose", "config"], cwd=REPO, env=env, capture_output=True, text=True
    )


def test_compose_file_validates_with_a_secret_key_and_passes_it_to_every_service():
    result = compose_config("k" * 48)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name in ("migrate", "web", "worker", "beat"):
        assert services[name]["environment"]["GRADER_SECRET_KEY"] == "k" * 48


@pytest.mark.parametrize("secret_key", [None, ""], ids=["unset", "empty"])
def test_compose_refuses_to_start_without_a_secret_key(secret_key):
    result = compose_config(secret_key)
    assert result.returncode != 0
    assert "set GRADER_SECRET_KEY to a long random value" in result.stderr


def test_compose_loads_no_demo_data():
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert services["migrate"]["command"] == ["grader", "db", "upgrade"]
    assert not any("demo" in " ".join(service.get("command", [])) for service in services.values())


def test_compose_keeps_database_and_broker_on_an_internal_network():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert compose["networks"]["backend"]["internal"] is True
    for service in ("postgres", "redis", "worker", "migrate"):
        assert compose["services"][service]["networks"] == ["backend"]
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


def test_compose_worker_gets_what_the_sandbox_needs_and_nothing_more():
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    worker = services["worker"]
    assert (
        worker["cap_add"] == ["SYS_ADMIN"]
        and "/sys/fs/cgroup:/sys/fs/cgroup:rw" in worker["volumes"]
    )
    assert "privileged" not in worker
    assert "cap_add" not in services["web"]
