"""GET /metrics: this web service's metrics and the queue's, for Prometheus.

It asks for no sign-in, as Prometheus scrapes it: serve it to the monitoring network only, and
have the reverse proxy refuse `/metrics` from the internet (docs/metrics.md).
"""

from __future__ import annotations

from flask import Blueprint, Response

from grader import metrics
from grader.services.grading.workers import oldest_queued_at, queue_depth

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    body, content_type = metrics.latest(read_queue=_queue_now)
    return Response(body, content_type=content_type)


def _queue_now() -> metrics.QueueState:
    return metrics.QueueState(depth=queue_depth(), oldest_queued_at=oldest_queued_at())
