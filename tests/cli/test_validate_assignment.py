"""`grader validate-assignment` shows, for each question the solution fails, the cell and the
exception behind it."""

from __future__ import annotations

import subprocess

import nbformat
import pytest
from engine.mini_package import SOLUTION_ANSWERS, build, notebook
from processes import grader_command

# Slow: grades the solution and the template in the sandbox.
pytestmark = pytest.mark.slow


def test_a_failing_solution_question_shows_the_cell_and_exception_behind_it(tmp_path):
    package = build(tmp_path / "package")
    broken = dict(
        SOLUTION_ANSWERS,
        **{
            "Question 3": 'words = "forty-two"\nanswer = int(words)',
            # Wrong (it shows nothing) but raises nothing: not blamed on the error above it.
            "Question 4": "del df",
        },
    )
    solution = tmp_path / "broken-solution.ipynb"
    nbformat.write(notebook(broken), solution)
    result = subprocess.run(
        grader_command("validate-assignment", str(package), "--solution", str(solution)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = result.stderr[result.stderr.index("What the solution's failing questions raised:") :]
    lines = report.splitlines()
    assert lines[1] == (
        "  answer: cell #9 (in its section) raised "
        "ValueError: invalid literal for int() with base 10: 'forty-two'"
    )
    assert lines[2:4] == ['      | words = "forty-two"', "      | answer = int(words)"]
    assert lines[-1].strip() == "ValueError: invalid literal for int() with base 10: 'forty-two'"
    assert "chart:" not in report and "feature:" not in report
    assert "solution: chart scored 0/1 (failed)" in result.stderr
