"""Every malformed upload gets a clear error and leaves nothing behind; a good one is stored, then
queued."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace

import pytest
from conftest import REPO, make_app, notebook_bytes, queued_messages, signed_in
from sqlalchemy import func, select

from grader.extensions import db
from grader.models import Assignment, Blob, GradingRun, RunStatus, Submission
from grader.services.notebooks import (
    MAX_CELL_SOURCE_CHARS,
    MAX_CELLS,
    MAX_LINE_CHARS,
    parse_notebook,
)

NB3 = json.dumps(
    {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}
).encode()
MISSING_CELL_TYPE = json.dumps(
    {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [{"id": "a", "source": "1", "metadata": {}}],
    }
).encode()

BAD_NOTEBOOKS = {
    "not json": (b"this is not json {", "not valid JSON"),
    "empty": (b"", "empty"),
    "whitespace only": (b"   \n", "empty"),
    "json list": (b"[1, 2, 3]", "JSON list, not a notebook"),
    "json string": (b'"hello"', "JSON str, not a notebook"),
    "nbformat 3": (NB3, "version is 3"),
    "no nbformat key": (b'{"cells": []}', "version is None"),
    "binary": (bytes(range(256)) * 4, "not text"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "nested in metadata": (
        b'{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"x": '
        + b"[" * 5_000
        + b"]" * 5_000
        + b"}}",
        "nested too deeply",
    ),
    "missing cell_type": (MISSING_CELL_TYPE, "does not match the Jupyter format at cells/0"),
    "cells not objects": (
        b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [1]}',
        "does not match the Jupyter format",
    ),
}


def stored_counts(app) -> tuple[int, int, int]:
    """Submissions, runs and blobs stored, without the blobs of the demo's assignment package."""
    with app.app_context():
        package_blobs = db.session.scalar(select(func.count(Assignment.package_sha256.distinct())))
        submissions, runs, blobs = (
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Submission, GradingRun, Blob)
        )
        return submissions, runs, blobs - package_blobs


def post(client, data: bytes, *, api: bool, filename: str = "lab.ipynb", assignment: str = "lab6"):
    url = "/api/submissions" if api else "/submissions"
    form = {"assignment": assignment, "file": (io.BytesIO(data), filename)}
    return client.post(url, data=form, content_type="multipart/form-data")


@pytest.mark.parametrize("api", [True, False], ids=["api", "form"])
@pytest.mark.parametrize("case", BAD_NOTEBOOKS, ids=list(BAD_NOTEBOOKS))
def test_bad_notebook_is_rejected_and_nothing_is_stored(app, client, settings, case, api):
    data, expected = BAD_NOTEBOOKS[case]
    response = post(client, data, api=api)
    assert response.status_code == 400
    if api:
        assert expected in response.get_json()["error"]
    else:
        assert response.mimetype == "text/html"
        assert expected in response.get_data(as_text=True)
    assert stored_counts(app) == (0, 0, 0)
    assert queued_messages(settings) == []


@pytest.mark.parametrize("api", [True, False], ids=["api", "form"])
def test_file_over_the_cap_gets_413_with_the_limit(settings, api):
    app = make_app(replace(settings, max_upload_bytes=2_000))
    big = notebook_bytes("x = 1\n" + "# padding\n" * 400)
    response = post(signed_in(app), big, api=api)
    assert response.status_code == 413
    assert "the limit is 2.0 kB" in response.get_data(as_text=True)
    assert stored_counts(app) == (0, 0, 0)


@pytest.mark.parametrize("api", [True, False], ids=["api", "form"])
def test_request_body_far_over_the_cap_is_refused_before_reading(settings, api):
    app = make_app(replace(settings, max_upload_bytes=2_000))
    response = post(signed_in(app), b"x" * 200_000, api=api)
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert "larger than the 2.0 kB limit" in body
    assert (response.mimetype == "application/json") == api
    assert stored_counts(app) == (0, 0, 0)


OVERSIZED_SOURCES = {
    "too many cells": (
        lambda: notebook_bytes(*["x"] * (MAX_CELLS + 1)),
        f"has {MAX_CELLS + 1:,} cells; the limit is {MAX_CELLS:,} cells",
    ),
    "too long a line": (
        lambda: notebook_bytes("x = 1", "s = '" + "a" * MAX_LINE_CHARS + "'"),
        f"Cell #2 has a line of {MAX_LINE_CHARS + 6:,} characters; the limit is "
        f"{MAX_LINE_CHARS:,} characters per line",
    ),
    "too large a cell": (
        lambda: notebook_bytes("# padding\n" * (MAX_CELL_SOURCE_CHARS // 10 + 1)),
        f"the limit is {MAX_CELL_SOURCE_CHARS:,} characters per cell",
    ),
}


@pytest.mark.parametrize("case", OVERSIZED_SOURCES, ids=list(OVERSIZED_SOURCES))
def test_oversized_sources_get_400_naming_the_limit(settings, case):
    make, expected = OVERSIZED_SOURCES[case]
    app = make_app(replace(settings, max_upload_bytes=20_000_000))
    response = post(signed_in(app), make(), api=True)
    assert response.status_code == 400
    assert expected in response.get_json()["error"]
    assert stored_counts(app) == (0, 0, 0)


def test_the_lab6_solution_is_within_every_source_limit(settings):
    solution = (REPO / "fixtures" / "lab6" / "solution.ipynb").read_bytes()
    assert len(parse_notebook(solution, settings.max_upload_bytes).cells) > 50


def test_missing_file_field(app, client):
    response = client.post(
        "/api/submissions", data={"assignment": "lab6"}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "field 'file'" in response.get_json()["error"]
    assert stored_counts(app) == (0, 0, 0)


def test_wrong_extension(app, client):
    response = post(client, notebook_bytes("1"), api=True, filename="lab.py")
    assert response.status_code == 400
    assert ".ipynb" in response.get_json()["error"]
    assert stored_counts(app) == (0, 0, 0)


@pytest.mark.parametrize("assignment, status", [("", 400), ("no-such-lab", 404), ("999", 404)])
def test_unknown_assignment(app, client, assignment, status):
    response = post(client, notebook_bytes("1"), api=True, assignment=assignment)
    assert response.status_code == status
    assert "assignment" in response.get_json()["error"]
    assert stored_counts(app) == (0, 0, 0)


def test_hostile_filename_is_kept_as_text_only(app, client):
    name = "../../etc/<script>alert(1)</script>" + "a" * 400 + ".ipynb"
    response = post(client, notebook_bytes("1"), api=True, filename=name)
    assert response.status_code == 201
    page = client.get(response.get_json()["url"]).get_data(as_text=True)
    assert "<script>alert(1)" not in page
    with app.app_context():
        stored = db.session.scalar(select(Submission.original_filename))
    assert len(stored) <= 255 and stored.endswith(".ipynb")


def test_good_upload_is_committed_then_enqueued_by_id(app, client, settings):
    response = post(client, notebook_bytes("print('hi')"), api=True)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "queued" and body["url"].endswith(
        f"/submissions/{body['submission_id']}"
    )
    assert stored_counts(app) == (1, 1, 1)
    with app.app_context():
        run = db.session.get(GradingRun, body["run_id"])
        assert run.status == RunStatus.QUEUED and run.attempts == 0
    [message] = queued_messages(settings)
    envelope = json.loads(message.read_text())
    args, _kwargs, _options = json.loads(base64.b64decode(envelope["body"]))
    assert envelope["headers"]["task"] == "grader.grade_submission"
    assert args == [body["run_id"]]
    assert envelope["properties"]["delivery_info"]["routing_key"] == settings.queue_name


def test_embedded_broker_keeps_all_its_files_in_the_instance_folder(
    app, client, settings, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert post(client, notebook_bytes("1"), api=True).status_code == 201
    assert not (tmp_path / "control").exists()
    assert list((settings.filesystem_broker_dir / "control").glob("*.exchange"))


def test_form_upload_redirects_to_the_submission_page(app, client):
    response = post(client, notebook_bytes("1"), api=False)
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "queued" in page.get_data(as_text=True)


def test_same_notebook_twice_makes_two_submissions_sharing_one_blob(app, client):
    data = notebook_bytes("1")
    assert post(client, data, api=True).status_code == 201
    assert post(client, data, api=True).status_code == 201
    assert stored_counts(app) == (2, 2, 1)
