"""Accepting a student's upload: validate, store the rows, only then hand back what to enqueue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, func, select

from grader.engine.reuse import notebook_fingerprint
from grader.extensions import db
from grader.models import Assignment, GradingRun, Submission, User
from grader.services.errors import AttemptsUsed, NotebookRejected, NotFound
from grader.services.grading.runs import reuse_identical_grading
from grader.services.notebooks import parse_notebook
from grader.services.permissions import is_staff, visible_assignments
from grader.services.storage.blobs import put_blob

MAX_FILENAME_LENGTH = 255
# Assignment ids are 32-bit integers on PostgreSQL.
MAX_ID = 2**31 - 1
MAX_ID_DIGITS = len(str(MAX_ID))
UNKNOWN_ASSIGNMENT = (
    "There is no assignment with that id or slug in your courses. "
    "Send the id or slug (field 'assignment') of one listed on your upload page."
)


@dataclass(frozen=True)
class AcceptedUpload:
    submission_id: int
    run_id: int
    # Graded already, with the result of an identical notebook: there is nothing to enqueue.
    reused: bool = False


def find_assignment(reference: str, user: User) -> Assignment:
    """The assignment with this id or slug among those `user` may see;
    NotFound or NotebookRejected otherwise."""
    reference = (reference or "").strip()
    if not reference:
        raise NotebookRejected("Choose the assignment this notebook is for (field 'assignment').")
    matches = visible_assignments(user, _named_by(reference))
    if not matches:
        # Another course's assignment, an unreleased one and one that does not exist all get this
        # same answer, so it tells nothing about what exists outside the caller's courses.
        raise NotFound(UNKNOWN_ASSIGNMENT)
    if len(matches) > 1:
        choices = ", ".join(
            f"{assignment.id} ({assignment.course.code})" for assignment, _ in matches
        )
        raise NotebookRejected(
            f"Several of your courses have an assignment {reference!r}: send its id "
            f"instead, one of {choices}."
        )
    return matches[0][0]


def _named_by(reference: str) -> ColumnElement[bool]:
    if "\x00" in reference:
        return false()  # no slug holds a NUL, and PostgreSQL refuses one even in a comparison
    if not (reference.isascii() and reference.isdigit()):
        return Assignment.slug == reference
    # A number past the id column's range names nothing, and the database would reject it as an
    # error.
    if len(reference) > MAX_ID_DIGITS or int(reference) > MAX_ID:
        return false()
    return Assignment.id == int(reference)


def accept_upload(
    *,
    assignment_ref: str,
    student: User,
    filename: str | None,
    data: bytes,
    max_bytes: int,
    reuse_identical: bool,
) -> AcceptedUpload:
    """Validate and store an upload and its first grading run; commit before returning.

    With `reuse_identical`, a notebook identical to one graded before is graded at once with that
    result, and the student sees feedback without waiting in the queue.
    """
    filename = (filename or "").strip()
    if not filename.lower().endswith(".ipynb"):
        raise NotebookRejected(
            f"Upload a Jupyter notebook (.ipynb); got {filename[:80] or 'no file'!r}."
        )
    if "\x00" in filename:  # PostgreSQL's text cannot hold it
        raise NotebookRejected(
            "The file name holds a NUL character; rename the file and upload it again."
        )
    assignment = find_assignment(assignment_ref, student)
    _check_may_submit(student, assignment)
    notebook = parse_notebook(data, max_bytes)
    try:
        submission = Submission(
            assignment=assignment,
            student=student,
            original_filename=filename[-MAX_FILENAME_LENGTH:],
            sha256=put_blob(data),
            notebook_fingerprint=notebook_fingerprint(notebook),
        )
        run = GradingRun(submission=submission, number=1)
        db.session.add_all([submission, run])
        db.session.flush()
        # Commits the upload with its result when it takes one.
        reused = reuse_identical and reuse_identical_grading(run)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return AcceptedUpload(submission_id=submission.id, run_id=run.id, reused=reused)


def _check_may_submit(student: User, assignment: Assignment) -> None:
    """Attempts left (`find_assignment` settled enrolment and release); staff may always submit."""
    if is_staff(student, assignment.course_id):
        return
    if assignment.max_attempts is not None:
        used = db.session.scalar(
            select(func.count(Submission.id)).where(
                Submission.assignment_id == assignment.id, Submission.student_id == student.id
            )
        )
        if used >= assignment.max_attempts:
            raise AttemptsUsed(
                f"You have used all {assignment.max_attempts} attempts for {assignment.title}; "
                f"your {assignment.score_policy.value} graded attempt counts."
            )
