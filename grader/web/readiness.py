"""Warming a web process up before gunicorn hands it requests (see
grader.services.submissions.readiness)."""

from __future__ import annotations

import logging

from flask import Flask

from grader.services.submissions.readiness import prepare_for_uploads

log = logging.getLogger(__name__)


def warm_up(app: Flask) -> None:
    """Open the database and broker connections (through /health) and prepare for uploads; a
    failure only costs the first request its time, so it is logged, not raised."""
    try:
        app.test_client().get("/health")
        with app.app_context():
            ready = prepare_for_uploads(app.config["GRADER"])
        log.info("ready for uploads to %s", ", ".join(ready) or "no open assignment")
    except Exception:
        log.warning(
            "could not warm this web process up; its first request will be slower", exc_info=True
        )
