"""The scoring kernel's loop: rebuild each described model, train it with fixed seeds,
predict the rows given.

It runs in a sandbox of its own and never runs a line of the student's code: a job carries a model's
*description* (attacker data, rebuilt by `rebuild` from allow-lists) and the table columns it needs.
Jobs arrive as JSON lines on stdin; each answer is one JSON line on the stream handed to `serve`.
Held-out labels never come here: only feature columns go in, only predictions go out.
"""

from __future__ import annotations

import json
import os
import random
import sys
from typing import IO, Any

from scoring_kernel.rebuild import (
    RebuildRefused,
    build_estimator,
    build_keras,
    load_fitted_estimator,
)

# Failures a description can cause while its model is built, trained or used; any of them is the
# answer's problem, reported to the student, never a crash of the loop.
_ANSWER_ERRORS = (
    RebuildRefused,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    RuntimeError,
    ArithmeticError,
    MemoryError,
)
_ONE_OUTPUT = "a regression model needs one output unit; yours has {units}"


def serve(jobs: IO[str], answers: IO[str]) -> None:
    """Answer every job line until stdin closes; the first line holds the kernel's settings."""
    settings = json.loads(jobs.readline() or "{}")
    legacy = bool(settings.get("legacy_keras"))
    if legacy:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
    for module in settings.get("preload", []):
        __import__(module)
    for line in jobs:
        job = json.loads(line)
        try:
            answer = {"predictions": run_job(job, legacy)}
        except _ANSWER_ERRORS as exc:
            answer = {"error": _describe(exc)}
        answers.write(json.dumps({"id": job["id"], **answer}) + "\n")
        answers.flush()


def run_job(job: dict, legacy: bool) -> dict[str, list]:
    """Predictions for each table of `job["predict"]`, from the described model
    (retrained unless refit is off)."""
    import pandas

    _fix_seeds(job["seed"])
    description = job["model"]
    train = pandas.DataFrame(job["train"])
    labels = job["labels"]
    regression = job.get("task") == "regression"
    if description.get("framework") == "keras" and regression:
        model = _keras_regressor(description, job, legacy, train, labels)
    elif description.get("framework") == "keras":
        model = _keras_model(description, job, legacy, train, labels)
    elif description.get("framework") == "sklearn":
        model = _sklearn_model(description, job, train, labels)
    else:
        raise RebuildRefused("the answer is neither a Keras nor a scikit-learn model")
    return {
        part: _plain(model.predict(pandas.DataFrame(columns)))
        for part, columns in job["predict"].items()
    }


def _keras_model(description: dict, job: dict, legacy: bool, train, labels):
    from grader_kernel.keras_classifier import KerasClassifier

    if not job["refit"]:
        return _FittedKeras(build_keras(description, legacy), description.get("classes"))
    _training_seed(description)
    classifier = KerasClassifier(build_fn=lambda: build_keras(description, legacy), **job["fit"])
    classifier.fit(train, labels)
    return classifier


def _keras_regressor(description: dict, job: dict, legacy: bool, train, labels):
    """A Keras model with one output unit, trained on the numbers themselves; it predicts that
    unit's raw value, never a class."""
    import numpy
    from grader_kernel.keras_classifier import BaseWrapper

    def build():
        model = build_keras(description, legacy)
        try:
            units = model.outputs[0].shape[-1]
        except (AttributeError, IndexError, TypeError, ValueError):
            units = 1  # not built yet: its predictions are checked instead
        if units != 1:
            raise RebuildRefused(_ONE_OUTPUT.format(units=units))
        return model

    if not job["refit"]:
        return _RawKeras(build())
    _training_seed(description)
    wrapper = BaseWrapper(build_fn=build, **job["fit"])
    wrapper.fit(train.to_numpy(dtype="float32"), numpy.asarray(labels, dtype="float32"))
    return _RawKeras(wrapper.model)


class _RawKeras:
    """A Keras regressor: the value of its one output unit for each row."""

    def __init__(self, model):
        self.model = model

    def predict(self, frame):
        import numpy

        outputs = numpy.asarray(self.model.predict(frame.to_numpy(dtype="float32"), verbose=0))
        if outputs.ndim > 1 and outputs.shape[-1] != 1:
            raise RebuildRefused(_ONE_OUTPUT.format(units=outputs.shape[-1]))
        return outputs.reshape(-1)


def _training_seed(description: dict) -> None:
    seed = description.get("training_seed")
    if type(seed) is int and 0 <= seed < 2**31:
        # The seed the student's factory set (Lab 6: "makes it the same for everyone in class").
        __import__("tensorflow").random.set_seed(seed)


def _sklearn_model(description: dict, job: dict, train, labels):
    if not job["refit"]:
        return load_fitted_estimator(description)
    estimator = build_estimator(description)
    estimator.fit(train, labels, **job["fit"])
    return estimator


class _FittedKeras:
    """A Keras model the student trained: class labels from its outputs,
    as the legacy wrapper gives them."""

    def __init__(self, model, classes):
        self.model, self.classes = model, classes

    def predict(self, frame):
        import numpy

        probabilities = numpy.asarray(
            self.model.predict(frame.to_numpy(dtype="float32"), verbose=0)
        )
        if probabilities.ndim > 1 and probabilities.shape[-1] > 1:
            indices = probabilities.argmax(axis=-1)
        else:
            indices = (probabilities.reshape(-1) > 0.5).astype(int)
        if self.classes is None:
            return indices
        if len(self.classes) <= int(indices.max(initial=0)):
            raise RebuildRefused(
                f"the model predicts class #{int(indices.max())} but was fitted with "
                f"{len(self.classes)} classes"
            )
        return [self.classes[index] for index in indices]


def _fix_seeds(seed: int) -> None:
    # tf_keras draws initialiser seeds from `random`: every generator is fixed,
    # not only TensorFlow's.
    random.seed(seed)
    import numpy

    numpy.random.seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)


def _plain(values: Any) -> list:
    import numpy

    return [
        item.item() if hasattr(item, "item") else item for item in numpy.asarray(values).reshape(-1)
    ]


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, RebuildRefused):
        text = f"{type(exc).__name__}: {text}"
    return text[:500]


def main() -> None:
    """Entry point in the sandbox: library chatter on fd 1 must not corrupt the answer stream."""
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    serve(sys.stdin, answers)


if __name__ == "__main__":
    main()
