"""Stands in for the removed `keras.wrappers` package; its one submodule is `scikit_learn`."""

__path__: list[str] = []
