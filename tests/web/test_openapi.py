"""The OpenAPI description at /api/openapi.json is served, covers every /api route truthfully, and a
property-based run of schemathesis finds no 5xx and no response that the description does not
allow."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
import schemathesis
from conftest import notebook_bytes, token_for
from hypothesis import HealthCheck, settings

from grader.engine.execute import CellError
from grader.engine.report import STATUSES
from grader.models import RunStatus
from grader.services.submissions.feedback import QuestionView
from grader.web.openapi import openapi_document
from web.test_api_bad_input import seed_graded_submission

# Bounded and the same on every run, so CI is neither slow nor flaky.
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261202,
        "base-url": "http://localhost",
        "generation": {"mode": "all", "max-examples": 30, "deterministic": True},
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            "negative_data_rejection": {"enabled": True},
            "ignored_auth": {"enabled": True},
        },
    }
)


def document(app) -> dict:
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def component(doc: dict, name: str) -> dict:
    return doc["components"]["schemas"][name]


def test_the_description_is_public_and_says_how_to_authenticate(app):
    doc = document(app)
    assert doc["openapi"].startswith("3.0")
    bearer = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert "grader tokens create" in bearer["description"]
    assert doc["security"] == [{"bearerAuth": []}]
    schemathesis.openapi.from_dict(doc).validate()


def test_the_served_description_is_the_data_file(app):
    assert document(app) == openapi_document()


def test_the_description_covers_exactly_the_routes_of_the_api(app):
    routes = {
        (re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, item in document(app)["paths"].items() for method in item}
    assert described == routes


def test_every_error_is_described_as_a_json_error(app):
    doc = document(app)
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            errors = {
                code: answer for code, answer in operation["responses"].items() if code >= "400"
            }
            assert path == "/api/openapi.json" or {"401", "503"} <= set(errors), (method, path)
            for answer in errors.values():
                name = answer["$ref"].rsplit("/", 1)[-1]
                body = doc["components"]["responses"][name]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/Error"}
    assert component(doc, "Error") == {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {"error": {"type": "string"}},
    }


def test_the_description_names_what_the_code_sends(app):
    doc = document(app)
    question, submission = component(doc, "Question"), component(doc, "Submission")
    assert question["properties"]["status"]["enum"] == list(STATUSES)
    assert submission["properties"]["status"]["enum"] == [status.value for status in RunStatus]
    cell_error = component(doc, "CellError")["properties"]
    assert set(cell_error) == {field.name for field in dataclasses.fields(CellError)}
    view = QuestionView(
        key="k",
        title="t",
        score=0,
        max_score=1,
        manual_points=0,
        status="passed",
        message="",
        answer_source="",
        traceback=None,
        has_plot=False,
    )
    assert set(question["required"]) == set(question["properties"]) == set(view.to_dict())


def test_an_accepted_upload_answers_as_described(app):
    # Schemathesis names a file part after its field ("file"), which is no .ipynb: its uploads end
    # in 400.
    operation = schemathesis.openapi.from_wsgi("/api/openapi.json", app)["/api/submissions"]["POST"]
    response = app.test_client().post(
        "/api/submissions",
        headers=token_for(app),
        data={"assignment": "lab6", "file": (io.BytesIO(notebook_bytes("x = 1")), "lab6.ipynb")},
    )
    assert response.status_code == 201
    operation.validate_response(response)


# The document the app serves (test_the_served_description_is_the_data_file checks they are the
# same).
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)


@pytest.fixture
def tokens(app) -> dict[str, dict[str, str]]:
    """Authorization headers of the demo student and TA; submission 1 exists, as in the examples."""
    seed_graded_submission(app)
    return {role: token_for(app, f"{role}@example.edu") for role in ("student", "ta")}


def call_and_validate(app, case, headers: dict[str, str]) -> None:
    # parametrize() runs on a copy of the module's schema, made before this test's app existed.
    case.operation.schema.app = case.operation.app = app
    case.call_and_validate(headers=headers)


@schema.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_a_student_as_described(app, tokens, case):
    call_and_validate(app, case, tokens["student"])


@schema.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_a_ta_as_described(app, tokens, case):
    call_and_validate(app, case, tokens["ta"])
