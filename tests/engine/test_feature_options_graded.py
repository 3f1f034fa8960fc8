"""Graded in the sandbox: a function that returns the class label is scored as the classifier, a
function of one value gets that column's values, and a classifier cannot reach held-out labels."""

from __future__ import annotations

import pytest

from engine.conftest import statuses
from engine.feature_options_package import ANSWERS, build_variant
from engine.mini_package import notebook
from grader.engine.assignment import load_assignment
from grader.engine.grade import grade_notebook

# Slow: grades notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

# Looks everywhere a held-out label could be: the package's own hidden table (its host path is no
# secret), every CSV the kernel can list, every table in memory, and the row itself. It answers
# with the labels it finds, or "blue" if it finds none.
SNOOP = """
import gc, glob, os
import pandas as pd

HOST_TABLE = {host_table!r}
found = {{}}

def _hidden_labels():
    paths = [HOST_TABLE, *glob.glob('**/*.csv', recursive=True), *glob.glob('/tmp/**/*.csv',
             recursive=True), *glob.glob(os.path.expanduser('~') + '/**/*.csv', recursive=True)]
    tables = []
    for path in paths:
        try:
            tables.append(pd.read_csv(path))
        except Exception:
            pass
    tables += [obj for obj in gc.get_objects() if isinstance(obj, pd.DataFrame)]
    return next((list(t['class']) for t in tables if 'class' in t.columns and len(t) == 120), [])

def my_predict(row):
    if 'labels' not in found:
        found['labels'], found['row'] = _hidden_labels(), 0
    if 'class' in row.index:
        return row['class']
    found['row'] += 1
    return found['labels'][found['row'] - 1] if found['row'] <= len(found['labels']) else 'blue'
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return load_assignment(build_variant(tmp_path_factory.mktemp("options") / "package"))


def test_a_label_function_and_a_one_value_function_earn_full_marks(package, sandbox):
    report = grade_notebook(notebook(ANSWERS), package, sandbox).report
    predict, one_value = report.questions
    assert statuses(report) == {"predict": "passed", "one_value": "passed"}
    assert predict.message.startswith("Your `my_predict` as the classifier: Held-out accuracy")
    assert one_value.message.startswith("A linear model using your `from_feature1`")
    assert predict.plot_png.startswith(b"\x89PNG") and one_value.plot_png.startswith(b"\x89PNG")


def test_a_classifier_finds_no_heldout_label_and_bad_values_name_the_row(package, sandbox):
    snoop = SNOOP.format(host_table=str(package.hidden_dir / "band.csv"))
    # Outside the sandbox the same function does read the labels: the attack is real.
    scope: dict = {}
    exec(snoop, scope)
    heldout = package.heldout_table("band")
    assert scope["_hidden_labels"]() == list(heldout["class"])
    mixed = "def from_feature1(x):\n    return abs(x - 0.5) if x < 0.9 else 'far'"
    answers = {**ANSWERS, "Question 6": snoop, "Question 7": mixed}
    report = grade_notebook(notebook(answers), package, sandbox).report
    predict, one_value = report.questions
    blue = round(float((heldout["class"] == "blue").mean()), 4)
    assert predict.status == "failed" and predict.details == {"heldout_accuracy": blue}
    assert one_value.status == "error"
    assert "`from_feature1` returned 'far' for row" in one_value.message
    assert "it must return a number" in one_value.message
