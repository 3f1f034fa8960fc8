"""A copy of the mini package whose feature questions use the options: a function that returns the
class label (it is the classifier), and a feature function of one column's value."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from engine.mini_package import RUBRIC, SOLUTION_ANSWERS, build

PREDICT = {
    "key": "predict",
    "title": "Predict the class of a row",
    "points": 2,
    "kind": "feature_function",
    "locator": {"section": "Exercise / Question 6"},
    "params": {"function": "my_predict", "dataset": "band", "returns": "label", "target": 0.9},
}
ONE_VALUE = {
    "key": "one_value",
    "title": "A feature of feature1 alone",
    "points": 2,
    "kind": "feature_function",
    "locator": {"section": "Exercise / Question 7"},
    "params": {
        "function": "from_feature1",
        "dataset": "band",
        "applies_to": {"column": "feature1"},
        "target": 0.9,
    },
}
ANSWERS = {
    **SOLUTION_ANSWERS,
    "Question 6": (
        "def my_predict(row):\n    return 'red' if abs(row['feature1'] - 0.5) < 0.2 else 'blue'"
    ),
    "Question 7": "def from_feature1(x):\n    return abs(x - 0.5)",
}


def variant_rubric() -> dict:
    rubric = copy.deepcopy(RUBRIC)
    rubric["questions"] = [copy.deepcopy(PREDICT), copy.deepcopy(ONE_VALUE)]
    return rubric


def build_variant(root: Path) -> Path:
    """The mini package's data and notebooks, graded by the two option questions only."""
    build(root)
    (root / "rubric.yaml").write_text(yaml.safe_dump(variant_rubric(), sort_keys=False))
    return root
