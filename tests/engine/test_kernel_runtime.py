"""The code shipped into the kernel: legacy Keras, dataset URLs, and probes that resist patching."""

from __future__ import annotations

import builtins
import json
import subprocess
import sys

import pytest

from grader.runtime import KERNEL_PACKAGE_DIR

sys.path.insert(0, str(KERNEL_PACKAGE_DIR.parent))
from grader_kernel import datasets
from grader_kernel.extract import pristine_builtins

# Slow: starts Python processes that import TensorFlow.
pytestmark = pytest.mark.slow

LEGACY_SCRIPT = """
import json, sys
sys.path.insert(0, {runtime!r})
import grader_kernel
grader_kernel.install(json.dumps({{"legacy_keras": True, "url_map": {{}}}}))
import numpy as np, pandas as pd, tensorflow as tf, keras
from keras.wrappers.scikit_learn import KerasClassifier
from keras.models import Sequential
from keras.layers import Dense

def create_model(rate=1.0):
    tf.random.set_seed(2)
    model = Sequential()
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer=tf.keras.optimizers.SGD(learning_rate=rate),
                  metrics=["accuracy"])
    return model

rng = np.random.default_rng(0)
df = pd.DataFrame({{"feature1": rng.random(120), "feature2": rng.random(120)}})
df["class"] = np.where(df.feature1 > df.feature2, "red", "blue")
model = KerasClassifier(build_fn=create_model, epochs=20, rate=0.5, batch_size=20, verbose=False)
model.fit(x=df[["feature1", "feature2"]], y=(df["class"] == "red"))
df["predict"] = model.predict(df[["feature1", "feature2"]])
loss = create_model().compiled_loss(tf.constant([1.0]), tf.constant([[0.5]]))
print(json.dumps({{"keras": keras.__name__, \
"shape": list(model.predict(df[["feature1", "feature2"]]).shape),
                  "accuracy": float((df["predict"] == (df["class"] == "red")).mean()),
                  "lr": float(model.model.optimizer.learning_rate.numpy()), "loss": float(loss)}}))
"""


def test_2021_keras_code_runs_on_current_tensorflow():
    script = LEGACY_SCRIPT.format(runtime=str(KERNEL_PACKAGE_DIR.parent))
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (
        result["keras"] == "tf_keras"
    )  # `import keras` is the Keras 2 API the lab was written for
    assert result["shape"] == [120, 1]  # predict returns a column, like the old wrapper
    assert result["lr"] == pytest.approx(0.5)  # sk_params reach build_fn by name...
    assert result["accuracy"] > 0.8  # ...and epochs/batch_size reach fit
    assert result["loss"] == pytest.approx(0.6931, abs=1e-3)  # model.compiled_loss still exists


def test_course_urls_map_to_local_files_and_others_fail_clearly():
    mapping = {"https://srush.github.io/BT-AI/notebooks/circle.csv": "data/circle.csv"}
    assert (
        datasets.resolve("https://srush.github.io/BT-AI/notebooks/circle.csv", mapping)
        == "data/circle.csv"
    )
    assert datasets.resolve("data/circle.csv", mapping) == "data/circle.csv"
    with pytest.raises(datasets.NoNetworkError, match="no internet access.*known: circle.csv"):
        datasets.resolve("https://example.com/other.csv", mapping)


def test_probes_see_the_original_builtins_and_the_notebook_keeps_its_patches():
    original_sum = builtins.sum
    builtins.sum = lambda *args, **kwargs: 10**9
    try:
        with pristine_builtins():
            assert sum([1, 2]) == 3
        assert sum([1, 2]) == 10**9
    finally:
        builtins.sum = original_sum
