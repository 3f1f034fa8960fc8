"""Names and Role Provisioning: the whole class enrolled from the LMS, by button and by command."""

from __future__ import annotations

import html

import pytest
from conftest import signed_in
from sqlalchemy import select

from grader.cli import main
from grader.extensions import db
from grader.lti_models import LtiIdentity
from grader.models import Course, Enrollment, Role
from grader.services.demo import DEMO_COURSE
from lti.conftest import CONTEXT, launch, place
from lti.platform import LEARNER, MEDIA_MEMBERSHIPS, SCOPE_MEMBERSHIP

pytestmark = pytest.mark.slow  # a platform served on a local port

OBSERVER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"


def roles_by_subject(app) -> dict[str, Role]:
    with app.app_context():
        rows = db.session.execute(
            select(LtiIdentity.subject, Enrollment.role).join(
                Enrollment, Enrollment.user_id == LtiIdentity.user_id
            )
        )
        return {subject: Role(role) for subject, role in rows}


def test_sync_roster_button_enrols_the_whole_class_page_by_page(app, lms):
    lms.add_user("cy-5", "Cy Learner", "cy@lms.example", [LEARNER], CONTEXT)
    lms.add_user("olga-6", "Olga Observer", "olga@lms.example", [OBSERVER], CONTEXT)
    # An id longer than any LMS uses (and than the grader keeps): skipped, not a crash.
    lms.add_user("z" * 300, "Zed Long", "zed@lms.example", [LEARNER], CONTEXT)
    place(app, lms)  # the instructor's launch tells the grader where the class list is
    teacher = launch(app, lms, "ted-3", message="deep_link").client
    with app.app_context():
        course_id = db.session.scalar(select(Course.id).where(Course.code == DEMO_COURSE[0]))
    response = teacher.post(f"/courses/{course_id}/lms-roster", follow_redirects=True)
    page = html.unescape(response.get_data(as_text=True))
    assert "Class list synced from the LMS: 5 enrolled, 2 skipped" in page
    assert roles_by_subject(app) == {
        "ann-1": Role.STUDENT,
        "bob-2": Role.STUDENT,
        "cy-5": Role.STUDENT,
        "ted-3": Role.INSTRUCTOR,
        "tia-4": Role.TA,
    }
    # Seven members two to a page: four requests, each with the membership scope's token.
    pages = [r for r in lms.requests if r["path"].endswith("/memberships")]
    assert len(pages) == 4
    assert all(r["headers"]["Accept"] == MEDIA_MEMBERSHIPS for r in pages)
    [token] = [r for r in lms.requests if r["path"] == "/token"]
    assert token["body"]["scope"] == SCOPE_MEMBERSHIP
    # Synced people open the assignment as themselves, with no second account.
    launch(app, lms, "cy-5", link=next(iter(lms.links)))
    with app.app_context():
        assert (
            len(list(db.session.scalars(select(LtiIdentity).where(LtiIdentity.subject == "cy-5"))))
            == 1
        )


def test_only_the_course_instructor_may_sync(app, lms):
    place(app, lms)
    with app.app_context():
        course_id = db.session.scalar(select(Course.id).where(Course.code == DEMO_COURSE[0]))
    ta = signed_in(app, "ta@example.edu")
    assert ta.post(f"/courses/{course_id}/lms-roster").status_code == 404
    assert roles_by_subject(app) == {"ted-3": Role.INSTRUCTOR}


def test_sync_roster_command_and_a_course_with_no_lms(app, lms):
    runner = app.test_cli_runner()
    no_lms = runner.invoke(main, ["lti", "sync-roster", DEMO_COURSE[0]])
    assert no_lms.exit_code == 1 and "open one of its links from the LMS first" in no_lms.output
    place(app, lms)
    result = runner.invoke(main, ["lti", "sync-roster", DEMO_COURSE[0]])
    assert result.exit_code == 0, result.output
    assert "Enrolled 4 from 1 LMS course(s); skipped 0" in result.output
    assert set(roles_by_subject(app)) == {"ann-1", "bob-2", "ted-3", "tia-4"}


def test_an_lms_that_refuses_the_class_list_is_reported(app, lms):
    place(app, lms)
    lms.roles[CONTEXT].clear()  # the context is still there; the platform's check fails
    lms.contexts.clear()
    result = app.test_cli_runner().invoke(main, ["lti", "sync-roster", DEMO_COURSE[0]])
    assert (
        result.exit_code == 1
        and "The LMS did not give the class list: it answered 404" in result.output
    )
    assert lms.problems and all("unknown context" in p for p in lms.problems)
    lms.problems.clear()
