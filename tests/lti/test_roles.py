"""LTI roles to course roles, and LMS URLs an administrator may register (no platform needed)."""

from __future__ import annotations

import pytest

from grader.models import Role
from grader.services.lti.people import course_role
from grader.services.lti.platforms import url_problem

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"


@pytest.mark.parametrize(
    "roles, role",
    [
        ([MEMBERSHIP + "Learner"], Role.STUDENT),
        ([MEMBERSHIP + "Instructor"], Role.INSTRUCTOR),
        ([MEMBERSHIP + "TeachingAssistant"], Role.TA),
        # Canvas: a TA is an Instructor with the TeachingAssistant sub-role; never an instructor.
        (
            [
                MEMBERSHIP + "Instructor",
                "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
            ],
            Role.TA,
        ),
        # Moodle: a teacher is also an institution Administrator; the course role decides.
        ([INSTITUTION + "Administrator", MEMBERSHIP + "Learner"], Role.STUDENT),
        ([INSTITUTION + "Instructor", MEMBERSHIP + "Learner"], Role.STUDENT),
        (["Instructor"], Role.INSTRUCTOR),  # the short names LTI 1.1 used
        ([MEMBERSHIP + "Mentor"], None),
        ([INSTITUTION + "Instructor"], None),
        ([], None),
    ],
)
def test_course_role(roles, role):
    assert course_role(roles) == role


@pytest.mark.parametrize(
    "url, problem",
    [
        ("https://canvas.instructure.com/api/lti/security/jwks", None),
        ("http://127.0.0.1:8080/jwks", None),
        ("http://localhost/auth", None),
        ("http://lms.example.edu/jwks", "must use https"),
        ("ftp://lms.example.edu/jwks", "is not an http(s) URL"),
        ("lms.example.edu", "is not an http(s) URL"),
    ],
)
def test_url_problem(url, problem):
    found = url_problem(url)
    assert found is None if problem is None else problem in found
