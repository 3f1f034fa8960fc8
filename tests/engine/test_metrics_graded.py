"""Graded in the sandbox: a regression package scored by RMSE (a linear regression passes, a dummy
regressor fails) and a rare class scored by balanced accuracy; the package validates for release."""

from __future__ import annotations

import copy

import pytest
import yaml

from engine.conftest import statuses
from engine.regression_package import RUBRIC, SOLUTION_ANSWERS, build, notebook
from grader.engine.assignment import load_assignment
from grader.engine.grade import grade_notebook
from grader.engine.validation import check_package

# Slow: grades notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return load_assignment(build(tmp_path_factory.mktemp("regression") / "package"))


def test_the_solution_passes_and_the_template_fails_each_metric(package, sandbox):
    checked = check_package(package, sandbox, notebook(SOLUTION_ANSWERS))
    assert checked.ready, checked.problems
    price, pricey = checked.solution.questions
    assert statuses(checked.solution) == {"price": "passed", "pricey": "passed"}
    assert price.message.startswith("Retrained on the train split. Held-out RMSE ")
    assert price.message.endswith("; at most 2 earns full marks.")
    assert price.details["heldout_rmse"] < 1.5
    assert price.plot_png.startswith(b"\x89PNG") and pricey.plot_png is None
    assert pricey.details["heldout_balanced_accuracy"] >= 0.8
    price, pricey = checked.template.questions
    assert statuses(checked.template) == {"price": "failed", "pricey": "failed"}
    assert price.details["heldout_rmse"] > 5
    # Always answering "no" is right for four houses in five, and balanced accuracy says 50%.
    assert pricey.details == {"heldout_balanced_accuracy": 0.5}
    assert "Held-out balanced accuracy 50%; at least 80% earns full marks." in pricey.message


def test_a_fitted_regressor_is_scored_as_it_is(tmp_path, sandbox):
    rubric = copy.deepcopy(RUBRIC)
    rubric["questions"] = rubric["questions"][:1]
    rubric["questions"][0]["params"]["refit"] = False
    root = build(tmp_path / "package")
    (root / "rubric.yaml").write_text(yaml.safe_dump(rubric))
    # Fitted to the wrong target: retrained it would pass, as it is it must fail.
    fitted = (
        "from sklearn.linear_model import LinearRegression\n"
        "regressor = LinearRegression().fit(df[['size', 'age']], 3 * df['size'])"
    )
    report = grade_notebook(notebook({"Question 1": fitted}), load_assignment(root), sandbox).report
    price = report.questions[0]
    assert price.status == "failed", price.message
    assert price.message.startswith("Scored as you fitted it. Held-out RMSE ")
    assert price.plot_png.startswith(b"\x89PNG")
