"""Turning an executed notebook into HTML for the feedback page."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import time
from typing import Any

import nbformat
import vl_convert
from nbconvert import HTMLExporter

# Vega and Vega-Lite charts (Altair's output) are drawn by scripts, which the page's CSP blocks,
# so they are turned into static SVG here. The specs come from the student's kernel: each is
# converted in its own short-lived process, with caps on its size, its time and the notebook's
# total time.
MAX_SPEC_CHARS = 2_000_000
MAX_SVG_CHARS = 5_000_000
CHART_SECONDS = 10
CHARTS_BUDGET_SECONDS = 60
_CHART_MIME = re.compile(r"^application/vnd\.(vega|vegalite)\.v(\d+)\+json$")
# allowed_base_urls=[] makes vl-convert refuse any http(s) fetch; file URLs it would still read, so
# specs that load anything by URL never reach it (see `_loads_by_url`).
_CONVERT = (
    "import sys, json, vl_convert as v\n"
    "kind, version = sys.argv[1], sys.argv[2]\n"
    "spec = json.load(sys.stdin)\n"
    "svg = (v.vega_to_svg(spec, allowed_base_urls=[]) if kind == 'vega' else\n"
    "       v.vegalite_to_svg(spec, vl_version=version, allowed_base_urls=[]))\n"
    "sys.stdout.write(svg)\n"
)


def notebook_to_html(notebook: nbformat.NotebookNode) -> str:
    """Render a notebook as a standalone HTML page with its images and charts embedded."""
    exporter = HTMLExporter(template_name="classic", embed_images=True)
    body, _ = exporter.from_notebook_node(charts_as_svg(notebook))
    return body


def charts_as_svg(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `notebook` whose Vega/Vega-Lite outputs are static SVG, or a short notice saying
    why a chart is not shown."""
    notebook = copy.deepcopy(notebook)
    deadline = time.monotonic() + CHARTS_BUDGET_SECONDS
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            chart = next((m for mime in data if (m := _CHART_MIME.match(mime)) is not None), None)
            if chart is not None:
                kind, major = chart.group(1), int(chart.group(2))
                output["data"] = _render(kind, major, data[chart.group(0)], deadline)
    return notebook


def _render(kind: str, major: int, spec: Any, deadline: float) -> dict[str, str]:
    """The output's new data: the chart as SVG, or a plain-text notice."""
    version = _vegalite_version(major) if kind == "vegalite" else ""
    text = json.dumps(spec)
    if len(text) > MAX_SPEC_CHARS:
        return _notice("its description is too large to draw")
    if not isinstance(spec, dict) or version is None:
        return _notice("it is not a chart description the grader can draw")
    if _loads_by_url(spec):
        return _notice("it loads its data from a URL, which the grader does not fetch")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return _notice("drawing this notebook's charts took too long")
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _CONVERT, kind, version],
            input=text,
            capture_output=True,
            text=True,
            timeout=min(CHART_SECONDS, remaining),
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
    except subprocess.TimeoutExpired:
        return _notice("it took too long to draw")
    if done.returncode != 0 or not done.stdout.lstrip().startswith("<svg"):
        return _notice("it could not be drawn (the chart description is not valid)")
    if len(done.stdout) > MAX_SVG_CHARS:
        return _notice("its picture is too large")
    return {"image/svg+xml": done.stdout}


def _notice(reason: str) -> dict[str, str]:
    return {"text/plain": f"[Chart not shown: {reason}.]"}


def _vegalite_version(major: int) -> str | None:
    """The bundled Vega-Lite release to draw a `vMAJOR` spec with: the newest of that major, else
    the oldest newer one (Altair 4's v4 specs draw with Vega-Lite 5)."""
    versions = sorted(
        vl_convert.get_vegalite_versions(), key=lambda v: tuple(int(p) for p in v.split("."))
    )
    same = [v for v in versions if int(v.split(".")[0]) == major]
    newer = [v for v in versions if int(v.split(".")[0]) > major]
    return same[-1] if same else (newer[0] if newer else None)


def _loads_by_url(spec: Any) -> bool:
    """True when any part of the spec names a URL to load (data, lookups, images)."""
    pending = [spec]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if "url" in node:
                return True
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False
