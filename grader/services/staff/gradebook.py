"""The gradebook: one row per student from the submission that counts, a column per question,
and the totals."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from grader.models import User
from grader.services.permissions import require_staff
from grader.services.staff.class_results import StudentResult, question_columns, student_results

HEADER = ["email", "name", "submission", "status"]
TOTALS = ["total", "late", "days_late", "penalty_percent", "total_after_penalty"]
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?(e[+-]\d+)?")


def gradebook_csv(actor: User, assignment_id: int) -> str:
    """CSV of each student's counting submission, a TA's score winning, late penalty applied
    (staff only)."""
    results = student_results(require_staff(actor, assignment_id))
    keys = [column.key for column in question_columns(results)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_inert([*HEADER, *keys, *TOTALS]))
    writer.writerows(_inert(_row(result, keys)) for result in results)
    return out.getvalue()


def _inert(cells: Iterable[object]) -> list[object]:
    """The cells with text a spreadsheet would run as a formula quoted by a leading apostrophe."""
    return [
        f"'{cell}"
        if isinstance(cell, str)
        and cell.startswith(FORMULA_STARTS)
        and not PLAIN_NUMBER.fullmatch(cell)
        else cell
        for cell in cells
    ]


def _row(result: StudentResult, keys: list[str]) -> list:
    who = [result.student.email, result.student.name]
    view = result.view
    if view is None:
        return [*who, "", result.status, *[""] * (len(keys) + len(TOTALS))]
    scores = {q.key: q.final_score for q in view.questions}
    late, graded = view.lateness, result.graded
    return [
        *who,
        view.id,
        result.status,
        *(_number(scores.get(key)) for key in keys),
        _number(view.final_total) if graded else "",
        "yes" if late.late else "no",
        late.days,
        _number(late.penalty_percent),
        _number(view.total_after_penalty) if graded else "",
    ]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
