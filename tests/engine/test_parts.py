"""Several parts under one heading: each part is graded on its own cells, so one part's error stays
its own."""

from __future__ import annotations

import pytest
import yaml
from nbformat import v4

from engine.conftest import grade_answers, scores, statuses
from engine.mini_package import SOLUTION_ANSWERS, build
from grader.engine.assignment import load_assignment

# Slow: grades a notebook in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def parts_package(tmp_path_factory):
    """The mini lab with Question 4 in two parts: print the table's size (A), then a ratio (B).

    `whole_a` is part A as a lone marker reads it, running to the section's end.
    """
    root = build(tmp_path_factory.mktemp("parts") / "package")
    rubric = yaml.safe_load((root / "rubric.yaml").read_text())
    chart = next(q for q in rubric["questions"] if q["key"] == "chart")
    chart["locator"].update(marker="# Part A", until="# Part B")
    rubric["questions"] += [
        {
            **chart,
            "key": "whole_a",
            "locator": {"section": "Exercise / Question 4", "marker": "# Part A"},
        },
        {
            "key": "ratio",
            "title": "Half of it",
            "points": 1,
            "kind": "value",
            "locator": {"section": "Exercise / Question 4", "marker": "# Part B"},
            "params": {"name": "ratio", "expected": 0.5},
        },
    ]
    (root / "rubric.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False))
    return load_assignment(root)


def test_a_part_whose_neighbour_raises_keeps_full_marks(parts_package, sandbox):
    report = grade_answers(
        sandbox,
        parts_package,
        {**SOLUTION_ANSWERS, "Question 4": "# Part A\nprint(len(df))"},
        extra_after={"Question 4": [v4.new_code_cell("# Part B\nratio = 1 / 0")]},
    )
    assert statuses(report)["chart"] == "passed" and scores(report)["chart"] == 1.0
    assert statuses(report)["ratio"] == "error" and "NameError" in report.questions[-1].message
    # Read to the section's end, part A takes in part B's error.
    assert statuses(report)["whole_a"] == "error"
    assert {key: score for key, score in scores(report).items() if key != "whole_a"} == {
        "feature": 2.0,
        "model": 3.0,
        "answer": 1.0,
        "chart": 1.0,
        "explain": 1.0,
        "ratio": 0.0,
    }
