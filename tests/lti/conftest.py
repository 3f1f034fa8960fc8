"""An LMS (the test platform) registered with a fresh grader, its course mapped to the demo
course, and launches through the real login, authentication and launch steps."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select

from grader.extensions import db
from grader.lti_models import LtiIdentity
from grader.models import Assignment, Course, Enrollment, User
from grader.services.demo import DEMO_COURSE
from grader.services.lti.platforms import PlatformSpec, register_platform
from grader.services.lti.provisioning import link_context
from lti.platform import INSTRUCTOR, LEARNER, LtiTestPlatform, ResourceLink

TOOL = "http://localhost"
CONTEXT = "course-ml"
# Canvas names a TA both ways: the Instructor role and its TeachingAssistant sub-role.
CANVAS_TA = [
    INSTRUCTOR,
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
]


@dataclass
class Launched:
    client: FlaskClient
    response: object


@pytest.fixture
def lms(app):
    """A served platform registered with the app; its course CONTEXT opens the demo course."""
    tool = app.test_client()
    with LtiTestPlatform(
        tool_key_set=lambda: tool.get("/lti/jwks").get_json(),
        launch_url=f"{TOOL}/lti/launch",
        login_url=f"{TOOL}/lti/login",
    ) as platform:
        platform.add_context(CONTEXT, "ML-101", "Machine learning")
        platform.add_user("ann-1", "Ann Learner", "ann@lms.example", [LEARNER], CONTEXT)
        platform.add_user("bob-2", "Bob Learner", "bob@lms.example", [LEARNER], CONTEXT)
        platform.add_user("ted-3", "Ted Teacher", "ted@lms.example", [INSTRUCTOR], CONTEXT)
        platform.add_user("tia-4", "Tia Assistant", "tia@lms.example", CANVAS_TA, CONTEXT)
        connect(app, platform)
        yield platform
        assert platform.problems == []


def connect(app, platform: LtiTestPlatform) -> None:
    """Register the platform as an administrator would, its course CONTEXT opening the demo
    course."""
    with app.app_context():
        registered = register_platform(
            PlatformSpec(
                name="Test LMS",
                issuer=platform.issuer,
                client_id=platform.client_id,
                auth_login_url=platform.auth_login_url,
                auth_token_url=platform.token_url,
                key_set_url=platform.jwks_url,
                deployment_ids=(platform.deployment_id,),
            )
        )
        course = db.session.scalar(select(Course).where(Course.code == DEMO_COURSE[0]))
        link_context(registered.id, CONTEXT, course)


def launch(
    app,
    platform,
    sub: str,
    link: str | None = None,
    message: str = "resource",
    tamper: str | None = None,
    client: FlaskClient | None = None,
) -> Launched:
    """Open the tool from the LMS as `sub`: login initiation, the platform's answer, the launch."""
    client = client or app.test_client()
    login = platform.login_request(sub, CONTEXT, resource_link_id=link, message=message)
    started = client.post("/lti/login", data=login)
    assert started.status_code == 302, started.get_data(as_text=True)
    target, form = platform.authorize(started.headers["Location"], tamper=tamper)
    assert target == f"{TOOL}/lti/launch"
    return Launched(client, client.post("/lti/launch", data=form))


def place(app, platform, assignment_slug: str = "lab6") -> ResourceLink:
    """The instructor deep-links an assignment; return what the platform placed."""
    picker = launch(app, platform, "ted-3", message="deep_link")
    assert picker.response.status_code == 200, picker.response.get_data(as_text=True)
    page = picker.response.get_data(as_text=True)
    token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
    with app.app_context():
        assignment_id = db.session.scalar(
            select(Assignment.id).where(Assignment.slug == assignment_slug)
        )
    answer = picker.client.post(
        "/lti/deep_link", data={"token": token, "assignment_id": str(assignment_id)}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    page = answer.get_data(as_text=True)
    return_url = page.split('id="deep-link-return" method="post" action="', 1)[1].split('"', 1)[0]
    assert return_url == platform.deep_link_return_url
    jwt = page.split('name="JWT" value="', 1)[1].split('"', 1)[0]
    before = set(platform.links)
    # As the browser would: the page posts the signed answer back to the platform.
    placed = requests.post(return_url, data={"JWT": jwt}, timeout=10)
    assert placed.status_code == 200, placed.text
    [link_id] = set(platform.links) - before
    return platform.links[link_id]


def counts(app) -> tuple[int, int, int]:
    """Users, LMS identities and enrolments: what a refused launch must not add to."""
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(table))
            for table in (User, LtiIdentity, Enrollment)
        )
