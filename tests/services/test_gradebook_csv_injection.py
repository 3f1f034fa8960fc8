"""Gradebook CSV cells a spreadsheet would run as formulas are neutralised; numbers stay numbers."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from conftest import signed_in
from sqlalchemy import select

from grader.extensions import db
from grader.models import Assignment, Course, Role
from grader.services.people.accounts import create_user, enroll
from services.test_assignment_policy import graded_submission

HOSTILE = {
    "link@example.edu": '=HYPERLINK("http://x","y")',
    "plus@example.edu": "+1+1",
    "at@example.edu": "@SUM(1)",
    "minus@example.edu": "-2+3",
    "tab@example.edu": "\t=1",
    "cr@example.edu": "\r=1",
    "=cmd|' /c calc'!a1@example.edu": "Calc",
}
FORMULA_START = re.compile(r"^[=+\-@\t\r]")
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def quoted(text: str) -> str:
    """What the gradebook should show for `text`: a leading apostrophe when a spreadsheet would run
    it."""
    return "'" + text if FORMULA_START.match(text) else text


def test_formula_names_are_neutralised_and_totals_stay_numbers(app):
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.code == "BT-AI"))
        for email, name in HOSTILE.items():
            enroll(create_user(email, name), course, Role.STUDENT)
        assignment = db.session.scalar(select(Assignment).where(Assignment.slug == "lab6"))
        assignment.due_at, assignment.late_penalty_percent_per_day = datetime.now(UTC), 10.0
        graded_submission(
            assignment, "link@example.edu", assignment.due_at + timedelta(hours=1), score=7.5
        )
        assignment_id = assignment.id
    response = signed_in(app, "ta@example.edu").get(f"/assignments/{assignment_id}/gradebook.csv")
    assert response.status_code == 200
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))
    live = [
        cell
        for row in table
        for cell in row
        if FORMULA_START.match(cell) and not NUMBER.fullmatch(cell)
    ]
    assert live == []
    rows = {
        row["email"]: row
        for row in csv.DictReader(io.StringIO(response.get_data(as_text=True), newline=""))
    }
    for email, name in HOSTILE.items():
        assert rows[quoted(email)]["name"] == quoted(name)
    assert rows["student@example.edu"]["name"] == "Demo Student"
    graded = rows["link@example.edu"]
    assert (
        float(graded["total"]),
        float(graded["days_late"]),
        float(graded["penalty_percent"]),
        float(graded["total_after_penalty"]),
    ) == (7.5, 1, 10, 6.75)
