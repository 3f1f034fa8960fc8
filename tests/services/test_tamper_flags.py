"""Tamper flags: recorded with the run, shown to course staff, hidden from students, not scored."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from conftest import add_mini_assignment, make_app, signed_in
from engine.mini_package import SOLUTION_ANSWERS, notebook
from nbformat import v4
from web.test_staff_pages import STUDENT, TA, add_person, app_on_copy, class_settings, soup

from grader.extensions import db
from grader.models import Assignment, GradingRun, Role, RunStatus, Submission, User
from services.test_grading_run import grade, upload

# Slow: grades a class in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

# The student's notebook is the mini solution plus a section that rebinds two library functions; the
# grader's runtime in the kernel reports them, and nothing else differs from Amy's honest notebook.
TAMPERING = (
    "import numpy, sklearn.base\n"
    "numpy.mean = lambda *a, **k: 1.0\n"
    "sklearn.base.clone = lambda e, **k: e"
)
FLAGS = ["numpy.mean", "sklearn.base.clone"]
HONEST = "amy@example.edu"


@pytest.fixture(scope="module")
def flagged_database(tmp_path_factory) -> Path:
    """The same answers graded twice: the demo student's notebook also tampered, Amy's did not."""
    root = tmp_path_factory.mktemp("tamper")
    app = make_app(class_settings(root / "instance"))
    add_mini_assignment(app, root / "mini")
    add_person(app, HONEST, "Amy Adams", Role.STUDENT)
    tampering = notebook(SOLUTION_ANSWERS)
    tampering.cells += [v4.new_markdown_cell("## My experiments"), v4.new_code_cell(TAMPERING)]
    for email, answers in ((STUDENT, tampering), (HONEST, notebook(SOLUTION_ANSWERS))):
        body = upload(signed_in(app, email), nbformat.writes(answers).encode(), assignment="mini")
        assert grade(app, body["run_id"]) == RunStatus.GRADED
    with app.app_context():
        db.engine.dispose()
    return root / "instance" / "grader.sqlite"


@pytest.fixture
def course_app(flagged_database, settings):
    with app_on_copy(flagged_database, settings) as app:
        yield app


@pytest.fixture
def ids(course_app) -> dict[str, int]:
    """Each student's submission id, by e-mail."""
    with course_app.app_context():
        return dict(
            db.session.execute(db.select(User.email, Submission.id).join(Submission.student)).all()
        )


def test_the_run_stores_the_flags_and_the_same_score_as_an_honest_run(course_app, ids):
    with course_app.app_context():
        runs = {
            email: db.session.scalar(
                db.select(GradingRun).where(GradingRun.submission_id == ids[email])
            )
            for email in (STUDENT, HONEST)
        }
        assert set(FLAGS) <= set(runs[STUDENT].tamper) and runs[HONEST].tamper == []
        assert runs[STUDENT].score == runs[HONEST].score == 8.0
        assert [
            (r.question_key, r.auto_score, r.status) for r in runs[STUDENT].question_results
        ] == [(r.question_key, r.auto_score, r.status) for r in runs[HONEST].question_results]


def test_staff_see_a_note_listing_every_entry(course_app, ids):
    page = soup(signed_in(course_app, TA).get(f"/submissions/{ids[STUDENT]}"))
    note = page.select_one("#tamper")
    assert note.h2.get_text(strip=True).endswith("Tampering detected")
    assert set(FLAGS) <= {li.get_text() for li in note.select("li")}
    assert "Scores do not depend on this: the notebook was graded as usual" in " ".join(
        note.get_text().split()
    )
    assert (
        page.select_one("#results h2").get_text(" ", strip=True).startswith("Results: 8 / 9 points")
    )


def test_a_run_without_flags_shows_no_note(course_app, ids):
    ta = signed_in(course_app, TA)
    html = ta.get(f"/submissions/{ids[HONEST]}").get_data(as_text=True)
    assert no_trace(html)
    assert ta.get(f"/api/submissions/{ids[HONEST]}").get_json()["tamper"] == []
    assert set(FLAGS) <= set(ta.get(f"/api/submissions/{ids[STUDENT]}").get_json()["tamper"])


def test_the_student_sees_no_difference_on_the_page_or_in_json(course_app, ids):
    student = signed_in(course_app, STUDENT)
    assert no_trace(student.get(f"/submissions/{ids[STUDENT]}").get_data(as_text=True))
    status = student.get(f"/submissions/{ids[STUDENT]}/status").get_json()
    assert status == {**status, "status": "graded"} and no_trace(json.dumps(status))
    flagged = student.get(f"/api/submissions/{ids[STUDENT]}").get_json()
    honest = signed_in(course_app, HONEST).get(f"/api/submissions/{ids[HONEST]}").get_json()
    assert without_ids(flagged) == without_ids(honest)
    assert flagged["final_score"] == 8.0 and no_trace(json.dumps(flagged))


def test_the_dashboard_marks_the_flagged_row_with_a_link(course_app, ids):
    with course_app.app_context():
        mini_id = db.session.scalar(db.select(Assignment.id).where(Assignment.slug == "mini"))
    page = soup(signed_in(course_app, TA).get(f"/assignments/{mini_id}/dashboard"))
    marks = {
        row["data-student"]: row.select("a.tamper-mark") for row in page.select("#grid tbody tr")
    }
    [mark] = marks.pop(STUDENT)
    assert mark["href"] == f"/submissions/{ids[STUDENT]}#tamper" and mark["title"].startswith(
        "Tampering detected"
    )
    assert mark.select_one(".visually-hidden").get_text() == "tampering detected"
    assert marks == {HONEST: []}


def no_trace(text: str) -> bool:
    """Nothing in `text` says that tampering was looked for or found."""
    return "tamper" not in text.lower() and not any(flag in text for flag in FLAGS)


def without_ids(body: dict) -> dict:
    """An API answer without what differs between the two uploads: ids, times, the tampering
    cell's progress, and which one's model was trained first (the other's came from the cache)."""
    return {
        key: value
        for key, value in body.items()
        if key not in {"id", "submission_id", "run_id", "created_at", "progress", "models_reused"}
    }
