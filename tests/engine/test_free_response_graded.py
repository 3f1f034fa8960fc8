"""A free-response answer written as comments in a code cell is graded when the rubric reads
comments."""

from __future__ import annotations

import pytest
from nbformat import v4

from engine.conftest import statuses
from engine.mini_package import SOLUTION_ANSWERS, notebook
from grader.engine.grade import grade_notebook

# Slow: grades a notebook in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow


def test_an_answer_in_code_comments_is_read_and_its_code_is_not(mini_package, sandbox):
    nb = notebook(SOLUTION_ANSWERS)
    answer = next(i for i, cell in enumerate(nb.cells) if "linearly separable" in cell.source)
    nb.cells[answer] = v4.new_code_cell(
        "# The band is not linearly separable, so we measure the distance to its middle.\n"
        "middle = df['feature1'].between(0.3, 0.7).mean()"
    )
    params = mini_package.rubric.questions[4].params
    params["read_from"] = "comments"
    try:
        report = grade_notebook(nb, mini_package, sandbox).report
    finally:
        del params["read_from"]
    explain = next(q for q in report.questions if q.key == "explain")
    assert statuses(report)["explain"] == "needs_manual_grading"
    assert explain.details["answer"] == (
        "The band is not linearly separable, so we measure the distance to its middle.\nfeature1"
    )
