"""Flask application factory: configuration, extensions, blueprints, CLI; nothing else."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Optional

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from grader.config import Settings
from grader.extensions import csrf, db, migrate
from grader.queue import celery_init_app
from grader.web import throttles

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Optional[Settings] = None) -> Flask:
    """Build the web app (also used by the worker for its database and Celery configuration)."""
    settings = settings or Settings.from_env()
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(settings.instance_dir))
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
    csrf.init_app(app)
    throttles.register(app, settings)
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)
    celery_init_app(app, settings)
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    from grader.web import api, auth, errors, health, instructor, pages, security_headers, staff

    auth.register(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(instructor.bp)
    app.register_blueprint(health.bp)
    # The API authenticates each request with a bearer token, not a cookie, so CSRF does not apply.
    csrf.exempt(api.bp)
    app.register_blueprint(api.bp)
    errors.register(app)
    security_headers.register(app)


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
