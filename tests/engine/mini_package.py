"""A small assignment package built in code, so engine tests run in seconds without TensorFlow."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import yaml
from nbformat import v4

URL = "https://example.edu/course/band.csv"

RUBRIC = {
    "title": "Mini lab",
    "runtime": {
        "cell_timeout": 20,
        "notebook_timeout": 120,
        "probe_timeout": 30,
        "legacy_keras": False,
    },
    "urls": {URL: "band.csv"},
    "questions": [
        {
            "key": "feature",
            "title": "A feature for the band",
            "points": 2,
            "kind": "feature_function",
            "locator": {"section": "Exercise / Question 1"},
            "params": {"function": "mkfeature", "dataset": "band", "target": 0.9},
        },
        {
            "key": "model",
            "title": "A model that fits",
            "points": 3,
            "kind": "model",
            "locator": {"section": "Exercise / Question 2"},
            "params": {
                "estimator": "model",
                "dataset": "band",
                "features": ["feature1", "feature2"],
                "bands": [
                    {"min_accuracy": 0.9, "fraction": 1.0},
                    {"min_accuracy": 0.7, "fraction": 0.5},
                ],
            },
        },
        {
            "key": "answer",
            "title": "The answer",
            "points": 1,
            "kind": "value",
            "locator": {"section": "Exercise / Question 3"},
            "params": {"name": "answer", "expected": 42},
        },
        {
            "key": "chart",
            "title": "Print the table size",
            "points": 1,
            "kind": "output",
            "locator": {"section": "Exercise / Question 4"},
            "params": {"expect": "text"},
        },
        {
            "key": "explain",
            "title": "Explain",
            "points": 2,
            "kind": "free_response",
            "locator": {"section": "Exercise / Question 5"},
            "params": {"completion_fraction": 0.5},
        },
    ],
}

SETUP = 'import pandas as pd\ndf = pd.read_csv("https://example.edu/course/band.csv")'
TEMPLATE_ANSWERS = {
    "Question 1": "# FILLME\ndef mkfeature(row):\n    return 0.0",
    "Question 2": "# FILLME\nfrom sklearn.dummy import DummyClassifier\nmodel = DummyClassifier()",
    "Question 3": "# FILLME\nanswer = None",
    "Question 4": "# FILLME",
    "Question 5": "FILLME",
}
SOLUTION_ANSWERS = {
    "Question 1": "def mkfeature(row):\n    return abs(row['feature1'] - 0.5)",
    "Question 2": (
        "from sklearn.neighbors import KNeighborsClassifier\nmodel = KNeighborsClassifier(5)"
    ),
    "Question 3": "answer = 6 * 7",
    "Question 4": "print(len(df))",
    "Question 5": (
        "FILLME\nThe band is not linearly separable, so we measure the distance to its middle."
    ),
}


def notebook(
    answers: dict[str, str], extra_after: dict[str, list] | None = None
) -> nbformat.NotebookNode:
    """Template or solution notebook; `extra_after` inserts cells after a question's answer."""
    cells = [
        v4.new_markdown_cell("# Mini lab"),
        v4.new_code_cell(SETUP),
        v4.new_markdown_cell("## Exercise"),
    ]
    for question, answer in answers.items():
        cells.append(v4.new_markdown_cell(f"### {question}"))
        cells.append(
            v4.new_markdown_cell(answer) if question == "Question 5" else v4.new_code_cell(answer)
        )
        cells.extend((extra_after or {}).get(question, []))
    return v4.new_notebook(cells=cells)


def band_table(rng: np.random.Generator, rows: int, split: str) -> pd.DataFrame:
    f1, f2 = rng.random(rows), rng.random(rows)
    return pd.DataFrame(
        {
            "class": np.where(abs(f1 - 0.5) < 0.2, "red", "blue"),
            "split": split,
            "feature1": f1.round(4),
            "feature2": f2.round(4),
        }
    )


def build(root: Path) -> Path:
    """Write the package to `root` and return it."""
    rng = np.random.default_rng(7)
    (root / "data").mkdir(parents=True)
    (root / "hidden").mkdir()
    pd.concat([band_table(rng, 150, "train"), band_table(rng, 50, "test")]).to_csv(
        root / "data/band.csv", index=False
    )
    band_table(rng, 120, "heldout").to_csv(root / "hidden/band.csv", index=False)
    grid = np.linspace(0, 1, 11)
    pd.DataFrame([(x, y) for x in grid for y in grid], columns=["feature1", "feature2"]).to_csv(
        root / "data/all_points.csv", index=False
    )
    (root / "rubric.yaml").write_text(yaml.safe_dump(RUBRIC, sort_keys=False))
    nbformat.write(notebook(TEMPLATE_ANSWERS), root / "template.ipynb")
    nbformat.write(notebook(SOLUTION_ANSWERS), root / "solution.ipynb")
    return root
