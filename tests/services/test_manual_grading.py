"""Manual scores: staff only, bounded, audited, shown to the student, never erased by a re-grade."""

from __future__ import annotations

import nbformat
import pytest
from conftest import add_mini_assignment, signed_in
from engine.mini_package import SOLUTION_ANSWERS, notebook

from grader.extensions import db
from grader.models import GradingRun, RunStatus
from grader.services.grading.runs import grade_run
from grader.services.staff.manual_grading import score_history
from services.test_grading_run import grade, upload

# Slow: grades notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow


def graded_mini_submission(app, client, tmp_path) -> int:
    slug = add_mini_assignment(app, tmp_path / "mini")
    body = upload(client, nbformat.writes(notebook(SOLUTION_ANSWERS)).encode(), assignment=slug)
    assert grade(app, body["run_id"]) == RunStatus.GRADED
    return body["submission_id"]


def give(client, submission_id: int, key: str, **body):
    return client.post(f"/api/submissions/{submission_id}/questions/{key}/score", json=body)


def test_ta_grades_a_free_response_and_the_student_sees_it(app, client, tmp_path):
    submission_id = graded_mini_submission(app, client, tmp_path)
    ta = signed_in(app, "ta@example.edu")
    response = give(ta, submission_id, "explain", score=2, reason="Clear and correct.")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["final_score"], body["points"], body["awaiting_ta"]) == (9.0, 9.0, 0.0)
    page = client.get(f"/submissions/{submission_id}").get_data(as_text=True)
    assert "Results: 9 / 9 points" in page and "Graded by a TA: Clear and correct." in page
    # The student sees what the TA graded: their own written answer.
    assert "Your written answer" in page and "we measure the distance to its middle" in page


def test_override_is_bounded_needs_a_reason_and_is_audited(app, client, tmp_path):
    submission_id = graded_mini_submission(app, client, tmp_path)
    ta = signed_in(app, "ta@example.edu")
    assert give(ta, submission_id, "model", score=4, reason="too much").status_code == 400
    assert (
        "between 0 and 3"
        in give(ta, submission_id, "model", score=4, reason="x").get_json()["error"]
    )
    assert (
        "give a reason" in give(ta, submission_id, "model", score=1, reason=" ").get_json()["error"]
    )
    assert give(ta, submission_id, "model", score="lots", reason="x").status_code == 400
    assert give(ta, submission_id, "nope", score=1, reason="x").status_code == 404
    assert (
        give(ta, submission_id, "model", score=1.5, reason="Copied from a classmate.").status_code
        == 200
    )
    assert (
        give(ta, submission_id, "model", score=2, reason="Partly original after all.").status_code
        == 200
    )
    with app.app_context():
        history = [(c.old_score, c.new_score, c.reason) for c in score_history(submission_id)]
    assert history == [
        (3.0, 1.5, "Copied from a classmate."),
        (1.5, 2.0, "Partly original after all."),
    ]


def test_students_cannot_grade_or_regrade(app, client, tmp_path):
    submission_id = graded_mini_submission(app, client, tmp_path)
    assert give(client, submission_id, "explain", score=2, reason="I deserve it").status_code == 403
    assert client.post(f"/api/submissions/{submission_id}/regrade").status_code == 403


def test_a_regrade_keeps_manual_scores(app, client, tmp_path):
    submission_id = graded_mini_submission(app, client, tmp_path)
    ta = signed_in(app, "ta@example.edu")
    give(ta, submission_id, "model", score=1, reason="Hard-coded predictions.")
    regrade = ta.post(f"/api/submissions/{submission_id}/regrade")
    assert regrade.status_code == 202
    run_id = regrade.get_json()["run_id"]
    with app.app_context():
        assert grade_run(run_id, app.config["GRADER"]) == RunStatus.GRADED
        assert db.session.get(GradingRun, run_id).number == 2
    body = client.get(f"/api/submissions/{submission_id}").get_json()
    assert body["run_id"] == run_id
    model = next(q for q in body["questions"] if q["key"] == "model")
    assert (model["score"], model["manual_score"], model["final_score"]) == (3.0, 1.0, 1.0)


def test_gradebook_shows_manual_and_automatic_scores_to_staff_only(app, client, tmp_path):
    import csv
    import io

    submission_id = graded_mini_submission(app, client, tmp_path)
    ta = signed_in(app, "ta@example.edu")
    give(ta, submission_id, "explain", score=1.5, reason="Half right.")
    with app.app_context():
        from grader.models import Assignment

        assignment_id = db.session.scalar(db.select(Assignment.id).where(Assignment.slug == "mini"))
    response = ta.get(f"/assignments/{assignment_id}/gradebook.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["email"] for row in rows] == ["student@example.edu"]
    assert (rows[0]["model"], rows[0]["explain"], rows[0]["total"]) == ("3", "1.5", "8.5")
    assert (rows[0]["late"], rows[0]["days_late"], rows[0]["total_after_penalty"]) == (
        "no",
        "0",
        "8.5",
    )
    assert client.get(f"/assignments/{assignment_id}/gradebook.csv").status_code == 404
