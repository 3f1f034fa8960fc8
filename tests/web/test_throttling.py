"""Throttles: sign-in per address and per account, uploads per person, with 429 + Retry-After; and a
sign-in for an unknown e-mail costs the same password hash as one for a known e-mail."""

from __future__ import annotations

import io
import statistics
import time
import uuid
from dataclasses import replace

import pytest
import redis
from conftest import make_app, notebook_bytes, signed_in
from processes import REDIS_URL

from grader.extensions import db
from grader.models import Course, Role
from grader.services.demo import DEMO_PASSWORD
from grader.services.people import accounts

STUDENT = "student@example.edu"


def attempt(app, email: str, password: str = "wrong-password", address: str = "127.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client.post("/login", data={"email": email, "password": password})


def assert_retry_after(response, at_most: int) -> None:
    assert 1 <= int(response.headers["Retry-After"]) <= at_most


def upload(client, api: bool):
    return client.post(
        "/api/submissions" if api else "/submissions",
        content_type="multipart/form-data",
        data={"assignment": "lab6", "file": (io.BytesIO(notebook_bytes("1")), "lab.ipynb")},
    )


def test_sign_in_attempts_are_limited_per_address(settings):
    app = make_app(replace(settings, login_limit_per_address="3/minute"))
    for n in range(3):
        assert attempt(app, f"nobody{n}@example.edu").status_code == 401
    refused = attempt(app, STUDENT, DEMO_PASSWORD)
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    page = refused.get_data(as_text=True)
    assert "Too many sign-in attempts from your network. Try again in" in page
    assert 'value="student@example.edu"' in page  # the sign-in form again, e-mail kept
    assert_retry_after(refused, 60)
    assert attempt(app, STUDENT, DEMO_PASSWORD, address="192.0.2.7").status_code == 302
    assert app.test_client().get("/login").status_code == 200  # reading the form is not an attempt


def test_a_forged_forwarded_for_header_does_not_escape_the_address_limit(settings):
    app = make_app(replace(settings, login_limit_per_address="2/minute"))
    statuses = [
        app.test_client()
        .post(
            "/login",
            data={"email": "x@example.edu", "password": "guess"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        )
        .status_code
        for n in range(3)
    ]
    assert statuses == [401, 401, 429]


def test_behind_a_declared_proxy_each_client_address_has_its_own_limit(settings):
    app = make_app(replace(settings, login_limit_per_address="2/minute", proxy_hops=1))
    statuses = [
        app.test_client()
        .post(
            "/login",
            data={"email": "x@example.edu", "password": "guess"},
            headers={"X-Forwarded-For": address},
        )
        .status_code
        for address in ("203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.1")
    ]
    assert statuses == [401, 401, 401, 429]


def test_wrong_passwords_are_limited_per_account_from_any_address(settings):
    app = make_app(replace(settings, login_limit_per_account="3/minute"))
    for n in range(3):
        assert attempt(app, STUDENT, address=f"192.0.2.{n}").status_code == 401
    refused = attempt(app, STUDENT.upper(), DEMO_PASSWORD, address="198.51.100.1")
    assert refused.status_code == 429
    assert "Too many wrong passwords for this account" in refused.get_data(as_text=True)
    assert_retry_after(refused, 60)
    # Other accounts are untouched, and signing in successfully is never held against an account.
    for _ in range(5):
        assert (
            attempt(app, "ta@example.edu", DEMO_PASSWORD, address="198.51.100.1").status_code == 302
        )


def test_uploads_are_limited_per_person_across_form_and_api(settings):
    app = make_app(replace(settings, upload_limit="2/hour"))
    student = signed_in(app)
    assert upload(student, api=True).status_code == 201
    assert upload(student, api=False).status_code == 303
    refused = upload(student, api=True)
    assert refused.status_code == 429 and refused.mimetype == "application/json"
    assert refused.get_json()["error"].startswith(
        "Too many uploads: at most 2 per 1 hour. Try again in"
    )
    assert_retry_after(refused, 3600)
    page = upload(student, api=False)
    assert page.status_code == 429 and "Too many uploads" in page.get_data(as_text=True)
    assert_retry_after(page, 3600)
    with app.app_context():
        classmate = accounts.create_user("classmate@example.edu", password=DEMO_PASSWORD)
        accounts.enroll(classmate, db.session.scalar(db.select(Course)), Role.STUDENT)
        db.session.commit()
    assert upload(signed_in(app, "classmate@example.edu"), api=True).status_code == 201


def test_the_default_limits(settings):
    assert (
        settings.login_limit_per_address,
        settings.login_limit_per_account,
        settings.upload_limit,
    ) == (
        "30/minute",
        "5/minute",
        "20/hour",
    )


def test_a_malformed_limit_stops_the_app_at_start(settings):
    with pytest.raises(ValueError):
        make_app(replace(settings, upload_limit="lots"))


@pytest.mark.slow  # needs Redis
def test_counts_live_in_redis_when_the_broker_is_redis(settings):
    assert settings.rate_limit_storage == "memory://"  # the embedded setup: a filesystem broker
    assert replace(settings, broker_url=REDIS_URL).rate_limit_storage == REDIS_URL
    assert (
        replace(
            settings, broker_url=REDIS_URL, ratelimit_storage_url="memory://"
        ).rate_limit_storage
        == "memory://"
    )
    queue = f"test-{uuid.uuid4().hex}"
    production = replace(
        settings, broker_url=REDIS_URL, queue_name=queue, login_limit_per_address="2/minute"
    )
    store = redis.Redis.from_url(REDIS_URL)
    prefix = f"grader-limits:{queue}"
    try:
        app = make_app(production)
        assert [attempt(app, STUDENT).status_code for _ in range(3)] == [401, 401, 429]
        assert list(store.scan_iter(f"{prefix}*"))
        # Another web process (a new app, a new connection) sees the same count.
        other = make_app(
            replace(
                production,
                instance_dir=settings.instance_dir / "other",
                database_url=f"sqlite:///{settings.instance_dir / 'other.sqlite'}",
            )
        )
        assert attempt(other, STUDENT).status_code == 429
    finally:
        for key in store.scan_iter(f"{prefix}*"):
            store.delete(key)
        store.close()


def test_unknown_e_mails_cost_a_password_hash_too(app, monkeypatch):
    checked = []
    real_check = accounts.check_password_hash
    monkeypatch.setattr(
        accounts, "check_password_hash", lambda *args: checked.append(args) or real_check(*args)
    )
    with app.app_context():
        assert accounts.authenticate("nobody@example.edu", "a-guess") is None
        roster_only = accounts.create_user("roster@example.edu")  # no password yet
        db.session.commit()
        assert accounts.authenticate(roster_only.email, "a-guess") is None
    assert len(checked) == 2


@pytest.mark.slow  # times real scrypt hashes
@pytest.mark.real_password_hashing
def test_sign_in_takes_as_long_for_an_unknown_e_mail_as_for_a_known_one(app):
    def seconds(email: str) -> float:
        began = time.perf_counter()
        assert accounts.authenticate(email, "a-wrong-guess") is None
        return time.perf_counter() - began

    with app.app_context():
        seconds("warm-up@example.edu")
        # Interleaved, so a burst of load on the machine slows both kinds alike.
        pairs = [(seconds(STUDENT), seconds("nobody@example.edu")) for _ in range(7)]
    known, unknown = (statistics.median(column) for column in zip(*pairs))
    assert unknown >= 0.5 * known, (known, unknown)
