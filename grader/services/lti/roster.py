"""Names and Role Provisioning Services: enrol a whole LMS course's class list at once."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from pylti1p3.exception import LtiException
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select

from grader.extensions import db
from grader.lti_models import LtiContext
from grader.models import User
from grader.services.errors import Invalid, LtiServiceFailed
from grader.services.lti.people import course_role, user_for_subject
from grader.services.lti.platforms import http_session, registration_of
from grader.services.people.accounts import enroll
from grader.services.permissions import require_course_instructor


@dataclass(frozen=True)
class RosterSync:
    enrolled: int
    # Members whose LMS roles map to none of ours (observers, designers), and inactive ones.
    skipped: int
    contexts: int


def sync_roster(actor: User | None, course_id: int) -> RosterSync:
    """Enrol every active member of the LMS courses linked to this course, with their mapped role.

    `actor` must be the course's instructor; None is the command line (an administrator).
    """
    if actor is not None:
        require_course_instructor(actor, course_id)
    contexts = list(
        db.session.scalars(
            select(LtiContext).where(
                LtiContext.course_id == course_id, LtiContext.memberships_url.is_not(None)
            )
        )
    )
    if not contexts:
        raise Invalid(
            "This course is not linked to an LMS course offering a class list yet: open one of "
            "its links from the LMS first (as its instructor)."
        )
    enrolled = skipped = 0
    for context in contexts:
        for member in _members(context):
            roles, subject, email = member.get("roles"), member.get("user_id"), member.get("email")
            role = (
                course_role([r for r in roles if isinstance(r, str)])
                if isinstance(roles, list)
                else None
            )
            usable = isinstance(subject, str | int) and 0 < len(str(subject)) <= 255
            if role is None or member.get("status", "Active") != "Active" or not usable:
                skipped += 1
                continue
            user = user_for_subject(
                context.platform_id,
                str(subject),
                str(member.get("name") or "")[:200],
                email if isinstance(email, str) else None,
            )
            enroll(user, context.course, role)
            enrolled += 1
    db.session.commit()
    return RosterSync(enrolled=enrolled, skipped=skipped, contexts=len(contexts))


def _members(context: LtiContext) -> list[dict]:
    """Every member the platform lists (page by page), objects only."""
    connector = ServiceConnector(registration_of(context.platform), requests_session=http_session())
    service = NamesRolesProvisioningService(
        connector, {"context_memberships_url": context.memberships_url}
    )
    try:
        return [member for member in service.get_members() if isinstance(member, dict)]
    except LtiException as exc:
        response = getattr(exc, "response", None)
        detail = f"it answered {response.status_code}" if response is not None else str(exc)
        raise LtiServiceFailed(f"The LMS did not give the class list: {detail}.") from None
    except requests.RequestException as exc:
        raise LtiServiceFailed(f"The LMS did not answer for the class list: {exc}.") from None
