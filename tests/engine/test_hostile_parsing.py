"""Reading a hostile notebook costs the trusted worker no more than an honest one: linear time."""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nbformat import v4

from grader.engine.answers import MAX_PARSED_CHARS, defined_names
from grader.engine.assignment import load_assignment
from grader.engine.locator import _without_tags, headings, html_headings, locate, markdown_heading
from grader.engine.rubric import Locator

LAB6 = Path(__file__).resolve().parents[2] / "fixtures" / "lab6"
# The patterns the locator used before: the oracles for what a heading is, on input small enough for
# them.
OLD_MARKDOWN_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
OLD_HTML_HEADING = re.compile(r"<h([1-6])[^>]*>(.*?)</h\1>", re.IGNORECASE | re.DOTALL)
OLD_TAGS = re.compile(r"<[^>]+>")
A_INT_CELL = "\n".join(["a: int"] * 20_000)
HOSTILE_MARKDOWN = {
    "heading full of spaces (37 s before)": "# a" + " " * 2000 + "b",
    "6,000 spaces (killed after 400 s before)": "# a" + " " * 6000 + "b",
    "spaces then hashes": "## x" + " " * 3000 + "#" * 3000 + " " * 3000 + "y",
    "unclosed html headings": "<h1" * 40_000,
    "html headings never closed": "<h2>" * 40_000,
    "tags that never close": "# " + "<a" * 40_000,
    "many heading lines": "\n".join(["### Question 1" + " " * 100 + "x"] * 5_000),
}
HOSTILE_CODE = {
    "20,000 lines of `a: int`": A_INT_CELL,
    "20,000 lines of `a: int` that do not parse": A_INT_CELL + "\ndef broken(:",
    "blank lines that do not parse": "\n" * 200_000 + "def broken(:",
    "deeply nested expression": "x = " + "-" * 50_000 + "1",
}


@pytest.fixture(scope="module")
def lab6():
    return load_assignment(LAB6)


def analyse(notebook, package) -> dict[str, tuple[list[int], set[str]]]:
    """The static part of grading: each question's cells, and the names its code defines."""
    boundaries = [heading.key for heading in headings(package.template)]
    found = {}
    for question in package.rubric.questions:
        location = locate(notebook, question.locator, boundaries)
        assert location.found, location.reason
        cells = [notebook.cells[i] for i in location.cell_indices]
        code = [cell.source for cell in cells if cell.cell_type == "code"]
        found[question.key] = (location.cell_indices, set().union(*map(defined_names, code)))
    return found


def timed_analysis(notebook, package):
    started = time.perf_counter()
    found = analyse(notebook, package)
    return found, time.perf_counter() - started


@pytest.mark.parametrize("markdown", HOSTILE_MARKDOWN.values(), ids=list(HOSTILE_MARKDOWN))
@pytest.mark.parametrize("code", HOSTILE_CODE.values(), ids=list(HOSTILE_CODE))
def test_hostile_cells_are_analysed_in_under_two_seconds(lab6, markdown, code):
    honest = nbformat.read(LAB6 / "solution.ipynb", as_version=4)
    expected = analyse(honest, lab6)
    hostile = nbformat.read(LAB6 / "solution.ipynb", as_version=4)
    # Both at the end, in the last question's section: the code cell is part of its answer.
    hostile.cells += [v4.new_code_cell(code), v4.new_markdown_cell(markdown)]
    found, seconds = timed_analysis(hostile, lab6)
    assert seconds < 2, f"static analysis took {seconds:.1f} s"
    last = lab6.rubric.questions[-1].key
    assert {key: value for key, value in found.items() if key != last} == {
        key: value for key, value in expected.items() if key != last
    }
    added = len(honest.cells)
    # The hostile markdown ends the section when it is a heading; either way the hostile code is in
    # it.
    assert found[last][0] in (expected[last][0] + [added], expected[last][0] + [added, added + 1])
    assert expected[last][1] <= found[last][1]


def test_the_reported_notebook_is_analysed_in_under_two_seconds(lab6):
    """6,000 spaces in a heading and a 20,000-line cell of `a: int`: killed after 400 s before."""
    notebook = nbformat.read(LAB6 / "solution.ipynb", as_version=4)
    notebook.cells += [v4.new_code_cell(A_INT_CELL), v4.new_markdown_cell("# a" + " " * 6000 + "b")]
    found, seconds = timed_analysis(notebook, lab6)
    assert seconds < 2, f"static analysis took {seconds:.1f} s"
    assert "create_model" in found["b_q1_multilayer"][1]


def test_a_part_without_its_end_marker_is_read_in_linear_time():
    """Every cell after the part's start is a near miss of its end marker, and none holds it."""
    near_misses = "# Part " * 20_000
    notebook = v4.new_notebook(
        cells=[v4.new_markdown_cell("### Question 1"), v4.new_code_cell("# Part A")]
        + [v4.new_code_cell(near_misses) for _ in range(200)]
    )
    started = time.perf_counter()
    location = locate(notebook, Locator(section="Question 1", marker="# Part A", until="# Part B"))
    assert time.perf_counter() - started < 2 and not location.found


def test_a_cell_too_large_to_parse_is_scanned_for_its_definitions():
    big = "def mkfeature(row):\n    return 1\nmodel: object = None\n" + "#\n" * MAX_PARSED_CHARS
    assert defined_names(big) == {"mkfeature", "model"}


def test_a_null_byte_does_not_break_reading_definitions():
    assert defined_names("answer = 42\nx = '\0'") == {"answer", "x"}


def test_a_long_heading_is_compared_by_its_start():
    notebook = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("### Question 1 " + "and more words " * 1000),
            v4.new_code_cell("b = 2"),
        ]
    )
    [heading] = headings(notebook)
    assert len(heading.title) <= 300 and heading.key.startswith("question 1 and more words")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=" \t#ab<>/h1\u00a0", max_size=14))
def test_markdown_headings_are_read_as_the_old_pattern_read_them(line):
    match = OLD_MARKDOWN_HEADING.match(line)
    assert markdown_heading(line) == ((len(match.group(1)), match.group(2)) if match else None)


HTML_PARTS = st.lists(
    st.sampled_from(
        ["<h1", "<H2", ">", "</h1>", "</H2>", "</h2>", "<h7>", "<h", "<", "/", "1", "a", " ", "\n"]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(HTML_PARTS)
def test_html_headings_are_read_as_the_old_pattern_read_them(source):
    old = [(int(match.group(1)), match.group(2)) for match in OLD_HTML_HEADING.finditer(source)]
    assert html_headings(source) == old


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="<>ab ", max_size=16))
def test_tags_are_removed_as_the_old_pattern_removed_them(text):
    assert _without_tags(text) == OLD_TAGS.sub(" ", text)


@pytest.mark.parametrize(
    "line",
    [
        "# Title",
        "## Title ##",
        "#   ",
        "# ",
        "####### x",
        "    # x",
        "   # x",
        "# C#",
        "# a #b",
        "#\tTab",
        "  ##   Question 1  ",
        "## ###",
        "#x",
    ],
)
def test_everyday_heading_lines_read_as_before(line):
    match = OLD_MARKDOWN_HEADING.match(line)
    assert markdown_heading(line) == ((len(match.group(1)), match.group(2)) if match else None)
