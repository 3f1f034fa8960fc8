"""The Celery side of the Flask app: configuration shared by web and worker, and enqueue-by-name."""
from __future__ import annotations

from celery import Celery, Task
from flask import Flask, current_app

from grader.config import Settings

GRADE_TASK = "grader.grade_submission"
VALIDATE_TASK = "grader.validate_package"


def celery_config(settings: Settings) -> dict:
    """Celery settings for either setup: a filesystem broker on a laptop, Redis in production."""
    config = {
        "broker_url": settings.broker_url,
        "task_ignore_result": True,
        "task_default_queue": settings.queue_name,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
    }
    if settings.uses_filesystem_broker:
        folder = settings.filesystem_broker_dir
        folder.mkdir(parents=True, exist_ok=True)
        # One folder for both directions: the web app writes messages, the worker reads them.
        config["broker_url"] = "filesystem://"
        # The exchange table too, or kombu writes it to a `control` folder wherever the process started.
        config["broker_transport_options"] = {"data_folder_in": str(folder), "data_folder_out": str(folder),
                                              "control_folder": str(folder / "control")}
    return config


def celery_init_app(app: Flask, settings: Settings) -> Celery:
    """Attach a Celery app whose tasks run inside the Flask app context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(celery_config(settings))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def enqueue_grading(run_id: int) -> None:
    """Send the grading task by name, so the web app never imports the worker's code."""
    _send(GRADE_TASK, run_id)


def enqueue_validation(validation_id: int) -> None:
    """Send the package-validation task by name (the row is committed first)."""
    _send(VALIDATE_TASK, validation_id)


def _send(task_name: str, row_id: int) -> None:
    celery_app: Celery = current_app.extensions["celery"]
    celery_app.send_task(task_name, args=[row_id], queue=current_app.config["GRADER"].queue_name)
