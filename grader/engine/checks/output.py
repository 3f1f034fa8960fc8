"""`output`: the answer's cells display a chart, image, table or text, without an error; for a
chart, optionally one with a given mark and encodings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from grader.engine.checks import register
from grader.engine.checks.base import Check, Evidence, Outcome, Params
from grader.engine.checks.chart import (
    ChartRules,
    View,
    mismatches,
    specs_in,
    views,
)
from grader.engine.report import Status

Kind = Literal["chart", "image", "table", "text", "any"]
_DESCRIPTIONS = {
    "chart": "a chart",
    "image": "an image",
    "table": "a table",
    "text": "printed text",
    "any": "any output",
}


class OutputParams(Params):
    expect: Kind = "any"
    chart: ChartRules | None = None

    @model_validator(mode="after")
    def _chart_rules_need_a_chart(self) -> OutputParams:
        if self.chart is not None and self.expect != "chart":
            raise ValueError("chart rules need expect: chart")
        return self


@register
class OutputCheck(Check[OutputParams]):
    kind = "output"
    Params = OutputParams

    def score(self, evidence: Evidence) -> Outcome:
        wanted: Kind = evidence.params.expect
        outputs = [
            out
            for cell in evidence.cells()
            if cell.cell_type == "code"
            for out in cell.get("outputs", [])
        ]
        if any(out.get("output_type") == "error" for out in outputs):
            return Outcome(
                0.0, Status.ERROR, "The answer's cell raised an error, so its output is incomplete."
            )
        if any(_shows(out, wanted) for out in outputs):
            rules: ChartRules | None = evidence.params.chart
            if rules is None:
                return Outcome(1.0, Status.PASSED, f"The answer displays {_DESCRIPTIONS[wanted]}.")
            return _score_chart(outputs, rules)
        return Outcome(
            0.0,
            Status.FAILED,
            f"The answer should display {_DESCRIPTIONS[wanted]}, but none was shown. "
            "Make the chart or value the last line of the cell, or print it.",
        )


def _score_chart(outputs: list[dict[str, Any]], rules: ChartRules) -> Outcome:
    """Passed if one single view of a displayed chart (a layer, a concatenated or repeated chart)
    satisfies every rule; otherwise the differences of the view closest to them."""
    channels = set(rules.encoding)
    shown: list[View] = [
        view for out in outputs for spec in specs_in(out) for view in views(spec, channels)
    ]
    if not shown:
        return Outcome(
            0.0,
            Status.FAILED,
            "The answer displays a chart, but the grader cannot read what it shows. "
            "Make an Altair chart the last line of the cell, as the lab does.",
        )
    problems = min((mismatches(view, rules) for view in shown), key=len)
    if not problems:
        return Outcome(1.0, Status.PASSED, f"The answer displays {rules.summary()}.")
    if len(shown) == 1:
        summary = f"The chart is not {rules.summary()}: "
    else:
        summary = (
            f"None of the {len(shown)} charts or layers shown is {rules.summary()}; the closest: "
        )
    return Outcome(0.0, Status.FAILED, summary + "; ".join(problems) + ".")


def _shows(output: dict[str, Any], wanted: Kind) -> bool:
    kind = output.get("output_type")
    mimes = set(output.get("data", {}))
    html = str(output.get("data", {}).get("text/html", ""))
    if wanted == "text":
        return (
            kind == "stream"
            and output.get("name") == "stdout"
            or "text/plain" in mimes
            and kind == "execute_result"
        )
    if wanted == "chart":
        return (
            any(m.startswith(("application/vnd.vegalite", "application/vnd.vega")) for m in mimes)
            or "vega" in html
        )
    if wanted == "image":
        return bool(mimes & {"image/png", "image/jpeg", "image/svg+xml", "image/gif"})
    if wanted == "table":
        return "<table" in html
    return (
        kind in ("display_data", "execute_result")
        or kind == "stream"
        and output.get("name") == "stdout"
    )
