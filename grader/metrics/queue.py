"""The queue as the database sees it, read at scrape time: the numbers operators and KEDA watch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric


@dataclass(frozen=True)
class QueueState:
    """Runs waiting for a worker, and when the one waiting longest was queued (None: none waits)."""

    depth: int
    oldest_queued_at: datetime | None


class QueueCollector:
    """Reports the queue's depth and the age of its oldest run each time it is scraped."""

    def __init__(self, read: Callable[[], QueueState]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily  # on first use: see grader.metrics

        state = self._read()
        oldest = state.oldest_queued_at
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "grader_queue_depth", "Grading runs queued, waiting for a worker.", value=state.depth
        )
        yield GaugeMetricFamily(
            "grader_oldest_queued_run_age_seconds",
            "Seconds the longest-waiting queued run has waited (0 when none waits).",
            value=max(age, 0.0),
        )
