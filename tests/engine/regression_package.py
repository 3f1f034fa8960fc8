"""A small regression package built in code: a numeric target scored by RMSE, and a rare class
scored by balanced accuracy (where always answering the common class looks good by accuracy)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import yaml
from nbformat import v4

URL = "https://example.edu/course/houses.csv"
FEATURES = ["size", "age"]

RUBRIC = {
    "title": "Regression mini lab",
    "runtime": {
        "cell_timeout": 20,
        "notebook_timeout": 120,
        "probe_timeout": 30,
        "legacy_keras": False,
    },
    "urls": {URL: "houses.csv"},
    "questions": [
        {
            "key": "price",
            "title": "Predict the price",
            "points": 2,
            "kind": "model",
            "locator": {"section": "Exercise / Question 1"},
            "params": {
                "estimator": "regressor",
                "dataset": "houses",
                "features": FEATURES,
                "label": "price",
                "metric": "rmse",
                "target": {"at_most": 2.0},
            },
        },
        {
            "key": "pricey",
            "title": "Spot the expensive houses",
            "points": 2,
            "kind": "model",
            "locator": {"section": "Exercise / Question 2"},
            "params": {
                "estimator": "classifier",
                "dataset": "houses",
                "features": FEATURES,
                "label": "pricey",
                "positive_class": "yes",
                "negative_class": "no",
                "grid": None,
                "metric": "balanced_accuracy",
                "target": 0.8,
            },
        },
    ],
}

SETUP = f'import pandas as pd\ndf = pd.read_csv("{URL}")'
TEMPLATE_ANSWERS = {
    "Question 1": (
        "# FILLME\nfrom sklearn.dummy import DummyRegressor\nregressor = DummyRegressor()"
    ),
    "Question 2": (
        "# FILLME\nfrom sklearn.dummy import DummyClassifier\nclassifier = DummyClassifier()"
    ),
}
SOLUTION_ANSWERS = {
    "Question 1": (
        "from sklearn.linear_model import LinearRegression\nregressor = LinearRegression()"
    ),
    "Question 2": (
        "from sklearn.linear_model import LogisticRegression\n"
        "classifier = LogisticRegression(C=100.0, max_iter=1000)"
    ),
}


def notebook(answers: dict[str, str]) -> nbformat.NotebookNode:
    cells = [
        v4.new_markdown_cell("# Regression mini lab"),
        v4.new_code_cell(SETUP),
        v4.new_markdown_cell("## Exercise"),
    ]
    for question, answer in answers.items():
        cells += [v4.new_markdown_cell(f"### {question}"), v4.new_code_cell(answer)]
    return v4.new_notebook(cells=cells)


def houses(rng: np.random.Generator, rows: int, split: str) -> pd.DataFrame:
    """Price is linear in size and age plus noise of standard deviation 1; one house in five is
    'pricey'."""
    size, age = rng.uniform(0, 10, rows), rng.uniform(0, 10, rows)
    price = 3 * size - 2 * age + 20 + rng.normal(0, 1, rows)
    score = 3 * size - 2 * age
    return pd.DataFrame(
        {
            "split": split,
            "size": size.round(3),
            "age": age.round(3),
            "price": price.round(3),
            "pricey": np.where(score > 14, "yes", "no"),
        }
    )


def build(root: Path) -> Path:
    """Write the package to `root` and return it."""
    rng = np.random.default_rng(11)
    (root / "data").mkdir(parents=True)
    (root / "hidden").mkdir()
    pd.concat([houses(rng, 200, "train"), houses(rng, 50, "test")]).to_csv(
        root / "data/houses.csv", index=False
    )
    houses(rng, 150, "heldout").to_csv(root / "hidden/houses.csv", index=False)
    (root / "rubric.yaml").write_text(yaml.safe_dump(RUBRIC, sort_keys=False))
    nbformat.write(notebook(TEMPLATE_ANSWERS), root / "template.ipynb")
    nbformat.write(notebook(SOLUTION_ANSWERS), root / "solution.ipynb")
    return root
