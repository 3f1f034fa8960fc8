"""A student's notebook upload."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import SelectChoice, SelectField

from grader.models import Assignment
from grader.web.forms import PageForm


class UploadForm(PageForm):
    # Any id is accepted here: the service answers for one outside the student's courses,
    # in its own words.
    assignment = SelectField("Assignment", validate_choice=False)
    file = FileField("Notebook")

    def offer(self, assignments: list[Assignment]) -> UploadForm:
        """Offer these assignments in the select; return the form, for the template."""
        self.assignment.choices = [
            SelectChoice(str(a.id), f"{a.course.code} · {a.title}") for a in assignments
        ]
        return self
