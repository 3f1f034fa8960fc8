"""Clean-room scoring of Lab 6 with real TensorFlow: the forgeries a student who read our source
would try.

The weak answer is the template's one-unit linear model for the `complex` dataset. Each attack
follows it in the same section, so it runs before the grader exports the answer.
"""

from __future__ import annotations

import copy
import shutil

import nbformat
import pytest
import yaml
from nbformat import v4

from engine.test_lab6 import LAB6, SCENARIOS, question
from grader.engine.assignment import load_assignment
from grader.engine.grade import grade_notebook

# Slow: grades the TensorFlow lab in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

# k-nearest-neighbours predictions fitted on the public rows, which would score about 100%.
FORGE = """
import pandas as pd
from IPython.display import publish_display_data
from sklearn.neighbors import KNeighborsClassifier
def forge(*args, **kwargs):
    public = pd.read_csv("https://srush.github.io/BT-AI/notebooks/complex.csv")
    train = public[public["split"] == "train"]
    knn = KNeighborsClassifier(3).fit(train[["feature1", "feature2"]], train["class"] == "red")
    grid = pd.read_csv("https://srush.github.io/BT-AI/notebooks/all_points.csv")
    publish_display_data({"application/vnd.grader.probe+json": {"predictions": {
        "heldout": knn.predict(public[["feature1", "feature2"]][:200]).tolist(),
        "grid": knn.predict(grid[["feature1", "feature2"]]).tolist()}}})
    return knn.predict(args[-1] if args else grid[["feature1", "feature2"]])
"""
ATTACKS = {
    "forged-export": FORGE + "import grader_kernel.extract as e\ne.model_export = forge",
    "keras-classifier-predict": FORGE + "KerasClassifier.predict = lambda self, x, **k: forge(x)",
    "keras-model-predict": FORGE + "tf.keras.Model.predict = lambda self, x, **k: forge(x)",
    "numpy-mean": "import numpy\nnumpy.mean = lambda *a, **k: 1.0",
}
EXPECTED_FLAG = {
    "forged-export": "grader_kernel.extract.model_export",
    "keras-classifier-predict": "predict",
    "keras-model-predict": "Model.predict",
    "numpy-mean": "numpy.mean",
}


@pytest.fixture(scope="module")
def lab6():
    return load_assignment(LAB6)


def weak_with(attack: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nbformat.read(SCENARIOS / "weak-linear-model.ipynb", as_version=4))
    model_cell = next(i for i, cell in enumerate(nb.cells) if cell.get("id") == "gb-q1-model")
    nb.cells.insert(model_cell + 1, v4.new_code_cell(attack))
    return nb


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_forging_the_model_score_fails_and_is_flagged(lab6, attack, sandbox):
    report = grade_notebook(weak_with(ATTACKS[attack]), lab6, sandbox).report
    model = question(report, "b_q1_multilayer")
    assert model.score == 0.0 and model.status in ("failed", "error"), model.message
    assert any(EXPECTED_FLAG[attack] in note for note in report.tamper), report.tamper


def test_a_lambda_layer_is_refused_with_a_message_naming_it(lab6, sandbox):
    nb = copy.deepcopy(nbformat.read(LAB6 / "solution.ipynb", as_version=4))
    cell = next(cell for cell in nb.cells if cell.get("id") == "gb-q1-model")
    cell.source = cell.source.replace(
        'model.add(Dense(1, activation="sigmoid"))',
        "model.add(keras.layers.Lambda(lambda x: x * 2))\n"
        '    model.add(Dense(1, activation="sigmoid"))',
    )
    assert "Lambda" in cell.source
    model = question(grade_notebook(nb, lab6, sandbox).report, "b_q1_multilayer")
    assert model.status == "error" and model.score == 0
    assert "Lambda layer" in model.message and "built-in layers" in model.message


@pytest.fixture(scope="module")
def lab6_fitted(tmp_path_factory):
    """Lab 6 plus a question: the KerasClassifier the student fitted in Group Exercise B, as is."""
    root = tmp_path_factory.mktemp("lab6-fitted") / "lab6"
    shutil.copytree(LAB6, root, ignore=shutil.ignore_patterns("scenarios", "*.py"))
    rubric = yaml.safe_load((root / "rubric.yaml").read_text())
    rubric["questions"].append(
        {
            "key": "b_q1_fitted",
            "title": "Group Exercise B, Question 1: the model you trained",
            "points": 2,
            "locator": {"section": "Group Exercise B / Question 1"},
            "kind": "model",
            "params": {"estimator": "model", "refit": False, "dataset": "complex", "target": 0.9},
        }
    )
    (root / "rubric.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False))
    return load_assignment(root)


@pytest.mark.parametrize(
    "notebook, status",
    [(LAB6 / "solution.ipynb", "passed"), (SCENARIOS / "weak-linear-model.ipynb", "failed")],
)
def test_a_fitted_keras_model_is_scored_as_the_student_trained_it(
    lab6_fitted, notebook, status, sandbox
):
    report = grade_notebook(nbformat.read(notebook, as_version=4), lab6_fitted, sandbox).report
    fitted = question(report, "b_q1_fitted")
    assert fitted.status == status, fitted.message
    assert fitted.message.startswith("Scored as you fitted it. Held-out accuracy")
