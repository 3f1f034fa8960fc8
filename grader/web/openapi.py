"""The OpenAPI description of /api: a data file beside this module, served at /api/openapi.json."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

DOCUMENT = Path(__file__).with_name("openapi.yaml")


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 document describing every /api route (read once per process)."""
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
