"""Probes: read one answer out of the kernel as plain JSON data for the trusted scorer.

The engine calls these from hidden cells placed right after a question's cells. They only *export*
the answer: a feature function's values, a model's description, a variable's value. Nothing is
scored or trained here, since the notebook can rebind anything in this kernel, this module included;
the scorer outside schema-checks and caps what comes out, and the scoring kernel retrains described
models. Held-out labels are never here. Each export also carries `tamper`: what the notebook
rebound, for staff.
"""

from __future__ import annotations

import builtins
import json
import math
import operator
import sys
from contextlib import contextmanager

from grader_kernel.tamper import rebound
from IPython import get_ipython
from IPython.display import publish_display_data

PROBE_MIME = "application/vnd.grader.probe+json"
_float, _len, _callable, _hasattr, _repr = float, len, callable, hasattr, repr
_dumps, _loads, _isfinite = json.dumps, json.loads, math.isfinite
MAX_VALUE_CHARS = 1_000_000
# The scorer refuses longer labels (grader.engine.checks.feature_function.MAX_LABEL_CHARS).
MAX_LABEL_CHARS = 100
_index = operator.index
_PRISTINE_BUILTINS = dict(vars(builtins))
# What the notebook had rebound when the current probe started
# (before builtins were restored for it).
_tampered: list = []


@contextmanager
def pristine_builtins():
    """Undo a notebook's patches to builtins (sum, len, ...) while a probe runs, then redo them."""
    current = vars(builtins)
    patched = {
        name: current[name]
        for name, original in _PRISTINE_BUILTINS.items()
        if name in current and current[name] is not original
    }
    current.update({name: _PRISTINE_BUILTINS[name] for name in patched})
    try:
        yield
    finally:
        current.update(patched)


def _probe(function):
    """Every probe runs with the original builtins, after noting what the notebook rebound."""

    def run(*args):
        _tampered[:] = rebound()
        with pristine_builtins():
            return function(*args)

    run.__name__, run.__doc__ = function.__name__, function.__doc__
    return run


def _emit(payload: dict) -> None:
    payload = {**payload, "tamper": list(_tampered)}
    publish_display_data({PROBE_MIME: _loads(_dumps(payload, default=_repr))})


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
        raise TypeError(
            f"`{function_name}` returned {_repr(value)[:60]} for row {row_number}; "
            "it must return a number"
        ) from None
    if not _isfinite(number):
        raise ValueError(
            f"`{function_name}` returned {number} for row {row_number}; it must be a finite number"
        )
    return number


def _label(value, function_name: str, row_number: int):
    """A class label as plain data: text of at most MAX_LABEL_CHARS, or a whole number."""
    kind = type(value)
    if issubclass(kind, str):
        # A plain copy: a str subclass's own __eq__ or __str__ goes no further than this kernel.
        label = str.__str__(value)
        if _len(label) > MAX_LABEL_CHARS:
            raise ValueError(
                f"`{function_name}` returned a label of {_len(label)} characters for row "
                f"{row_number}; a class label has at most {MAX_LABEL_CHARS}"
            )
        return label
    # True and 1.0 name no class: a label is text or a whole number.
    if not issubclass(kind, (bool, float)):
        try:
            number = _index(value)
        except TypeError:
            pass
        else:
            if -(2**63) <= number < 2**63:
                return number
    raise TypeError(
        f"`{function_name}` returned {_repr(value)[:60]} for row {row_number}; "
        "it must return a class label: text such as 'red', or a whole number"
    )


@_probe
def feature_values(
    function_name: str, tables: dict, columns: list, returns: str, one_value: bool
) -> None:
    """Apply the student's function to each table (train, held-out features, grid), on `columns`
    only: to each row, or (`one_value`) to each value of the one column; export its numbers, or
    (`returns == "label"`) its class labels."""
    import pandas

    function = _answer(function_name, want_callable=True)
    exported = _label if returns == "label" else _number
    results = {}
    for part, path in tables.items():
        frame = pandas.read_csv(path)
        frame = frame[[column for column in columns if column in frame.columns]]
        inputs = frame[columns[0]].tolist() if one_value else (row for _, row in frame.iterrows())
        results[part] = [
            exported(function(item), function_name, number)
            for number, item in enumerate(inputs, start=1)
        ]
    _emit({"labels" if returns == "label" else "values": results})


@_probe
def model_export(spec: dict) -> None:
    """Describe the student's model (factory, variable or fitted model) for the scoring kernel."""
    from grader_kernel.describe import describe_estimator, describe_keras

    features = _answer(spec["features_from"]) if spec.get("features_from") else spec["features"]
    if _hasattr(features, "tolist"):
        features = features.tolist()
    payload = {"features": features} if spec.get("features_from") else {}
    if spec.get("factory"):
        payload["model"] = _factory_model(spec, features)
    else:
        model = _answer(spec["estimator"])
        fitted = not spec["refit"]
        keras_like = _hasattr(model, "to_json") or _hasattr(model, "build_fn")
        payload["model"] = (
            describe_keras(model, fitted) if keras_like else describe_estimator(model, fitted)
        )
    _emit(payload)


def _factory_model(spec: dict, features) -> dict:
    """The factory's model with its initial weights, drawn as the 2021 course's grader drew them:
    seeds fixed first, then whatever seeding the factory does itself (Lab 6 calls
    tf.random.set_seed(2) in it)."""
    import inspect

    from grader_kernel.describe import describe_keras

    factory = _answer(spec["factory"], want_callable=True)
    accepted = inspect.signature(factory).parameters
    _fixed_seeds(spec["seed"])
    model = factory(**{name: value for name, value in spec["fit"].items() if name in accepted})
    if (
        _hasattr(model, "build")
        and not getattr(model, "built", True)
        and isinstance(features, list)
    ):
        model.build((None, _len(features)))
    description = describe_keras(model, fitted=True)
    description["classes"] = (
        None  # a factory's model is untrained: it has weights but no labels yet
    )
    # The factory's own TensorFlow seed also decides how training shuffles;
    # the scoring kernel trains with it.
    description["training_seed"] = _tensorflow_seed()
    return description


def _tensorflow_seed():
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.eager import context

        return context.global_seed()
    except (
        ImportError,
        AttributeError,
    ):  # a TensorFlow without this internal: train with the rubric's seed
        return None


def _fixed_seeds(seed: int) -> None:
    # tf_keras draws initialiser seeds from `random`: every generator is fixed,
    # not only TensorFlow's.
    import random

    import numpy

    random.seed(seed)
    numpy.random.seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)


_eval = eval  # bound at import, like the names at the top


@_probe
def value_of(name: str | None, expression: str | None = None, columns: list | None = None) -> None:
    """The named variable, or the rubric's expression over the notebook's variables, as JSON
    (numbers, text, lists, arrays, sets, tables as lists of rows); with `columns`, only those
    columns of a table."""
    label = f"`{name or expression}`"
    value = _answer(name) if expression is None else _eval(expression, get_ipython().user_ns)
    kind = type(value).__name__
    if columns is not None:
        value = _table_columns(value, columns, label)
    elif _hasattr(value, "to_dict") and _hasattr(value, "columns"):
        value = value.to_dict(orient="records")
    elif _hasattr(value, "tolist"):
        value = value.tolist()
    elif isinstance(value, (set, frozenset)):
        value = list(value)
    encoded = _dumps(value, default=_repr)
    if _len(encoded) > MAX_VALUE_CHARS:
        raise ValueError(f"{label} is too large to check ({_len(encoded)} characters as JSON)")
    _emit({"value": _loads(encoded), "type": kind})


def _table_columns(value, columns: list, label: str) -> dict:
    """Only the asked columns of a table, by name, so a large frame stays under the cap. A
    DataFrame's named index levels count as columns; a Series or a list is one column, which
    answers a one-column ask whatever its name (a Series' name is rarely chosen)."""
    import pandas

    if not isinstance(value, (pandas.DataFrame, pandas.Series)):
        tabular = isinstance(value, dict) or (
            isinstance(value, list) and value and all(isinstance(row, dict) for row in value)
        )
        value = pandas.DataFrame(value) if tabular else pandas.Series(value)
    if isinstance(value, pandas.Series):
        if _len(columns) == 1:
            return {columns[0]: value.tolist()}
        value = value.to_frame()
    by_name = {str(column): column for column in value.columns}
    levels = {str(level): n for n, level in enumerate(value.index.names) if level is not None}
    table = {}
    for column in columns:
        if column in by_name:
            table[column] = value[by_name[column]].tolist()
        elif column in levels:
            table[column] = value.index.get_level_values(levels[column]).tolist()
        else:
            known = ", ".join([*by_name, *levels])
            raise LookupError(f"{label} has no column `{column}` (its columns: {known[:200]})")
    return table


@_probe
def tamper_report() -> None:
    """After the last cell: what the notebook rebound, for staff."""
    _emit({})
