"""Tamper flags: recorded with the run, shown to the course's staff, invisible to students, never in the score."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import add_mini_assignment, make_app, signed_in
from engine.mini_package import SOLUTION_ANSWERS
from grader.extensions import db
from grader.models import Assignment, GradingRun, Role, Submission, User
from grader.services import grading
from grader.web import create_app
from test_staff_pages import TA, STUDENT, add_person, class_settings, soup, submit

FLAGS = ["numpy.mean", "sklearn.base.clone",
         "answer export for question `model` was forged (the result had the wrong shape)"]
HONEST = "amy@example.edu"


def flagging(grade_notebook):
    """The engine's grade_notebook, with a report that also names what the notebook tampered with."""
    def grade_and_flag(*args, **kwargs):
        result = grade_notebook(*args, **kwargs)
        result.report.tamper.extend(FLAGS)
        return result
    return grade_and_flag


@pytest.fixture(scope="module")
def flagged_database(tmp_path_factory) -> Path:
    """The same solution graded twice: the demo student's run recorded tampering, Amy's did not."""
    root = tmp_path_factory.mktemp("tamper")
    app = make_app(class_settings(root / "instance"))
    add_mini_assignment(app, root / "mini")
    add_person(app, HONEST, "Amy Adams", Role.STUDENT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grading, "grade_notebook", flagging(grading.grade_notebook))
        submit(app, STUDENT, SOLUTION_ANSWERS)
    submit(app, HONEST, SOLUTION_ANSWERS)
    with app.app_context():
        db.engine.dispose()
    return root / "instance" / "grader.sqlite"


@pytest.fixture
def course_app(flagged_database, settings):
    settings.instance_dir.mkdir(parents=True)
    shutil.copy(flagged_database, settings.instance_dir / "grader.sqlite")
    app = create_app(settings)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def ids(course_app) -> dict[str, int]:
    """Each student's submission id, by e-mail."""
    with course_app.app_context():
        return dict(db.session.execute(db.select(User.email, Submission.id).join(Submission.student)).all())


def test_the_run_stores_the_flags_and_the_same_score_as_an_honest_run(course_app, ids):
    with course_app.app_context():
        runs = {email: db.session.scalar(db.select(GradingRun).where(GradingRun.submission_id == ids[email]))
                for email in (STUDENT, HONEST)}
        assert runs[STUDENT].tamper == FLAGS and runs[HONEST].tamper == []
        assert runs[STUDENT].score == runs[HONEST].score == 8.0
        assert ([(r.question_key, r.auto_score, r.status) for r in runs[STUDENT].question_results]
                == [(r.question_key, r.auto_score, r.status) for r in runs[HONEST].question_results])


def test_staff_see_a_note_listing_every_entry(course_app, ids):
    page = soup(signed_in(course_app, TA).get(f"/submissions/{ids[STUDENT]}"))
    note = page.select_one("#tamper")
    assert note.h2.get_text(strip=True).endswith("Tampering detected")
    assert [li.get_text() for li in note.select("li")] == FLAGS
    assert "Scores do not depend on this: the notebook was graded as usual" in " ".join(note.get_text().split())
    assert page.select_one("#results h2").get_text(" ", strip=True).startswith("Results: 8 / 9 points")


def test_a_run_without_flags_shows_no_note(course_app, ids):
    ta = signed_in(course_app, TA)
    html = ta.get(f"/submissions/{ids[HONEST]}").get_data(as_text=True)
    assert no_trace(html)
    assert ta.get(f"/api/submissions/{ids[HONEST]}").get_json()["tamper"] == []
    assert ta.get(f"/api/submissions/{ids[STUDENT]}").get_json()["tamper"] == FLAGS


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
    marks = {row["data-student"]: row.select("a.tamper-mark") for row in page.select("#grid tbody tr")}
    [mark] = marks.pop(STUDENT)
    assert mark["href"] == f"/submissions/{ids[STUDENT]}#tamper" and mark["title"].startswith("Tampering detected")
    assert mark.select_one(".visually-hidden").get_text() == "tampering detected"
    assert marks == {HONEST: []}


def no_trace(text: str) -> bool:
    """Nothing in `text` says that tampering was looked for or found."""
    return "tamper" not in text.lower() and not any(flag in text for flag in FLAGS)


def without_ids(body: dict) -> dict:
    """An API answer without what differs between any two uploads: ids, names and times."""
    return {key: value for key, value in body.items() if key not in {"id", "submission_id", "run_id", "created_at"}}
