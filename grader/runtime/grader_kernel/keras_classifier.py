"""`KerasClassifier` with the behaviour of the removed `keras.wrappers.scikit_learn` wrapper.

`build_fn` builds a compiled model; sk_params are routed to `build_fn` when it names them and to
`fit`/`predict` otherwise; `predict` returns a column of class labels, `.model` is the fitted model.
"""

from __future__ import annotations

import inspect

import numpy as np

_FIT_ARGS = {
    "batch_size",
    "epochs",
    "verbose",
    "callbacks",
    "validation_split",
    "validation_data",
    "shuffle",
    "class_weight",
    "sample_weight",
    "initial_epoch",
    "steps_per_epoch",
    "validation_steps",
    "validation_freq",
}
_PREDICT_ARGS = {"batch_size", "verbose", "steps", "callbacks"}


class BaseWrapper:
    def __init__(self, build_fn=None, **sk_params):
        self.build_fn = build_fn
        self.sk_params = sk_params

    def get_params(self, **params):
        return {**self.sk_params, "build_fn": self.build_fn}

    def set_params(self, **params):
        self.sk_params.update(params)
        return self

    def _build_args(self, extra: dict) -> dict:
        fn = self.build_fn if self.build_fn is not None else self.__call__
        accepted = inspect.signature(fn).parameters
        merged = {**self.sk_params, **extra}
        return {name: value for name, value in merged.items() if name in accepted}

    def _routed(self, allowed: set, extra: dict) -> dict:
        args = {name: value for name, value in self.sk_params.items() if name in allowed}
        args.update(extra)
        if "verbose" in args:
            args["verbose"] = int(args["verbose"])
        return args

    def fit(self, x, y, **kwargs):
        fn = self.build_fn if self.build_fn is not None else self.__call__
        self.model = fn(**self._build_args({k: v for k, v in kwargs.items() if k not in _FIT_ARGS}))
        fit_args = self._routed(_FIT_ARGS, {k: v for k, v in kwargs.items() if k in _FIT_ARGS})
        return self.model.fit(_array(x), y, **fit_args)


class KerasClassifier(BaseWrapper):
    """Scikit-learn classifier interface around a Keras model built by `build_fn`."""

    def fit(self, x, y, sample_weight=None, **kwargs):
        y = _array(y)
        if y.ndim == 2 and y.shape[1] > 1:
            self.classes_ = np.arange(y.shape[1])
        else:
            y = y.reshape(-1)
            self.classes_, y = np.unique(y, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return super().fit(x, y, **kwargs)

    def predict_proba(self, x, **kwargs):
        probs = self.model.predict(_array(x), **self._routed(_PREDICT_ARGS, kwargs))
        if probs.shape[1] == 1:
            probs = np.hstack([1 - probs, probs])
        return probs

    def predict(self, x, **kwargs):
        probs = self.model.predict(_array(x), **self._routed(_PREDICT_ARGS, kwargs))
        indices = probs.argmax(axis=-1) if probs.shape[-1] > 1 else (probs > 0.5).astype("int32")
        return self.classes_[indices]

    def score(self, x, y, **kwargs):
        return float(np.mean(self.predict(x, **kwargs).reshape(-1) == _array(y).reshape(-1)))


def _array(data):
    return data.to_numpy() if hasattr(data, "to_numpy") else np.asarray(data)
