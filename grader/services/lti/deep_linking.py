"""Deep linking: an instructor picks one of the course's assignments and the LMS gets a signed
answer placing a link to it, with a line item for its grades."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import yaml
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy import select

from grader.engine.rubric import parse_rubric
from grader.extensions import db
from grader.lti_models import LtiPlatform
from grader.models import Assignment, User
from grader.services.assignments.rubric_editor import export_rubric
from grader.services.errors import LtiRefused, NotFound
from grader.services.lti.launches import Launch
from grader.services.lti.platforms import registration_of
from grader.services.lti.provisioning import ASSIGNMENT_PARAMETER, LaunchOutcome
from grader.services.permissions import is_instructor_role, role_in

# The tag on the line items we create, so staff can tell them from the LMS's own.
LINE_ITEM_TAG = "notebook-grader"


@dataclass(frozen=True)
class DeepLinkRequest:
    """What a deep-linking launch asked for, kept until the instructor has picked (the page
    carries it, signed)."""

    platform_id: int
    deployment_id: str
    course_id: int
    user_id: int
    return_url: str
    # Opaque to us; the platform wants it back.
    data: str | None

    @classmethod
    def of(cls, launch: Launch, outcome: LaunchOutcome) -> DeepLinkRequest:
        settings = launch.deep_linking or {}
        if not settings.get("deep_link_return_url"):
            raise LtiRefused("The LMS's deep-linking request has no return URL.")
        accepted = settings.get("accept_types") or []
        if "ltiResourceLink" not in accepted:
            raise LtiRefused("This LMS placement does not accept links to assignments here.")
        return cls(
            platform_id=launch.platform_id,
            deployment_id=launch.deployment_id,
            course_id=outcome.course.id,
            user_id=outcome.user.id,
            return_url=settings["deep_link_return_url"],
            data=settings.get("data"),
        )

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DeepLinkAnswer:
    return_url: str
    jwt: str


def pickable_assignments(request: DeepLinkRequest) -> list[Assignment]:
    return list(
        db.session.scalars(
            select(Assignment)
            .where(Assignment.course_id == request.course_id)
            .order_by(Assignment.due_at.is_(None), Assignment.due_at, Assignment.id)
        )
    )


def answer_deep_link(
    request: DeepLinkRequest, actor: User, assignment_id: int, launch_url: str
) -> DeepLinkAnswer:
    """The signed LtiDeepLinkingResponse placing `assignment_id` as a link with a line item."""
    if actor.id != request.user_id or not is_instructor_role(role_in(actor, request.course_id)):
        raise LtiRefused("Only the instructor who opened this picker can place an assignment.")
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or assignment.course_id != request.course_id:
        raise NotFound(f"There is no assignment {assignment_id} in this course.")
    platform = db.session.get(LtiPlatform, request.platform_id)
    if platform is None:
        raise LtiRefused("That LMS is no longer registered with this grader.")
    line_item = (
        LineItem()
        .set_label(assignment.title)
        .set_score_maximum(assignment_points(assignment))
        .set_resource_id(f"assignment-{assignment.id}")
        .set_tag(LINE_ITEM_TAG)
    )
    resource = (
        DeepLinkResource()
        .set_url(launch_url)
        .set_title(assignment.title)
        .set_custom_params({ASSIGNMENT_PARAMETER: str(assignment.id)})
        .set_lineitem(line_item)
    )
    settings = {"deep_link_return_url": request.return_url, "data": request.data}
    deep_link = DeepLink(registration_of(platform), request.deployment_id, settings)
    return DeepLinkAnswer(request.return_url, deep_link.get_response_jwt([resource]))


def assignment_points(assignment: Assignment) -> float:
    """The points the assignment's rubric gives in all (a line item's maximum)."""
    rubric = parse_rubric(yaml.safe_load(export_rubric(assignment)))
    return round(sum(question.points for question in rubric.questions), 6)
