"""What a believed launch makes here: the person, their course and role, and the assignment the
LMS link opens."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import select

from grader.extensions import db
from grader.lti_models import LtiContext, LtiResourceLink
from grader.models import Assignment, Course, Role, User
from grader.services.errors import LtiRefused
from grader.services.lti.launches import Launch
from grader.services.lti.people import course_role, user_for_subject
from grader.services.people.accounts import enroll

log = logging.getLogger(__name__)
# What a deep-linked LMS link carries to say which assignment it opens (its custom parameters).
ASSIGNMENT_PARAMETER = "assignment_id"


@dataclass(frozen=True)
class LaunchOutcome:
    user: User
    course: Course
    role: Role
    context: LtiContext
    # None for a deep-linking launch, which asks which assignment to place.
    assignment: Assignment | None


def provision(launch: Launch) -> LaunchOutcome:
    """Sign-in, course, enrolment and link for a launch, made or brought up to date; committed."""
    role = course_role(launch.roles)
    if role is None:
        raise LtiRefused(
            "Your role in this LMS course ("
            + (", ".join(r.rsplit("#", 1)[-1] for r in launch.roles) or "none")
            + ") is not one the grader knows: it takes learners, teaching assistants and"
            " instructors."
        )
    if launch.kind == "deep_link" and role != Role.INSTRUCTOR:
        raise LtiRefused("Only the course's instructors can add grader assignments to the LMS.")
    context = _context_for(launch)
    user = user_for_subject(launch.platform_id, launch.subject, launch.name, launch.email)
    enroll(user, context.course, role)
    assignment = _assignment_for(launch, context, role) if launch.kind == "resource" else None
    db.session.commit()
    return LaunchOutcome(user, context.course, role, context, assignment)


def _context_for(launch: Launch) -> LtiContext:
    context = db.session.scalar(
        select(LtiContext).where(
            LtiContext.platform_id == launch.platform_id, LtiContext.context_id == launch.context_id
        )
    )
    if context is None:
        title = launch.context_title or launch.context_label or "LMS course"
        course = Course(code=_free_course_code(launch.context_label or title), title=title[:200])
        db.session.add(course)
        context = LtiContext(
            platform_id=launch.platform_id, context_id=launch.context_id, course=course
        )
        db.session.add(context)
        log.info(
            "LMS course %r (%s) launched for the first time: it opens the new course %s "
            "(`grader lti link-course` maps an LMS course to an existing one instead)",
            launch.context_id,
            title,
            course.code,
        )
    context.deployment_id = launch.deployment_id
    context.title = (launch.context_title or context.title)[:255]
    # The service addresses come with each launch and may change (a course copied, a new term).
    context.memberships_url = launch.memberships_url or context.memberships_url
    context.lineitems_url = launch.lineitems_url or context.lineitems_url
    if launch.ags_scopes:
        context.ags_scopes = launch.ags_scopes
    db.session.flush()
    return context


def _assignment_for(launch: Launch, context: LtiContext, role: Role) -> Assignment:
    assert launch.resource_link_id is not None  # pylti1p3 checked the resource link claim
    link = db.session.scalar(
        select(LtiResourceLink).where(
            LtiResourceLink.context_id == context.id,
            LtiResourceLink.resource_link_id == launch.resource_link_id,
        )
    )
    if link is None:
        link = LtiResourceLink(
            context_id=context.id,
            resource_link_id=launch.resource_link_id,
            assignment=_placed_assignment(launch, context, role),
        )
        db.session.add(link)
    link.title = (launch.resource_link_title or link.title)[:255]
    if launch.lineitem_url:
        link.lineitem_url = launch.lineitem_url
    db.session.flush()
    return link.assignment


def _placed_assignment(launch: Launch, context: LtiContext, role: Role) -> Assignment:
    """The assignment a new LMS link was placed for (by deep linking), in this course only."""
    wanted = str(launch.custom.get(ASSIGNMENT_PARAMETER, ""))
    if not wanted:
        who = "Add it again" if role == Role.INSTRUCTOR else "Ask your instructor to add it again"
        raise LtiRefused(
            "This LMS link does not say which grader assignment it opens. "
            f"{who} with the LMS's external-tool picker (deep linking), choosing the assignment."
        )
    assignment = db.session.get(Assignment, int(wanted)) if wanted.isdigit() else None
    # A custom parameter is whatever the LMS link says: it may name only this course's work.
    if assignment is None or assignment.course_id != context.course_id:
        raise LtiRefused(f"This LMS link opens assignment {wanted!r}, which is not in this course.")
    return assignment


def _free_course_code(label: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")[:56] or "lms-course"
    code, number = base, 1
    while db.session.scalar(select(Course.id).where(Course.code == code)) is not None:
        number += 1
        code = f"{base}-{number}"
    return code


def link_context(platform_id: int, context_id: str, course: Course) -> LtiContext:
    """Map an LMS course to an existing course here, before (or instead of) the one its first
    launch would make; later launches and syncs enrol into `course`."""
    context = db.session.scalar(
        select(LtiContext).where(
            LtiContext.platform_id == platform_id, LtiContext.context_id == context_id
        )
    )
    if context is None:
        # The deployment is filled in by the context's first launch.
        context = LtiContext(platform_id=platform_id, context_id=context_id, deployment_id="")
        db.session.add(context)
    context.course = course
    db.session.commit()
    return context
