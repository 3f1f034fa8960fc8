"""Probes: read one answer out of the kernel as plain JSON data for the trusted scorer.

The engine calls these from hidden cells placed right after a question's cells. Everything they
rely on is bound when this module is imported, before any student code runs. They publish their
result under PROBE_MIME; the scorer outside the kernel schema-checks and caps it. Labels of the
held-out split are never here: only features go in, only predictions come out.
"""
from __future__ import annotations

import builtins
import json
import math
import random
import sys
from contextlib import contextmanager

from IPython import get_ipython
from IPython.display import publish_display_data

PROBE_MIME = "application/vnd.grader.probe+json"
_float, _len, _callable, _hasattr, _repr = float, len, callable, hasattr, repr
_dumps, _loads, _isfinite = json.dumps, json.loads, math.isfinite
MAX_VALUE_CHARS = 1_000_000
_PRISTINE_BUILTINS = dict(vars(builtins))


@contextmanager
def pristine_builtins():
    """Undo a notebook's patches to builtins (sum, len, round, ...) while a probe runs, then redo them."""
    current = vars(builtins)
    patched = {name: current[name] for name, original in _PRISTINE_BUILTINS.items()
               if name in current and current[name] is not original}
    current.update({name: _PRISTINE_BUILTINS[name] for name in patched})
    try:
        yield
    finally:
        current.update(patched)


def _probe(function):
    """Every probe runs with the original builtins."""
    def run(*args):
        with pristine_builtins():
            return function(*args)
    run.__name__, run.__doc__ = function.__name__, function.__doc__
    return run


def _emit(payload: dict) -> None:
    publish_display_data({PROBE_MIME: _loads(_dumps(payload))})


def _answer(name: str, want_callable: bool = False):
    namespace = get_ipython().user_ns
    if name not in namespace:
        raise NameError(f"`{name}` is not defined at this point of the notebook")
    value = namespace[name]
    if want_callable and not _callable(value):
        raise TypeError(f"`{name}` should be a function here, but it is a {type(value).__name__}")
    return value


def _number(value, function_name: str, row_number: int) -> float:
    try:
        number = _float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{function_name}` returned {_repr(value)[:60]} for row {row_number}; "
                        "it must return a number") from None
    if not _isfinite(number):
        raise ValueError(f"`{function_name}` returned {number} for row {row_number}; it must be a finite number")
    return number


def _fixed_seeds(seed: int) -> None:
    random.seed(seed)
    import numpy
    numpy.random.seed(seed)
    if "tensorflow" in sys.modules or "keras" in sys.modules:
        import tensorflow
        tensorflow.random.set_seed(seed)


@_probe
def feature_values(function_name: str, tables: dict) -> None:
    """Apply the student's row function to each table (train, held-out features, grid)."""
    import pandas
    function = _answer(function_name, want_callable=True)
    values = {}
    for part, path in tables.items():
        frame = pandas.read_csv(path)
        values[part] = [_number(function(row), function_name, number)
                        for number, (_, row) in enumerate(frame.iterrows(), start=1)]
    _emit({"values": values})


@_probe
def model_predictions(spec: dict) -> None:
    """Retrain the student's model factory or estimator on the public train split; predict the rest."""
    import numpy
    import pandas
    _fixed_seeds(spec["seed"])
    if spec.get("factory"):
        from grader_kernel.keras_classifier import KerasClassifier
        estimator = KerasClassifier(build_fn=_answer(spec["factory"], want_callable=True), **spec["fit"])
        fit_args = {}
    else:
        from sklearn.base import clone
        estimator, fit_args = clone(_answer(spec["estimator"])), spec["fit"]
    train = pandas.read_csv(spec["train"]).iloc[spec["train_rows"]]
    estimator.fit(train[spec["features"]], numpy.asarray(spec["labels"]), **fit_args)
    predictions = {}
    for part, path in spec["predict"].items():
        frame = pandas.read_csv(path)
        raw = numpy.asarray(estimator.predict(frame[spec["features"]])).reshape(-1)
        predictions[part] = [item.item() if _hasattr(item, "item") else item for item in raw]
    _emit({"predictions": predictions})


@_probe
def value_of(name: str) -> None:
    """The named variable as JSON (numbers, text, lists, arrays, tables as lists of rows)."""
    value = _answer(name)
    if _hasattr(value, "to_dict") and _hasattr(value, "columns"):
        value = value.to_dict(orient="records")
    elif _hasattr(value, "tolist"):
        value = value.tolist()
    encoded = _dumps(value, default=_repr)
    if _len(encoded) > MAX_VALUE_CHARS:
        raise ValueError(f"`{name}` is too large to check ({_len(encoded)} characters as JSON)")
    _emit({"value": _loads(encoded), "type": type(_answer(name)).__name__})
