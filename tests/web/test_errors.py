"""Services' errors become HTTP answers in one place: a page for people, JSON under /api."""

from __future__ import annotations

import pytest
from flask import Blueprint

from grader.services.errors import (
    AttemptsUsed,
    AuthoringError,
    BadFilter,
    DomainError,
    Forbidden,
    Invalid,
    NotebookRejected,
    NotebookTooLarge,
    NotFound,
    ScoreRejected,
)
from grader.web.errors import FRIENDLY

RAISED = {
    "not-found": NotFound("There is no submission 7."),
    "forbidden": Forbidden("only TAs and instructors of the course can grade"),
    "invalid": Invalid("the score must be a number"),
    "score": ScoreRejected("give a reason; students and other TAs see it"),
    "authoring": AuthoringError("Slug: use 1–64 lower-case letters"),
    "filter": BadFilter("unknown status 'sleeping'"),
    "notebook": NotebookRejected("The file is empty."),
    "too-large": NotebookTooLarge("The file is 2.0 MB; the limit is 1.0 MB."),
    "attempts": AttemptsUsed("You have used all 3 attempts for Lab 6."),
}
STATUS = {
    "not-found": 404,
    "forbidden": 403,
    "invalid": 400,
    "score": 400,
    "authoring": 400,
    "filter": 400,
    "notebook": 400,
    "too-large": 413,
    "attempts": 403,
}


@pytest.fixture
def raising(app):
    """The app with routes that raise each error, as a page and under /api."""
    bp = Blueprint("raising", __name__)

    def fail(kind: str):
        raise RAISED[kind]

    bp.add_url_rule("/raise/<kind>", view_func=fail)
    bp.add_url_rule("/api/raise/<kind>", endpoint="api_fail", view_func=fail)
    app.register_blueprint(bp)
    return app.test_client()


@pytest.mark.parametrize("kind", RAISED)
def test_each_error_answers_json_under_the_api(raising, kind):
    response = raising.get(f"/api/raise/{kind}")
    assert response.status_code == STATUS[kind]
    assert response.get_json() == {"error": str(RAISED[kind])}


@pytest.mark.parametrize("kind", RAISED)
def test_each_error_answers_a_page_elsewhere(raising, kind):
    response = raising.get(f"/raise/{kind}")
    assert response.status_code == STATUS[kind] and response.mimetype == "text/html"
    page = response.get_data(as_text=True).replace("&#39;", "'")
    # A missing page reads the same whatever is missing; other refusals say why.
    expected = FRIENDLY[404] if kind == "not-found" else str(RAISED[kind])
    assert f"<h1>{STATUS[kind]}</h1>" in page and expected in page


def test_every_domain_error_has_a_status():
    assert set(RAISED) == set(STATUS)
    assert all(isinstance(error, DomainError) for error in RAISED.values())


def test_real_routes_use_the_handlers(app, client):
    page = client.get("/submissions/999")
    assert page.status_code == 404 and FRIENDLY[404] in page.get_data(as_text=True)
    assert client.get("/api/submissions/999").get_json() == {"error": "There is no submission 999."}
    # Someone else's assignment: the staff pages are not found, not forbidden.
    assert client.get("/assignments/1/dashboard").status_code == 404
