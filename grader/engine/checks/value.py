"""`value`: a named variable, as it was right after the question's cells, equals the expected
value."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

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
from grader.engine.report import Status


class ValueParams(Params):
    name: str
    expected: Any
    tolerance: float = Field(
        1e-6, ge=0, description="Absolute tolerance for numbers, also inside lists."
    )


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
        return [params.name]

    def probe_source(self, params: ValueParams, context: ProbeContext) -> str:
        return kernel_call("value_of", params.name)

    def score(self, evidence: Evidence) -> Outcome:
        params: ValueParams = evidence.params
        actual = evidence.artifact.value
        if _close(actual, params.expected, params.tolerance):
            return Outcome(1.0, Status.PASSED, f"`{params.name}` has the expected value.")
        return Outcome(
            0.0,
            Status.FAILED,
            f"`{params.name}` is {_short(actual)}, which is not the expected value.",
            details={"actual": _short(actual)},
        )


def _close(actual: Any, expected: Any, tolerance: float) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(actual == expected)
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(actual, expected, rel_tol=0, abs_tol=tolerance)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(
            _close(a, e, tolerance) for a, e in zip(actual, expected)
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(
            _close(actual[k], expected[k], tolerance) for k in expected
        )
    return bool(actual == expected)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
