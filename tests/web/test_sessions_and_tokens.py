"""Sessions end on sign-out, password change and after their lifetime; API tokens expire, are
revoked and are checked even beside a valid cookie; cookies are Secure except under the embedded
`grader serve`."""

from __future__ import annotations

import io
import os
import re
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests
import sqlalchemy as sa
from conftest import make_app, notebook_bytes, token_for
from processes import free_port, grader_command, running, wait_for_http

from grader.cli import main
from grader.extensions import db
from grader.models import ApiToken
from grader.services.demo import DEMO_PASSWORD
from grader.services.people.accounts import find_user

STUDENT = "student@example.edu"


def cookie_client(app, email: str = STUDENT, password: str = DEMO_PASSWORD):
    """A client signed in through the form, holding only the session cookie (no API token)."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def replay(app, cookie_value: str):
    """A fresh client presenting a copied session cookie, as an attacker who captured it would."""
    client = app.test_client()
    client.set_cookie("session", cookie_value)
    return client


def grader_cli(app, *args: str, stdin: str = ""):
    result = app.test_cli_runner().invoke(main, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_session_cookie_is_secure_http_only_and_lasts_the_configured_hours(settings):
    app = make_app(replace(settings, session_hours=3))
    response = app.test_client().post("/login", data={"email": STUDENT, "password": DEMO_PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    expires = datetime.strptime(
        re.search(r"Expires=([^;]+)", cookie).group(1), "%a, %d %b %Y %H:%M:%S GMT"
    )
    assert abs(expires.replace(tzinfo=UTC) - datetime.now(UTC) - timedelta(hours=3)) < timedelta(
        minutes=1
    )
    plain = make_app(
        replace(
            settings,
            secure_cookies=False,
            instance_dir=settings.instance_dir / "plain",
            database_url=f"sqlite:///{settings.instance_dir / 'plain.sqlite'}",
        )
    )
    response = plain.test_client().post(
        "/login", data={"email": STUDENT, "password": DEMO_PASSWORD}
    )
    assert "Secure" not in response.headers["Set-Cookie"]


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app):
    client = cookie_client(app)
    copied = client.get_cookie("session").value
    assert replay(app, copied).get("/").status_code == 200
    other_device = cookie_client(app)
    client.post("/logout")
    for stale in (replay(app, copied), other_device):
        response = stale.get("/")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert cookie_client(app).get("/").status_code == 200


def test_a_session_ends_after_its_lifetime_however_active(settings):
    app = make_app(replace(settings, session_hours=1))
    client = cookie_client(app)
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["signed_in_at"] -= 3600 + 5
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(app):
    here, elsewhere = cookie_client(app), cookie_client(app)
    wrong = here.post(
        "/account/password",
        data={"current": "not-it", "new": "a-new-secret", "confirm": "a-new-secret"},
    )
    assert wrong.status_code == 400 and "current password is wrong" in wrong.get_data(as_text=True)
    assert elsewhere.get("/").status_code == 200
    changed = here.post(
        "/account/password",
        data={"current": DEMO_PASSWORD, "new": "a-new-secret", "confirm": "a-new-secret"},
    )
    assert changed.status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    old_password = app.test_client().post(
        "/login", data={"email": STUDENT, "password": DEMO_PASSWORD}
    )
    assert old_password.status_code == 401
    assert cookie_client(app, password="a-new-secret").get("/").status_code == 200


def test_set_password_command_ends_sessions(app):
    client = cookie_client(app)
    output = grader_cli(
        app, "users", "set-password", STUDENT, "--password-stdin", stdin="brand-new-pass\n"
    )
    assert "Password set for student@example.edu" in output
    assert client.get("/").status_code == 302
    assert cookie_client(app, password="brand-new-pass").get("/").status_code == 200


def test_a_bogus_bearer_token_is_refused_even_with_a_valid_session_cookie(app):
    upload = app.test_client().post(
        "/api/submissions",
        headers=token_for(app),
        data={"assignment": "lab6", "file": (io.BytesIO(notebook_bytes("1")), "lab.ipynb")},
    )
    url = f"/api/submissions/{upload.get_json()['submission_id']}"
    client = cookie_client(app)
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer grd_bogus"
    response = client.get(url)
    assert response.status_code == 401 and "not valid" in response.get_json()["error"]
    # The token decides who is asking, not the cookie: a TA's token beside a student's cookie acts
    # as the TA, and so gets the staff-only tamper list.
    client.environ_base["HTTP_AUTHORIZATION"] = token_for(app, "ta@example.edu")["Authorization"]
    response = client.get(url)
    assert response.status_code == 200 and "tamper" in response.get_json()


def test_an_expired_token_gets_a_clear_401(app):
    headers = token_for(app)
    assert app.test_client().get("/api/submissions/1", headers=headers).status_code == 404
    with app.app_context():
        a_moment_ago = datetime.now(UTC) - timedelta(seconds=1)
        db.session.execute(sa.update(ApiToken).values(expires_at=a_moment_ago))
        db.session.commit()
    response = app.test_client().get("/api/submissions/1", headers=headers)
    assert (
        response.status_code == 401 and "This API token expired on" in response.get_json()["error"]
    )


def test_tokens_are_listed_without_their_secret_and_can_be_revoked(app):
    token = grader_cli(app, "tokens", "create", STUDENT, "--days", "30", "--name", "laptop").strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/submissions/1", headers=headers).status_code == 404
    listing = grader_cli(app, "tokens", "list", STUDENT)
    assert token not in listing and token[4:20] not in listing
    header, row = listing.strip().splitlines()
    assert header.split("\t") == ["id", "owner", "name", "created", "expires", "last used", "state"]
    token_id, owner, name, created, expires, last_used, state = row.split("\t")
    assert (owner, name, state) == (STUDENT, "laptop", "active") and last_used != "-"
    assert (datetime.fromisoformat(expires) - datetime.fromisoformat(created)).days == 30
    assert "Revoked token" in grader_cli(app, "tokens", "revoke", token_id)
    response = app.test_client().get("/api/submissions/1", headers=headers)
    assert (
        response.status_code == 401
        and "This API token was revoked on" in response.get_json()["error"]
    )
    assert grader_cli(app, "tokens", "list").strip().splitlines()[1].endswith("\trevoked")


def test_revoking_all_of_someones_tokens(app):
    first, second, other = token_for(app), token_for(app), token_for(app, "ta@example.edu")
    output = grader_cli(app, "tokens", "revoke", "--all", STUDENT)
    assert "Revoked 2 token(s) of student@example.edu." in output
    for headers, status in ((first, 401), (second, 401), (other, 404)):
        assert app.test_client().get("/api/submissions/1", headers=headers).status_code == status


def test_new_tokens_expire_after_90_days_by_default(app):
    token_for(app)
    with app.app_context():
        token = db.session.scalar(sa.select(ApiToken))
        assert (token.expires_at - token.created_at).days == 90


@pytest.mark.slow  # starts `grader serve`
def test_the_embedded_server_sends_cookies_over_plain_http(tmp_path):
    port = free_port()
    env = {"GRADER_INSTANCE_DIR": str(tmp_path / "instance")}
    log = tmp_path / "serve.log"
    with running(grader_command("serve", "--no-worker", "--port", str(port)), env, log) as process:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_http(base_url + "/login", process, log, timeout=120)
        browser = requests.Session()
        form = browser.get(f"{base_url}/login", timeout=30).text
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        response = browser.post(
            f"{base_url}/login",
            timeout=30,
            allow_redirects=False,
            data={"csrf_token": csrf, "email": STUDENT, "password": DEMO_PASSWORD},
        )
        assert response.status_code == 302 and "Secure" not in response.headers["Set-Cookie"]
        assert "Your assignments" in browser.get(base_url + "/", timeout=30).text


@pytest.mark.slow  # runs the command line's migrations in new processes
def test_upgrading_gives_each_person_a_random_session_token_and_each_token_an_expiry(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    env = {**os.environ, "GRADER_DATABASE_URL": url, "GRADER_INSTANCE_DIR": str(tmp_path)}

    def grader_db(*args: str) -> None:
        subprocess.run(
            grader_command("db", *args), env=env, check=True, capture_output=True, timeout=120
        )

    grader_db("upgrade", "0009")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO users (id, email, name) "
                "VALUES (1, 'a@x.edu', 'A'), (2, 'b@x.edu', 'B')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO api_tokens (user_id, token_sha256, name, created_at) "
                "VALUES (1, 'abc', '', '2026-01-01 00:00:00')"
            )
        )
    grader_db("upgrade")
    with engine.connect() as connection:
        session_tokens = (
            connection.execute(sa.text("SELECT session_token FROM users")).scalars().all()
        )
        expires = connection.execute(sa.text("SELECT expires_at FROM api_tokens")).scalar_one()
    engine.dispose()
    assert len(set(session_tokens)) == 2 and all(len(token) >= 40 for token in session_tokens)
    in_89_days = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=89)
    assert datetime.fromisoformat(str(expires)) > in_89_days


def test_a_user_without_a_session_token_in_the_cookie_is_signed_out(app):
    """A cookie signed before session tokens existed held only the id: it no longer signs anyone
    in."""
    client = app.test_client()
    with app.app_context():
        user_id = find_user(STUDENT).id
    with client.session_transaction() as session:
        session["_user_id"], session["signed_in_at"] = str(user_id), int(time.time())
    assert client.get("/").status_code == 302
