"""Check kinds, one module each, registered by the rubric's `kind`; adding a module adds a kind."""

from __future__ import annotations

import importlib
import pkgutil

from grader.engine.checks.base import Check

CHECKS: dict[str, Check] = {}

_SUPPORT_MODULES = {"base", "accuracy"}


def register(check_class: type) -> type:
    """Class decorator: make one instance of a check kind available under its `kind`."""
    CHECKS[check_class.kind] = check_class()
    return check_class


for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _SUPPORT_MODULES:
        importlib.import_module(f"{__name__}.{_module.name}")
