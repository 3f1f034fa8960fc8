"""Alembic migrations build the whole schema on an empty database and take it down again."""

from __future__ import annotations

import os
import subprocess
from contextlib import nullcontext

import pytest
from processes import fresh_postgres_database, grader_command
from sqlalchemy import create_engine, inspect

from grader.extensions import db

# Slow: migrates real PostgreSQL databases.
pytestmark = pytest.mark.slow

TABLES = {
    "courses",
    "users",
    "enrollments",
    "assignments",
    "blobs",
    "submissions",
    "grading_runs",
    "question_results",
    "api_tokens",
    "manual_scores",
    "score_changes",
    "package_validations",
    "worker_heartbeats",
    "lti_platforms",
    "lti_deployments",
    "lti_keys",
    "lti_identities",
    "lti_contexts",
    "lti_resource_links",
    "lti_login_states",
    "lti_grade_sends",
}


def grader_db(url: str, *args: str, tmp_path) -> None:
    env = {"GRADER_DATABASE_URL": url, "GRADER_INSTANCE_DIR": str(tmp_path)}
    subprocess.run(
        grader_command("db", *args),
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=120,
    )


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_upgrade_head_then_downgrade_base(backend, tmp_path):
    empty_database = (
        fresh_postgres_database()
        if backend == "postgresql"
        else nullcontext(f"sqlite:///{tmp_path / 'm.sqlite'}")
    )
    with empty_database as url:
        grader_db(url, "upgrade", tmp_path=tmp_path)
        assert table_names(url) == TABLES | {"alembic_version"}
        grader_db(url, "downgrade", "base", tmp_path=tmp_path)
        assert table_names(url) == {"alembic_version"}


def test_migrations_match_the_models(tmp_path):
    """A model change without a migration fails here rather than in production."""
    with fresh_postgres_database() as url:
        grader_db(url, "upgrade", tmp_path=tmp_path)
        grader_db(url, "check", tmp_path=tmp_path)
        assert table_names(url) == set(db.metadata.tables) | {"alembic_version"}
