"""Static reading of answers: which names a cell defines at the notebook's top level."""

from __future__ import annotations

import pytest

from grader.engine.answers import defined_names
from grader.engine.checks.accuracy import percent


@pytest.mark.parametrize(
    "source, names",
    [
        ("def mkfeature(row):\n    inner = 1\n    return inner", {"mkfeature"}),
        ("model = make()\nx, (y, z) = 1, (2, 3)", {"model", "x", "y", "z"}),
        ("import tensorflow as tf\nfrom keras.models import Sequential", {"tf", "Sequential"}),
        ("for i in range(3):\n    total = i", {"i", "total"}),
        ("class Net:\n    layers = 2", {"Net"}),
        ("%time model = fit()\n!pip install x\n%matplotlib inline", {"model"}),
        ("%%time\nanswer = 42", {"answer"}),
        ("def broken(:\nanswer = 42", {"broken", "answer"}),  # syntax error: a forgiving scan
    ],
)
def test_defined_names(source, names):
    assert defined_names(source) == names


@pytest.mark.parametrize(
    "share, text",
    [(0.9, "90%"), (0.965, "96.5%"), (0.995, "99.5%"), (1.0, "100%"), (0.12345, "12.35%")],
)
def test_accuracy_is_shown_precisely_enough(share, text):
    assert percent(share) == text
