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
    if description.get("framework") == "keras":
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
    seed = description.get("training_seed")
    if type(seed) is int and 0 <= seed < 2**31:
        # The seed the student's factory set (Lab 6: "makes it the same for everyone in class").
        __import__("tensorflow").random.set_seed(seed)
    classifier = KerasClassifier(build_fn=lambda: build_keras(description, legacy), **job["fit"])
    classifier.fit(train, labels)
    return classifier


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
