"""Staff views that scale: a fixed number of SQL statements per page whatever the class size, and
one dashboard build per page view with its charts inside the page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from conftest import make_app, notebook_bytes, signed_in
from sqlalchemy import event, select

from grader.extensions import db
from grader.models import (
    Assignment,
    Course,
    GradingRun,
    ManualScore,
    QuestionResult,
    Role,
    RunStatus,
    Submission,
)
from grader.services.people.accounts import create_user, enroll, find_user
from grader.services.staff import dashboard as dashboard_service
from grader.services.staff.class_results import student_results
from grader.services.storage.blobs import put_blob
from web.test_staff_pages import class_settings, soup, svg_of

TA, STUDENT = "ta@example.edu", "student@example.edu"


def seed_class(app, size: int) -> int:
    """`size` students in the demo course, each with an older and a newer graded upload of Lab 6
    whose free-response part a TA scored for every other student; the demo student uploads `size`
    times too. Returns Lab 6's id."""
    with app.app_context():
        course = db.session.scalar(select(Course))
        lab6 = db.session.scalar(select(Assignment).where(Assignment.slug == "lab6"))
        ta, notebook = find_user(TA), put_blob(notebook_bytes("1"))
        for n in range(size):
            student = create_user(f"student{n:03}@example.edu", f"Student {n}")
            enroll(student, course, Role.STUDENT)
            for score in (4.0, 10.0):
                latest = graded_upload(lab6, student.id, notebook, score)
            if n % 2:
                db.session.flush()
                db.session.add(
                    ManualScore(
                        submission_id=latest.id,
                        question_key="explain",
                        score=1.5,
                        comment="Fair.",
                        grader_id=ta.id,
                    )
                )
            graded_upload(lab6, find_user(STUDENT).id, notebook, score=n % 11)
        db.session.commit()
        return lab6.id


def graded_upload(assignment: Assignment, student_id: int, sha256: str, score: float) -> Submission:
    """A graded upload: `score` of 10 automatic points, 2 points of written answer left to a TA."""
    submission = Submission(
        assignment=assignment, student_id=student_id, original_filename="lab.ipynb", sha256=sha256
    )
    run = GradingRun(
        submission=submission, status=RunStatus.GRADED, score=score, max_score=10, manual_pending=2
    )
    run.question_results = [
        QuestionResult(
            question_key="q",
            auto_score=score,
            max_score=10,
            status="passed" if score == 10 else "partial",
            details={"title": "Q"},
        ),
        QuestionResult(
            question_key="explain",
            max_score=0,
            manual_points=2,
            status="needs_manual_grading",
            details={"title": "Explain", "answer": "Because the band is not a line."},
        ),
    ]
    db.session.add(submission)
    return submission


@contextmanager
def statements(app) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def statement_counts(tmp_path, size: int) -> dict[str, int]:
    """How many statements each staff view runs for a class of `size` graded students."""
    app = make_app(class_settings(tmp_path / f"class-of-{size}" / "instance"))
    try:
        lab6 = seed_class(app, size)
        ta, student = signed_in(app, TA), signed_in(app, STUDENT)
        pages = {
            "dashboard": (ta, f"/assignments/{lab6}/dashboard?sort=total&dir=desc&status=graded"),
            "grading queue": (ta, f"/assignments/{lab6}/grading"),
            "gradebook": (ta, f"/assignments/{lab6}/gradebook.csv"),
            "home page": (student, "/"),
        }
        counts = {}
        for name, (client, path) in pages.items():
            with statements(app) as seen:
                assert client.get(path).status_code == 200, name
            counts[name] = len(seen)
        with app.app_context(), statements(app) as seen:
            assert len(student_results(db.session.get(Assignment, lab6))) == size + 1
        counts["class results"] = len(seen)
        return counts
    finally:
        with app.app_context():
            db.engine.dispose()


def test_staff_views_run_as_many_statements_for_30_students_as_for_3(tmp_path):
    small, large = statement_counts(tmp_path, 3), statement_counts(tmp_path, 30)
    assert large == small
    # About four statements per submission before: a class of 30 would have run hundreds.
    assert max(small.values()) < 25, small


def test_one_dashboard_view_builds_the_dashboard_once_with_its_charts_inside(app, monkeypatch):
    lab6 = seed_class(app, 3)
    builds = []
    build = dashboard_service.student_results
    monkeypatch.setattr(
        dashboard_service,
        "student_results",
        lambda assignment: builds.append(1) or build(assignment),
    )
    response = signed_in(app, TA).get(f"/assignments/{lab6}/dashboard")
    assert response.status_code == 200 and builds == [1]
    page = soup(response)
    charts = page.select(".charts img")
    assert [img["alt"].split(" ")[0] for img in charts] == ["Histogram", "Share"]
    # Every picture travels in the page, so a browser asks the server for nothing that builds it
    # again.
    assert all(img["src"].startswith("data:") for img in page.find_all("img"))
    assert all(svg_of(img).startswith("<svg") for img in charts)
