"""Results kept by a hash of everything that determines them: the scoring kernel's answers, and
whole gradings.

A scoring job holds the model's description, the rows it trains on and predicts, its fit parameters
and seed; its key adds the versions of the libraries that train it and of our own training code. The
same inputs always give the same answer, so a resubmission or re-grade with an unchanged model is
answered from here, with an identical score. `reuse` keeps whole gradings here the same way. Only
the trusted side writes this folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from grader.runtime import KERNEL_PACKAGE_DIR, SCORING_PACKAGE_DIR

TRAINING_LIBRARIES = ("tensorflow", "tf-keras", "keras", "scikit-learn", "skops", "numpy", "pandas")


class ResultCache:
    """A folder of results, one JSON file per key; safe for several processes to share."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def key(self, job: dict[str, Any]) -> str:
        """The key of a scoring job's answer."""
        material = json.dumps({"job": job, "code": code_fingerprint()}, sort_keys=True, default=str)
        return hashlib.sha256(material.encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            stored = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        return stored if isinstance(stored, dict) else None

    def put(self, key: str, answer: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a file, whichever worker writes it.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(handle, "w") as file:
            json.dump(answer, file)
        os.replace(temporary, path)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Library versions and a hash of our own training code: a change to either is a different
    answer."""
    versions: dict[str, str | None] = {}
    for library in TRAINING_LIBRARIES:
        try:
            versions[library] = metadata.version(library)
        except metadata.PackageNotFoundError:
            versions[library] = None
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode())
    for folder in (SCORING_PACKAGE_DIR, KERNEL_PACKAGE_DIR):
        for source in sorted(folder.glob("*.py")):
            digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()
