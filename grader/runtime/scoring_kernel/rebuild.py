"""Rebuild a student's model from its description (`grader_kernel.describe`)
inside the scoring kernel.

The description comes out of the student's kernel, so it is attacker data: its author may have read
this file and written the JSON by hand. Nothing it names is imported, called or constructed unless
it is on an allow-list: Keras configs are walked before Keras reads them, scikit-learn classes come
from `ALLOWED_ESTIMATORS`, and a fitted state is loaded by skops only once every type in it has been
checked.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import inspect
import io
import json
import zipfile

from .sklearn_allowlist import class_path, estimator_classes, first_disallowed, fitted_types

_MAX_DEPTH = 100
_MAX_UNPACKED_BYTES = 200 * 2**20
_PLAIN = (str, int, float, bool, type(None))


class RebuildRefused(ValueError):
    """The description cannot be rebuilt; the message is shown to the student as is."""


# --- Keras ----------------------------------------------------------------------------------------

_LAMBDA_LAYERS = frozenset({"Lambda", "TFOpLambda", "SlicingOpLambda"})
# Built-in layers that carry code, another framework's objects or a saved graph instead of
# configuration.
_CODE_LAYERS = frozenset({"TorchModuleWrapper", "JaxLayer", "FlaxLayer", "TFSMLayer"})
# Markers Keras writes for plain values (tensors, arrays, shapes); decoding them imports nothing.
_VALUE_MARKERS = frozenset(
    {
        "__keras_tensor__",
        "__tensor__",
        "__numpy__",
        "__bytes__",
        "__tuple__",
        "__ellipsis__",
        "__slice__",
        "TensorShape",
    }
)
_MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})
_MODEL_MODULES = frozenset(
    {
        "keras",
        "keras.models",
        "keras.src.models.functional",
        "keras.src.models.sequential",
        "keras.src.engine.functional",
        "keras.src.engine.sequential",
    }
)
_DTYPE_POLICIES = frozenset({"DTypePolicy", "FloatDTypePolicy"})
# The public Keras modules a config may name, with the kind of object each holds.
_OBJECT_MODULES = {
    "keras.layers": "layer",
    "keras.initializers": "initializer",
    "keras.regularizers": "regularizer",
    "keras.constraints": "constraint",
    "keras.activations": "activation",
    "keras.losses": "loss",
    "keras.metrics": "metric",
    "keras.optimizers": "optimizer",
    "keras.optimizers.schedules": "learning-rate schedule",
    "keras.mixed_precision": "dtype policy",
}
_FUNCTION_MODULES = (
    "activations",
    "constraints",
    "initializers",
    "losses",
    "metrics",
    "regularizers",
)
_COMPILE_KEYS = frozenset(
    {
        "optimizer",
        "loss",
        "metrics",
        "loss_weights",
        "weighted_metrics",
        "run_eagerly",
        "steps_per_execution",
        "jit_compile",
        "auto_scale_loss",
    }
)
_KEY_KINDS = {
    "model": "model",
    "layers": "layer",
    "layer": "layer",
    "cell": "layer",
    "forward_layer": "layer",
    "backward_layer": "layer",
    "optimizer": "optimizer",
    "learning_rate": "learning-rate schedule",
    "loss": "loss",
    "metrics": "metric",
    "weighted_metrics": "metric",
    "dtype": "dtype policy",
}


def build_keras(description: dict, legacy: bool):
    """A compiled Keras model (tf_keras when `legacy`, else Keras 3), with any described weights."""
    keras = importlib.import_module("tf_keras" if legacy else "keras")
    architecture = description.get("architecture") if isinstance(description, dict) else None
    name = architecture.get("class_name") if isinstance(architecture, dict) else None
    if not isinstance(name, str) or name not in _MODEL_CLASSES:
        raise RebuildRefused(
            f"your model is a `{_short(str(name))}`; the grader can only rebuild Sequential "
            "or functional Keras models"
        )
    compile_config = description.get("compile")
    compile_config = compile_config if isinstance(compile_config, dict) else {}
    if not compile_config.get("loss") or not compile_config.get("optimizer"):
        raise RebuildRefused(
            "your model is not compiled: call model.compile(...) with a loss and an optimizer"
        )
    unknown = sorted(set(compile_config) - _COMPILE_KEYS)
    if unknown:
        raise RebuildRefused(
            f"your model's compile settings have unknown entries: {_short(str(unknown))}"
        )
    _check_config(architecture, "model", keras, 0, top=True)
    _check_config(compile_config, None, keras, 0)
    # Keras 3 embeds the compile settings in the architecture too; they are applied once, below.
    architecture = {key: value for key, value in architecture.items() if key != "compile_config"}
    try:
        model = keras.models.model_from_json(json.dumps(architecture))
        model.compile_from_config(compile_config)
    except (
        Exception
    ) as error:  # a crafted config can fail anywhere inside Keras; the message says where
        raise RebuildRefused(
            f"your model could not be rebuilt: {_short(str(error), 300)}"
        ) from None
    if description.get("weights") is not None:
        _set_weights(model, description["weights"])
    return model


def _check_config(node, key, keras, depth: int, top: bool = False) -> None:
    """Refuse any object in a Keras config that is not a built-in Keras object."""
    if depth > _MAX_DEPTH:
        raise RebuildRefused("your model's description is nested too deeply")
    if isinstance(node, list):
        for item in node:
            _check_config(item, key, keras, depth + 1)
    elif isinstance(node, dict):
        if (
            "__passive_serialization__" in node
        ):  # tf_keras would deserialize these while parsing the JSON
            raise RebuildRefused(
                "your model's description contains objects the grader cannot rebuild"
            )
        if "class_name" in node:
            _check_object(node, key, keras, top)
        for child_key, value in node.items():
            _check_config(value, child_key, keras, depth + 1)
    elif type(node) not in _PLAIN:
        raise RebuildRefused("your model's description is not plain JSON data")


def _check_object(node: dict, key, keras, top: bool) -> None:
    name, module, registered = node["class_name"], node.get("module"), node.get("registered_name")
    if not isinstance(name, str) or not isinstance(module, (str, type(None))):
        raise RebuildRefused("your model's description is malformed")
    if name in _VALUE_MARKERS:
        return
    if name in _LAMBDA_LAYERS:
        raise RebuildRefused(
            "your model uses a Lambda layer, which the grader cannot rebuild; use built-in layers"
        )
    if name in _CODE_LAYERS or name.startswith("_") or not name.isidentifier():
        raise RebuildRefused(
            f"your model uses `{_short(name)}`, which the grader cannot rebuild; "
            "use built-in layers"
        )
    label = name
    if name == "function":
        label = node.get("config") if isinstance(node.get("config"), str) else name
        known = registered in (None, "function") and _is_keras_function(keras, module, label)
    elif name in _MODEL_CLASSES:
        known = (top and "module" not in node) or (
            module in _MODEL_MODULES and registered in (None, name)
        )
    elif module == "keras":
        known = name in _DTYPE_POLICIES and registered in (None, name)
    else:
        known = (
            module in _OBJECT_MODULES
            and registered in (None, name)
            and isinstance(_public(keras, module, name), type)
        )
    if not known:
        kind = _KEY_KINDS.get(key) or _suffix_kind(key) or _OBJECT_MODULES.get(module, "object")
        raise RebuildRefused(
            f"your model uses a custom {kind} `{_short(label)}`, which the grader cannot "
            f"rebuild; use a built-in Keras {kind}"
        )


def _is_keras_function(keras, module, name: str) -> bool:
    if (
        not name.isidentifier()
        or name.startswith("_")
        or name in ("get", "serialize", "deserialize")
    ):
        return False
    if module == "builtins":  # how Keras writes its own functions when they were passed as objects
        places = [getattr(keras, place, None) for place in _FUNCTION_MODULES]
    elif module in _OBJECT_MODULES:
        places = [_public(keras, module, None)]
    else:
        return False
    found = [getattr(place, name, None) for place in places if place is not None]
    return any(callable(item) and not isinstance(item, type) for item in found)


def _public(keras, module: str, name: str | None):
    """`keras.<rest of module>.<name>` in the installed Keras, or None."""
    target = keras
    for part in module.split(".")[1:]:
        target = getattr(target, part, None)
    return target if name is None or target is None else getattr(target, name, None)


def _suffix_kind(key) -> str | None:
    for suffix in ("initializer", "regularizer", "constraint", "activation"):
        if isinstance(key, str) and key.endswith(suffix):
            return suffix
    return None


def _set_weights(model, weights) -> None:
    import numpy

    current = model.get_weights()
    if not isinstance(weights, list) or len(weights) != len(current):
        raise RebuildRefused(
            "your model's weights do not match its architecture, "
            f"which has {len(current)} weight arrays"
        )
    arrays = []
    for index, (given, expected) in enumerate(zip(weights, current)):
        try:
            array = numpy.asarray(given, dtype=expected.dtype)
        except (ValueError, TypeError, OverflowError, RecursionError):
            raise RebuildRefused(
                f"weight array {index} of your model is not an array of numbers"
            ) from None
        if array.shape != expected.shape:
            raise RebuildRefused(
                f"weight array {index} of your model has shape {array.shape}; "
                f"its architecture needs {expected.shape}"
            )
        arrays.append(array)
    model.set_weights(arrays)


# --- scikit-learn ---------------------------------------------------------------------------------

# Parameters whose items scikit-learn expects as tuples: (name, estimator[, columns]).
_TUPLE_ITEMS = frozenset({"steps", "transformers", "estimators", "transformer_list"})
_FLOAT_TAGS = ("nan", "inf", "-inf")


def __getattr__(name: str):
    # Built on first use, so that importing this module imports no scikit-learn.
    if name == "ALLOWED_ESTIMATORS":
        return frozenset(estimator_classes())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_estimator(description: dict):
    """An unfitted allow-listed scikit-learn estimator, built from
    {"estimator": {"class", "params"}}."""
    return _build(description.get("estimator") if isinstance(description, dict) else None, 0)


def load_fitted_estimator(description: dict):
    """A fitted estimator from its skops dump, loaded only when every type in it is allowed."""
    data = _skops_bytes(description)
    schema = _skops_schema(data)
    _allowed_class(f"{schema.get('__module__')}.{schema.get('__class__')}")
    problem = first_disallowed(schema)
    if problem is not None:
        raise RebuildRefused(f"your fitted model contains {problem}, which the grader cannot load")
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(data=data)
        refused = [name for name in untrusted if name not in fitted_types()]
        if refused:
            raise RebuildRefused(
                f"your fitted model contains `{_short(refused[0])}`, which the grader cannot load"
            )
        estimator = skops.io.loads(data, trusted=untrusted)
    except RebuildRefused:
        raise
    except (
        Exception
    ) as error:  # a crafted dump can fail anywhere inside skops; the message says where
        raise RebuildRefused(
            f"your fitted model could not be loaded: {_short(str(error), 300)}"
        ) from None
    _allowed_class(class_path(type(estimator)))
    return estimator


def _build(spec, depth: int):
    if not (
        isinstance(spec, dict)
        and set(spec) == {"class", "params"}
        and isinstance(spec["class"], str)
        and isinstance(spec["params"], dict)
    ):
        raise RebuildRefused("the description of your estimator is malformed")
    cls = _allowed_class(spec["class"])
    defaults = inspect.signature(cls).parameters
    params = {}
    for name, value in spec["params"].items():
        value = _param(value, str(name), cls.__name__, depth + 1)
        if name == "memory" and value is not None:  # joblib's cache would write and read pickles
            raise RebuildRefused(f"parameter `memory` of {cls.__name__} must be None for grading")
        if isinstance(value, list) and name in _TUPLE_ITEMS:
            value = [tuple(item) if isinstance(item, list) else item for item in value]
        elif (
            isinstance(value, list)
            and name in defaults
            and isinstance(defaults[name].default, tuple)
        ):
            value = tuple(
                value
            )  # JSON has no tuples; scikit-learn checks e.g. `feature_range` is one
        params[name] = value
    try:
        estimator = cls(**params)
        # Parameter values are otherwise only checked by fit; a bad one is the description's fault.
        estimator._validate_params()
    except (TypeError, ValueError) as error:
        raise RebuildRefused(
            f"your `{cls.__name__}` could not be built: {_short(str(error), 300)}"
        ) from None
    return estimator


def _param(value, name: str, owner: str, depth: int):
    """A parameter value from its JSON form (see `grader_kernel.describe`), or RebuildRefused."""
    if depth > _MAX_DEPTH:
        raise RebuildRefused("your estimator's description is nested too deeply")
    if type(value) in _PLAIN:
        return value
    if isinstance(value, list):
        return [_param(item, name, owner, depth + 1) for item in value]
    if isinstance(value, dict):
        keys = set(value)
        if keys == {"class", "params"}:
            return _build(value, depth + 1)
        if keys == {"float"} and value["float"] in _FLOAT_TAGS:
            return float(value["float"])
        if keys == {"dtype"}:
            return _dtype(value["dtype"], name, owner)
        if keys == {"dict"} and isinstance(value["dict"], list):
            pairs = value["dict"]
            if all(
                isinstance(pair, list) and len(pair) == 2 and type(pair[0]) in _PLAIN
                for pair in pairs
            ):
                return {pair[0]: _param(pair[1], name, owner, depth + 1) for pair in pairs}
    raise RebuildRefused(
        f"parameter `{_short(name)}` of {owner} is not a plain value; the grader can only "
        "rebuild models whose parameters are plain values"
    )


def _dtype(value, name: str, owner: str) -> type:
    import numpy

    try:
        dtype = numpy.dtype(value) if isinstance(value, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biuf":
        raise RebuildRefused(f"parameter `{_short(name)}` of {owner} is not a numeric dtype")
    return dtype.type


def _allowed_class(path: str) -> type:
    classes = estimator_classes()
    if path in classes:
        return classes[path]
    module, _, name = path.rpartition(".")
    raise RebuildRefused(
        f"your estimator is a `{_short(name)}` (from `{_short(module)}`), which the grader "
        "cannot rebuild; use one of scikit-learn's models"
    )


def _skops_bytes(description) -> bytes:
    encoded = description.get("skops") if isinstance(description, dict) else None
    try:
        return base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
    except (binascii.Error, ValueError):
        raise RebuildRefused("your fitted model's data is not valid base64") from None


def _skops_schema(data: bytes) -> dict:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            schema = (
                json.loads(archive.read("schema.json")) if unpacked <= _MAX_UNPACKED_BYTES else None
            )
    except (zipfile.BadZipFile, KeyError, ValueError, RecursionError):
        raise RebuildRefused("your fitted model's data is not a skops file") from None
    if unpacked > _MAX_UNPACKED_BYTES:  # skops would unpack every array into memory
        raise RebuildRefused("your fitted model is too large")
    if not isinstance(schema, dict):
        raise RebuildRefused("your fitted model's data is not a skops file")
    return schema


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
