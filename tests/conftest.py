"""Shared fixtures: a fresh app and database per test, notebooks built in code, real services."""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import uuid
from pathlib import Path

import nbformat
import pytest
import werkzeug.security
import werkzeug.test
from nbformat import v4

from grader.config import Settings
from grader.extensions import db
from grader.sandbox import Sandbox, sandbox_from_mode
from grader.services.demo import DEMO_PASSWORD, load_demo
from grader.services.people import accounts
from grader.services.people.accounts import create_api_token, find_user
from grader.web import create_web_app

REPO = Path(__file__).resolve().parents[1]
# Werkzeug's test client spools a multipart body over 500 kB to a temporary file that nothing
# closes; its ResourceWarning would then fail whichever later test the garbage collector happens to
# run in. Test bodies stay in memory instead.
werkzeug.test.stream_encode_multipart = functools.partial(
    werkzeug.test.stream_encode_multipart, use_tempfile=False
)
# The web servers and workers that tests start refuse a missing or default key, as in production.
os.environ["GRADER_SECRET_KEY"] = secrets.token_urlsafe(48)


FAST_PASSWORD_HASH = functools.partial(
    werkzeug.security.generate_password_hash, method="pbkdf2:sha256:1"
)
# The demo database that make_app copies, built once per run (per pytest-xdist worker).
DEMO_DATABASE: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def demo_database(tmp_path_factory) -> None:
    """Build the demo course once, with fast password hashes, for make_app to copy."""
    instance = tmp_path_factory.mktemp("demo") / "instance"
    database = instance / "grader.sqlite"
    settings = Settings(
        instance_dir=instance,
        database_url=f"sqlite:///{database}",
        broker_url=f"filesystem://{instance / 'broker'}",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "generate_password_hash", FAST_PASSWORD_HASH)
        app = create_web_app(settings)
        with app.app_context():
            db.create_all()
            load_demo()
            db.engine.dispose()
    DEMO_DATABASE.append(database)


@pytest.fixture(autouse=True)
def fast_password_hashing(request, monkeypatch):
    """Hash passwords with one PBKDF2 round, unless a test is marked `real_password_hashing`."""
    # scrypt takes half a second a password by design; every app and sign-in would pay it several
    # times.
    real = request.node.get_closest_marker("real_password_hashing") is not None
    # The hash unknown e-mails are checked against, made the same way.
    accounts._dummy_hash.cache_clear()
    if not real:
        monkeypatch.setattr(accounts, "generate_password_hash", FAST_PASSWORD_HASH)
    yield
    accounts._dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    """The real bubblewrap sandbox, as production runs notebooks."""
    # Built on first use, not at import: it needs root, and tests that run no notebook (the fast
    # tier) do not.
    return sandbox_from_mode("bubblewrap")


def notebook_bytes(*sources: str) -> bytes:
    """A valid nbformat 4 notebook whose code cells hold `sources`."""
    cells = [v4.new_code_cell(source) for source in sources]
    return nbformat.writes(v4.new_notebook(cells=cells)).encode()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    instance = tmp_path / "instance"
    return Settings(
        instance_dir=instance,
        database_url=f"sqlite:///{instance / 'grader.sqlite'}",
        broker_url=f"filesystem://{instance / 'broker'}",
        queue_name=f"test-{uuid.uuid4().hex}",
        max_upload_bytes=200_000,
    )


@pytest.fixture
def app(settings: Settings):
    app = make_app(settings)
    yield app
    with app.app_context():
        db.engine.dispose()


def signed_in(app, email: str = "student@example.edu"):
    """A test client for one of the demo people: a session for pages and a token for the API."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    client.environ_base["HTTP_AUTHORIZATION"] = token_for(app, email)["Authorization"]
    return client


def token_for(app, email: str = "student@example.edu") -> dict[str, str]:
    """Authorization headers with a fresh API token for `email`."""
    with app.app_context():
        token = create_api_token(find_user(email))
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(app):
    return signed_in(app)


@pytest.fixture
def api_headers(app):
    return token_for(app)


def make_app(settings: Settings):
    """An app on a fresh schema with the demo course loaded."""
    # Most tests start from a copy of the demo database: building it (packages stored, passwords
    # hashed) would cost each a quarter of a second. load_demo below then finds everything in place.
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    copy = settings.database_url.startswith("sqlite:///") and not database.exists()
    if copy and accounts.generate_password_hash is FAST_PASSWORD_HASH:
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEMO_DATABASE[0], database)
    app = create_web_app(settings)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    with app.app_context():
        db.create_all()
        load_demo()
    return app


def add_mini_assignment(app, root: Path, **runtime) -> str:
    """Add the fast, TensorFlow-free mini package to the demo course (runtime options overridden).

    Returns its slug."""
    import yaml
    from engine.mini_package import RUBRIC, build

    from grader.models import Course
    from grader.services.assignments.catalog import upsert_assignment

    package = build(root)
    rubric = {**RUBRIC, "runtime": {**RUBRIC["runtime"], **runtime}}
    (package / "rubric.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False))
    with app.app_context():
        course = db.session.scalar(db.select(Course))
        upsert_assignment(course.id, "mini", "Mini lab", package)
        db.session.commit()
    return "mini"


def queued_messages(settings: Settings) -> list[Path]:
    """Messages waiting in the embedded (filesystem) broker."""
    folder = settings.filesystem_broker_dir
    return sorted(folder.glob("*.msg")) if folder.exists() else []
