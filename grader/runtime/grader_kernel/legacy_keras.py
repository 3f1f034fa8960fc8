"""The 2021 Keras API on current TensorFlow.

`import keras` resolves to tf_keras (Keras 2, still maintained for TensorFlow 2.16+), `tf.keras`
does too (TF_USE_LEGACY_KERAS), and `keras.wrappers.scikit_learn`, removed from Keras years ago, is
provided by `keras_classifier`. All of this is lazy: nothing heavy is imported until the notebook
does.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys

WRAPPER_MODULES = (
    "keras.wrappers.scikit_learn",
    "tensorflow.keras.wrappers.scikit_learn",
    "tf_keras.wrappers.scikit_learn",
)


def install() -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    sys.meta_path.insert(0, _LegacyKerasFinder())


class _AliasLoader(importlib.abc.Loader):
    """Loads a module name as another, already importable, module object."""

    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass


class _LegacyKerasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname in WRAPPER_MODULES:
            return importlib.util.spec_from_loader(
                fullname, _AliasLoader("grader_kernel.keras_classifier")
            )
        if fullname in ("keras.wrappers", "tf_keras.wrappers"):
            return importlib.util.spec_from_loader(
                fullname, _AliasLoader("grader_kernel.keras_wrappers"), is_package=True
            )
        if fullname == "keras" or fullname.startswith("keras."):
            return importlib.util.spec_from_loader(
                fullname, _AliasLoader("tf_keras" + fullname[len("keras") :])
            )
        return None
