"""Grading a stored run end to end in-process: stored results, idempotence, the pages showing it."""

from __future__ import annotations

import io
import json

import nbformat
import pytest
from conftest import add_mini_assignment, notebook_bytes

from grader.extensions import db
from grader.models import GradingRun, RunStatus
from grader.services.grading.runs import grade_run

# Slow: most tests grade notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow


def upload(client, data: bytes, assignment: str = "lab6") -> dict:
    response = client.post(
        "/api/submissions",
        data={"assignment": assignment, "file": (io.BytesIO(data), "lab.ipynb")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def grade(app, run_id: int):
    with app.app_context():
        return grade_run(run_id, app.config["GRADER"])


@pytest.fixture
def graded(app, client):
    body = upload(
        client, notebook_bytes("x = 6 * 7\nprint(x)", "raise ValueError('bad input')", "x + 1")
    )
    assert grade(app, body["run_id"]) == RunStatus.GRADED
    return body


def test_graded_run_stores_executed_notebook_and_errors(app, client, graded):
    with app.app_context():
        run = db.session.get(GradingRun, graded["run_id"])
        assert run.attempts == 1 and run.started_at and run.finished_at
        assert (run.cells_done, run.cells_total) == (3, 3)
        [error] = run.cell_errors
        assert error["ename"] == "ValueError" and error["cell_index"] == 1
    response = client.get(f"/submissions/{graded['submission_id']}/executed.ipynb")
    executed = nbformat.reads(response.get_data(as_text=True), as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n"
    assert executed.cells[2].outputs[0]["data"]["text/plain"] == "43"


def test_second_delivery_of_a_finished_run_changes_nothing(app, graded):
    assert grade(app, graded["run_id"]) is None
    with app.app_context():
        assert db.session.get(GradingRun, graded["run_id"]).attempts == 1


def test_missing_run_is_ignored(app):
    assert grade(app, 12345) is None


def test_notebook_that_runs_past_its_deadline_is_graded_with_a_note(app, client, tmp_path):
    slug = add_mini_assignment(app, tmp_path / "mini", cell_timeout=1, notebook_timeout=3)
    body = upload(
        client,
        notebook_bytes(
            "import time; time.sleep(1.5)", "time.sleep(1.5)", "time.sleep(1.5)", "print('late')"
        ),
        assignment=slug,
    )
    assert grade(app, body["run_id"]) == RunStatus.GRADED
    status = client.get(f"/api/submissions/{body['submission_id']}").get_json()
    assert "limit" in status["error_message"] or "longer than" in status["error_message"]
    page = client.get(f"/submissions/{body['submission_id']}").get_data(as_text=True)
    assert status["error_message"] in page.replace("&#39;", "'")


def test_mini_solution_is_scored_and_shown_with_plots(app, client, tmp_path):
    from engine.mini_package import SOLUTION_ANSWERS, notebook

    slug = add_mini_assignment(app, tmp_path / "mini")
    body = upload(client, nbformat.writes(notebook(SOLUTION_ANSWERS)).encode(), assignment=slug)
    assert grade(app, body["run_id"]) == RunStatus.GRADED
    status = client.get(f"/api/submissions/{body['submission_id']}").get_json()
    assert (status["score"], status["max_score"], status["manual_pending"]) == (8.0, 8.0, 1.0)
    assert [q["status"] for q in status["questions"]] == ["passed"] * 4 + ["needs_manual_grading"]
    page = client.get(f"/submissions/{body['submission_id']}").get_data(as_text=True)
    assert "Results: 8 / 9 points" in page and "(1 still to be graded by a TA)" in page
    plot = client.get(f"/submissions/{body['submission_id']}/plots/model.png")
    assert plot.status_code == 200 and plot.data.startswith(b"\x89PNG")
    assert client.get(f"/submissions/{body['submission_id']}/plots/answer.png").status_code == 404
    # Grading the same run again changes nothing: one set of results.
    assert grade(app, body["run_id"]) is None
    with app.app_context():
        assert len(db.session.get(GradingRun, body["run_id"]).question_results) == 5


def test_assignment_without_a_rubric_fails_with_a_message(app, client):
    from grader.models import Assignment

    with app.app_context():
        db.session.scalar(db.select(Assignment)).package_sha256 = None
        db.session.commit()
    body = upload(client, notebook_bytes("1"))
    assert grade(app, body["run_id"]) == RunStatus.FAILED
    assert (
        "no rubric yet"
        in client.get(f"/api/submissions/{body['submission_id']}").get_json()["error_message"]
    )


def test_feedback_page_shows_errors_and_the_rendered_notebook(client, graded):
    page = client.get(f"/submissions/{graded['submission_id']}").get_data(as_text=True)
    assert "graded" in page
    assert "Cell #2: ValueError: bad input" in page
    assert 'sandbox title="Executed notebook"' in page
    assert "status.js" not in page  # finished pages stop polling


def test_rendered_notebook_is_served_under_a_sandbox_policy(client, graded):
    response = client.get(f"/submissions/{graded['submission_id']}/notebook.html")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    assert "bad input" in response.get_data(as_text=True)


def test_status_endpoint_reports_progress(client, graded):
    status = client.get(f"/submissions/{graded['submission_id']}/status").get_json()
    assert status == {
        **status,
        "status": "graded",
        "finished": True,
        "progress": {"cells_done": 3, "cells_total": 3},
    }


def test_queued_page_polls_for_status(client):
    body = upload(client, notebook_bytes("1"))
    page = client.get(f"/submissions/{body['submission_id']}").get_data(as_text=True)
    assert "status.js" in page and 'http-equiv="refresh"' in page


@pytest.mark.parametrize(
    "url",
    [
        "/submissions/999",
        "/submissions/999/status",
        "/submissions/999/notebook.html",
        "/submissions/999/executed.ipynb",
        "/api/submissions/999",
    ],
)
def test_unknown_submission_is_404(client, url):
    response = client.get(url)
    assert response.status_code == 404
    if url.startswith("/api/"):
        assert json.loads(response.data)["error"] == "There is no submission 999."


def test_grader_side_crash_marks_the_run_failed_with_a_student_message(app, client, monkeypatch):
    def broken_engine(*args, **kwargs):
        raise RuntimeError("kernel spec missing")

    monkeypatch.setattr("grader.services.grading.runs.grade_notebook", broken_engine)
    body = upload(client, notebook_bytes("1"))
    with pytest.raises(RuntimeError):
        grade(app, body["run_id"])
    status = client.get(f"/api/submissions/{body['submission_id']}").get_json()
    assert status["status"] == "failed"
    assert status["error_message"].startswith("We could not run your notebook")


def test_unsafe_mode_is_labelled_on_the_page(app, client):
    from dataclasses import replace

    app.config["GRADER"] = replace(app.config["GRADER"], sandbox_mode="off")
    body = upload(client, notebook_bytes("1"))
    assert grade(app, body["run_id"]) == RunStatus.GRADED
    assert (
        client.get(f"/api/submissions/{body['submission_id']}")
        .get_json()["sandbox_warning"]
        .startswith("UNSAFE")
    )
    assert "UNSAFE: this notebook ran without a sandbox" in client.get(
        f"/submissions/{body['submission_id']}"
    ).get_data(as_text=True)
