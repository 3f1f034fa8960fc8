"""Accepting a student's upload: validate, store the rows, and only then hand back what to enqueue."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import func, select

from grader.extensions import db
from grader.models import Assignment, GradingRun, Submission, User
from grader.notebooks import NotebookRejected, parse_notebook
from grader.services.access import STAFF
from grader.services.accounts import role_in
from grader.services.policy import is_released
from grader.services.blobs import put_blob

MAX_FILENAME_LENGTH = 255


@dataclass(frozen=True)
class AcceptedUpload:
    submission_id: int
    run_id: int


def find_assignment(reference: str) -> Assignment:
    """Look an assignment up by numeric id or by slug; raise NotebookRejected if there is no such one."""
    reference = (reference or "").strip()
    if not reference:
        raise NotebookRejected("Choose the assignment this notebook is for (field 'assignment').")
    if reference.isdigit():
        assignment = db.session.get(Assignment, int(reference))
    else:
        matches = db.session.scalars(select(Assignment).where(Assignment.slug == reference)).all()
        assignment = matches[0] if len(matches) == 1 else None
    if assignment is None:
        raise NotebookRejected(f"There is no assignment {reference[:80]!r}.", http_status=404)
    return assignment


def accept_upload(*, assignment_ref: str, student: User, filename: Optional[str], data: bytes,
                  max_bytes: int) -> AcceptedUpload:
    """Validate and store an upload and its first grading run; commit before returning."""
    filename = (filename or "").strip()
    if not filename.lower().endswith(".ipynb"):
        raise NotebookRejected(f"Upload a Jupyter notebook (.ipynb); got {filename[:80] or 'no file'!r}.")
    assignment = find_assignment(assignment_ref)
    _check_may_submit(student, assignment)
    parse_notebook(data, max_bytes)
    try:
        submission = Submission(assignment=assignment, student=student,
                                original_filename=filename[-MAX_FILENAME_LENGTH:], sha256=put_blob(data))
        run = GradingRun(submission=submission, number=1)
        db.session.add_all([submission, run])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return AcceptedUpload(submission_id=submission.id, run_id=run.id)


def _check_may_submit(student: User, assignment: Assignment) -> None:
    """Enrolled, released, attempts left; staff may always submit (to try the assignment out)."""
    role = role_in(student, assignment.course_id)
    if role is None:
        raise NotebookRejected(f"You are not enrolled in {assignment.course.code}, so you cannot submit "
                               f"{assignment.title}.", http_status=403)
    if role in STAFF:
        return
    if not is_released(assignment):
        raise NotebookRejected(f"There is no assignment {assignment.slug!r}.", http_status=404)
    if assignment.max_attempts is not None:
        used = db.session.scalar(select(func.count(Submission.id)).where(
            Submission.assignment_id == assignment.id, Submission.student_id == student.id))
        if used >= assignment.max_attempts:
            raise NotebookRejected(f"You have used all {assignment.max_attempts} attempts for {assignment.title}; "
                                   f"your {assignment.score_policy.value} graded attempt counts.", http_status=403)
