"""Staff forms: a question's score from the free-response queue or the submission page."""

from __future__ import annotations

from wtforms import FloatField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import InputRequired
from wtforms.widgets import HiddenInput

from grader.web.forms import PageForm

NOT_A_NUMBER = "the score must be a number"


class OverrideForm(PageForm):
    """A score for one question of a submission, with the reason the student will read."""

    score = FloatField(
        "New score", [InputRequired(NOT_A_NUMBER)], invalid_value_message=NOT_A_NUMBER
    )
    reason = StringField("Reason (the student sees it)")


class GradeAnswerForm(PageForm):
    """A score for the answer the queue showed; `question` keeps the queue's question filter."""

    submission_id = IntegerField(widget=HiddenInput())
    question_key = HiddenField()
    question = HiddenField()
    score = FloatField("Points", [InputRequired(NOT_A_NUMBER)], invalid_value_message=NOT_A_NUMBER)
    comment = TextAreaField("Comment for the student")
