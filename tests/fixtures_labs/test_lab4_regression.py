"""The Lab 4 regression package end to end: it validates, and each wrong-answer notebook in
fixtures/lab4_regression/scenarios/ fails exactly the questions it breaks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from processes import grader_command

from grader.engine.assignment import load_assignment
from grader.engine.grade import grade_notebook

# Slow: grades notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

LAB4 = Path(__file__).resolve().parents[2] / "fixtures" / "lab4_regression"
SOLUTION_SCORES = {
    "a_q1_heavy_fuel": 1.0,
    "a_q2_power_per_tonne": 1.0,
    "b_q3_model": 3.0,
    "b_q4_ridge": 2.0,
    "b_most": 1.0,  # the other point is the TA's
}
# What each scenario changes relative to the solution: question key -> (score, status).
EXPECTED = {
    "heavy-cars-of-every-split": {"a_q1_heavy_fuel": (0.0, "failed")},
    "power-per-kilogram": {"a_q2_power_per_tonne": (0.0, "failed")},
    "dummy-regressor": {"b_q3_model": (0.0, "failed")},
    "shallow-tree-instead-of-linear": {"b_q3_model": (1.5, "partial")},
    "ridge-fit-on-co2": {"b_q4_ridge": (0.0, "failed")},
    "mean-of-all-cars-and-no-answer": {
        "a_q1_heavy_fuel": (0.0, "failed"),
        "b_most": (0.0, "failed"),
    },
    "answers-shaped-differently": {},
}


def test_the_package_validates():
    result = subprocess.run(
        grader_command("validate-assignment", str(LAB4)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Total: 8 / 8 automatic points (+1 for TAs to grade)" in result.stdout
    assert "Total: 0 / 8 automatic points" in result.stdout


@pytest.fixture(scope="module")
def lab4():
    return load_assignment(LAB4)


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_fails_exactly_what_it_breaks(lab4, sandbox, scenario):
    notebook = nbformat.read(LAB4 / "scenarios" / f"{scenario}.ipynb", as_version=4)
    report = grade_notebook(notebook, lab4, sandbox).report
    changed = EXPECTED[scenario]
    got = {q.key: (q.score, q.status) for q in report.questions}
    assert {key: score for key, (score, _) in got.items()} == {
        **SOLUTION_SCORES,
        **{key: score for key, (score, _) in changed.items()},
    }, {q.key: q.message for q in report.questions}
    assert {key: got[key] for key in changed} == changed


def test_the_lab_runs_on_its_pinned_pandas_not_the_graders(lab4, sandbox):
    # rubric.yaml pins pandas>=2.2,<3; the grader itself runs pandas 3. The first cell prints it.
    executed = grade_notebook(lab4.template, lab4, sandbox).executed
    imports = next(cell for cell in executed.cells if cell.get("id") == "imports")
    assert imports.outputs[0]["text"].startswith("pandas 2."), imports.outputs
    assert pd.__version__.startswith("3.")


def test_the_scenarios_on_disk_are_the_ones_tested():
    assert sorted(p.stem for p in (LAB4 / "scenarios").glob("*.ipynb")) == sorted(EXPECTED)
