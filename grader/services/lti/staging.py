"""Noticing score changes and writing down what each LMS line item is owed (Assignment and Grade
Services, first half; grader.services.lti.passback delivers).

Nothing calls this after each way a score can change. The session notices the changes as they are
flushed (a run graded, a manual score, an assignment's due date, late policy or score policy), and
just before the commit compares each affected student's counting score with what their line item
was last told. A changed one is written down as pending in the same transaction, so no change is
lost between the two; grader.task_queue sends the delivery task once the commit has happened, and
the sweeper sends again whatever is still pending (a broker away, a worker restarted).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload

from grader.extensions import db
from grader.lti_models import LtiContext, LtiGradeSend, LtiIdentity, LtiResourceLink, PassbackState
from grader.models import (
    Assignment,
    Enrollment,
    GradingRun,
    ManualScore,
    Role,
    RunStatus,
    Submission,
    utcnow,
)
from grader.services.assignments.rules import counting_attempt
from grader.services.submissions.standings import (
    StudentAttempts,
    class_attempts,
    student_attempts,
)

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
# session.info keys: changes noticed at flush (assignment id -> student ids, or None for all), and
# the sends made pending by this transaction, for grader.task_queue to deliver after the commit.
CHANGES = "lti_score_changes"
SENDS_TO_DELIVER = "lti_score_sends"
# An assignment's fields that change every student's counting score.
SCORING_FIELDS = (
    "due_at",
    "late_penalty_percent_per_day",
    "late_penalty_cap_percent",
    "score_policy",
)


@event.listens_for(Session, "before_flush")
def _notice_score_changes(session: Session, _context, _instances) -> None:
    changes: dict[int, set[int] | None] = session.info.setdefault(CHANGES, {})
    for row in [*session.new, *session.dirty]:
        submission = None
        if isinstance(row, GradingRun) and row.status == RunStatus.GRADED:
            submission = row.submission
        elif isinstance(row, ManualScore) and row.submission_id is not None:
            submission = session.get(Submission, row.submission_id)
        if submission is not None:
            _note(changes, submission.assignment_id, submission.student_id)
        if (
            isinstance(row, Assignment)
            and session.is_modified(row)
            and any(db.inspect(row).attrs[name].history.has_changes() for name in SCORING_FIELDS)
        ):
            changes[row.id] = None


def _note(changes: dict[int, set[int] | None], assignment_id: int, student_id: int) -> None:
    students = changes.setdefault(assignment_id, set())
    if students is not None:
        students.add(student_id)


@event.listens_for(Session, "before_commit")
def _stage_noticed_changes(session: Session) -> None:
    # The commit flushes only after this hook: flush first, so its changes are noticed too.
    session.flush()
    changes = session.info.pop(CHANGES, None)
    if not changes:
        return
    sends: list[LtiGradeSend] = []
    for assignment_id, students in changes.items():
        sends += stage_scores(session, assignment_id, students)
    deliver_after_commit(session, sends)


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(CHANGES, None)
    session.info.pop(SENDS_TO_DELIVER, None)


def stage_scores(
    session: Session, assignment_id: int, student_ids: Iterable[int] | None
) -> list[LtiGradeSend]:
    """Mark pending each linked student's send whose counting score differs from the last one."""
    links = [
        link
        for link in session.scalars(
            select(LtiResourceLink)
            .options(selectinload(LtiResourceLink.context))
            .where(
                LtiResourceLink.assignment_id == assignment_id,
                LtiResourceLink.lineitem_url.is_not(None),
            )
        )
        if SCORE_SCOPE in (link.context.ags_scopes or [])
    ]
    if not links:
        return []
    assignment = session.get(Assignment, assignment_id)
    wanted = None if student_ids is None else set(student_ids)
    # A graded run concerns one student: read only theirs, not the whole class's, each time.
    attempts = (
        class_attempts(assignment)
        if wanted is None
        else {student: student_attempts(assignment, student) for student in wanted}
    )
    staged = []
    for link in links:
        for identity in linked_students(session, link.context, wanted):
            own = attempts.get(identity.user_id) or StudentAttempts.of([])
            send = _stage(session, assignment, link, identity.user_id, own)
            if send is not None:
                staged.append(send)
    return staged


def linked_students(
    session: Session, context: LtiContext, wanted: set[int] | None
) -> list[LtiIdentity]:
    query = (
        select(LtiIdentity)
        .join(Enrollment, Enrollment.user_id == LtiIdentity.user_id)
        .where(
            LtiIdentity.platform_id == context.platform_id,
            Enrollment.course_id == context.course_id,
            Enrollment.role == Role.STUDENT,
        )
    )
    if wanted is not None:
        query = query.where(LtiIdentity.user_id.in_(wanted))
    return list(session.scalars(query))


def _stage(
    session: Session,
    assignment: Assignment,
    link: LtiResourceLink,
    student_id: int,
    attempts: StudentAttempts,
) -> LtiGradeSend | None:
    counting = counting_attempt(assignment, attempts.scored)
    if counting is None:
        return None  # nothing graded yet: the line item stays empty
    view = attempts.view_of(counting.submission_id)
    progress = "PendingManual" if view.awaiting_ta else "FullyGraded"
    score, maximum = round(counting.score, 6), round(counting.points, 6)
    send = session.scalar(
        select(LtiGradeSend).where(
            LtiGradeSend.resource_link_id == link.id, LtiGradeSend.user_id == student_id
        )
    )
    if send is None:
        send = LtiGradeSend(resource_link_id=link.id, user_id=student_id)
        session.add(send)
    elif (send.score_given, send.score_maximum, send.grading_progress) == (
        score,
        maximum,
        progress,
    ) and send.state != PassbackState.FAILED:
        return None
    send.score_given, send.score_maximum, send.grading_progress = score, maximum, progress
    make_pending(send)
    return send


def make_pending(send: LtiGradeSend) -> None:
    # Each change is a new statement with a later timestamp: platforms keep the latest by it.
    send.state, send.changed_at, send.enqueued_at = PassbackState.PENDING, utcnow(), utcnow()
    send.attempts, send.last_error = 0, None


def deliver_after_commit(session: Session, sends: list[LtiGradeSend]) -> list[int]:
    """Have grader.task_queue send these (flushed) sends' delivery tasks once the commit is done."""
    if not sends:
        return []
    session.flush()
    ids = [send.id for send in sends]
    session.info.setdefault(SENDS_TO_DELIVER, set()).update(ids)
    return ids
