"""Prometheus metrics for operators: what the web's `/metrics` and each worker's metrics port show.

prometheus_client chooses between one process's memory and a folder of per-process files (its
multiprocess mode, for gunicorn's and Celery's processes) when it is first imported. Every entry
point imports the whole app before it knows its role, so only this package imports
prometheus_client, and only on first use: by then the entry point has chosen the folder
(`use_folder`). `docs/metrics.md` says what each metric means.
"""

from grader.metrics.folder import multiprocess_folder, process_exited, use_folder
from grader.metrics.queue import QueueState
from grader.metrics.recording import (
    grading_recorded,
    lti_score_sent,
    run_finished,
    sandbox_refused,
)
from grader.metrics.scraping import latest, serve

__all__ = [
    "QueueState",
    "grading_recorded",
    "latest",
    "lti_score_sent",
    "multiprocess_folder",
    "process_exited",
    "run_finished",
    "sandbox_refused",
    "serve",
    "use_folder",
]
