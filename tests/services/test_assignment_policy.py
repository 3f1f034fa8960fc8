"""Assignment rules as students meet them: release, due date, late penalty, attempt limit, best or
last."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from conftest import notebook_bytes, signed_in
from sqlalchemy import func, select

from grader.extensions import db
from grader.models import Assignment, GradingRun, QuestionResult, RunStatus, ScorePolicy, Submission
from grader.services.assignments.rules import (
    Lateness,
    ScoredAttempt,
    counting_attempt,
    days_late,
    lateness,
)
from grader.services.people.accounts import find_user
from grader.services.storage.blobs import put_blob
from grader.services.submissions.standings import standings_for

DUE = datetime(2026, 11, 20, 23, 59, tzinfo=UTC)


def lab6(**rules) -> Assignment:
    assignment = db.session.scalar(select(Assignment).where(Assignment.slug == "lab6"))
    for name, value in rules.items():
        setattr(assignment, name, value)
    db.session.commit()
    return assignment


def graded_submission(
    assignment: Assignment, email: str, submitted_at: datetime, score: float, points: float = 10
) -> int:
    """A submission whose latest run is graded with one question worth `points`."""
    submission = Submission(
        assignment=assignment,
        student=find_user(email),
        created_at=submitted_at,
        original_filename="lab.ipynb",
        sha256=put_blob(notebook_bytes("1")),
    )
    run = GradingRun(submission=submission, status=RunStatus.GRADED, score=score, max_score=points)
    db.session.add_all([submission, run])
    db.session.flush()
    db.session.add(
        QuestionResult(
            run_id=run.id,
            question_key="q",
            auto_score=score,
            max_score=points,
            status="passed" if score == points else "partial",
            details={"title": "Q"},
        )
    )
    db.session.commit()
    return submission.id


@pytest.mark.parametrize(
    "submitted, days",
    [
        (DUE - timedelta(hours=1), 0),
        (DUE, 0),
        (DUE + timedelta(seconds=1), 1),
        (DUE + timedelta(days=1), 1),
        (DUE + timedelta(days=1, minutes=1), 2),
    ],
)
def test_every_started_day_past_the_due_date_counts(app, submitted, days):
    with app.app_context():
        assert days_late(lab6(due_at=DUE), submitted) == days


def test_late_penalty_grows_per_day_up_to_the_cap(app):
    with app.app_context():
        assignment = lab6(due_at=DUE, late_penalty_percent_per_day=10, late_penalty_cap_percent=25)
        assert lateness(assignment, DUE + timedelta(hours=3)) == Lateness(
            days=1, penalty_percent=10
        )
        assert lateness(assignment, DUE + timedelta(days=2)).penalty_percent == 20
        assert lateness(assignment, DUE + timedelta(days=9)).penalty_percent == 25
        assert lateness(assignment, DUE + timedelta(days=9)).apply(8) == 6
        assert lateness(assignment, DUE).describe() == "On time"
        assert (
            lateness(assignment, DUE + timedelta(days=2)).describe() == "2 days late: 20% penalty"
        )


def test_no_due_date_is_never_late(app):
    with app.app_context():
        assert not lateness(
            lab6(due_at=None, late_penalty_percent_per_day=50), datetime.now(UTC)
        ).late


def test_best_policy_counts_the_highest_penalised_score_and_last_the_latest(app):
    on_time = Lateness(0, 0)
    attempts = [
        ScoredAttempt(1, DUE - timedelta(days=2), 6, 10, on_time),
        ScoredAttempt(2, DUE - timedelta(days=1), 9, 10, on_time),
        ScoredAttempt(3, DUE + timedelta(days=1), 7.2, 10, Lateness(1, 20)),
    ]
    with app.app_context():
        assert counting_attempt(lab6(score_policy=ScorePolicy.BEST), attempts).submission_id == 2
        assert counting_attempt(lab6(score_policy=ScorePolicy.LAST), attempts).submission_id == 3
        assert counting_attempt(lab6(), []) is None


def test_standing_shows_attempts_and_the_score_that_counts_after_the_penalty(app):
    with app.app_context():
        assignment = lab6(
            due_at=DUE,
            late_penalty_percent_per_day=10,
            max_attempts=3,
            score_policy=ScorePolicy.BEST,
        )
        graded_submission(assignment, "student@example.edu", DUE - timedelta(days=1), 6)
        late_id = graded_submission(assignment, "student@example.edu", DUE + timedelta(days=2), 10)
        (standing,) = standings_for(find_user("student@example.edu"))
        assert (standing.attempts_used, standing.attempts_left) == (2, 1)
        # 10 points two days late is 8 after the 20% penalty, still better than the on-time 6.
        assert standing.counting.submission_id == late_id
        assert standing.counting.score == 8
        assert standing.counting.lateness.describe() == "2 days late: 20% penalty"


def test_index_page_lists_due_date_attempts_and_late_penalty(app):
    with app.app_context():
        assignment = lab6(due_at=DUE, late_penalty_percent_per_day=10, max_attempts=2)
        graded_submission(assignment, "student@example.edu", DUE + timedelta(hours=5), 10)
    page = signed_in(app).get("/").get_data(as_text=True)
    assert "2026-11-20 23:59 UTC" in page
    assert "1 of 2" in page
    assert "9 / 10" in page and "1 day late: 10% penalty" in page


def test_submission_page_shows_lateness_and_the_penalised_total(app):
    with app.app_context():
        assignment = lab6(due_at=DUE, late_penalty_percent_per_day=10)
        submission_id = graded_submission(
            assignment, "student@example.edu", DUE + timedelta(days=3), 10
        )
    client = signed_in(app)
    page = client.get(f"/submissions/{submission_id}").get_data(as_text=True)
    assert "3 days late: 30% penalty" in page and "Counts as 7 / 10 points" in page
    body = client.get(f"/api/submissions/{submission_id}").get_json()
    assert (body["late_days"], body["late_penalty_percent"], body["total_after_penalty"]) == (
        3,
        30,
        7,
    )


def test_upload_beyond_the_attempt_limit_is_refused_and_nothing_is_stored(app):
    with app.app_context():
        lab6(max_attempts=1)
    client = signed_in(app)

    def send():
        return client.post(
            "/api/submissions",
            data={"assignment": "lab6", "file": (io.BytesIO(notebook_bytes("1")), "lab.ipynb")},
        )

    assert send().status_code == 201
    refused = send()
    assert refused.status_code == 403
    assert "used all 1 attempts" in refused.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Submission.id))) == 1


def test_staff_may_submit_beyond_the_limit_to_try_the_assignment(app):
    with app.app_context():
        lab6(max_attempts=0)
    client = signed_in(app, "ta@example.edu")
    response = client.post(
        "/api/submissions",
        data={"assignment": "lab6", "file": (io.BytesIO(notebook_bytes("1")), "lab.ipynb")},
    )
    assert response.status_code == 201


def test_unreleased_assignment_is_hidden_from_students_and_refuses_uploads(app):
    with app.app_context():
        lab6(release_at=datetime.now(UTC) + timedelta(days=3))
    student = signed_in(app)
    assert "Lab 6" not in student.get("/").get_data(as_text=True)
    response = student.post(
        "/api/submissions",
        data={"assignment": "lab6", "file": (io.BytesIO(notebook_bytes("1")), "lab.ipynb")},
    )
    assert response.status_code == 404
    assert "Lab 6" in signed_in(app, "ta@example.edu").get("/").get_data(as_text=True)


def test_staff_see_links_to_the_dashboard_and_instructors_to_settings_and_rubric(app):
    student, ta, instructor = (
        signed_in(app, f"{who}@example.edu").get("/").get_data(as_text=True)
        for who in ("student", "ta", "instructor")
    )
    assert "Dashboard" not in student and "Manage BT-AI" not in student
    assert "Dashboard" in ta and "Grade answers" in ta and "Rubric" not in ta
    assert all(
        link in instructor
        for link in ("Dashboard", "Settings", "Rubric", "Manage BT-AI's assignments")
    )
