"""`grader validate-assignment` shows, for each question the solution fails, the cell and the
exception behind it."""

from __future__ import annotations

import os
import subprocess

import nbformat
import pytest
import yaml
from engine.local_index import local_index  # noqa: F401
from engine.mini_package import RUBRIC, SOLUTION_ANSWERS, build, notebook
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


def test_packages_that_cannot_be_built_stop_validation_with_pips_reason(tmp_path, local_index):
    package = build(tmp_path / "package")
    rubric = {**RUBRIC, "runtime": {**RUBRIC["runtime"], "packages": ["course_helpers>=2"]}}
    (package / "rubric.yaml").write_text(yaml.safe_dump(rubric))
    result = subprocess.run(
        grader_command("validate-assignment", str(package), "--sandbox", "off"),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Resolving the assignment's packages: course_helpers>=2 ..." in result.stderr
    assert "Error: The assignment's packages cannot be used: runtime.packages could not be " in (
        result.stderr
    )
    assert "No matching distribution found for course_helpers>=2" in result.stderr
    assert "cell 1 of" not in result.stderr  # nothing was graded
