"""Pages for instructors: creating assignments, their settings, the rubric editor and validation."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("instructor", __name__)
