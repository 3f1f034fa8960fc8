"""Keras model descriptions, checked in a subprocess so that TensorFlow never loads into the test
process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grader.runtime import KERNEL_PACKAGE_DIR

# Slow: starts Python processes that build Keras models.
pytestmark = pytest.mark.slow

RUNTIME = str(KERNEL_PACKAGE_DIR.parent)

# One TensorFlow import per Keras flavour: the script records what happened, the test asserts on it.
KERAS_SCRIPT = """
import json, sys
sys.path.insert(0, RUNTIME)
import numpy as np
if LEGACY:
    import tf_keras as keras
else:
    import keras
from grader_kernel.describe import describe_keras
from grader_kernel.keras_classifier import KerasClassifier
from scoring_kernel.rebuild import RebuildRefused, build_keras

def crossing(description):
    return json.loads(json.dumps(description, allow_nan=False))

def refusal(description):
    try:
        build_keras(crossing(description), legacy=LEGACY)
    except RebuildRefused as error:
        return str(error)

def export_error(obj):
    try:
        describe_keras(obj, fitted=False)
    except (TypeError, ValueError) as error:
        return str(error)

def create_model(units=4, compiled=True, extra=()):
    model = keras.Sequential([keras.layers.Dense(units, activation="relu"), *extra,
                              keras.layers.Dense(1, activation="sigmoid")])
    if compiled:
        model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.5),
                      metrics=["accuracy"])
    return model

def create_list():
    return [1, 2]

def predictions(model):
    return model.predict(x, verbose=0)

class Doubler(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2

class Subclassed(keras.Model):
    def __init__(self, units=1):
        super().__init__()
        self.dense = keras.layers.Dense(units)
    def call(self, inputs):
        return self.dense(inputs)

def my_loss(y_true, y_pred):
    return keras.losses.binary_crossentropy(y_true, y_pred)

rng = np.random.default_rng(0)
x = rng.random((60, 2)).astype("float32")
y = np.where(x[:, 0] > x[:, 1], "red", "blue")
results = {}

wrapper = KerasClassifier(build_fn=create_model, epochs=3, units=3, verbose=0)
unfitted = crossing(describe_keras(wrapper, fitted=False))
results["unfitted"] = [unfitted["weights"], unfitted["classes"], unfitted["compile"]["loss"]]
wrapper.fit(x, y)
fitted = crossing(describe_keras(wrapper, fitted=True))
model = build_keras(fitted, legacy=LEGACY)
results["classes"] = fitted["classes"]
results["same_predictions"] = bool(np.array_equal(predictions(model), predictions(wrapper.model)))
results["units"] = model.layers[0].units
results["compiled"] = [type(model.optimizer).__name__, float(model.optimizer.learning_rate.numpy())]
results["retrains"] = sorted(model.fit(x, (y == "red").astype("float32"), \
epochs=1, verbose=0).history)
fresh = build_keras(crossing(describe_keras(create_model(units=5), fitted=False)), legacy=LEGACY)
results["fresh"] = [fresh.layers[0].units, fresh.built]

inputs = keras.Input((2,))
hidden = keras.layers.Dense(3, activation="tanh")(inputs)
outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Concatenate()([hidden, inputs]))
functional = keras.Model(inputs, outputs)
functional.compile(loss=keras.losses.BinaryCrossentropy(), optimizer="adam", \
metrics=[keras.metrics.AUC()])
copy = build_keras(crossing(describe_keras(functional, fitted=True)), legacy=LEGACY)
results["functional"] = bool(np.array_equal(predictions(copy), predictions(functional)))

subclassed = Subclassed(units=1)
subclassed.compile(loss="mse", optimizer="sgd")
subclassed(x)
results["subclassed"] = export_error(subclassed) or \
refusal(describe_keras(subclassed, fitted=False))

fitted["weights"] = fitted["weights"][:-1]
results["too_few_weights"] = refusal(fitted)
lambda_layer = keras.layers.Lambda(lambda t: t * 2)
results["lambda"] = refusal(describe_keras(create_model(extra=[lambda_layer]), fitted=False))
results["custom_layer"] = refusal(describe_keras(create_model(extra=[Doubler()]), fitted=False))
with_loss = create_model()
with_loss.compile(loss=my_loss, optimizer="adam")
results["custom_loss"] = refusal(describe_keras(with_loss, fitted=False))

def crafted(change):
    description = crossing(describe_keras(create_model(), fitted=False))
    change(description, description["architecture"]["config"]["layers"][0])
    return refusal(description)

results["crafted_module"] = crafted(\
lambda whole, layer: layer.update(module="os", class_name="system"))
results["crafted_registered_name"] = crafted(\
lambda whole, layer: layer.update(registered_name="evil>Dense"))
exec_function = {"module": "builtins", "class_name": "function", "config": "exec",
                 "registered_name": "function"}
results["crafted_function"] = crafted(\
lambda whole, layer: layer["config"].update(activation=exec_function))
results["crafted_uncompiled"] = crafted(lambda whole, layer: whole.update(compile=None))
results["uncompiled"] = export_error(create_model(compiled=False))
results["uncompiled_factory"] = export_error(\
KerasClassifier(build_fn=lambda: create_model(compiled=False)))
results["not_a_model"] = export_error(KerasClassifier(build_fn=create_list))
print(json.dumps(results))
"""


def run_keras(legacy: bool) -> dict:
    script = f"RUNTIME, LEGACY = {RUNTIME!r}, {legacy}\n" + KERAS_SCRIPT
    environment = {"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"}
    if legacy:
        environment["TF_USE_LEGACY_KERAS"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240, env=environment
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("legacy", [True, False], ids=["tf_keras", "keras3"])
def test_keras_descriptions(legacy):
    results = run_keras(legacy)
    assert results["unfitted"] == [None, None, "binary_crossentropy"]
    assert results["classes"] == ["blue", "red"]
    assert results["same_predictions"] and results["units"] == 3
    assert results["compiled"] == ["SGD", pytest.approx(0.5)]
    assert "loss" in results["retrains"]
    assert results["fresh"] == [5, False]
    assert results["functional"]
    # Keras 3 cannot export a subclassed model; tf_keras exports its constructor arguments, which
    # are refused.
    assert (
        "`Subclassed`; the grader can only rebuild Sequential or functional"
        in results["subclassed"]
    )
    assert "do not match its architecture" in results["too_few_weights"]
    assert results["lambda"] == (
        "your model uses a Lambda layer, which the grader cannot rebuild; use built-in layers"
    )
    assert results["custom_layer"].startswith(
        "your model uses a custom layer `Doubler`, which the grader"
    )
    assert results["custom_loss"].startswith("your model uses a custom loss `my_loss`")
    assert results["crafted_module"].startswith("your model uses a custom layer `system`")
    assert results["crafted_registered_name"].startswith("your model uses a custom layer `Dense`")
    assert results["crafted_function"].startswith("your model uses a custom activation `exec`")
    assert results["crafted_uncompiled"].startswith("your model is not compiled")
    assert (
        results["uncompiled"]
        == "your model is not compiled: call model.compile(...) before this point"
    )
    assert results["uncompiled_factory"].endswith("call model.compile(...) in `<lambda>`")
    assert (
        results["not_a_model"]
        == "`create_list` must return a compiled Keras model; it returned a list"
    )
