"""The rubric schema: what each question is worth, where its answer lives, and which check kind
scores it.

This module knows no check kinds: a question's `kind` and `params` are validated by the checks
registry (`grader.engine.checks.validate_params`) once the rubric's shape is known to be right.
"""

from __future__ import annotations

from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from grader.sandbox import SandboxLimits

KEY_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
MAX_RUNTIME_PACKAGES = 40


class RubricError(ValueError):
    """A rubric that cannot be used; the message names the offending question and field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Locator(Strict):
    """Where a question's answer lives: a heading path, optionally a cell id, and the markers of
    one part of the section."""

    section: str | None = Field(
        None, description="Heading path, e.g. 'Group Exercise B / Question 1'."
    )
    cell_id: str | None = Field(None, description="Cell id; used when the notebook still has it.")
    marker: str | None = Field(
        None, description="The answer starts at the first cell with this text."
    )
    until: str | None = Field(
        None, description="The answer ends before the next cell with this text (needs marker)."
    )

    @model_validator(mode="after")
    def _somewhere(self) -> Locator:
        if not (self.section or self.cell_id):
            raise ValueError("give a section (heading path) or a cell_id")
        return self

    @model_validator(mode="after")
    def _part_has_both_ends(self) -> Locator:
        # A part is cut out of a section, from the cell holding `marker` to the one holding
        # `until`: without both, `until` would silently end nothing.
        if self.until is None:
            return self
        if not self.until.strip():
            raise ValueError("until must hold text, e.g. '# Part B'")
        if not (self.marker and self.section):
            raise ValueError(
                "until ends the part of a section that marker starts: give section and marker too"
            )
        return self


class RuntimeOptions(Strict):
    cell_timeout: int = Field(120, gt=0, le=3600)
    notebook_timeout: int = Field(900, gt=0, le=4 * 3600)
    probe_timeout: int = Field(
        300, gt=0, le=3600, description="Seconds one answer's extraction may take."
    )
    legacy_keras: bool = True
    seed: int = 0
    limits: SandboxLimits = Field(default_factory=SandboxLimits)
    packages: list[str] = Field(
        default_factory=list,
        max_length=MAX_RUNTIME_PACKAGES,
        description="pip requirements the notebook needs beyond the grader's own packages, e.g. "
        "'pandas<3' or 'vega_datasets==0.9.0'.",
    )

    @field_validator("packages")
    @classmethod
    def _index_requirements(cls, packages: list[str]) -> list[str]:
        for text in packages:
            try:
                requirement = Requirement(text)
            except InvalidRequirement as exc:
                raise ValueError(
                    f"{text!r} is not a pip requirement (write e.g. 'pandas<3'): {exc}"
                ) from None
            if requirement.url:
                # The worker installs from the package index only, never from an address a rubric
                # names.
                raise ValueError(f"{text!r}: name a package on the index and a version, not a URL")
        return packages


class Question(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    points: float = Field(gt=0, le=1000)
    locator: Locator
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)


class Rubric(Strict):
    title: str
    runtime: RuntimeOptions = Field(default_factory=RuntimeOptions)
    urls: dict[str, str] = Field(
        default_factory=dict, description="Dataset URL -> file in the package's data/."
    )
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_keys(self) -> Rubric:
        seen: set[str] = set()
        for question in self.questions:
            if question.key in seen:
                raise ValueError(f"question key {question.key!r} is used twice")
            seen.add(question.key)
        return self


def parse_rubric(content: object) -> Rubric:
    """Validate the rubric's shape (parsed YAML); raise RubricError with messages a person can act
    on."""
    if not isinstance(content, dict):
        raise RubricError("rubric.yaml must hold a mapping with 'title' and 'questions'")
    try:
        return Rubric.model_validate(content)
    except ValidationError as exc:
        raise RubricError("\n".join(_describe(error, content) for error in exc.errors())) from None


def question_problem(key: object, field: str, message: str) -> str:
    """One line of a RubricError about a question: `question 'model', field points: ...`."""
    return f"question {key!r}" + (f", field {field}" if field else "") + f": {message}"


def error_messages(exc: ValidationError, prefix: str) -> str:
    """A model's validation errors on one line, each located under `prefix` (e.g.
    `params.bands.0`)."""
    return "; ".join(
        ".".join([prefix, *map(str, error["loc"])]) + ": " + _message(error)
        for error in exc.errors()
    )


def _describe(error: ErrorDetails, content: dict[str, Any]) -> str:
    location = list(error["loc"])
    if len(location) >= 2 and location[0] == "questions" and isinstance(location[1], int):
        questions = content.get("questions") or []
        index = location[1]
        key = (
            questions[index].get("key")
            if index < len(questions) and isinstance(questions[index], dict)
            else None
        )
        field = ".".join(str(part) for part in location[2:])
        return question_problem(key or f"#{index + 1}", field, _message(error))
    where = ".".join(str(part) for part in location) or "rubric"
    return f"{where}: {_message(error)}"


def _message(error: ErrorDetails) -> str:
    return error["msg"].removeprefix("Value error, ")
