"""Typed SQLAlchemy 2 models: courses, people, assignments, submissions and their grading runs."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grader.extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


# Every timestamp is UTC and says so, on SQLite and PostgreSQL alike.
Timestamp = Annotated[datetime, mapped_column(DateTime(timezone=True))]


class Role(str, enum.Enum):
    STUDENT = "student"
    TA = "ta"
    INSTRUCTOR = "instructor"


class RunStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    GRADED = "graded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.GRADED, RunStatus.FAILED)


class ScorePolicy(str, enum.Enum):
    """Which of a student's graded submissions counts for the assignment."""

    BEST = "best"
    LAST = "last"


def _enum_column(enum_cls: type[enum.Enum], name: str) -> Enum:
    # Stored as VARCHAR plus a CHECK constraint: portable, and readable in psql.
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        values_callable=lambda e: [m.value for m in e],
        create_constraint=True,
        length=16,
    )


class Course(db.Model):
    __tablename__ = "courses"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    assignments: Mapped[list[Assignment]] = relationship(back_populates="course")


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # None until the person sets a password (a roster import creates accounts without one).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Part of every session cookie; replaced on sign-out and password change, which ends every
    # session. A row written outside the app gets an empty token, which signs no one in.
    session_token: Mapped[str] = mapped_column(
        String(64), default=new_session_token, server_default=""
    )

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the current session token."""
        return f"{self.id}:{self.session_token}"


class ApiToken(db.Model):
    """A token for the JSON API; only its hash is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    expires_at: Mapped[Timestamp]
    revoked_at: Mapped[Timestamp | None]
    last_used_at: Mapped[Timestamp | None]
    user: Mapped[User] = relationship()


class Enrollment(db.Model):
    """A user's role in one course; the same person may be a TA in one course and a student in
    another."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(_enum_column(Role, "role"))


class Assignment(db.Model):
    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    # The assignment package (rubric, template, data, hidden data) as a zip blob, so any worker can
    # fetch it.
    package_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    # Students neither see nor submit before the release; None means released.
    release_at: Mapped[Timestamp | None]
    due_at: Mapped[Timestamp | None]
    # Each started day late costs this percentage of the score, up to the cap.
    late_penalty_percent_per_day: Mapped[float] = mapped_column(default=0.0, server_default="0")
    late_penalty_cap_percent: Mapped[float] = mapped_column(default=100.0, server_default="100")
    # None: unlimited uploads.
    max_attempts: Mapped[int | None]
    score_policy: Mapped[ScorePolicy] = mapped_column(
        _enum_column(ScorePolicy, "score_policy"), default=ScorePolicy.BEST, server_default="best"
    )
    course: Mapped[Course] = relationship(back_populates="assignments")


class Blob(db.Model):
    """Content-addressed bytes kept in the database, so a worker on any machine can read them."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class Submission(db.Model):
    __tablename__ = "submissions"
    # Finds an identical graded notebook of the same assignment at upload.
    __table_args__ = (
        Index("ix_submissions_assignment_fingerprint", "assignment_id", "notebook_fingerprint"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    original_filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    # What the grader would run in it (cells' types and sources) and the grader's version, hashed
    # (grader.engine.reuse); None for uploads older than the column.
    notebook_fingerprint: Mapped[str | None] = mapped_column(String(64))
    assignment: Mapped[Assignment] = relationship()
    student: Mapped[User] = relationship()
    runs: Mapped[list[GradingRun]] = relationship(
        back_populates="submission", order_by="GradingRun.number"
    )


class GradingRun(db.Model):
    """One attempt at grading a submission; a re-grade is a new run with the next number."""

    __tablename__ = "grading_runs"
    __table_args__ = (UniqueConstraint("submission_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(default=1)
    status: Mapped[RunStatus] = mapped_column(
        _enum_column(RunStatus, "run_status"), default=RunStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    queued_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    # When its task was last sent: the sweeper sends it again if the message seems lost.
    enqueued_at: Mapped[Timestamp | None] = mapped_column(default=utcnow)
    started_at: Mapped[Timestamp | None]
    # Written every few seconds while a worker grades it; a silent running run has lost its worker.
    heartbeat_at: Mapped[Timestamp | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    finished_at: Mapped[Timestamp | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    cells_total: Mapped[int] = mapped_column(default=0)
    cells_done: Mapped[int] = mapped_column(default=0)
    cell_errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    executed_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    executed_html_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    score: Mapped[float | None]
    max_score: Mapped[float | None]
    manual_pending: Mapped[float | None]
    # Set when the run was not isolated (the unsafe local mode), so every page can say so.
    sandbox_warning: Mapped[str | None] = mapped_column(Text)
    # Seconds spent executing the notebook and scoring it, and whether its kernel was started ahead
    # of time.
    execution_seconds: Mapped[float | None]
    scoring_seconds: Mapped[float | None]
    warm_kernel: Mapped[bool | None]
    # What the notebook rebound or forged (e.g. "numpy.mean"): evidence for staff only, never used
    # to score.
    tamper: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # The assignment package it was graded against; None until graded.
    package_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    # Its result may stand for an identical notebook's: it ran to the end and nothing in it
    # depended on time (grader.engine.reuse.reusable). None for runs older than the column.
    reusable: Mapped[bool | None]
    # The earlier run of an identical notebook whose result this run took instead of running.
    reused_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("grading_runs.id", ondelete="SET NULL")
    )
    # Questions whose retrained model was the clean-room cache's: the same model was trained
    # before, so it was not trained again.
    models_from_cache: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    submission: Mapped[Submission] = relationship(back_populates="runs")
    reused_from: Mapped[GradingRun | None] = relationship(remote_side=[id])
    question_results: Mapped[list[QuestionResult]] = relationship(
        back_populates="run", order_by="QuestionResult.id"
    )


class WorkerHeartbeat(db.Model):
    """A worker process that is alive (it writes `last_seen` every few seconds), for the staff's
    dashboard."""

    __tablename__ = "worker_heartbeats"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    last_seen: Mapped[Timestamp] = mapped_column(default=utcnow)


class ManualScore(db.Model):
    """A TA's score for one question of a submission; it wins over the automatic one and outlives
    re-grades."""

    __tablename__ = "manual_scores"
    __table_args__ = (UniqueConstraint("submission_id", "question_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(128))
    score: Mapped[float]
    comment: Mapped[str] = mapped_column(Text, default="")
    grader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class ScoreChange(db.Model):
    """Audit log: every manual score given or changed, by whom, from what, and why."""

    __tablename__ = "score_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    question_key: Mapped[str] = mapped_column(String(128))
    old_score: Mapped[float | None]
    new_score: Mapped[float]
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


class PackageValidation(db.Model):
    """The solution and the untouched template graded against one version of an assignment's
    package."""

    __tablename__ = "package_validations"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    package_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[RunStatus] = mapped_column(
        _enum_column(RunStatus, "validation_status"), default=RunStatus.QUEUED
    )
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    finished_at: Mapped[Timestamp | None]
    # Per notebook ("solution", "template"): its total, maximum and per-question scores and
    # messages.
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What stands in the way of release, in words, e.g. "the solution loses 2 points on b_q1".
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    error_message: Mapped[str | None] = mapped_column(Text)


class QuestionResult(db.Model):
    __tablename__ = "question_results"
    __table_args__ = (UniqueConstraint("run_id", "question_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_runs.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(128))
    auto_score: Mapped[float] = mapped_column(default=0.0)
    max_score: Mapped[float] = mapped_column(default=0.0)
    manual_points: Mapped[float] = mapped_column(default=0.0, server_default="0")
    status: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run: Mapped[GradingRun] = relationship(back_populates="question_results")
