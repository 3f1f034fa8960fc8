"""Error responses, mapped here once: JSON under /api, a friendly page elsewhere."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from grader.extensions import db
from grader.services.errors import (
    DomainError,
    Forbidden,
    LtiServiceFailed,
    NotebookTooLarge,
    NotFound,
)
from grader.services.notebooks import human_size

FRIENDLY = {
    404: "We could not find that page, or it is not yours to see.",
    413: "The upload is too large.",
}


DATABASE_AWAY = (
    "The grader cannot reach its database for a moment, so nothing from this request was saved. "
    "Please try again in a minute."
)


def status_of(error: DomainError) -> int:
    """The HTTP status that answers a service's error: the one place the two meet."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, NotebookTooLarge):
        return 413
    if isinstance(error, LtiServiceFailed):
        return 502  # the LMS, not the asker, is at fault
    return 400


def register(app: Flask) -> None:
    @app.errorhandler(OperationalError)
    def database_away(exc: OperationalError):
        # A restart or failover of the database: say so plainly and ask to come back,
        # instead of a 500.
        app.logger.warning("database unavailable: %s", exc.orig)
        db.session.rollback()
        headers = {"Retry-After": "30"}
        if request.path.startswith("/api/"):
            return jsonify(error=DATABASE_AWAY), 503, headers
        # Rendered without the context processors: Flask-Login's would look the user up in the
        # database.
        page = app.jinja_env.get_template("error.html").render(
            code=503, message=DATABASE_AWAY, hide_account=True
        )
        return page, 503, headers

    @app.errorhandler(DomainError)
    def refused(exc: DomainError):
        status = status_of(exc)
        if request.path.startswith("/api/"):
            return jsonify(error=str(exc)), status
        # Every missing page reads the same, as a missing route's does;
        # the API names what it looked for.
        message = FRIENDLY[404] if status == 404 else str(exc)
        return render_template("error.html", code=status, message=message), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            limit = human_size(app.config["GRADER"].max_upload_bytes)
            message = (
                f"The upload is larger than the {limit} limit. Clear large outputs "
                "(Edit → Clear all outputs) and upload again."
            )
        else:
            message = FRIENDLY.get(exc.code, exc.description)
        # Keep what the error says in its headers (Allow on a 405), not its HTML content type.
        headers = [
            (name, value) for name, value in exc.get_headers() if name.lower() != "content-type"
        ]
        if request.path.startswith("/api/"):
            return jsonify(error=message), exc.code, headers
        return render_template("error.html", code=exc.code, message=message), exc.code, headers
