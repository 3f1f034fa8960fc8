"""Typed SQLAlchemy models of the LMS side (LTI 1.3): registered platforms, the tool's own keys,
who and what a platform's ids stand for here, pending logins, and grades owed to line items."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grader.extensions import db
from grader.models import Assignment, Course, Timestamp, User, _enum_column, utcnow


class LtiPlatform(db.Model):
    """An LMS registered by an administrator (`grader lti register`): only its launches are
    believed."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(255))
    # The id the platform gave this tool.
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(500))
    auth_token_url: Mapped[str] = mapped_column(String(500))
    key_set_url: Mapped[str] = mapped_column(String(500))
    # The `aud` of our token requests when the platform wants one other than its token URL
    # (Moodle and Canvas do not; some Brightspace setups do).
    auth_audience: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan"
    )


class LtiDeployment(db.Model):
    """One installation of the tool on a platform; a launch from any other is refused."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    platform: Mapped[LtiPlatform] = relationship(back_populates="deployments")


class LtiKey(db.Model):
    """A key pair this tool signs with (token requests, deep-linking answers); its public half is
    published at /lti/jwks while it signs and for a while after it is retired."""

    __tablename__ = "lti_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    retired_at: Mapped[Timestamp | None]


class LtiIdentity(db.Model):
    """The account a platform's user id (`sub`) stands for; e-mail never decides who is who."""

    __tablename__ = "lti_identities"
    __table_args__ = (UniqueConstraint("platform_id", "subject"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    user: Mapped[User] = relationship()


class LtiContext(db.Model):
    """An LMS course and the course it is here, with the service addresses its launches gave."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(String(255))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    # Names and Role Provisioning Services: where the class list is read.
    memberships_url: Mapped[str | None] = mapped_column(String(500))
    # Assignment and Grade Services: the course's line items, and the scopes the launch granted.
    lineitems_url: Mapped[str | None] = mapped_column(String(500))
    ags_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    platform: Mapped[LtiPlatform] = relationship()
    course: Mapped[Course] = relationship()


class LtiResourceLink(db.Model):
    """A link placed in the LMS that opens one assignment, and the line item its grades go to."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("context_id", "resource_link_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(255), default="")
    lineitem_url: Mapped[str | None] = mapped_column(String(500))
    context: Mapped[LtiContext] = relationship()
    assignment: Mapped[Assignment] = relationship()


class LtiLoginState(db.Model):
    """A login started at /lti/login and not yet finished at /lti/launch.

    The state and nonce live here rather than in a cookie: inside an LMS's iframe the browser may
    not send our cookies back. Each is used once: the launch deletes the row it finishes.
    """

    __tablename__ = "lti_login_states"
    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    expires_at: Mapped[Timestamp]


class PassbackState(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class LtiGradeSend(db.Model):
    """The score a student's line item should show, and whether the platform has it yet."""

    __tablename__ = "lti_grade_sends"
    __table_args__ = (UniqueConstraint("resource_link_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    resource_link_id: Mapped[int] = mapped_column(
        ForeignKey("lti_resource_links.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    score_given: Mapped[float | None]
    score_maximum: Mapped[float]
    # AGS gradingProgress: PendingManual while a TA still has free-response points to give.
    grading_progress: Mapped[str] = mapped_column(String(16), default="FullyGraded")
    state: Mapped[PassbackState] = mapped_column(
        _enum_column(PassbackState, "passback_state"), default=PassbackState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # When the score last changed here, and when the platform last accepted one.
    changed_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    sent_at: Mapped[Timestamp | None]
    # When its delivery task was last sent: the sweeper sends it again if that seems lost.
    enqueued_at: Mapped[Timestamp | None]
    resource_link: Mapped[LtiResourceLink] = relationship()
    user: Mapped[User] = relationship()
