"""Accounts and roles: sign-in, CSRF, API tokens, and nobody seeing what is not theirs."""

from __future__ import annotations

import io
import os
import subprocess

import pytest
from conftest import make_app, notebook_bytes, signed_in
from processes import grader_command

from grader.extensions import db
from grader.models import Assignment, Course, Role
from grader.services.demo import DEMO_PASSWORD, load_demo
from grader.services.people.accounts import AccountError, create_user, enroll, import_roster
from grader.services.storage.blobs import put_blob


def add_person(app, email: str, role: Role = Role.STUDENT, course_code: str = "BT-AI") -> None:
    with app.app_context():
        user = create_user(email, password=DEMO_PASSWORD)
        enroll(user, db.session.scalar(db.select(Course).where(Course.code == course_code)), role)
        db.session.commit()


def submit(client) -> int:
    response = client.post(
        "/api/submissions",
        content_type="multipart/form-data",
        data={"assignment": "lab6", "file": (io.BytesIO(notebook_bytes("1")), "lab.ipynb")},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["submission_id"]


SUBMISSION_URLS = [
    "/submissions/{id}",
    "/submissions/{id}/status",
    "/submissions/{id}/notebook.html",
    "/submissions/{id}/executed.ipynb",
    "/submissions/{id}/plots/model.png",
    "/api/submissions/{id}",
]


@pytest.mark.parametrize("url", SUBMISSION_URLS)
def test_a_student_cannot_open_another_students_submission(app, client, url):
    submission_id = submit(client)
    add_person(app, "mallory@example.edu")
    mallory = signed_in(app, "mallory@example.edu")
    assert mallory.get(url.format(id=submission_id)).status_code == 404


def test_staff_see_their_courses_only(app, client):
    submission_id = submit(client)
    assert (
        signed_in(app, "ta@example.edu").get(f"/api/submissions/{submission_id}").status_code == 200
    )
    with app.app_context():
        db.session.add(Course(code="OTHER", title="Another course"))
        db.session.commit()
    add_person(app, "other-ta@example.edu", Role.TA, "OTHER")
    assert (
        signed_in(app, "other-ta@example.edu").get(f"/submissions/{submission_id}").status_code
        == 404
    )


def test_pages_need_a_sign_in(app):
    anonymous = app.test_client()
    response = anonymous.get("/submissions/1")
    assert (
        response.status_code == 302 and "/login?next=/submissions/1" in response.headers["Location"]
    )
    assert anonymous.get("/").status_code == 302


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(app):
    response = app.test_client().post(
        "/login", data={"email": "student@example.edu", "password": "nope-nope"}
    )
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)


def test_login_never_redirects_off_site(app):
    response = app.test_client().post(
        "/login?next=//evil.example/",
        data={"email": "student@example.edu", "password": DEMO_PASSWORD},
    )
    assert response.headers["Location"] == "/"


def test_api_needs_a_token_not_a_cookie(app):
    cookie_only = app.test_client()
    cookie_only.post("/login", data={"email": "student@example.edu", "password": DEMO_PASSWORD})
    response = cookie_only.post("/api/submissions", data={"assignment": "lab6"})
    assert response.status_code == 401 and "Bearer" in response.get_json()["error"]
    bad_token = app.test_client().get(
        "/api/submissions/1", headers={"Authorization": "Bearer grd_forged"}
    )
    assert bad_token.status_code == 401


def test_forms_need_a_csrf_token(settings):
    app = make_app(settings)
    app.config["WTF_CSRF_ENABLED"] = True  # as in production
    client = app.test_client()
    assert (
        client.post(
            "/login", data={"email": "student@example.edu", "password": DEMO_PASSWORD}
        ).status_code
        == 400
    )


def test_people_outside_the_course_cannot_submit(app):
    with app.app_context():
        create_user("outsider@example.edu", password=DEMO_PASSWORD)
        db.session.commit()
    outsider = signed_in(app, "outsider@example.edu")
    response = outsider.post(
        "/api/submissions",
        content_type="multipart/form-data",
        data={"assignment": "lab6", "file": (io.BytesIO(notebook_bytes("1")), "lab.ipynb")},
    )
    # The same answer as for an assignment that does not exist: nothing about BT-AI is revealed.
    assert response.status_code == 404 and "BT-AI" not in response.get_json()["error"]


def test_roster_import_creates_and_enrolls(app):
    with app.app_context():
        course = db.session.scalar(db.select(Course))
        result = import_roster(
            course,
            "email,name,role\nAnn@Example.edu,Ann,student\nta2@example.edu,T,ta\n"
            "student@example.edu,,student\n",
        )
        assert (result.created, result.enrolled) == (2, 3)
        with pytest.raises(AccountError, match="line 2: role must be"):
            import_roster(course, "email,role\nx@example.edu,boss\n")
        with pytest.raises(AccountError, match="'email' column"):
            import_roster(course, "name\nAnn\n")


@pytest.mark.slow  # runs the command line in new processes
def test_account_commands(tmp_path):
    env = {"GRADER_INSTANCE_DIR": str(tmp_path)}

    def grader(*args):
        return subprocess.run(
            grader_command(*args),
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert grader("db", "upgrade").returncode == 0
    assert grader("courses", "create", "CS1", "Intro").stdout.strip() == "Created course CS1."
    roster = tmp_path / "roster.csv"
    roster.write_text("email,name,role\na@x.edu,A,student\nb@x.edu,B,ta\n")
    assert (
        "Enrolled 2 people in CS1 (2 new accounts)."
        in grader("roster", "import", "CS1", str(roster)).stdout
    )
    created = grader(
        "users",
        "create",
        "c@x.edu",
        "--password",
        "long-enough",
        "--course",
        "CS1",
        "--role",
        "instructor",
    )
    assert created.stdout.strip() == "Created c@x.edu as instructor in CS1."
    assert grader("tokens", "create", "c@x.edu").stdout.startswith("grd_")
    missing = grader("roster", "import", "NOPE", str(roster))
    assert missing.returncode != 0 and "there is no course 'NOPE'" in missing.stderr


def test_loading_the_demo_again_keeps_an_instructors_edits(app):
    with app.app_context():
        lab6 = db.session.scalar(db.select(Assignment).where(Assignment.slug == "lab6"))
        lab6.title, lab6.package_sha256 = "Lab 6 (edited)", put_blob(b"an edited package")
        db.session.commit()
        load_demo()
        db.session.refresh(lab6)
        assert (lab6.title, lab6.package_sha256) == (
            "Lab 6 (edited)",
            put_blob(b"an edited package"),
        )
