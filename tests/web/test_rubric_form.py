"""The rubric editor's form: rows in, fields out, and the posted fields back to the same rows."""

from __future__ import annotations

from dataclasses import replace

from werkzeug.datastructures import MultiDict

from grader.services.assignments.rubric_editor import KINDS, QuestionRow
from grader.web.forms.instructor import MAX_ROWS, RubricForm

ROWS = [
    QuestionRow(
        key="feature",
        title="A feature",
        points="2",
        kind="feature_function",
        section="Exercise / Question 1",
        marker="# Part A",
        until="# Part B",
        params="function: mkfeature\ndataset: band\n",
    ),
    QuestionRow(
        key="answer",
        title="The answer",
        points="0.5",
        kind="value",
        cell_id="c7",
        marker="answer =",
    ),
]


def posted(form: RubricForm, **changes: str) -> MultiDict:
    """The fields as a browser posts them: every text field, ticked boxes only, no buttons."""
    fields = MultiDict()
    for entry in form.questions:
        for field in entry.form:
            if field.type == "BooleanField":
                continue
            fields.add(field.name, field._value() if field.type != "SelectField" else field.data)
    for name, value in changes.items():
        fields.setlist(name, [value])
    return fields


def test_rows_survive_the_round_trip_through_the_fields(app):
    with app.test_request_context():
        shown = RubricForm.of(ROWS)
        assert [entry.form.key.name for entry in shown.questions] == [
            "questions-0-key",
            "questions-1-key",
        ]
        assert RubricForm(formdata=posted(shown)).rows() == ROWS


def test_ticked_rows_are_left_out_and_edits_kept(app):
    with app.test_request_context():
        fields = posted(
            RubricForm.of(ROWS), **{"questions-0-remove": "y", "questions-1-points": "1"}
        )
        assert RubricForm(formdata=fields).rows() == [replace(ROWS[1], points="1")]


def test_an_added_row_starts_blank_with_the_first_kind(app):
    with app.test_request_context():
        form = RubricForm.of([*ROWS, QuestionRow(kind=KINDS[0])])
        new = RubricForm(formdata=posted(form)).rows()[-1]
        assert new.blank and new.kind == KINDS[0]


def test_a_forged_form_gets_at_most_max_rows(app):
    with app.test_request_context():
        fields = MultiDict(
            {f"questions-{index}-key": f"q{index}" for index in range(MAX_ROWS + 50)}
        )
        assert len(RubricForm(formdata=fields).rows()) == MAX_ROWS
