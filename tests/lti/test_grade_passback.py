"""Grades reach the LMS: graded, overridden by a TA, late-penalised, refused for a while and
resent; the staff page shows where each student's score is."""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime, timedelta

import nbformat
import pytest
from conftest import add_mini_assignment, queued_messages, signed_in
from engine.mini_package import SOLUTION_ANSWERS, notebook
from sqlalchemy import select

from grader.extensions import db
from grader.lti_models import LtiGradeSend, PassbackState
from grader.metrics import instruments
from grader.models import Assignment, GradingRun, Submission
from grader.services.assignments.authoring import AssignmentSettings, save_settings
from grader.services.errors import LtiServiceFailed
from grader.services.grading.runs import grade_run
from grader.services.lti import passback
from grader.task_queue import LTI_SCORE_TASK
from lti.conftest import launch, place
from lti.platform import MEDIA_SCORE, SCOPE_SCORE

# Slow: grades a notebook in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow


@pytest.fixture
def graded(app, lms, tmp_path):
    """Ann opened the placed mini lab from the LMS, uploaded its solution, and it was graded."""
    slug = add_mini_assignment(app, tmp_path / "mini")
    link = place(app, lms, slug)
    student = launch(app, lms, "ann-1", link=link.id)
    with app.app_context():
        assignment_id = db.session.scalar(select(Assignment.id).where(Assignment.slug == slug))
    upload = student.client.post(
        "/submissions",
        data={
            "assignment": str(assignment_id),
            "file": (io.BytesIO(nbformat.writes(notebook(SOLUTION_ANSWERS)).encode()), "lab.ipynb"),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 303, upload.get_data(as_text=True)
    submission_id = int(upload.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        run_id = db.session.scalar(
            select(GradingRun.id).where(GradingRun.submission_id == submission_id)
        )
        grade_run(run_id, app.config["GRADER"])
    return link, assignment_id, submission_id


def pending_send(app) -> int:
    with app.app_context():
        [send] = db.session.scalars(
            select(LtiGradeSend).where(LtiGradeSend.state == PassbackState.PENDING)
        )
        return send.id


def deliver(app, send_id: int):
    with app.app_context():
        return passback.deliver(send_id)


def test_graded_then_overridden_scores_reach_the_line_item(app, lms, graded, settings):
    link, assignment_id, submission_id = graded
    # The commit that recorded the grade also queued the delivery.
    assert any(LTI_SCORE_TASK in m.read_text() for m in queued_messages(settings))
    assert deliver(app, pending_send(app)) == PassbackState.SENT
    first = lms.latest_score(link.lineitem, "ann-1")
    # 8 of 9 so far: the free-response answer waits for a TA.
    assert (first["scoreGiven"], first["scoreMaximum"]) == (8, 9)
    assert (first["activityProgress"], first["gradingProgress"]) == ("Completed", "PendingManual")
    [score_post] = [r for r in lms.requests if r["path"].endswith("/scores")]
    assert score_post["headers"]["Content-Type"] == MEDIA_SCORE
    [token_request] = [r for r in lms.requests if r["path"] == "/token"]
    assert SCOPE_SCORE in token_request["body"]["scope"].split()

    ta = signed_in(app, "ta@example.edu")
    response = ta.post(
        f"/api/submissions/{submission_id}/questions/explain/score",
        json={"score": 2, "reason": "Clear and correct."},
    )
    assert response.status_code == 200
    assert deliver(app, pending_send(app)) == PassbackState.SENT
    second = lms.latest_score(link.lineitem, "ann-1")
    assert (second["scoreGiven"], second["gradingProgress"]) == (9, "FullyGraded")
    assert second["timestamp"] > first["timestamp"]

    page = html.unescape(ta.get(f"/assignments/{assignment_id}/lms-grades").get_data(as_text=True))
    assert "ann@lms.example" in page and "9 / 9" in page and ">sent<" in page


def test_a_late_penalty_set_afterwards_changes_the_score_sent(app, lms, graded):
    link, assignment_id, _ = graded
    deliver(app, pending_send(app))
    with app.app_context():
        assignment = db.session.get(Assignment, assignment_id)
        submitted = db.session.scalar(select(Submission.created_at))
        save_settings(
            assignment,
            AssignmentSettings(
                title=assignment.title,
                release_at=None,
                due_at=submitted.replace(tzinfo=UTC) - timedelta(hours=1),
                late_penalty_percent_per_day=10.0,
                late_penalty_cap_percent=100.0,
                max_attempts=None,
                score_policy=assignment.score_policy,
            ),
        )
    # The platform has forgotten the access token in the meantime: one new token, same send.
    lms._tokens.clear()
    assert deliver(app, pending_send(app)) == PassbackState.SENT
    assert [p for p in lms.problems] == [
        "POST /contexts/course-ml/line_items/1/scores: unknown access token"
    ]
    lms.problems.clear()
    # One day late: 10% off the 8 points.
    assert lms.latest_score(link.lineitem, "ann-1")["scoreGiven"] == pytest.approx(7.2)


def sends_counted() -> dict[str, float]:
    return {
        outcome: instruments.LTI_SCORE_SENDS.labels(outcome=outcome)._value.get()
        for outcome in ("sent", "refused", "failed")
    }


def test_a_refused_score_is_kept_retried_failed_and_resent_by_staff(app, lms, graded):
    link, assignment_id, _ = graded
    send_id = pending_send(app)
    counted = sends_counted()
    lms.score_outages = 1
    with pytest.raises(LtiServiceFailed, match="503"):
        deliver(app, send_id)
    with app.app_context():
        send = db.session.get(LtiGradeSend, send_id)
        assert (send.state, send.attempts) == (PassbackState.PENDING, 1)
        assert "503" in send.last_error
        # The last retry gives up: failed, for staff to see.
        passback.give_up(send_id)
        assert db.session.get(LtiGradeSend, send_id).state == PassbackState.FAILED
    assert lms.latest_score(link.lineitem, "ann-1") is None
    ta = signed_in(app, "ta@example.edu")
    page = html.unescape(ta.get(f"/assignments/{assignment_id}/lms-grades").get_data(as_text=True))
    assert ">failed<" in page and "the LMS answered 503" in page
    with app.app_context():
        student_id = db.session.get(LtiGradeSend, send_id).user_id
    resent = ta.post(
        f"/assignments/{assignment_id}/lms-grades/resend", data={"student_id": str(student_id)}
    )
    assert resent.status_code == 303
    assert deliver(app, pending_send(app)) == PassbackState.SENT
    assert lms.latest_score(link.lineitem, "ann-1")["scoreGiven"] == 8
    now = sends_counted()
    assert {k: now[k] - counted[k] for k in now} == {"sent": 1, "refused": 1, "failed": 1}


def test_the_sweeper_resends_scores_whose_delivery_was_lost(app, lms, graded):
    send_id = pending_send(app)
    with app.app_context():
        assert passback.sends_to_resend() == []
        later = datetime.now(UTC) + passback.RESEND_AFTER + timedelta(seconds=1)
        assert passback.sends_to_resend(now=later) == [send_id]
        # Sent again just now: not again at the next sweep.
        assert passback.sends_to_resend(now=later) == []


def test_students_and_other_courses_staff_cannot_see_or_resend(app, lms, graded, client):
    _, assignment_id, _ = graded
    assert client.get(f"/assignments/{assignment_id}/lms-grades").status_code == 404
    assert client.post(f"/assignments/{assignment_id}/lms-grades/resend").status_code == 404
