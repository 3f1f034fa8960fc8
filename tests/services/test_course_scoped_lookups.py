"""An upload's `assignment` (id or slug) resolves only within the caller's courses; all else is one
404."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from conftest import notebook_bytes, signed_in
from sqlalchemy import select

from grader.extensions import db
from grader.models import Assignment, Course, Role, Submission
from grader.services.assignments.catalog import upsert_assignment
from grader.services.demo import DEMO_PASSWORD, FIXTURES
from grader.services.people.accounts import create_user, enroll

B_STUDENT, BOTH_STUDENT = "bea@other.example.edu", "bo@both.example.edu"


def post(client, assignment: str, *, api: bool = True):
    form = {"assignment": assignment, "file": (io.BytesIO(notebook_bytes("1")), "lab.ipynb")}
    return client.post(
        "/api/submissions" if api else "/submissions", data=form, content_type="multipart/form-data"
    )


@pytest.fixture
def ids(app) -> dict[str, int]:
    """Demo course A (BT-AI, with `lab6`) and a course B with its own `lab6`; A has an unreleased
    lab7 too."""
    with app.app_context():
        course_a = db.session.scalar(select(Course).where(Course.code == "BT-AI"))
        course_b = Course(code="OTHER", title="Another course")
        db.session.add(course_b)
        db.session.flush()
        b_lab6 = upsert_assignment(course_b.id, "lab6", "Lab 6 of course B", FIXTURES / "lab6")
        hidden = upsert_assignment(course_a.id, "lab7", "Lab 7, not released", FIXTURES / "lab6")
        hidden.release_at = datetime.now(UTC) + timedelta(days=7)
        enroll(create_user(B_STUDENT, "Bea", DEMO_PASSWORD), course_b, Role.STUDENT)
        both = create_user(BOTH_STUDENT, "Bo", DEMO_PASSWORD)
        enroll(both, course_a, Role.STUDENT)
        enroll(both, course_b, Role.STUDENT)
        a_lab6 = db.session.scalar(
            select(Assignment.id).where(
                Assignment.course_id == course_a.id, Assignment.slug == "lab6"
            )
        )
        db.session.commit()
        return {"a_lab6": a_lab6, "b_lab6": b_lab6.id, "a_lab7": hidden.id}


def uploaded_to(app, response) -> int:
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        return db.session.get(Submission, response.get_json()["submission_id"]).assignment_id


def test_a_slug_resolves_to_the_callers_own_course(app, ids):
    assert uploaded_to(app, post(signed_in(app, B_STUDENT), "lab6")) == ids["b_lab6"]
    # The README's own example still works for course A's student although course B also has a
    # `lab6`.
    assert uploaded_to(app, post(signed_in(app), "lab6")) == ids["a_lab6"]
    assert uploaded_to(app, post(signed_in(app), str(ids["a_lab6"]))) == ids["a_lab6"]


def test_a_slug_in_two_of_the_callers_courses_asks_for_the_id(app, ids):
    both = signed_in(app, BOTH_STUDENT)
    response = post(both, "lab6")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert f"{ids['a_lab6']} (BT-AI)" in error and f"{ids['b_lab6']} (OTHER)" in error
    assert uploaded_to(app, post(both, str(ids["b_lab6"]))) == ids["b_lab6"]


def test_another_courses_or_an_unreleased_assignment_looks_exactly_like_none(app, ids):
    b_student, a_student = signed_in(app, B_STUDENT), signed_in(app)
    nonexistent = post(b_student, "999999")
    assert nonexistent.status_code == 404
    others = {
        "other course's id": post(b_student, str(ids["a_lab6"])),
        "other course's unreleased id": post(b_student, str(ids["a_lab7"])),
        "other course's unreleased slug": post(b_student, "lab7"),
        "own course's unreleased id": post(a_student, str(ids["a_lab7"])),
        "own course's unreleased slug": post(a_student, "lab7"),
        "nonexistent slug": post(b_student, "no-such-lab"),
        "id past the column's range": post(b_student, "9" * 30),
        "a digit that int() refuses": post(b_student, "²"),
    }
    for case, response in others.items():
        assert (response.status_code, response.get_data()) == (404, nonexistent.get_data()), case
    with app.app_context():
        assert db.session.scalar(select(Submission.id)) is None


def test_the_form_gives_the_same_404_without_naming_the_course(app, ids):
    page = post(signed_in(app, B_STUDENT), str(ids["a_lab6"]), api=False)
    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert "There is no assignment with that id or slug in your courses." in text
    assert "BT-AI" not in text and "Lab 6 - Deep Learning 1" not in text


def test_staff_may_still_submit_their_unreleased_assignment(app, ids):
    ta = signed_in(app, "ta@example.edu")
    assert uploaded_to(app, post(ta, "lab7")) == ids["a_lab7"]
