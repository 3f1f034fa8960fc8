"""What a chart shows: an `output` check's mark and encoding rules, read from the Vega-Lite spec
Altair displays (as display data or inside its HTML), for single, layered and concatenated charts,
and bounded on hostile specs."""

from __future__ import annotations

import copy
import re
import time
from types import SimpleNamespace

import altair as alt
import pandas as pd
import pytest
from nbformat import v4

from engine.mini_package import RUBRIC
from grader.engine.checks import check_for, typed_params, validate_params
from grader.engine.checks.base import Evidence
from grader.engine.checks.chart import MAX_NODES, specs_in, views
from grader.engine.locator import Location
from grader.engine.report import Status
from grader.engine.rubric import RubricError, parse_rubric

DF = pd.DataFrame({"a": ["x", "y", "z"], "b": [1.0, 2.0, 3.0], "c": ["u", "v", "u"]})
BAR = alt.Chart(DF).mark_bar().encode(x="a:N", y="mean(b):Q")
BAR_RULES = {"mark": "bar", "encoding": {"x": "a", "y": {"field": "b", "aggregate": "mean"}}}


def chart_question(**params):
    rubric = copy.deepcopy(RUBRIC)
    rubric["questions"][3]["params"] = params
    return validate_params(parse_rubric(rubric)).questions[3]


def shown(spec, mime="application/vnd.vegalite.v5+json"):
    return v4.new_output("display_data", data={mime: spec, "text/plain": "<VegaLite 5 object>"})


def outcome(outputs, **chart):
    question = chart_question(expect="chart", chart=chart)
    notebook = v4.new_notebook(cells=[v4.new_code_cell("chart", outputs=outputs)])
    return check_for(question).score(
        Evidence(
            question=question,
            params=typed_params(question),
            location=Location([0]),
            notebook=notebook,
            package=SimpleNamespace(template=notebook),
            template_location=Location([0]),
        )
    )


def test_the_spec_altair_displays_passes_with_shorthand_and_expanded_rules():
    result = outcome([shown(BAR.to_dict())], **BAR_RULES)
    assert result.status is Status.PASSED and result.fraction == 1.0
    assert result.message == "The answer displays a `bar` chart with x axis `a`, y axis `mean(b)`."
    typed = {"x": "a:N", "y": "mean(b):Q"}
    assert outcome([shown(BAR.to_dict())], mark="bar", encoding=typed).status is Status.PASSED


def test_a_wrong_field_mark_type_or_aggregate_is_named_for_the_student():
    wrong = alt.Chart(DF).mark_line().encode(x="c:O", y="sum(b):Q")
    result = outcome([shown(wrong.to_dict())], **BAR_RULES)
    assert result.status is Status.FAILED and result.fraction == 0.0
    assert result.message == (
        "The chart is not a `bar` chart with x axis `a`, y axis `mean(b)`: its mark is `line`, "
        "expected `bar`; its x axis shows `c`, expected `a`; its y axis shows `sum(b)`, "
        "expected `mean(b)`."
    )
    typed = outcome([shown(BAR.to_dict())], encoding={"x": "a:O"})
    assert typed.message.endswith("its x axis shows `a` (nominal), expected `a` (ordinal).")
    unused = outcome([shown(BAR.to_dict())], encoding={"color": "c"})
    assert unused.message.endswith("its color channel is not used, expected `c`.")


def test_the_spec_inside_altairs_html_output_is_read():
    bundle = BAR._repr_mimebundle_()
    html = v4.new_output("display_data", data={"text/html": bundle["text/html"]})
    assert outcome([html], **BAR_RULES).status is Status.PASSED
    page = v4.new_output("display_data", data={"text/html": BAR.to_html()})
    assert outcome([page], **BAR_RULES).status is Status.PASSED


def test_a_layered_or_concatenated_chart_passes_when_one_view_matches_every_rule():
    points = BAR.mark_point()
    layered = alt.layer(points, BAR).to_dict()
    assert outcome([shown(layered)], **BAR_RULES).status is Status.PASSED
    inherited = alt.layer(alt.Chart(DF).mark_line(), alt.Chart(DF).mark_bar()).encode(
        x="a:N", y="mean(b):Q"
    )
    assert outcome([shown(inherited.to_dict())], **BAR_RULES).status is Status.PASSED
    concat = alt.hconcat(points, alt.Chart(DF).mark_bar().encode(x="c:N", y="b:Q")).to_dict()
    result = outcome([shown(concat)], **BAR_RULES)
    assert result.status is Status.FAILED
    assert result.message.startswith("None of the 2 charts or layers shown is a `bar` chart")
    assert result.message.endswith("the closest: its mark is `point`, expected `bar`.")


def test_faceted_repeated_and_tooltip_fields_count():
    facet = alt.layer(alt.Chart(DF).mark_bar(), data=DF).encode(x="a:N").facet(column="c:N")
    assert outcome([shown(facet.to_dict())], encoding={"column": "c"}).status is Status.PASSED
    repeat = (
        alt.Chart(DF)
        .mark_point()
        .encode(alt.X(alt.repeat("column"), type="nominal"), y="b")
        .repeat(column=["a", "c"])
    )
    assert outcome([shown(repeat.to_dict())], encoding={"x": "c"}).status is Status.PASSED
    tips = BAR.encode(tooltip=["a", "b"]).to_dict()
    assert outcome([shown(tips)], encoding={"tooltip": "b"}).status is Status.PASSED


def test_shorthand_left_in_a_field_is_resolved():
    spec = {"mark": "bar", "encoding": {"x": {"field": "a:N"}, "y": {"field": "average(b):Q"}}}
    rules = {"encoding": {"x": "a:N", "y": "mean(b):Q"}}
    assert outcome([shown(spec, "application/vnd.vegalite.v4+json")], **rules).status is (
        Status.PASSED
    )


def test_no_chart_or_an_unreadable_chart_fails():
    printed = v4.new_output("stream", name="stdout", text="a bar chart\n")
    missing = outcome([printed], **BAR_RULES)
    assert missing.status is Status.FAILED
    assert missing.message.startswith("The answer should display a chart, but none was shown.")
    vega = shown({"marks": []}, "application/vnd.vega.v5+json")
    unreadable = outcome([vega], **BAR_RULES)
    assert unreadable.status is Status.FAILED
    assert "the grader cannot read what it shows" in unreadable.message


def test_hostile_specs_cost_bounded_work():
    # Nesting deeper than a notebook can even hold is read directly; the rest through the check.
    deep: dict = {"mark": "bar", "encoding": {"x": {"field": "a"}}}
    for _ in range(100_000):
        deep = {"layer": [deep]}
    wide = {"layer": [{"mark": "line"}] * 1_000_000 + [BAR.to_dict()]}
    nested_html = '<script>var spec = {"$schema": "vega-lite", "a": ' + "[" * 200_000 + "</script>"
    huge_html = "<script>" + "})({" * 200_000 + "</script>"
    outputs = [
        shown({"layer": wide["layer"][-20_000:]}),
        v4.new_output("display_data", data={"text/html": nested_html + "vega"}),
        v4.new_output("display_data", data={"text/html": huge_html + "vega"}),
    ]
    started = time.monotonic()
    assert views(deep, {"x"}) == []
    assert specs_in({"data": {"text/html": nested_html}}) == []
    assert len(views(wide, {"x"})) < MAX_NODES
    for output in outputs:
        assert outcome([output], **BAR_RULES).status is Status.FAILED
    assert time.monotonic() - started < 1
    odd = {"mark": "x" * 10**6, "encoding": {"x": {"field": "a" * 10**6}, "y": {"field": {}}}}
    result = outcome([shown(odd)], **BAR_RULES)
    assert result.status is Status.FAILED and len(result.message) < 1500
    assert result.message.endswith("its y axis is not used, expected `mean(b)`.")


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"expect": "image", "chart": {"mark": "bar"}}, "chart rules need expect: chart"),
        ({"expect": "chart", "chart": {}}, "give a mark, an encoding or both"),
        ({"expect": "chart", "chart": {"mark": "bars"}}, "params.chart.mark: Input should be"),
        ({"expect": "chart", "chart": {"encoding": {"colour": "a"}}}, "params.chart.encoding"),
        (
            {"expect": "chart", "chart": {"encoding": {"x": "month(d):T"}}},
            "`month(...)` is not an aggregate; give the field as {field: ..., type: ...}",
        ),
        ({"expect": "chart", "chart": {"encoding": {"x": {"fields": "a"}}}}, "Extra inputs"),
        ({"expect": "chart", "chart": {"encoding": {"x": {}}}}, "give a field, a type or an"),
    ],
)
def test_the_chart_rules_are_a_strict_schema(params, problem):
    with pytest.raises(RubricError, match=f"(?s)question 'chart'.*{re.escape(problem)}"):
        chart_question(**params)
