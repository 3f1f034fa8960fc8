"""Identical work is done once: an upload identical to a notebook graded before takes its result,
recorded as such, without being queued or run; a re-grade, a rubric change or a timed-out result
never lends or takes one. Notebooks run in the unsafe local mode (no sandbox, no root needed)."""

from __future__ import annotations

import io
from dataclasses import replace

import nbformat
import pytest
from conftest import add_mini_assignment, queued_messages, signed_in
from engine.mini_package import SOLUTION_ANSWERS, notebook
from nbformat import v4

from grader.engine.reuse import notebook_fingerprint
from grader.extensions import db
from grader.models import Course, GradingRun, Role, RunStatus
from grader.services.demo import DEMO_PASSWORD
from grader.services.grading.runs import grade_run
from grader.services.people.accounts import create_user, enroll

OTHER_STUDENT = "second@example.edu"
REUSED_NOTE = "Identical to a notebook graded earlier"


@pytest.fixture
def settings(settings):
    return replace(settings, sandbox_mode="off")


@pytest.fixture
def mini(app, tmp_path) -> str:
    return add_mini_assignment(app, tmp_path / "mini")


def solution(**changes) -> nbformat.NotebookNode:
    return notebook({**SOLUTION_ANSWERS, **changes})


def upload(client, nb: nbformat.NotebookNode, assignment: str) -> dict:
    response = client.post(
        "/api/submissions",
        data={
            "assignment": assignment,
            "file": (io.BytesIO(nbformat.writes(nb).encode()), "lab.ipynb"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def grade(app, run_id: int) -> RunStatus | None:
    with app.app_context():
        return grade_run(run_id, app.config["GRADER"])


def run_of(app, run_id: int) -> GradingRun:
    with app.app_context():
        run = db.session.get(GradingRun, run_id)
        db.session.expunge(run)
        return run


def question_results(app, run_id: int) -> list[tuple]:
    with app.app_context():
        return [
            (result.question_key, result.auto_score, result.status, result.message)
            for result in db.session.get(GradingRun, run_id).question_results
        ]


def graded_upload(app, client, nb, assignment: str) -> dict:
    body = upload(client, nb, assignment)
    assert grade(app, body["run_id"]) == RunStatus.GRADED
    return body


def with_outputs_and_metadata(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The same notebook as a student's editor saves it after running it: outputs, counts, ids and
    metadata all differ, the sources do not."""
    changed = nbformat.from_dict(nb)
    changed.metadata["colab"] = {"provenance": []}
    for number, cell in enumerate(changed.cells):
        cell.id = f"edited-{number}"
        cell.metadata["collapsed"] = True
        if cell.cell_type == "code":
            cell.execution_count = number
            cell.outputs = [v4.new_output("stream", name="stdout", text="old output\n")]
    return changed


def test_only_sources_and_cell_types_make_the_fingerprint():
    original = solution()
    assert notebook_fingerprint(with_outputs_and_metadata(original)) == notebook_fingerprint(
        original
    )
    one_code_character = solution(**{"Question 3": "answer = 6 * 8"})
    written_answer = solution(**{"Question 5": SOLUTION_ANSWERS["Question 5"] + "!"})
    code_as_markdown = nbformat.from_dict(original)
    code_as_markdown.cells[1] = v4.new_markdown_cell(original.cells[1].source)
    fingerprints = {
        notebook_fingerprint(nb)
        for nb in (original, one_code_character, written_answer, code_as_markdown)
    }
    assert len(fingerprints) == 4


def test_identical_reupload_is_answered_at_upload_without_running(app, client, settings, mini):
    first = graded_upload(app, client, solution(), mini)
    ta = signed_in(app, "ta@example.edu")
    given = ta.post(
        f"/api/submissions/{first['submission_id']}/questions/explain/score",
        json={"score": 2, "reason": "Clear."},
    )
    assert given.status_code == 200
    messages = len(queued_messages(settings))

    second = upload(client, with_outputs_and_metadata(solution()), mini)

    assert second["status"] == "graded"
    assert len(queued_messages(settings)) == messages  # nothing was enqueued
    run, source = run_of(app, second["run_id"]), run_of(app, first["run_id"])
    assert run.reused_from_id == source.id and run.status == RunStatus.GRADED
    # No worker took it and no kernel ran it.
    assert (run.attempts, run.started_at, run.worker) == (0, None, None)
    assert run.execution_seconds is None and run.scoring_seconds is None
    assert run.finished_at is not None
    assert (run.executed_sha256, run.score) == (source.executed_sha256, source.score)
    status = client.get(f"/api/submissions/{second['submission_id']}").get_json()
    assert status["reused_from"] == {"submission_id": first["submission_id"]}
    assert [q["status"] for q in status["questions"]] == ["passed"] * 4 + ["needs_manual_grading"]
    # The TA's score was for the first submission's written answer; this one waits for a TA.
    explain = status["questions"][-1]
    assert explain["manual_score"] is None and status["awaiting_ta"] == 1.0
    assert client.get(f"/submissions/{second['submission_id']}/plots/model.png").data.startswith(
        b"\x89PNG"
    )
    page = client.get(f"/submissions/{second['submission_id']}").get_data(as_text=True)
    assert f"{REUSED_NOTE}\n  (<a" in page and f"your submission #{first['submission_id']}" in page
    assert "nothing was run again" in page


def test_worker_reuses_a_result_graded_while_the_upload_waited(app, client, settings, mini):
    first, second = upload(client, solution(), mini), upload(client, solution(), mini)
    assert second["status"] == "queued"  # nothing was graded yet
    assert grade(app, first["run_id"]) == RunStatus.GRADED

    assert grade(app, second["run_id"]) == RunStatus.GRADED

    run = run_of(app, second["run_id"])
    assert run.reused_from_id == first["run_id"]
    assert run.attempts == 1 and run.execution_seconds is None
    copied = question_results(app, second["run_id"])
    assert copied == question_results(app, first["run_id"]) and len(copied) == 5


def test_a_regrade_grades_again(app, client, mini):
    first = graded_upload(app, client, solution(), mini)
    second = upload(client, solution(), mini)
    assert second["status"] == "graded"
    ta = signed_in(app, "ta@example.edu")
    regrade = ta.post(f"/api/submissions/{second['submission_id']}/regrade").get_json()

    assert grade(app, regrade["run_id"]) == RunStatus.GRADED

    run = run_of(app, regrade["run_id"])
    assert run.reused_from_id is None and run.attempts == 1
    assert run.package_sha256 == run_of(app, first["run_id"]).package_sha256


def test_after_a_rubric_change_nothing_is_reused(app, client, settings, mini, tmp_path):
    graded_upload(app, client, solution(), mini)
    add_mini_assignment(app, tmp_path / "changed", cell_timeout=19)  # a new package
    messages = len(queued_messages(settings))

    again = upload(client, solution(), mini)

    assert again["status"] == "queued"
    assert len(queued_messages(settings)) == messages + 1
    assert run_of(app, again["run_id"]).reused_from_id is None


def test_a_result_that_depended_on_time_is_not_reused(app, client, tmp_path):
    slug = add_mini_assignment(app, tmp_path / "slow", cell_timeout=1)
    slow = solution(**{"Question 3": "import time; time.sleep(3)\nanswer = 42"})
    first = graded_upload(app, client, slow, slug)
    assert run_of(app, first["run_id"]).reusable is False

    again = upload(client, slow, slug)

    assert again["status"] == "queued"
    assert grade(app, again["run_id"]) == RunStatus.GRADED
    assert run_of(app, again["run_id"]).reused_from_id is None


def test_reuse_can_be_turned_off(app, client, mini):
    graded_upload(app, client, solution(), mini)
    app.config["GRADER"] = replace(app.config["GRADER"], reuse_identical=False)

    again = upload(client, solution(), mini)

    assert again["status"] == "queued"
    assert grade(app, again["run_id"]) == RunStatus.GRADED
    assert run_of(app, again["run_id"]).reused_from_id is None


def test_another_students_identical_notebook_reuses_without_naming_them(app, client, mini):
    first = graded_upload(app, client, solution(), mini)
    with app.app_context():
        enroll(
            create_user(OTHER_STUDENT, "Other", DEMO_PASSWORD),
            db.session.scalar(db.select(Course)),
            Role.STUDENT,
        )
        db.session.commit()
    other = signed_in(app, OTHER_STUDENT)

    copied = upload(other, solution(), mini)

    assert copied["status"] == "graded"
    status = other.get(f"/api/submissions/{copied['submission_id']}").get_json()
    assert status["reused_from"] == {"submission_id": None}
    page = other.get(f"/submissions/{copied['submission_id']}").get_data(as_text=True)
    assert f"{REUSED_NOTE}:" in page and "your submission" not in page
    assert "student@example.edu" not in page and "Demo Student" not in page
    assert f'/submissions/{first["submission_id"]}"' not in page
    # Staff see whose result it was: a copy signal.
    ta = signed_in(app, "ta@example.edu")
    staff_status = ta.get(f"/api/submissions/{copied['submission_id']}").get_json()
    assert staff_status["reused_from"] == {
        "submission_id": first["submission_id"],
        "run_id": first["run_id"],
        "run_number": 1,
        "student_email": "student@example.edu",
        "same_student": False,
    }
    staff_page = ta.get(f"/submissions/{copied['submission_id']}").get_data(as_text=True)
    assert f"submission #{first['submission_id']}</a>" in staff_page
    assert "(student@example.edu, another student)" in staff_page


def test_a_changed_written_answer_runs_again_but_trains_no_model_again(app, client, mini):
    graded_upload(app, client, solution(), mini)
    rewritten = solution(**{"Question 5": SOLUTION_ANSWERS["Question 5"] + " Also, noise."})

    again = upload(client, rewritten, mini)
    assert again["status"] == "queued"
    assert grade(app, again["run_id"]) == RunStatus.GRADED

    run = run_of(app, again["run_id"])
    assert run.reused_from_id is None and run.execution_seconds is not None
    assert run.models_from_cache == ["model"]
    status = client.get(f"/api/submissions/{again['submission_id']}").get_json()
    assert status["models_reused"] == ["A model that fits"] and status["reused_from"] is None
    page = client.get(f"/submissions/{again['submission_id']}").get_data(as_text=True)
    assert "Model for “A model that fits”: the same as one trained before" in page
    assert REUSED_NOTE not in page
