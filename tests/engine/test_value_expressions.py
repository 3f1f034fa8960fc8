"""`value` questions on expressions and tables, graded end to end on a variant of the mini
package."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml

from engine.conftest import grade_answers, scores, statuses
from engine.mini_package import RUBRIC, build
from grader.engine.assignment import load_assignment

# Slow: grades notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

BIG = "big = df[df['feature1'] > 0.5]"
# A text column of 20,000 characters a row makes the whole frame some 4 MB as JSON, over the 1 MB
# value cap: only the asked column may be exported.
FAHRENHEIT = "df['F'] = df['feature1'] * 1.8 + 32\ndf['notes'] = 'x' * 20_000"
MEANS = "means = df.groupby('class')['feature2'].mean()"


@pytest.fixture(scope="module")
def table_package(tmp_path_factory):
    root = build(tmp_path_factory.mktemp("values") / "package")
    band = pd.read_csv(root / "data/band.csv")
    means = band.groupby("class")["feature2"].mean()
    rubric = copy.deepcopy(RUBRIC)
    rubric["questions"] = [
        question(
            "count",
            1,
            {
                "expression": "len(big)",
                "expected": int((band.feature1 > 0.5).sum()),
                "compare": "exact",
            },
        ),
        question(
            "fahrenheit",
            2,
            {
                "expression": "df",
                "compare": "column",
                "expected": {"F": list(band.feature1 * 1.8 + 32)},
            },
        ),
        question(
            "means",
            3,
            {
                "name": "means",
                "compare": "records",
                "ordered": False,
                "tolerance": 0.001,
                "expected": [{"class": c, "feature2": round(m, 4)} for c, m in means.items()],
            },
        ),
    ]
    (root / "rubric.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False))
    return load_assignment(root)


def question(key: str, number: int, params: dict) -> dict:
    return {
        "key": key,
        "title": key,
        "points": 1,
        "kind": "value",
        "locator": {"section": f"Exercise / Question {number}"},
        "params": params,
    }


def grade(sandbox, package, count: str, fahrenheit: str, means: str):
    answers = {"Question 1": count, "Question 2": fahrenheit, "Question 3": means}
    return grade_answers(sandbox, package, answers)


def test_expressions_and_columns_of_large_frames_pass(table_package, sandbox):
    report = grade(sandbox, table_package, BIG, FAHRENHEIT, MEANS)
    assert scores(report) == {"count": 1.0, "fahrenheit": 1.0, "means": 1.0}, [
        q.message for q in report.questions
    ]


def test_a_table_shaped_differently_passes_when_shape_does_not_count(table_package, sandbox):
    # `df` becomes one column with another index; `means` a frame with its rows reversed.
    one_column = (
        "whole = df\ndf = (whole['feature1'] * 1.8 + 32).to_frame('F').set_index(whole.index + 9)"
    )
    frame = "means = whole.groupby('class', as_index=False)[['feature2']].mean()[::-1]"
    report = grade(sandbox, table_package, BIG, one_column, frame)
    assert scores(report) == {"count": 1.0, "fahrenheit": 1.0, "means": 1.0}, [
        q.message for q in report.questions
    ]


def test_wrong_expressions_and_columns_say_where_they_differ(table_package, sandbox):
    report = grade(
        sandbox,
        table_package,
        "big = df[df['feature1'] > 0.9]",
        "df['F'] = df['feature1'] * 1.8",
        "means = df.groupby('class')['feature1'].mean()",
    )
    assert statuses(report) == {"count": "failed", "fahrenheit": "failed", "means": "error"}
    messages = {q.key: q.message for q in report.questions}
    assert messages["count"].startswith("`len(big)` is ")
    assert messages["count"].endswith(", which is not the expected value.")
    assert messages["fahrenheit"].startswith("`df` differs at column `F`, row 1: ")
    assert messages["fahrenheit"].endswith(", not the expected value.")
    assert "`means` has no column `feature2`" in messages["means"]


def test_a_missing_column_is_named(table_package, sandbox):
    report = grade(sandbox, table_package, BIG, "df['C'] = df['feature1']", MEANS)
    assert statuses(report)["fahrenheit"] == "error"
    message = next(q.message for q in report.questions if q.key == "fahrenheit")
    assert "`df` has no column `F` (its columns: class, split, feature1, feature2, C)" in message
