"""TA pages, staff only: assignment dashboard, free-response queue, score overrides, gradebook."""

from __future__ import annotations

import base64
import csv
import io
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from conftest import add_mini_assignment, make_app, signed_in
from engine.mini_package import SOLUTION_ANSWERS, TEMPLATE_ANSWERS, notebook
from services.test_grading_run import grade, upload

from grader.config import Settings
from grader.extensions import db
from grader.models import (
    Assignment,
    Course,
    ManualScore,
    Role,
    RunStatus,
    ScorePolicy,
    Submission,
    User,
)
from grader.services.demo import DEMO_PASSWORD
from grader.services.people.accounts import create_user, enroll
from grader.web import create_web_app

# Slow: most tests grade a class in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

TA, STUDENT, OTHER_TA = "ta@example.edu", "student@example.edu", "ta@other.example.edu"
WRONG_VALUE = {
    **SOLUTION_ANSWERS,
    "Question 3": "answer = 41",
    "Question 5": "FILLME\nA distance to the middle of the band separates the classes.",
}


def class_settings(instance: Path) -> Settings:
    return Settings(
        instance_dir=instance,
        database_url=f"sqlite:///{instance / 'grader.sqlite'}",
        broker_url=f"filesystem://{instance / 'broker'}",
        queue_name=f"test-{uuid.uuid4().hex}",
        max_upload_bytes=200_000,
    )


def add_person(app, email: str, name: str, role: Role, course_code: str = "BT-AI") -> None:
    with app.app_context():
        course = db.session.scalar(db.select(Course).where(Course.code == course_code))
        if course is None:
            course = Course(code=course_code, title=course_code)
            db.session.add(course)
            db.session.flush()
        enroll(create_user(email, name, DEMO_PASSWORD), course, role)
        db.session.commit()


def submit(app, email: str, answers: dict[str, str], graded: bool = True) -> int:
    body = upload(
        signed_in(app, email), nbformat.writes(notebook(answers)).encode(), assignment="mini"
    )
    if graded:
        assert grade(app, body["run_id"]) == RunStatus.GRADED
    return body["submission_id"]


@pytest.fixture(scope="module")
def class_database(tmp_path_factory) -> Path:
    """A course graded once per module: the demo student's solution, Amy's wrong value, Bob's
    untouched template, and Dan who submitted nothing; plus a TA of another course. Each test gets a
    copy."""
    root = tmp_path_factory.mktemp("class")
    app = make_app(class_settings(root / "instance"))
    add_mini_assignment(app, root / "mini")
    add_person(app, "amy@example.edu", "Amy Adams", Role.STUDENT)
    add_person(app, "bob@example.edu", "Bob Brown", Role.STUDENT)
    add_person(app, "dan@example.edu", "Dan Dunn", Role.STUDENT)
    add_person(app, OTHER_TA, "Other TA", Role.TA, course_code="OTHER")
    submit(app, STUDENT, SOLUTION_ANSWERS)
    submit(app, "amy@example.edu", WRONG_VALUE)
    submit(app, "bob@example.edu", TEMPLATE_ANSWERS)
    with app.app_context():
        db.engine.dispose()
    return root / "instance" / "grader.sqlite"


@contextmanager
def app_on_copy(database: Path, settings: Settings) -> Iterator:
    """An app on a fresh copy of a graded class's database, so each test may change it freely."""
    settings.instance_dir.mkdir(parents=True)
    shutil.copy(database, settings.instance_dir / "grader.sqlite")
    app = create_web_app(settings)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def course_app(class_database, settings):
    # Tests here hand in the class's notebooks again and count queued and graded runs; taking an
    # identical notebook's result at once has its own tests.
    with app_on_copy(class_database, replace(settings, reuse_identical=False)) as app:
        yield app


@pytest.fixture
def mini_id(course_app) -> int:
    with course_app.app_context():
        return db.session.scalar(db.select(Assignment.id).where(Assignment.slug == "mini"))


@pytest.fixture
def ids(course_app) -> dict[str, int]:
    """Each student's submission id, by e-mail."""
    with course_app.app_context():
        return dict(
            db.session.execute(db.select(User.email, Submission.id).join(Submission.student)).all()
        )


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def grid(page: BeautifulSoup) -> list[list[str]]:
    """The dashboard grid as text: one list per row, the student's e-mail first."""
    return [
        [
            row["data-student"],
            *(" ".join(td.get_text(" ", strip=True).split()) for td in row.find_all("td")),
        ]
        for row in page.select("#grid tbody tr")
    ]


def emails(page: BeautifulSoup) -> list[str]:
    return [row[0] for row in grid(page)]


def test_dashboard_counts_runs_and_shows_the_grid(course_app, mini_id):
    submit(course_app, "dan@example.edu", SOLUTION_ANSWERS, graded=False)
    page = soup(signed_in(course_app, TA).get(f"/assignments/{mini_id}/dashboard"))
    counts = {
        li["id"].removeprefix("count-"): int(li.select_one(".number").text)
        for li in page.select(".counts li")
    }
    assert counts == {"queued": 1, "running": 0, "graded": 3, "failed": 0}
    headers = [th.a.find(string=True).strip() for th in page.select("#grid thead th")]
    assert headers == [
        "Student",
        "Submitted",
        "Late",
        "feature",
        "model",
        "answer",
        "chart",
        "explain",
        "Total",
    ]
    rows = {row[0]: row[1:] for row in grid(page)}
    assert set(rows) == {"amy@example.edu", "bob@example.edu", "dan@example.edu", STUDENT}
    assert rows[STUDENT][2:] == [
        "2 /2 passed",
        "3 /3 passed",
        "1 /1 passed",
        "1 /1 passed",
        "1 /2 needs manual grading",
        "8 /9",
    ]
    assert rows["amy@example.edu"][4] == "0 /1 failed" and rows["amy@example.edu"][-1] == "7 /9"
    assert "queued" in rows["dan@example.edu"][0] and rows["dan@example.edu"][-1] == "–"
    cell = page.select_one('#grid tr[data-student="amy@example.edu"] td.cell.failed a')
    assert cell["href"].endswith("#q-answer")
    links = {a.get_text(strip=True): a["href"] for a in page.select(".staff-actions a")}
    assert links["Download gradebook (CSV)"] == f"/assignments/{mini_id}/gradebook.csv"
    assert links["Grade free-response answers"] == f"/assignments/{mini_id}/grading"
    # That every posting form carries a CSRF token is checked with CSRF on, in test_csrf.py.
    assert page.select_one(f'form[action="/assignments/{mini_id}/regrade"] button')


def test_dashboard_sorts_by_any_column_with_ungraded_rows_last(course_app, mini_id):
    ta = signed_in(course_app, TA)
    url = f"/assignments/{mini_id}/dashboard"
    assert emails(soup(ta.get(url))) == [
        "amy@example.edu",
        "bob@example.edu",
        "dan@example.edu",
        STUDENT,
    ]
    assert emails(soup(ta.get(url + "?sort=total&dir=desc"))) == [
        STUDENT,
        "amy@example.edu",
        "bob@example.edu",
        "dan@example.edu",
    ]
    assert emails(soup(ta.get(url + "?sort=total&dir=asc"))) == [
        "bob@example.edu",
        "amy@example.edu",
        STUDENT,
        "dan@example.edu",
    ]
    # Equal scores keep the students in e-mail order.
    assert emails(soup(ta.get(url + "?sort=q:answer&dir=desc"))) == [
        STUDENT,
        "amy@example.edu",
        "bob@example.edu",
        "dan@example.edu",
    ]
    page = soup(ta.get(url + "?sort=total&dir=desc&status=graded"))
    total = page.find("th", attrs={"aria-sort": "descending"})
    assert total.a.find(string=True).strip() == "Total"
    # Clicking the sorted column again flips it and keeps the filters.
    assert "dir=asc" in total.a["href"] and "status=graded" in total.a["href"]


def test_dashboard_filters_by_status_and_score_range(course_app, mini_id):
    ta = signed_in(course_app, TA)
    url = f"/assignments/{mini_id}/dashboard"
    assert emails(soup(ta.get(url + "?status=not_submitted"))) == ["dan@example.edu"]
    assert emails(soup(ta.get(url + "?question=answer&question_status=failed"))) == [
        "amy@example.edu",
        "bob@example.edu",
    ]
    assert emails(soup(ta.get(url + "?question_status=needs_manual_grading"))) == [
        "amy@example.edu",
        STUDENT,
    ]
    assert emails(soup(ta.get(url + "?min=5&max=7.5"))) == ["amy@example.edu"]
    page = soup(ta.get(url + "?min=5&sort=total&dir=desc"))
    assert emails(page) == [STUDENT, "amy@example.edu"]
    assert page.find(id="shown").get_text().startswith("Showing 2 of 4 students")
    assert page.select_one("#filter-min")["value"] == "5"
    for control in page.select("form.filters select, form.filters input:not([type=hidden])"):
        assert page.find("label", attrs={"for": control["id"]}), control
    nobody = soup(ta.get(url + "?min=9"))
    assert not nobody.select("#grid") and "No student matches these filters" in nobody.get_text()


def test_dashboard_explains_a_bad_filter(course_app, mini_id):
    ta = signed_in(course_app, TA)
    response = ta.get(f"/assignments/{mini_id}/dashboard?min=lots")
    assert response.status_code == 400
    page = soup(response)
    assert "the minimum score must be a number" in page.select_one(".flash.error").text
    assert len(emails(page)) == 4
    assert ta.get(f"/assignments/{mini_id}/dashboard?sort=q:nope").status_code == 400
    assert ta.get(f"/assignments/{mini_id}/dashboard?status=sleeping").status_code == 400


def test_dashboard_charts_are_svg_images_with_alt_text_and_numbers(course_app, mini_id):
    ta = signed_in(course_app, TA)
    page = soup(ta.get(f"/assignments/{mini_id}/dashboard"))
    histogram, pass_rate = page.select(".charts img")
    assert histogram["alt"] == (
        "Histogram of total scores after late penalty for 3 graded students, "
        "out of 9 points: median 7, "
        "lowest 0, highest 8."
    )
    assert pass_rate["alt"] == (
        "Share of students with full marks on each of 5 questions: lowest Explain (0%), highest "
        "A feature for the band (66.7%)."
    )
    bins = [[td.text for td in tr.find_all("td")] for tr in page.select("#histogram-data tbody tr")]
    assert bins[0] == ["0–1", "1"] and bins[-2:] == [["7–8", "1"], ["8–9", "1"]]
    rates = [
        [td.text for td in tr.find_all("td")] for tr in page.select("#pass-rate-data tbody tr")
    ]
    assert rates[2] == ["The answer (answer)", "1 of 3", "33.3%"]
    svg = {name: svg_of(img) for name, img in (("histogram", histogram), ("pass rate", pass_rate))}
    assert all(picture.startswith("<svg") for picture in svg.values())
    assert "explain" in svg["pass rate"]


def svg_of(img) -> str:
    """The picture an <img> carries as an SVG `data:` URL."""
    kind, _, data = img["src"].partition(",")
    assert kind == "data:image/svg+xml;base64", kind
    return base64.b64decode(data).decode()


def test_dashboard_of_an_assignment_nobody_submitted_says_so(app):
    with app.app_context():
        lab6 = db.session.scalar(db.select(Assignment.id).where(Assignment.slug == "lab6"))
    page = soup(signed_in(app, TA).get(f"/assignments/{lab6}/dashboard"))
    assert "No submissions yet" in page.select_one("#empty").text
    assert not page.select("img") and not page.select("#grid")
    assert page.select_one("#count-graded .number").text == "0"
    assert "0 of 1 student submitted" in page.select_one("#run-counts").get_text(" ", strip=True)


@pytest.mark.parametrize("email", [STUDENT, OTHER_TA])
def test_staff_pages_are_not_found_for_students_and_other_courses_staff(
    course_app, mini_id, ids, email
):
    client = signed_in(course_app, email)
    for path in ("dashboard", "grading", "gradebook.csv"):
        assert client.get(f"/assignments/{mini_id}/{path}").status_code == 404, path
    assert (
        client.post(
            f"/assignments/{mini_id}/grading",
            data={
                "submission_id": ids[STUDENT],
                "question_key": "explain",
                "score": 2,
                "comment": "mine",
            },
        ).status_code
        == 404
    )
    assert client.post(f"/assignments/{mini_id}/regrade").status_code == 404
    # The student sees their own submission, so is told they may not grade it; the other TA learns
    # nothing.
    assert client.post(
        f"/submissions/{ids[STUDENT]}/questions/model/score", data={"score": 0, "reason": "x"}
    ).status_code == (403 if email == STUDENT else 404)
    assert signed_in(course_app, TA).get("/assignments/999/dashboard").status_code == 404
    with course_app.app_context():
        assert db.session.scalar(db.select(db.func.count(ManualScore.id))) == 0


def queue_page(client, url: str) -> tuple[BeautifulSoup, str]:
    """The queue page and the e-mail of the student whose answer it shows ('' when none)."""
    page = soup(client.get(url))
    shown = page.select_one("#answer .meta")
    return page, shown.get_text(" ", strip=True).split(" · ")[1] if shown else ""


def test_grading_queue_shows_answers_in_order_skips_and_saves(course_app, mini_id, ids):
    ta = signed_in(course_app, TA)
    url = f"/assignments/{mini_id}/grading"
    page, first = queue_page(ta, url)
    # Bob left the placeholder, so his answer earns nothing and waits for nobody.
    assert first == STUDENT and page.select_one("#left").text.strip() == "2 answers left to grade."
    assert page.select_one("#answer h2").text == "Explain"
    assert "not linearly separable" in page.select_one("pre.answer-source").text
    assert "Automatic score: 1 / 2" in page.select_one("#answer").get_text(" ", strip=True)
    score = page.select_one("#grade-score")
    assert (score["min"], score["max"]) == ("0", "2") and page.find(
        "label", attrs={"for": "grade-comment"}
    )
    skip = page.find("a", string="Skip")["href"]
    page, second = queue_page(ta, skip)
    assert second == "amy@example.edu"
    _, wrapped = queue_page(ta, page.find("a", string="Skip")["href"])
    assert wrapped == STUDENT

    amy, student = ids["amy@example.edu"], ids[STUDENT]
    saved = ta.post(
        url,
        data={
            "submission_id": amy,
            "question_key": "explain",
            "question": "",
            "score": "1.5",
            "comment": "Right idea, no detail.",
        },
    )
    assert saved.status_code == 303
    page, after = queue_page(ta, saved.headers["Location"])
    assert after == STUDENT and page.select_one("#left").text.strip() == "1 answer left to grade."
    assert (
        "Saved 1.5 of 2 points for amy@example.edu on Explain."
        in page.select_one(".flash.info").text
    )
    done = ta.post(
        url,
        data={
            "submission_id": student,
            "question_key": "explain",
            "question": "explain",
            "score": "2",
            "comment": "Clear.",
        },
    )
    page, nobody = queue_page(ta, done.headers["Location"])
    assert nobody == "" and "All free-response answers are graded" in page.select_one("#done").text
    assert "question=explain" in done.headers["Location"]
    with course_app.app_context():
        scores = {
            (m.submission_id, m.score, m.comment)
            for m in db.session.scalars(db.select(ManualScore))
        }
    assert scores == {(amy, 1.5, "Right idea, no detail."), (student, 2.0, "Clear.")}


def test_grading_queue_keeps_what_was_typed_when_a_score_is_rejected(course_app, mini_id, ids):
    ta = signed_in(course_app, TA)
    url = f"/assignments/{mini_id}/grading"
    for score, message in (
        ("3", "the score must be between 0 and 2"),
        ("lots", "the score must be a number"),
    ):
        response = ta.post(
            url,
            data={
                "submission_id": ids["amy@example.edu"],
                "question_key": "explain",
                "score": score,
                "comment": "Thoughtful answer.",
            },
        )
        assert response.status_code == 400
        page = soup(response)
        assert page.select_one(".flash.error").text == f"Not saved: {message}."
        assert page.select_one("#grade-score")["value"] == score
        # A browser drops the newline that opens a textarea.
        assert page.select_one("#grade-comment").text.removeprefix("\r\n") == "Thoughtful answer."
        assert "amy@example.edu" in page.select_one("#answer .meta").text
    missing_comment = ta.post(
        url,
        data={
            "submission_id": ids["amy@example.edu"],
            "question_key": "explain",
            "score": "1",
            "comment": "",
        },
    )
    assert "give a reason" in soup(missing_comment).select_one(".flash.error").text
    assert (
        ta.post(
            url,
            data={
                "submission_id": ids["amy@example.edu"],
                "question_key": "model",
                "score": "1",
                "comment": "x",
            },
        ).status_code
        == 404
    )
    with course_app.app_context():
        assert db.session.scalar(db.select(db.func.count(ManualScore.id))) == 0


def test_staff_override_any_score_on_the_submission_page_and_see_the_history(course_app, ids):
    ta, student = signed_in(course_app, TA), signed_in(course_app, STUDENT)
    own = f"/submissions/{ids[STUDENT]}"
    page = soup(ta.get(own))
    form = page.select_one(f'#q-model form[action="{own}/questions/model/score"]')
    assert form.select_one("button")
    for field in ("score-model", "reason-model"):
        assert page.find("label", attrs={"for": field}) and form.find(id=field)
    assert (
        page.select_one(f'#staff-tools form[action="{own}/regrade"] button').text
        == "Re-grade this submission"
    )
    assert "No score has been changed by hand yet." in page.select_one("#staff-tools").text

    rejected = ta.post(f"{own}/questions/model/score", data={"score": "4", "reason": "Hard-coded."})
    assert rejected.status_code == 400
    page = soup(rejected)
    assert page.select_one(".flash.error").text == "Not saved: the score must be between 0 and 3."
    assert page.select_one("#q-model details.override").has_attr("open")
    assert page.select_one("#reason-model")["value"] == "Hard-coded."

    saved = ta.post(f"{own}/questions/model/score", data={"score": "1", "reason": "Hard-coded."})
    assert saved.status_code == 303 and saved.headers["Location"].endswith(f"{own}#q-model")
    history = soup(ta.get(own)).select("#score-history tbody tr")
    assert [[td.text for td in row.find_all("td")][1:] for row in history] == [
        ["model", "3", "1", TA, "Hard-coded."]
    ]

    student_page = student.get(own).get_data(as_text=True)
    assert "Graded by a TA: Hard-coded." in student_page
    assert "Override the score" not in student_page and "Staff tools" not in student_page
    assert "score-history" not in student_page
    assert (
        student.post(
            f"{own}/questions/model/score", data={"score": "3", "reason": "Mine"}
        ).status_code
        == 403
    )
    assert (
        ta.post(f"{own}/questions/nope/score", data={"score": "1", "reason": "x"}).status_code
        == 404
    )


def test_regrade_all_from_the_dashboard_returns_to_it(course_app, mini_id):
    ta = signed_in(course_app, TA)
    response = ta.post(f"/assignments/{mini_id}/regrade")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/assignments/{mini_id}/dashboard"
    )
    page = soup(ta.get(response.headers["Location"]))
    assert page.select_one("#count-queued .number").text == "3"
    assert "Re-grading 3 submissions" in page.select_one(".flash.info").text


def gradebook(client, assignment_id: int) -> dict[str, dict[str, str]]:
    response = client.get(f"/assignments/{assignment_id}/gradebook.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return {
        row["email"]: row for row in csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    }


def test_gradebook_uses_the_counting_attempt_with_the_late_penalty(course_app, mini_id, ids):
    ta = signed_in(course_app, TA)
    retry = submit(course_app, STUDENT, TEMPLATE_ANSWERS)
    with course_app.app_context():
        assignment = db.session.get(Assignment, mini_id)
        due = datetime.now(UTC) - timedelta(days=3)
        assignment.due_at, assignment.late_penalty_percent_per_day = due, 10.0
        # Amy uploaded 1 day and 1 hour late: two started days.
        db.session.get(Submission, ids["amy@example.edu"]).created_at = due + timedelta(
            days=1, hours=1
        )
        db.session.get(Submission, ids[STUDENT]).created_at = due - timedelta(hours=1)
        db.session.commit()
    rows = gradebook(ta, mini_id)
    assert list(rows) == ["amy@example.edu", "bob@example.edu", "dan@example.edu", STUDENT]
    assert list(rows[STUDENT]) == [
        "email",
        "name",
        "submission",
        "status",
        "feature",
        "model",
        "answer",
        "chart",
        "explain",
        "total",
        "late",
        "days_late",
        "penalty_percent",
        "total_after_penalty",
    ]
    # Best attempt counts: the first upload, on time.
    mine = rows[STUDENT]
    assert (mine["submission"], mine["total"], mine["late"]) == (str(ids[STUDENT]), "8", "no")
    amy = rows["amy@example.edu"]
    assert (
        amy["late"],
        amy["days_late"],
        amy["penalty_percent"],
        amy["total"],
        amy["total_after_penalty"],
    ) == ("yes", "2", "20", "7", "5.6")
    assert (
        rows["dan@example.edu"]["status"] == "not_submitted"
        and rows["dan@example.edu"]["total"] == ""
    )
    with course_app.app_context():
        db.session.get(Assignment, mini_id).score_policy = ScorePolicy.LAST
        db.session.commit()
    assert gradebook(ta, mini_id)[STUDENT]["submission"] == str(retry)
