"""CSRF, with it on as in production: every page's posting form carries a token, and every form
route refuses a post without one."""

from __future__ import annotations

import io
import re

import pytest
from bs4 import BeautifulSoup
from conftest import make_app, notebook_bytes, token_for
from flask import url_for

from grader.extensions import db
from grader.models import Assignment
from grader.services.demo import DEMO_PASSWORD

STUDENT, TA, INSTRUCTOR = "student@example.edu", "ta@example.edu", "instructor@example.edu"


@pytest.fixture
def app(settings):
    app = make_app(settings)
    app.config["WTF_CSRF_ENABLED"] = True  # as in production
    yield app
    with app.app_context():
        db.engine.dispose()


def signed_in(app, email: str):
    """A client signed in through the form, token and all, as a browser would."""
    client = app.test_client()
    token = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)
    )
    response = client.post(
        "/login", data={"csrf_token": token.group(1), "email": email, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
    return client


@pytest.fixture
def ids(app) -> dict[str, int]:
    """The demo assignment and a submission of the student's (queued: enough for staff tools)."""
    response = app.test_client().post(
        "/api/submissions",
        headers=token_for(app, STUDENT),
        data={"assignment": "lab6", "file": (io.BytesIO(notebook_bytes("x = 1")), "lab.ipynb")},
    )
    with app.app_context():
        lab6 = db.session.scalar(db.select(Assignment.id).where(Assignment.slug == "lab6"))
    return {
        "assignment_id": lab6,
        "submission_id": response.get_json()["submission_id"],
        "course_id": 1,
    }


# The LMS posts its logins and launches cross-site, and the deep-linking pick carries a signed token
# of its own: the platform's signature and single-use state protect them (tests/lti).
LTI_POSTS = {"lti.login", "lti.launch", "lti.deep_link"}


def form_routes(app) -> list[str]:
    """The endpoints that take a posted form: all but the API, which takes bearer tokens instead,
    and the LMS's."""
    posting = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert {e for e in posting if e.startswith("lti.")} == LTI_POSTS
    return sorted(e for e in posting - LTI_POSTS if not e.startswith("api."))


def test_every_form_route_refuses_a_post_without_a_token(app, ids):
    instructor = signed_in(app, INSTRUCTOR)
    values = {**ids, "question_key": "q1"}
    with app.test_request_context():
        urls = {endpoint: url_for(endpoint, **values) for endpoint in form_routes(app)}
    assert "auth.logout" in urls and "instructor.rubric" in urls
    for endpoint, url in urls.items():
        response = instructor.post(
            url, data={"email": INSTRUCTOR, "password": DEMO_PASSWORD, "title": "x"}
        )
        assert response.status_code == 400, endpoint
        assert "The CSRF token is missing." in response.get_data(as_text=True), endpoint
    # Nothing happened: not even the sign-out.
    assert instructor.get("/").status_code == 200


def test_every_posting_form_on_the_pages_carries_a_token(app, ids):
    assignment, submission = ids["assignment_id"], ids["submission_id"]
    pages = {
        STUDENT: ["/", f"/submissions/{submission}", "/account/password"],
        TA: [
            f"/submissions/{submission}",
            f"/assignments/{assignment}/dashboard",
            f"/assignments/{assignment}/grading",
        ],
        INSTRUCTOR: [
            "/courses/1/assignments",
            "/courses/1/assignments/new",
            f"/assignments/{assignment}/settings",
            f"/assignments/{assignment}/rubric",
        ],
    }
    posting = 0
    for email, urls in pages.items():
        client = signed_in(app, email)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            for form in BeautifulSoup(response.get_data(as_text=True), "html.parser").select(
                'form[method="post"]'
            ):
                assert form.select_one('input[name="csrf_token"][value]'), (url, form.get("action"))
                posting += 1
    # Sign-out on every page, upload, password, re-grade (submission and all), new assignment,
    # settings, validate, rubric editor and import.
    assert posting >= 20
