"""Regression jobs of the scoring kernel: a Keras model with one linear output and a scikit-learn
regressor predict numbers, never classes. Run in a subprocess, so that TensorFlow never loads into
the test process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grader.runtime import KERNEL_PACKAGE_DIR

# Slow: starts a Python process that trains a Keras model.
pytestmark = pytest.mark.slow

RUNTIME = str(KERNEL_PACKAGE_DIR.parent)

SCRIPT = """
import json, sys
sys.path.insert(0, RUNTIME)
import numpy as np
import keras
from grader_kernel.describe import describe_estimator, describe_keras
from scoring_kernel.rebuild import RebuildRefused
from scoring_kernel.serve import _describe, run_job
from sklearn.linear_model import LinearRegression

rng = np.random.default_rng(0)
x = rng.uniform(0, 1, (200, 2))
y = 3 * x[:, 0] - 2 * x[:, 1] + 1
train = {"a": x[:, 0].tolist(), "b": x[:, 1].tolist()}
heldout = {"a": [0.5, 0.1], "b": [0.5, 0.9]}

def job(description, refit=True, fit=None):
    return json.loads(json.dumps({"task": "regression", "model": description, "refit": refit,
        "fit": fit or {}, "seed": 1, "train": train, "labels": y.tolist(),
        "predict": {"heldout": heldout}}))

def linear(units=1):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(units)])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(learning_rate=0.1))
    return model

results = {}
description = describe_keras(linear(), fitted=False)
results["keras"] = run_job(job(description, fit={"epochs": 60, "verbose": 0}), False)["heldout"]
fitted = linear()
fitted.fit(x, y, epochs=60, verbose=0)
results["keras_fitted"] = run_job(job(describe_keras(fitted, fitted=True), refit=False), False)
try:
    run_job(job(describe_keras(linear(units=2), fitted=False), fit={"epochs": 1}), False)
except RebuildRefused as error:
    results["two_outputs"] = _describe(error)
sklearn = describe_estimator(LinearRegression(), fitted=False)
results["sklearn"] = run_job(job(sklearn), False)["heldout"]
print(json.dumps(results))
"""


def test_regressors_predict_numbers_not_classes():
    script = f"RUNTIME = {RUNTIME!r}\n" + SCRIPT
    environment = {"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240, env=environment
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    expected = [1.5, -0.5]
    assert results["sklearn"] == pytest.approx(expected)
    assert all(isinstance(value, float) for value in results["keras"])
    assert results["keras"] == pytest.approx(expected, abs=0.2)
    assert results["keras_fitted"]["heldout"] == pytest.approx(expected, abs=0.2)
    assert results["two_outputs"] == "a regression model needs one output unit; yours has 2"
