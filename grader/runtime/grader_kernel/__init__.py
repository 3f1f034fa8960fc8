"""Inside the kernel: course runtime (legacy Keras, dataset URLs) and the extraction helpers.

Only the Python standard library is imported at install time, and the functions the extraction
needs are bound here, before any student code runs, so later monkey-patching by the notebook
cannot change what we read out.
"""

from __future__ import annotations

import json
import os

_SETTINGS: dict = {}


def install(settings_json: str) -> None:
    """Set up the course runtime described by `settings_json` (written by the engine)."""
    settings = json.loads(settings_json)
    _SETTINGS.update(settings)
    for name, value in settings.get("environment", {}).items():
        os.environ[name] = str(value)
    if settings.get("legacy_keras"):
        from grader_kernel import legacy_keras

        legacy_keras.install()
    if settings.get("url_map") is not None:
        from grader_kernel import datasets

        datasets.install(settings["url_map"], settings.get("data_dir", "data"))
    # Imported now, before any student code, so it binds the functions it needs unpatched.
    # Last, so that our own patches (pandas' readers, the Keras aliases) are part of the baseline.
    from grader_kernel import (
        extract,  # noqa: F401
        tamper,
    )

    tamper.start()
