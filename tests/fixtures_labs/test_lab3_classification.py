"""The Lab 3 classification package end to end: it validates, and each wrong-answer notebook in
fixtures/lab3_classification/scenarios/ fails exactly the questions it breaks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest
from processes import grader_command

from grader.engine.assignment import load_assignment
from grader.engine.grade import grade_notebook

# Slow: grades notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

LAB3 = Path(__file__).resolve().parents[2] / "fixtures" / "lab3_classification"
SOLUTION_SCORES = {
    "review_ounces": 1.0,
    "a_q1_means": 2.0,
    "a_q2_light": 1.0,
    "a_q3_scatter": 2.0,
    "a_notice": 1.0,  # the other point is the TA's
    "b_q4a_wrong": 1.0,
    "b_q4b_chart": 1.0,
    "b_q5_classifier": 3.0,
}
# What each scenario changes relative to the solution: question key -> (score, status).
EXPECTED = {
    "ounces-multiplied": {"review_ounces": (0.0, "failed")},
    "means-of-every-split": {"a_q1_means": (0.0, "failed")},
    "scatter-axes-swapped": {"a_q3_scatter": (0.0, "failed")},
    "notice-not-answered": {"a_notice": (0.0, "failed")},
    "wrong-holds-the-right-rows": {"b_q4a_wrong": (0.0, "failed")},
    "part-b-raises": {"b_q4b_chart": (0.0, "error")},
    "classifier-ignores-height": {"b_q5_classifier": (1.5, "partial")},
    "classifier-uses-mass-and-chart-colours-by-fruit": {
        "b_q4b_chart": (0.0, "failed"),
        "b_q5_classifier": (0.0, "error"),
    },
    "answers-shaped-differently": {},
}


def test_the_package_validates():
    result = subprocess.run(
        grader_command("validate-assignment", str(LAB3)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Total: 12 / 12 automatic points (+1 for TAs to grade)" in result.stdout
    assert "Total: 0 / 12 automatic points" in result.stdout


@pytest.fixture(scope="module")
def lab3():
    return load_assignment(LAB3)


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_fails_exactly_what_it_breaks(lab3, sandbox, scenario):
    notebook = nbformat.read(LAB3 / "scenarios" / f"{scenario}.ipynb", as_version=4)
    report = grade_notebook(notebook, lab3, sandbox).report
    changed = EXPECTED[scenario]
    got = {q.key: (q.score, q.status) for q in report.questions}
    assert {key: score for key, (score, _) in got.items()} == {
        **SOLUTION_SCORES,
        **{key: score for key, (score, _) in changed.items()},
    }, {q.key: q.message for q in report.questions}
    assert {key: got[key] for key in changed} == changed


def test_the_scenarios_on_disk_are_the_ones_tested():
    assert sorted(p.stem for p in (LAB3 / "scenarios").glob("*.ipynb")) == sorted(EXPECTED)
