"""This service's metrics in Prometheus' text format, for the web's `/metrics` and a worker's
port."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from grader.metrics.folder import multiprocess_folder
from grader.metrics.queue import QueueCollector, QueueState

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

# The classic text format, which generate_latest writes and every Prometheus version reads.
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


def latest(read_queue: Callable[[], QueueState] | None = None) -> tuple[bytes, str]:
    """The metrics of every process of this service, with their content type; with `read_queue`,
    the queue's depth and oldest run too, read now."""
    from prometheus_client import generate_latest

    collectors = [_this_service()]
    if read_queue is not None:
        collectors.append(QueueCollector(read_queue))
    return generate_latest(_Together(collectors)), TEXT_FORMAT


def serve(port: int) -> None:
    """Serve this service's metrics over HTTP on `port`, from a thread of this process."""
    from prometheus_client import start_http_server

    start_http_server(port, registry=_this_service())


def _this_service() -> Collector:
    from prometheus_client import REGISTRY
    from prometheus_client.multiprocess import MultiProcessCollector

    folder = multiprocess_folder()
    if folder is None:  # one process (tests, a lone script): its own memory holds everything
        return REGISTRY
    return MultiProcessCollector(None, path=str(folder))


class _Together:
    """Several collectors scraped as one."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self._collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self._collectors:
            yield from collector.collect()
