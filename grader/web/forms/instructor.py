"""Instructor forms: a new assignment, its settings, the rubric editor and a rubric.yaml import."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_wtf.file import FileField, MultipleFileField
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import AnyOf, Length, ValidationError
from wtforms.widgets import DateTimeLocalInput

from grader.models import Assignment, ScorePolicy
from grader.services.assignments.authoring import (
    NOT_RELEASED,
    AssignmentSettings,
    PackageParts,
    release_state,
)
from grader.services.assignments.rubric_editor import KINDS, QuestionRow
from grader.services.assignments.rules import as_utc
from grader.web.forms import PageForm

# Far more than any rubric needs; it only stops a forged form from making the server build rows for
# long.
MAX_ROWS = 500
DATE_EXAMPLE = "2025-03-01T17:00"


def _strip(text: str | None) -> str | None:
    return text.strip() if text else text


class UtcDateTimeField(StringField):
    """A date and time in UTC from a datetime-local input; blank is None."""

    widget = DateTimeLocalInput()

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        text = valuelist[0].strip()
        self.data = None
        if text:
            try:
                self.data = datetime.fromisoformat(text).replace(tzinfo=UTC)
            except ValueError:
                raise ValueError(f"{text!r} is not a date and time like {DATE_EXAMPLE}") from None

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return self.data.strftime("%Y-%m-%dT%H:%M") if self.data else ""


class PercentField(StringField):
    """A percentage from 0 to 100 typed as text; blank is 0."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        text = valuelist[0].strip()
        try:
            self.data = float(text or 0)
        except ValueError:
            self.data = None
            raise ValueError(f"{text!r} is not a number") from None
        if not 0 <= self.data <= 100:
            raise ValueError("must be between 0 and 100 percent")

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return f"{self.data:g}" if self.data is not None else ""


class AttemptsField(StringField):
    """A whole number of at least 1; blank is None, for unlimited."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        text = valuelist[0].strip()
        self.data = int(text) if text.isdigit() else None
        if text and (self.data is None or self.data < 1):
            raise ValueError("leave blank for unlimited, or give a whole number of at least 1")

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else str(self.data)


class NewAssignmentForm(PageForm):
    """Slug and title, and the package as one zip or as its files one by one."""

    slug = StringField("Slug")
    title = StringField("Title")
    package = FileField("Package zip")
    template = FileField("Template notebook (template.ipynb)")
    rubric = FileField("Rubric (rubric.yaml)")
    solution = FileField("Solution notebook (optional, used by Validate)")
    # Named apart from their HTML names: `data` is the form's own dictionary of values.
    data_files = MultipleFileField("Data files", name="data")
    hidden_files = MultipleFileField("Hidden files", name="hidden")

    def validate_template(self, field: FileField) -> None:
        if not self.package.data and not field.data:
            raise ValidationError("Choose a template notebook (or a package zip) to upload.")

    def validate_rubric(self, field: FileField) -> None:
        if not self.package.data and not field.data:
            raise ValidationError("Choose a rubric.yaml to upload.")

    def upload(self) -> bytes | PackageParts:
        """The package: the zip's bytes, or the separate files."""
        if self.package.data:
            return self.package.data.read()
        solution = self.solution.data
        return PackageParts(
            template=self.template.data.read(),
            rubric=self.rubric.data.read(),
            solution=solution.read() if solution else None,
            data=_named(self.data_files.data),
            hidden=_named(self.hidden_files.data),
        )


def _named(uploads) -> dict[str, bytes]:
    return {upload.filename: upload.read() for upload in uploads or []}


class SettingsForm(PageForm):
    """An assignment's release, due date, late penalty and attempts."""

    # The error list names fields shorter than their labels do.
    NAMES = {
        "release_at": "Release date",
        "due_at": "Due date",
        "late_penalty_percent_per_day": "Late penalty per day",
        "late_penalty_cap_percent": "Penalty cap",
    }

    title = StringField("Title", [Length(1, 200, "give 1–200 characters")], filters=[_strip])
    release = RadioField(
        "Release",
        choices=[
            SelectChoice("never", "Not released: students neither see it nor submit"),
            SelectChoice("now", "Released: students see it and may submit"),
            SelectChoice("later", "Released from the date below"),
        ],
        default="never",
    )
    release_at = UtcDateTimeField("Release date (UTC)")
    due_at = UtcDateTimeField("Due date (UTC)")
    late_penalty_percent_per_day = PercentField(
        "Late penalty per started day (% of the score)", default=0.0
    )
    late_penalty_cap_percent = PercentField("Penalty cap (%)", default=100.0)
    max_attempts = AttemptsField("Maximum attempts")
    score_policy = SelectField(
        "Score that counts",
        choices=[
            SelectChoice("best", "The best graded attempt"),
            SelectChoice("last", "The last graded attempt"),
        ],
        validate_choice=False,
        validators=[
            AnyOf(
                [policy.value for policy in ScorePolicy],
                "choose the best or the last graded attempt",
            )
        ],
    )

    def validate_release_at(self, field: UtcDateTimeField) -> None:
        if self.release.data == "later" and field.data is None and not field.errors:
            raise ValidationError("give a date and time (UTC)")

    @classmethod
    def of(cls, assignment: Assignment) -> SettingsForm:
        """The form filled in with the assignment's current settings."""
        state = release_state(assignment)
        return cls(
            formdata=None,
            title=assignment.title,
            release=state,
            release_at=as_utc(assignment.release_at) if state == "later" else None,
            due_at=as_utc(assignment.due_at),
            late_penalty_percent_per_day=assignment.late_penalty_percent_per_day,
            late_penalty_cap_percent=assignment.late_penalty_cap_percent,
            max_attempts=assignment.max_attempts,
            score_policy=ScorePolicy(assignment.score_policy).value,
        )

    def settings(self) -> AssignmentSettings:
        """The validated fields as the service's typed settings."""
        release_at = {"never": NOT_RELEASED, "now": None}.get(
            self.release.data, self.release_at.data
        )
        return AssignmentSettings(
            title=self.title.data,
            release_at=release_at,
            due_at=self.due_at.data,
            late_penalty_percent_per_day=self.late_penalty_percent_per_day.data,
            late_penalty_cap_percent=self.late_penalty_cap_percent.data,
            max_attempts=self.max_attempts.data,
            score_policy=ScorePolicy(self.score_policy.data),
        )


class QuestionForm(Form):
    """One rubric question as text; the rubric's schema, not the form, says what is wrong in it."""

    key = StringField("Key")
    title = StringField("Title")
    points = StringField("Points")
    # An unknown kind is named by the schema's message, not refused here.
    kind = SelectField("Kind", choices=KINDS, validate_choice=False)
    section = StringField("Section (heading path)")
    cell_id = StringField("Cell id")
    marker = StringField("Marker")
    until = StringField("Until (marker of the next part)")
    params = TextAreaField("Params (YAML)")
    remove = BooleanField("Remove this question")


class RubricForm(PageForm):
    questions = FieldList(FormField(QuestionForm), max_entries=MAX_ROWS)
    save = SubmitField("Save rubric")
    add = SubmitField("Add question")

    @classmethod
    def of(cls, rows: list[QuestionRow]) -> RubricForm:
        """The editor showing these rows."""
        return cls(formdata=None, questions=rows)

    def rows(self) -> list[QuestionRow]:
        """The posted questions, without those ticked for removal."""
        return [
            QuestionRow(
                **{name: entry[name].data or "" for name in QuestionRow.__dataclass_fields__}
            )
            for entry in self.questions
            if not entry.remove.data
        ]


class RubricImportForm(PageForm):
    rubric_file = FileField("rubric.yaml to import")

    def validate_rubric_file(self, field: FileField) -> None:
        if not field.data:
            raise ValidationError("Choose a rubric.yaml file to upload.")
