"""The Flask app that the web and the worker share: settings, database, migrations and Celery; no
pages.

The worker builds only this; `grader.web.create_web_app` adds the pages, the API and their
protections.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from grader import lti_models  # noqa: F401  (its tables belong to the metadata migrations compare)
from grader.config import Settings
from grader.extensions import db, migrate
from grader.task_queue import celery_init_app

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def create_app(settings: Settings | None = None) -> Flask:
    """The app with its database and Celery configured, for the worker and as the base of the web
    app."""
    settings = settings or Settings.from_env()
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app = Flask(
        __name__,
        instance_path=str(settings.instance_dir),
        template_folder="web/templates",
        static_folder="web/static",
    )
    app.config.update(
        GRADER=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        # A little headroom over the notebook cap so the form's other fields fit; the exact cap is
        # enforced on the file itself with a friendlier message.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 64 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
    )
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    celery_init_app(app, settings)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # The embedded setup has a web process and a worker on one SQLite file: WAL lets readers and
    # the writer proceed together, and busy_timeout waits for a lock instead of failing at once.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
