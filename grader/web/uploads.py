"""Accepting an uploaded notebook: shared by the HTML form and the JSON API."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user
from werkzeug.datastructures import FileStorage

from grader.services.errors import NotebookRejected
from grader.services.submissions.intake import AcceptedUpload, accept_upload
from grader.task_queue import enqueue_grading
from grader.web.throttles import uploads_per_person


@uploads_per_person
def accept(assignment_ref: str | None, upload: FileStorage | None) -> AcceptedUpload:
    """Validate and store the notebook, then enqueue its grading unless an identical notebook's
    result was taken; service errors pass through."""
    settings = current_app.config["GRADER"]
    if upload is None:
        raise NotebookRejected("No file was sent. Attach the notebook as the form field 'file'.")
    # Read one byte past the cap so an oversized file is detected without reading all of it.
    data = upload.stream.read(settings.max_upload_bytes + 1)
    accepted = accept_upload(
        assignment_ref=assignment_ref or "",
        student=current_user._get_current_object(),
        filename=upload.filename,
        data=data,
        max_bytes=settings.max_upload_bytes,
        reuse_identical=settings.reuse_identical,
    )
    if not accepted.reused:
        enqueue_grading(accepted.run_id)
    return accepted
