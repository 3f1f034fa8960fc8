"""The executed notebook's Altair/Vega-Lite charts are drawn as static SVG on the server; hostile or
remote-data specs get a short notice and leave the rest of the notebook intact."""

from __future__ import annotations

import base64
import re
import time

import altair as alt
import pandas as pd
import pytest
from nbformat import v4

from grader import rendering
from grader.rendering import MAX_SPEC_CHARS, charts_as_svg, notebook_to_html

# Slow: each chart is drawn in its own process (about half a second each).
pytestmark = pytest.mark.slow

VEGALITE = "application/vnd.vegalite.v5+json"


def chart_output(spec: object, mime: str = VEGALITE) -> dict:
    return v4.new_output("display_data", data={mime: spec, "text/plain": "<VegaLite 5 object>"})


def altair_spec() -> dict:
    frame = pd.DataFrame({"height": [1.2, 3.4, 2.2], "kind": ["a", "b", "c"]})
    return alt.Chart(frame).mark_bar().encode(x="kind:N", y="height:Q").to_dict()


def notebook_with(*outputs: dict):
    cells = [v4.new_code_cell("chart", outputs=[output]) for output in outputs]
    cells.append(
        v4.new_code_cell("print('after')", outputs=[v4.new_output("stream", text="after")])
    )
    return v4.new_notebook(cells=cells)


def texts(notebook) -> list[str]:
    return [
        out["data"].get("text/plain", "") for cell in notebook.cells[:-1] for out in cell.outputs
    ]


def test_an_altair_chart_is_drawn_as_svg_without_scripts():
    html = notebook_to_html(notebook_with(chart_output(altair_spec())))
    # nbconvert embeds SVG as an <img> data URL, where it can run nothing even if it had a script.
    images = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(images) == 1
    svg = base64.b64decode(images[0]).decode()
    assert svg.startswith("<svg") and "<script" not in svg and ">kind</text>" in svg
    assert "vegaEmbed" not in html and "vnd.vegalite" not in html
    assert "<pre>after</pre>" in html


def test_a_malformed_or_oversized_spec_gets_a_notice_and_the_rest_still_renders():
    broken = {"mark": {"type": 12}, "encoding": "nonsense"}
    huge = {"data": {"values": [{"a": "x" * 1000}] * (MAX_SPEC_CHARS // 1000)}, "mark": "bar"}
    rendered = charts_as_svg(
        notebook_with(
            chart_output(broken),
            chart_output(huge),
            chart_output("not a spec"),
            chart_output(altair_spec()),
        )
    )
    notices = texts(rendered)
    assert "could not be drawn" in notices[0]
    assert "too large" in notices[1]
    assert "not a chart description" in notices[2]
    assert rendered.cells[3].outputs[0]["data"]["image/svg+xml"].startswith("<svg")
    assert rendered.cells[-1].outputs[0]["text"] == "after"


def test_a_spec_that_loads_data_by_url_is_not_fetched():
    remote = {"data": {"url": "https://example.com/cars.json"}, "mark": "point"}
    local = {
        "data": {"values": [{"a": 1}]},
        "transform": [
            {"lookup": "a", "from": {"data": {"url": "file:///etc/hostname"}, "key": "a"}}
        ],
        "mark": "point",
    }
    notices = texts(charts_as_svg(notebook_with(chart_output(remote), chart_output(local))))
    assert all("loads its data from a URL" in notice for notice in notices)


def test_an_altair_4_spec_is_drawn_and_the_original_notebook_is_left_alone():
    notebook = notebook_with(chart_output(altair_spec(), "application/vnd.vegalite.v4+json"))
    rendered = charts_as_svg(notebook)
    assert "image/svg+xml" in rendered.cells[0].outputs[0]["data"]
    assert "application/vnd.vegalite.v4+json" in notebook.cells[0].outputs[0]["data"]


def test_a_chart_that_takes_too_long_is_stopped_and_the_budget_bounds_the_notebook(monkeypatch):
    endless = {
        "data": {"sequence": {"start": 0, "stop": 50_000_000}},
        "mark": "point",
        "encoding": {"x": {"field": "data", "type": "quantitative"}},
    }
    monkeypatch.setattr(rendering, "CHART_SECONDS", 1)
    started = time.monotonic()
    notices = texts(charts_as_svg(notebook_with(chart_output(endless))))
    assert "took too long to draw" in notices[0]
    assert time.monotonic() - started < 10
    monkeypatch.setattr(rendering, "CHARTS_BUDGET_SECONDS", 0)
    notices = texts(charts_as_svg(notebook_with(chart_output(altair_spec()))))
    assert "drawing this notebook's charts took too long" in notices[0]
