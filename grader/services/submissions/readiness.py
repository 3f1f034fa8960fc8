"""A web process made ready for uploads before it takes its first one.

The first upload a process handles would otherwise pay for what every later one reuses: reading each
open assignment's rubric for the grading time limits, the notebook schema's validator, the grader's
fingerprint for identical notebooks. On a deadline night that first upload is a student's, and it
was the slowest of all (about 150 ms against 25).
"""

from __future__ import annotations

import nbformat
from nbformat import v4
from sqlalchemy import select

from grader.config import Settings
from grader.engine.reuse import notebook_fingerprint
from grader.extensions import db
from grader.models import Assignment
from grader.services.assignments.rules import is_open
from grader.services.grading.runs import assignment_budget
from grader.services.notebooks import parse_notebook

_SAMPLE = nbformat.writes(v4.new_notebook(cells=[v4.new_code_cell("pass")])).encode()


def prepare_for_uploads(settings: Settings) -> list[str]:
    """Do once what uploads to the open assignments reuse; return those assignments' slugs."""
    notebook_fingerprint(parse_notebook(_SAMPLE, len(_SAMPLE)))
    open_now = [
        assignment
        for assignment in db.session.scalars(
            select(Assignment).where(Assignment.package_sha256.is_not(None))
        )
        if is_open(assignment)
    ]
    for assignment in open_now:
        assignment_budget(assignment, settings)
    db.session.rollback()
    return [assignment.slug for assignment in open_now]
