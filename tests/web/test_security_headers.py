"""Every response has the security headers; the executed notebook keeps its own sandbox policy."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from conftest import notebook_bytes, signed_in
from services.test_assignment_policy import DUE, graded_submission
from sqlalchemy import select

from grader.extensions import db
from grader.models import Assignment, GradingRun
from grader.services.storage.blobs import put_blob

COMMON = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
APP_DIRECTIVES = {
    "default-src 'self'",
    "img-src 'self' data:",
    "frame-src 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
}


def directives(response) -> set[str]:
    return {part.strip() for part in response.headers["Content-Security-Policy"].split(";")}


@pytest.fixture
def ids(app) -> dict[str, int]:
    """A graded submission of the demo student, with a rendered executed notebook."""
    with app.app_context():
        assignment = db.session.scalar(select(Assignment).where(Assignment.slug == "lab6"))
        submission_id = graded_submission(assignment, "student@example.edu", DUE, score=5)
        run = db.session.scalar(select(GradingRun).where(GradingRun.submission_id == submission_id))
        run.executed_sha256 = put_blob(notebook_bytes("1"))
        run.executed_html_sha256 = put_blob(
            b"<p>Executed</p><script>alert(document.cookie)</script>"
        )
        db.session.commit()
        return {"assignment": assignment.id, "submission": submission_id}


def app_pages(app, ids) -> dict[str, object]:
    student, ta = signed_in(app), signed_in(app, "ta@example.edu")
    return {
        "login": app.test_client().get("/login"),
        "index": student.get("/"),
        "submission": student.get(f"/submissions/{ids['submission']}"),
        "dashboard": ta.get(f"/assignments/{ids['assignment']}/dashboard"),
        "grading queue": ta.get(f"/assignments/{ids['assignment']}/grading"),
        "instructor settings": signed_in(app, "instructor@example.edu").get(
            f"/assignments/{ids['assignment']}/settings"
        ),
        "error page": student.get("/no-such-page"),
        "stylesheet": student.get("/static/style.css", buffered=True),
        "gradebook": ta.get(f"/assignments/{ids['assignment']}/gradebook.csv"),
        "api": student.get(f"/api/submissions/{ids['submission']}"),
        "api error": student.get("/api/submissions/999999"),
        "api without token": app.test_client().get(f"/api/submissions/{ids['submission']}"),
        "health": app.test_client().get("/health"),
    }


def test_app_pages_and_api_carry_the_app_policy(app, ids):
    for name, response in app_pages(app, ids).items():
        assert directives(response) == APP_DIRECTIVES, name
        assert response.headers["X-Frame-Options"] == "DENY", name
        assert {key: response.headers.get(key) for key in COMMON} == COMMON, name


def test_pages_use_nothing_the_policy_blocks(app, ids):
    """No inline script, style or event handler: with them the CSP above breaks our own pages."""
    for name, response in app_pages(app, ids).items():
        if response.mimetype != "text/html":
            continue
        page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
        assert [script for script in page.find_all("script") if not script.get("src")] == [], name
        assert page.find("style") is None and page.find(style=True) is None, name
        handlers = [
            tag.name for tag in page.find_all(True) if any(a.startswith("on") for a in tag.attrs)
        ]
        assert handlers == [], name
        assert all(frame["src"].startswith("/") for frame in page.find_all("iframe")), name


def test_executed_notebook_keeps_its_sandbox_and_is_frameable_by_our_pages_only(app, ids):
    student = signed_in(app)
    page = BeautifulSoup(
        student.get(f"/submissions/{ids['submission']}").get_data(as_text=True), "html.parser"
    )
    frame = page.select_one("iframe.notebook")
    assert (
        frame.has_attr("sandbox")
        and frame["src"] == f"/submissions/{ids['submission']}/notebook.html"
    )
    response = student.get(frame["src"])
    assert response.status_code == 200 and b"Executed" in response.get_data()
    policy = directives(response)
    assert response.headers["Content-Security-Policy"].startswith("sandbox;")
    assert {
        "default-src 'none'",
        "frame-ancestors 'self'",
    } <= policy and "default-src 'self'" not in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert {key: response.headers.get(key) for key in COMMON} == COMMON


def test_hsts_only_over_https_or_with_secure_cookies(app):
    hsts = "max-age=31536000; includeSubDomains"
    app.config["SESSION_COOKIE_SECURE"] = False  # as `grader serve` on plain http
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers
    assert (
        app.test_client()
        .get("/login", base_url="https://localhost")
        .headers["Strict-Transport-Security"]
        == hsts
    )
    # Secure cookies mean the site is served over https, perhaps by a proxy that ends TLS.
    app.config["SESSION_COOKIE_SECURE"] = True
    assert app.test_client().get("/login").headers["Strict-Transport-Security"] == hsts
