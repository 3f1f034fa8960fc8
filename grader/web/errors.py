"""Error responses: JSON under /api, a friendly page elsewhere."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from grader.notebooks import human_size

FRIENDLY = {
    404: "We could not find that page, or it is not yours to see.",
    413: "The upload is too large.",
}


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            limit = human_size(app.config["GRADER"].max_upload_bytes)
            message = (f"The upload is larger than the {limit} limit. Clear large outputs "
                       "(Edit → Clear all outputs) and upload again.")
        else:
            message = FRIENDLY.get(exc.code, exc.description)
        if request.path.startswith("/api/"):
            return jsonify(error=message), exc.code
        return render_template("error.html", code=exc.code, message=message), exc.code
