"""Export a model as a plain-JSON description that the scoring kernel rebuilds, trains and scores.

Runs in the student's kernel, so nothing here is trusted by the scorer: the scoring kernel validates
every description (`scoring_kernel.rebuild`). This side only aims at clear errors for honest
mistakes. Heavy libraries are imported lazily, inside the functions that need them.

Formats:
- Keras: {"framework": "keras", "architecture": <model.to_json(), parsed>,
  "compile": <model.get_compile_config()>, "weights": [nested lists, one per weight array] or None,
  "classes": [labels] or None}
- scikit-learn, unfitted: {"framework": "sklearn", "estimator": {"class": "<module>.<qualname>",
  "params": {name: param}}}, where a param is None/bool/int/float/str, a list of params, a nested
  {"class", "params"} estimator, or a tagged value: {"float": "nan" | "inf" | "-inf"},
  {"dtype": "<numpy dtype name>"} or {"dict": [[key, param], ...]}
- scikit-learn, fitted: {"framework": "sklearn", "skops": "<base64 of skops.io.dumps(obj)>",
  "class": "<module>.<qualname>"}
"""

from __future__ import annotations

import base64
import inspect
import json
import math
import sys

# The caller caps a description at 5 MB; a weight takes about 20 characters of JSON.
MAX_WEIGHTS = 200_000
# Exact types: numpy's float64 and str_ subclass float and str but must not reach the JSON.
_PLAIN = (str, int, float, bool, type(None))


def describe_keras(obj, fitted: bool) -> dict:
    """Describe a Keras model, a model factory or a legacy `KerasClassifier` as plain JSON data."""
    model, factory, classes = _keras_model(obj, fitted)
    try:
        architecture = json.loads(model.to_json())
    except NotImplementedError:
        raise TypeError(
            f"your model is a `{type(model).__name__}`; the grader can only rebuild Sequential "
            "or functional Keras models"
        ) from None
    compile_config = model.get_compile_config()
    if not compile_config:
        where = f"in `{factory}`" if factory else "before this point"
        raise ValueError(f"your model is not compiled: call model.compile(...) {where}")
    return {
        "framework": "keras",
        "architecture": architecture,
        "compile": _json_safe(compile_config, "compile settings"),
        "weights": _weights(model) if fitted else None,
        "classes": classes if fitted else None,
    }


def describe_estimator(obj, fitted: bool) -> dict:
    """Describe a scikit-learn estimator: class and parameters, or its fitted state via skops."""
    if isinstance(obj, type) or not hasattr(obj, "get_params"):
        raise TypeError(f"expected a scikit-learn estimator here, but got a {_kind(obj)}")
    if not fitted:
        return {"framework": "sklearn", "estimator": _estimator_spec(obj)}
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(obj)
    except NotFittedError:
        name = type(obj).__name__
        raise ValueError(
            f"your `{name}` has not been fitted yet: call its fit(...) first"
        ) from None
    import skops.io

    try:
        data = skops.io.dumps(obj)
    except Exception as error:  # skops raises many kinds; the student only needs the reason
        raise ValueError(
            f"your fitted `{type(obj).__name__}` could not be exported: {error}"
        ) from None
    encoded = base64.b64encode(data).decode("ascii")
    return {"framework": "sklearn", "skops": encoded, "class": _class_path(obj)}


def _keras_model(obj, fitted: bool) -> tuple:
    """The Keras model behind `obj`, the name of the function that built it,
    and the wrapper's labels."""
    if _is_keras_model(obj):
        return obj, None, None
    if hasattr(obj, "build_fn") and hasattr(obj, "sk_params"):
        build = obj.build_fn if obj.build_fn is not None else obj.__call__
        factory = getattr(build, "__name__", "build_fn")
        if hasattr(obj, "model"):
            model = obj.model
        elif fitted:
            raise ValueError(
                "your KerasClassifier has not been fitted yet: call its fit(...) first"
            )
        else:
            model = build(**obj._build_args({}))
        classes = _labels(obj.classes_) if fitted and hasattr(obj, "classes_") else None
    elif inspect.isroutine(obj) and not fitted:
        factory = getattr(obj, "__name__", "the model factory")
        model, classes = obj(), None
    else:
        raise TypeError(f"expected a Keras model or a KerasClassifier here, but got a {_kind(obj)}")
    if not _is_keras_model(model):
        raise TypeError(
            f"`{factory}` must return a compiled Keras model; it returned a {_kind(model)}"
        )
    return model, factory, classes


def _is_keras_model(obj) -> bool:
    # Whichever Keras built the object is already imported; never import one just to check.
    modules = (sys.modules.get("tf_keras"), sys.modules.get("keras"))
    return any(module is not None and isinstance(obj, module.Model) for module in modules)


def _weights(model) -> list:
    import numpy

    arrays = model.get_weights()
    total = sum(int(array.size) for array in arrays)
    if total > MAX_WEIGHTS:
        raise ValueError(
            f"your model has {total} weights; the grader can export at most {MAX_WEIGHTS}"
        )
    for array in arrays:
        if array.dtype.kind == "f" and not numpy.isfinite(array).all():
            raise ValueError(
                "your model's weights contain NaN or infinity: training diverged; "
                "try a smaller learning rate"
            )
    return [array.tolist() for array in arrays]


def _labels(classes) -> list:
    labels = [label.item() if hasattr(label, "item") else label for label in classes]
    for label in labels:
        if type(label) not in (str, int, float, bool):
            raise ValueError(
                f"class labels must be strings, numbers or booleans; one is a {_kind(label)}"
            )
    return labels


def _json_safe(value, where: str):
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"your model's {where} have a key that is not a string")
        return {key: _json_safe(item, where) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item, where) for item in value]
    if type(value) in _PLAIN:
        return value
    if hasattr(value, "tolist"):
        return _json_safe(value.tolist(), where)
    raise TypeError(f"your model's {where} contain a {_kind(value)}, which cannot be exported")


def _estimator_spec(estimator) -> dict:
    owner = type(estimator).__name__
    params = {
        name: _param(value, name, owner) for name, value in estimator.get_params(deep=False).items()
    }
    return {"class": _class_path(estimator), "params": params}


def _param(value, name: str, owner: str):
    """A parameter value as plain JSON data, or a ValueError that names the parameter."""
    if type(value) is float and not math.isfinite(value):
        # NaN and infinity are not valid JSON; SimpleImputer's default `missing_values` is NaN.
        return {"float": str(value)}
    if type(value) in _PLAIN:
        return value
    if isinstance(value, type):
        return _dtype(value, name, owner)
    if hasattr(value, "get_params"):
        return _estimator_spec(value)
    if isinstance(value, dict):
        pairs = [
            [_dict_key(key, name, owner), _param(item, name, owner)] for key, item in value.items()
        ]
        return {"dict": pairs}
    if isinstance(value, (list, tuple)):
        return [_param(item, name, owner) for item in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays, pandas Index and Series
        return _param(value.tolist(), name, owner)
    what = "a function" if callable(value) else f"a {_kind(value)}"
    raise ValueError(
        f"parameter `{name}` of {owner} is {what}; the grader can only rebuild models whose "
        "parameters are plain values"
    )


def _dtype(value: type, name: str, owner: str) -> dict:
    import numpy

    if issubclass(value, (numpy.generic, int, float, bool)):
        return {"dtype": numpy.dtype(value).name}
    raise ValueError(
        f"parameter `{name}` of {owner} is a class; the grader can only rebuild models whose "
        "parameters are plain values"
    )


def _dict_key(key, name: str, owner: str):
    key = key.item() if hasattr(key, "item") else key
    if type(key) in _PLAIN:
        return key
    raise ValueError(
        f"parameter `{name}` of {owner} has a key that is a {_kind(key)}; the grader can only "
        "rebuild models whose parameters are plain values"
    )


def _class_path(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _kind(obj) -> str:
    return "class" if isinstance(obj, type) else type(obj).__name__
