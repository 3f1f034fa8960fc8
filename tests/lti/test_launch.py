"""Launches from an LMS: people signed in and enrolled by platform user id and role, deep linking,
and every bad token refused with a clear page, logged, with nothing created."""

from __future__ import annotations

import html
from dataclasses import replace

import pytest
from conftest import make_app
from sqlalchemy import select

from grader.extensions import db
from grader.lti_models import LtiIdentity, LtiResourceLink
from grader.models import Assignment, Enrollment, Role, User
from grader.services.assignments.authoring import NOT_RELEASED
from lti.conftest import TOOL, counts, launch, place
from lti.platform import CLAIM, LEARNER, TAMPERS

pytestmark = pytest.mark.slow  # a platform served on a local port


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def enrolment(app, sub: str) -> tuple[User, Role]:
    with app.app_context():
        identity = db.session.scalar(select(LtiIdentity).where(LtiIdentity.subject == sub))
        user = identity.user
        role = db.session.scalar(select(Enrollment.role).where(Enrollment.user_id == user.id))
        db.session.expunge(user)
        return user, Role(role)


def test_instructor_places_an_assignment_and_each_role_lands_on_its_page(app, lms):
    link = place(app, lms)
    with app.app_context():
        lab6 = db.session.scalar(select(Assignment).where(Assignment.slug == "lab6"))
        lab6_id, title = lab6.id, lab6.title
    item = lms.lineitems[link.lineitem]
    # Lab 6's rubric gives 14 points in all; the line item is tied to the placed link.
    assert (item["label"], item["scoreMaximum"], item["resourceLinkId"]) == (title, 14, link.id)
    assert item["resourceId"] == f"assignment-{lab6_id}" and item["tag"] == "notebook-grader"
    assert link.custom == {"assignment_id": str(lab6_id)} and link.url == f"{TOOL}/lti/launch"

    student = launch(app, lms, "ann-1", link=link.id)
    assert student.response.status_code == 303
    assert student.response.headers["Location"] == f"/?assignment={lab6_id}"
    page = student.client.get(student.response.headers["Location"])
    assert page.status_code == 200
    # The upload form has the linked assignment chosen.
    assert f'<option selected value="{lab6_id}">' in text(page)
    user, role = enrolment(app, "ann-1")
    assert (user.email, user.name, role) == ("ann@lms.example", "Ann Learner", Role.STUDENT)

    teacher = launch(app, lms, "ted-3", link=link.id)
    assert teacher.response.headers["Location"] == f"/assignments/{lab6_id}/dashboard"
    assert teacher.client.get(teacher.response.headers["Location"]).status_code == 200
    assert enrolment(app, "ted-3")[1] == Role.INSTRUCTOR
    # Canvas sends a TA as Instructor plus its TeachingAssistant sub-role: a TA here, not more.
    assistant = launch(app, lms, "tia-4", link=link.id)
    assert assistant.response.headers["Location"] == f"/assignments/{lab6_id}/dashboard"
    assert enrolment(app, "tia-4")[1] == Role.TA
    with app.app_context():
        stored = db.session.scalar(select(LtiResourceLink))
        assert (stored.resource_link_id, stored.lineitem_url) == (link.id, link.lineitem)


def test_a_second_launch_is_the_same_person_and_email_never_decides_who(app, lms):
    link = place(app, lms)
    first = enrolment(app, launch(app, lms, "ann-1", link=link.id) and "ann-1")[0]
    # Bob's LMS profile now claims Ann's address: he gets his own account, not hers.
    lms.users["bob-2"]["email"] = "ann@lms.example"
    launch(app, lms, "bob-2", link=link.id)
    bob = enrolment(app, "bob-2")[0]
    assert bob.id != first.id and bob.email.endswith("@lti.invalid")
    lms.users["ann-1"]["name"] = "Ann Renamed"
    launch(app, lms, "ann-1", link=link.id)
    again = enrolment(app, "ann-1")[0]
    assert (again.id, again.name, again.email) == (first.id, "Ann Renamed", "ann@lms.example")


def test_launched_sessions_work_inside_the_lms_frame_and_others_do_not(app, lms, client):
    link = place(app, lms)
    student = launch(app, lms, "ann-1", link=link.id)
    cookie = student.response.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
    page = student.client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {lms.issuer}" in csp and "X-Frame-Options" not in page.headers
    # A password sign-in stays Lax and unframeable.
    ordinary = client.get("/")
    assert "frame-ancestors 'none'" in ordinary.headers["Content-Security-Policy"]
    assert ordinary.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("tamper", TAMPERS)
def test_a_bad_token_is_refused_logged_and_creates_nothing(app, lms, tamper, caplog):
    link = place(app, lms)
    before = counts(app)
    refused = launch(app, lms, "bob-2", link=link.id, tamper=tamper)
    assert refused.response.status_code == 400
    page = text(refused.response)
    assert "The LMS launch was refused" in page
    reason = {
        "wrong_key": "Signature verification failed",
        "wrong_audience": "not meant for this tool",
        "expired": "Signature has expired",
        "unknown_deployment": "Unable to find deployment",
    }[tamper]
    assert reason in page
    assert counts(app) == before
    assert any(
        "LTI launch refused" in r.getMessage() and reason in r.getMessage() for r in caplog.records
    )
    # Nobody was signed in.
    assert refused.client.get("/").status_code == 302


def test_a_replayed_launch_and_a_token_moved_to_another_login_are_refused(app, lms):
    link = place(app, lms)
    client = app.test_client()
    login = lms.login_request("bob-2", "course-ml", resource_link_id=link.id)
    started = client.post("/lti/login", data=login)
    _target, form = lms.authorize(started.headers["Location"])
    assert client.post("/lti/launch", data=form).status_code == 303
    before = counts(app)
    replay = app.test_client().post("/lti/launch", data=form)
    assert replay.status_code == 400 and "used already" in text(replay)
    # The same token inside a fresh login: its nonce is not that login's.
    fresh = app.test_client()
    new_login = fresh.post("/lti/login", data=lms.login_request("bob-2", "course-ml", link.id))
    new_state = dict(
        p.split("=", 1) for p in new_login.headers["Location"].split("?", 1)[1].split("&")
    )["state"]
    moved = fresh.post("/lti/launch", data={"id_token": form["id_token"], "state": new_state})
    assert moved.status_code == 400 and "nonce" in text(moved)
    assert counts(app) == before


@pytest.mark.parametrize(
    "form, says",
    [
        ({}, "login is unknown"),
        ({"state": "made-up", "id_token": "a.b.c"}, "login is unknown"),
    ],
)
def test_a_malformed_launch_gets_a_clear_page(app, lms, form, says):
    response = app.test_client().post("/lti/launch", data=form)
    assert response.status_code == 400 and says in text(response)


def test_a_garbled_token_in_a_real_login_is_refused(app, lms):
    client = app.test_client()
    started = client.post("/lti/login", data=lms.login_request("ann-1", "course-ml"))
    state = started.headers["Location"].split("state=", 1)[1].split("&", 1)[0]
    response = client.post("/lti/launch", data={"state": state, "id_token": "not-a-jwt"})
    assert response.status_code == 400 and "JWT must contain 3 parts" in text(response)


def test_a_login_from_an_unregistered_lms_is_refused(app, lms):
    login = lms.login_request("ann-1", "course-ml") | {"iss": "https://elsewhere.example"}
    response = app.test_client().post("/lti/login", data=login)
    assert response.status_code == 400
    assert "No LMS with issuer 'https://elsewhere.example'" in text(response)
    missing = app.test_client().get("/lti/login", query_string={"iss": lms.issuer})
    assert missing.status_code == 400 and "has no login_hint" in text(missing)


def test_a_student_cannot_deep_link_and_a_link_to_another_course_is_refused(app, lms):
    refused = launch(app, lms, "ann-1", message="deep_link")
    assert refused.response.status_code == 400
    assert "Only the course's instructors" in text(refused.response)
    # A link whose custom parameter names an assignment outside the LMS course's course.
    lms.add_resource_link("course-ml", "forged", custom={"assignment_id": "99999"})
    forged = launch(app, lms, "ann-1", link="forged")
    assert forged.response.status_code == 400
    assert "not in this course" in text(forged.response)
    plain = lms.add_resource_link("course-ml", "plain")
    unset = launch(app, lms, "ann-1", link=plain.id)
    assert "Ask your instructor to add it again" in text(unset.response)


def test_an_altered_picker_token_is_refused(app, lms):
    picker = launch(app, lms, "ted-3", message="deep_link")
    page = text(picker.response)
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    altered = picker.client.post(
        "/lti/deep_link", data={"token": token[:-2] + "xx", "assignment_id": "1"}
    )
    assert altered.status_code == 400 and "expired or was altered" in text(altered)


def test_a_flood_of_lms_logins_is_cut_off(settings, tmp_path):
    app = make_app(replace(settings, lti_login_limit_per_address="2/minute"))
    client = app.test_client()
    answers = [client.post("/lti/login", data={"iss": "x"}).status_code for _ in range(3)]
    assert answers == [400, 400, 429]
    assert "Too many LMS logins" in text(client.post("/lti/login", data={"iss": "x"}))


@pytest.mark.parametrize(
    "claims, says",
    [
        ({CLAIM + "custom": "assignment_id=1"}, "claim 'custom' is not an object"),
        ({CLAIM + "context": ["course-ml"]}, "claim 'context' is not an object"),
        ({"sub": "s" * 300}, "user id (sub) is longer than 255 characters"),
        ({CLAIM + "roles": LEARNER}, "is not one the grader knows"),
        ({CLAIM + "deployment_id": ""}, "deployment_id is not set"),
    ],
)
def test_odd_claims_from_a_registered_lms_get_a_clear_page(app, lms, claims, says):
    link = place(app, lms)
    before = counts(app)
    lms.extra_claims = claims
    refused = launch(app, lms, "bob-2", link=link.id)
    assert refused.response.status_code == 400 and says in text(refused.response)
    assert counts(app) == before


def test_a_student_opening_an_unreleased_assignment_is_told_so(app, lms):
    link = place(app, lms)
    with app.app_context():
        lab6 = db.session.scalar(select(Assignment).where(Assignment.slug == "lab6"))
        lab6.release_at = NOT_RELEASED
        db.session.commit()
    student = launch(app, lms, "ann-1", link=link.id)
    page = text(student.client.get(student.response.headers["Location"]))
    assert "“Lab 6 - Deep Learning 1” is not open yet: it has not been released." in page
