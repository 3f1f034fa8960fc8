"""`value`: a named variable, or an expression over the notebook's variables, as it was right after
the question's cells, equals the expected value."""

from __future__ import annotations

import ast
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from grader.engine.checks import register
from grader.engine.checks.base import (
    Artifact,
    Check,
    Evidence,
    Outcome,
    Params,
    ProbeContext,
    kernel_call,
)
from grader.engine.checks.compare import (
    Difference,
    Tolerance,
    close_difference,
    column_difference,
    records_difference,
    set_difference,
    short,
)
from grader.engine.report import Status

Compare = Literal["exact", "close", "set", "records", "column"]
# Table comparisons export only the expected columns, so a large frame stays under the value cap.
TABLE_COMPARISONS = ("records", "column")


class ValueParams(Params):
    name: str | None = None
    # Instructor-written, evaluated in the student's kernel; its result is as untrusted as a
    # variable's.
    expression: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    expected: Any
    compare: Compare = "close"
    tolerance: float | None = Field(None, ge=0)
    rel_tolerance: float | None = Field(None, ge=0)
    ordered: bool = True

    @field_validator("expression")
    @classmethod
    def _one_expression(cls, expression: str | None) -> str | None:
        if expression is not None:
            try:
                ast.parse(expression, mode="eval")
            except SyntaxError as exc:
                raise ValueError(f"expression is not a Python expression: {exc.msg}") from None
        return expression

    @model_validator(mode="after")
    def _consistent(self) -> ValueParams:
        if (self.name is None) == (self.expression is None):
            raise ValueError("give exactly one of name (a variable) or expression")
        if self.compare == "exact" and (self.tolerance, self.rel_tolerance) != (None, None):
            raise ValueError("compare: exact takes no tolerance; use compare: close")
        if self.compare == "set" and not isinstance(self.expected, list):
            raise ValueError("compare: set needs expected to be a list of the items")
        if self.compare == "set" and not self.ordered:
            raise ValueError("compare: set is unordered already; leave out ordered")
        if self.compare == "records" and not _rows(self.expected):
            raise ValueError(
                "compare: records needs expected to be a list of rows, each a mapping of the "
                "same columns"
            )
        if self.compare == "column" and not _columns(self.expected):
            raise ValueError(
                "compare: column needs expected to be a mapping of column names to lists"
            )
        return self

    @property
    def label(self) -> str:
        return f"`{self.name or self.expression}`"

    @property
    def columns(self) -> list[str] | None:
        """The columns a table comparison reads (those of the expected table), or None."""
        if self.compare == "records":
            return list(self.expected[0])
        if self.compare == "column":
            return list(self.expected)
        return None

    @property
    def tolerances(self) -> Tolerance:
        if self.compare == "exact":
            return Tolerance()
        absolute = 1e-6 if self.tolerance is None else self.tolerance
        return Tolerance(absolute, self.rel_tolerance or 0.0)


class ValueArtifact(Artifact):
    value: Any
    type: str


@register
class ValueCheck(Check[ValueParams]):
    kind = "value"
    Params = ValueParams
    Artifact = ValueArtifact
    shown_details = ("actual",)

    def defines(self, params: ValueParams) -> list[str]:
        return [params.name] if params.name else []

    def probe_source(self, params: ValueParams, context: ProbeContext) -> str:
        return kernel_call("value_of", params.name, params.expression, params.columns)

    def score(self, evidence: Evidence) -> Outcome:
        params: ValueParams = evidence.params
        actual = evidence.artifact.value
        if params.compare in TABLE_COMPARISONS and not _exported_table(actual, params):
            evidence.forged.append(
                f"the answer export of question {evidence.question.key!r} is not a table of "
                "the asked columns"
            )
            return Outcome(0.0, Status.ERROR, "We could not read your answer's table.")
        difference = _compare(actual, params)
        if difference is None:
            return Outcome(1.0, Status.PASSED, f"{params.label} has the expected value.")
        if difference.where:
            message = f"{params.label} differs at {difference.where}: {difference.how}."
        elif isinstance(params.expected, (list, dict)):
            message = f"{params.label} {difference.how}."
        else:  # a single wrong value: naming the expected one would give the answer away
            message = f"{params.label} is {short(actual)}, which is not the expected value."
        return Outcome(0.0, Status.FAILED, message, details={"actual": short(actual)})


def _compare(actual: Any, params: ValueParams) -> Difference | None:
    tolerance = params.tolerances
    if params.compare == "records":
        return records_difference(actual, params.expected, tolerance, params.ordered)
    if params.compare == "column":
        return column_difference(actual, params.expected, tolerance, params.ordered)
    if params.compare == "set":
        return set_difference(actual, params.expected, tolerance)
    return close_difference(actual, params.expected, tolerance, params.ordered)


def _exported_table(actual: Any, params: ValueParams) -> bool:
    """The kernel exports exactly the asked columns as equally long lists; anything else was not
    made by our code."""
    return (
        isinstance(actual, dict)
        and list(actual) == params.columns
        and all(isinstance(values, list) for values in actual.values())
        and len({len(values) for values in actual.values()}) == 1
    )


def _rows(expected: Any) -> bool:
    return (
        isinstance(expected, list)
        and bool(expected)
        and all(isinstance(row, dict) and row for row in expected)
        and all(row.keys() == expected[0].keys() for row in expected)
        and all(isinstance(key, str) for key in expected[0])
    )


def _columns(expected: Any) -> bool:
    return (
        isinstance(expected, dict)
        and bool(expected)
        and all(isinstance(key, str) for key in expected)
        and all(isinstance(values, list) for values in expected.values())
    )
