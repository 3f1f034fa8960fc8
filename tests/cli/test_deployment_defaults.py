"""Production starts with no published secret and no demo accounts; the embedded setup keeps its own
key."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from processes import REPO, free_port, fresh_postgres_database, grader_command

from grader.cli.embedded import embedded_settings
from grader.config import GENERATE_SECRET_KEY, InsecureSecretKey, Settings
from grader.extensions import db
from grader.services.demo import DEMO_PASSWORD
from grader.web import create_web_app

# Slow: starts gunicorn, Celery and the command line, some on PostgreSQL.
pytestmark = pytest.mark.slow

WEAK_KEYS = [
    ("dev-only-secret-change-me", "is not set"),
    ("change-me-before-deploying", "is a published default"),
    ("x" * 31, "is shorter than 32 bytes"),
]


def environment(tmp_path: Path, secret_key: str | None, **variables: str) -> dict[str, str]:
    """The test run's environment for a fresh deployment's process, with `secret_key` or none."""
    env = {name: value for name, value in os.environ.items() if name != "GRADER_SECRET_KEY"}
    env.update(GRADER_INSTANCE_DIR=str(tmp_path / "instance"), **variables)
    if secret_key is not None:
        env["GRADER_SECRET_KEY"] = secret_key
    return env


def grader(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    # A session of its own: no terminal, so a password prompt reads standard input as a script
    # would.
    return subprocess.run(
        grader_command(*args),
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        start_new_session=True,
    )


@pytest.mark.parametrize("key, problem", WEAK_KEYS, ids=["unset", "published", "short"])
def test_production_refuses_a_missing_published_or_short_key_in_one_line(key, problem):
    with pytest.raises(InsecureSecretKey) as refused:
        Settings(secret_key=key).require_production_secret()
    message = str(refused.value)
    assert f"GRADER_SECRET_KEY {problem}" in message and GENERATE_SECRET_KEY in message
    assert "\n" not in message


def test_production_accepts_a_random_key_of_32_bytes_or_more():
    Settings(secret_key="k" * 32).require_production_secret()
    Settings(secret_key=secrets.token_urlsafe(48)).require_production_secret()


@pytest.mark.parametrize(
    "key, problem",
    [(None, "is not set"), ("change-me-before-deploying", "is a published default")],
    ids=["unset", "published"],
)
def test_gunicorn_stops_instead_of_serving_with_a_default_key(tmp_path, key, problem):
    web = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "1",
        "--bind",
        f"127.0.0.1:{free_port()}",
        "grader.wsgi:app",
    ]
    # The timeout also catches a server that restarts its failing workers forever instead of
    # stopping.
    done = subprocess.run(
        web, env=environment(tmp_path, key), cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert f"Refusing to start: GRADER_SECRET_KEY {problem}" in done.stderr
    assert GENERATE_SECRET_KEY in done.stderr


@pytest.mark.parametrize("command", [("worker",), ("beat",)])
def test_worker_and_beat_refuse_a_short_key_with_one_clear_line(tmp_path, command):
    done = grader(environment(tmp_path, "x" * 31), *command)
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("Refusing to start: GRADER_SECRET_KEY is shorter than 32 bytes")
    assert GENERATE_SECRET_KEY in last_line and "Traceback" not in done.stderr


def test_serve_makes_its_own_key_once_readable_by_its_owner_only(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADER_SECRET_KEY")
    monkeypatch.setenv("GRADER_INSTANCE_DIR", str(tmp_path / "instance"))
    first = embedded_settings()
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first.secret_key and len(first.secret_key) >= 32
    # Kept across restarts, so sign-ins survive them; another instance folder gets a key of its own.
    assert embedded_settings().secret_key == first.secret_key
    monkeypatch.setenv("GRADER_INSTANCE_DIR", str(tmp_path / "other"))
    assert embedded_settings().secret_key != first.secret_key


def test_serve_uses_the_operators_key_when_given_and_refuses_a_weak_one(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("GRADER_SECRET_KEY", "k" * 40)
    assert embedded_settings().secret_key == "k" * 40
    monkeypatch.setenv("GRADER_SECRET_KEY", "change-me-before-deploying")
    with pytest.raises(InsecureSecretKey, match="published default"):
        embedded_settings()
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_demo_refuses_a_production_database_unless_forced(tmp_path):
    with fresh_postgres_database() as database_url:
        env = environment(tmp_path, None, GRADER_DATABASE_URL=database_url)
        assert grader(env, "db", "upgrade").returncode == 0
        refused = grader(env, "demo")
        assert refused.returncode != 0
        assert "refusing to load the demo course into a postgresql database" in refused.stderr
        assert repr(DEMO_PASSWORD) in refused.stderr and "--force" in refused.stderr
        assert people(database_url) == []
        forced = grader(env, "demo", "--force")
        assert forced.returncode == 0, forced.stderr
        assert "instructor@example.edu" in people(database_url)


def test_demo_loads_into_the_embedded_sqlite_database(tmp_path):
    env = environment(tmp_path, None)
    assert grader(env, "db", "upgrade").returncode == 0
    done = grader(env, "demo")
    assert done.returncode == 0, done.stderr
    assert "Demo course BT-AI is ready." in done.stdout


def test_operator_creates_the_first_instructor_of_a_fresh_production_database(tmp_path):
    """The README's steps: schema, a course, an instructor whose password is typed at a prompt; no
    demo."""
    with fresh_postgres_database() as database_url:
        env = environment(tmp_path, None, GRADER_DATABASE_URL=database_url)
        for step in (("db", "upgrade"), ("courses", "create", "ML-101", "Machine learning")):
            assert grader(env, *step).returncode == 0
        passphrase = "a long passphrase nobody published"
        created = grader(
            env,
            "users",
            "create",
            "prof@uni.example",
            "--name",
            "Prof. Ada",
            "--course",
            "ML-101",
            "--role",
            "instructor",
            stdin=f"{passphrase}\n{passphrase}\n",
        )
        assert created.returncode == 0, created.stderr
        assert "Created prof@uni.example as instructor in ML-101." in created.stdout
        app = create_web_app(
            Settings(
                instance_dir=tmp_path / "web",
                database_url=database_url,
                broker_url=f"filesystem://{tmp_path / 'broker'}",
                secret_key="k" * 48,
            )
        )
        app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
        try:
            instructor = {"email": "prof@uni.example", "password": passphrase}
            assert app.test_client().post("/login", data=instructor).status_code == 302
            demo = app.test_client().post(
                "/login", data={"email": "instructor@example.edu", "password": DEMO_PASSWORD}
            )
            assert demo.status_code != 302
        finally:
            with app.app_context():
                db.engine.dispose()


def people(database_url: str) -> list[str]:
    with psycopg.connect(
        database_url.replace("postgresql+psycopg://", "postgresql://")
    ) as connection:
        return [row[0] for row in connection.execute("SELECT email FROM users ORDER BY email")]


def test_there_is_no_flask_run_serving_requests_with_an_unchecked_key(tmp_path):
    done = grader(environment(tmp_path, None), "run")
    assert done.returncode != 0 and "No such command 'run'" in done.stderr
