"""Graded in the sandbox: an Altair chart drawn by the notebook is checked for its mark and fields,
read from what Altair really displays."""

from __future__ import annotations

import copy

import pytest
import yaml

from engine.conftest import grade_answers
from engine.mini_package import RUBRIC, SOLUTION_ANSWERS, build
from grader.engine.assignment import load_assignment

# Slow: grades notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

SCATTER = "import altair as alt\nalt.Chart(df).mark_point().encode(x='feature1', y='feature2', {})"


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    root = build(tmp_path_factory.mktemp("chart") / "package")
    rubric = copy.deepcopy(RUBRIC)
    chart = next(q for q in rubric["questions"] if q["key"] == "chart")
    chart["params"] = {
        "expect": "chart",
        "chart": {"mark": "point", "encoding": {"x": "feature1:Q", "color": {"field": "class"}}},
    }
    rubric["questions"] = [chart]
    (root / "rubric.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False))
    return load_assignment(root)


@pytest.mark.parametrize(
    ("encoding", "status", "message"),
    [
        ("color='class'", "passed", "The answer displays a `point` chart with x axis"),
        ("color='split'", "failed", "its color channel shows `split`, expected `class`."),
    ],
)
def test_the_chart_the_notebook_displays_is_checked(sandbox, package, encoding, status, message):
    answers = {**SOLUTION_ANSWERS, "Question 4": SCATTER.format(encoding)}
    (question,) = grade_answers(sandbox, package, answers).questions
    assert question.status == status
    assert message in question.message
