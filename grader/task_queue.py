"""The Celery side of the Flask app: configuration shared by web and worker, and enqueue-by-name."""

from __future__ import annotations

import logging

from celery import Celery, Task
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from grader.config import Settings
from grader.services.grading.runs import time_limits
from grader.services.lti.staging import SENDS_TO_DELIVER

GRADE_TASK = "grader.grade_submission"
VALIDATE_TASK = "grader.validate_package"
SWEEP_TASK = "grader.sweep_runs"
LTI_SCORE_TASK = "grader.send_lti_score"
# Longer than any grading can take (a notebook may run 4 hours, plus its checks): Redis hands an
# unacknowledged task to another worker only after this long. A dead worker's runs come back much
# sooner through the sweeper, which watches their heartbeats.
VISIBILITY_TIMEOUT_SECONDS = 6 * 3600

log = logging.getLogger(__name__)


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
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_hijack_root_logger": False,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        # An upload must not hang while the broker is away: give up quickly, the sweeper sends it
        # later.
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        "broker_connection_timeout": 3,
        "beat_schedule": {
            "sweep-stuck-runs": {
                "task": SWEEP_TASK,
                "schedule": settings.sweep_interval_seconds,
                "options": {"queue": settings.queue_name},
            }
        },
        "beat_schedule_filename": str(settings.instance_dir / "celerybeat-schedule"),
    }
    if settings.uses_filesystem_broker:
        folder = settings.filesystem_broker_dir
        folder.mkdir(parents=True, exist_ok=True)
        # One folder for both directions: the web app writes messages, the worker reads them.
        config["broker_url"] = "filesystem://"
        # The exchange table too, or kombu writes it to a `control` folder wherever the process
        # started.
        config["broker_transport_options"].update(
            data_folder_in=str(folder),
            data_folder_out=str(folder),
            control_folder=str(folder / "control"),
        )
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


def enqueue_grading(run_id: int) -> bool:
    """Send the grading task by name, so the web app never imports the worker's code.

    The run is committed already, so a broker that is away loses nothing: the sweeper sends the run
    once the broker is back. Returns whether it was sent now.
    """
    # The time limits travel in the message's headers, which both the filesystem broker and Redis
    # carry; the worker's pool enforces them (the hard one by killing the process, even when the
    # trusted side is stuck inside C code, which no in-process alarm can interrupt). They come from
    # the rubric, which the worker knows only after the task has started: too late to set them
    # there.
    try:
        _send(GRADE_TASK, run_id, **time_limits(run_id, current_app.config["GRADER"]))
    except Exception:  # kombu raises a variety of connection errors, depending on the transport
        log.warning(
            "could not send grading run %s now; the sweeper will",
            run_id,
            exc_info=True,
            extra={"run_id": run_id},
        )
        return False
    return True


def enqueue_validation(validation_id: int) -> None:
    """Send the package-validation task by name (the row is committed first)."""
    _send(VALIDATE_TASK, validation_id)


def enqueue_score_send(send_id: int) -> bool:
    """Send the task that gives a pending score to its LMS line item; whether it was sent now (if
    not, the sweeper sends it later: the send is pending in the database)."""
    try:
        _send(LTI_SCORE_TASK, send_id)
    except Exception:  # kombu raises a variety of connection errors, depending on the transport
        log.warning("could not send LTI score %s now; the sweeper will", send_id, exc_info=True)
        return False
    return True


@event.listens_for(Session, "after_commit")
def _deliver_committed_scores(session: Session) -> None:
    # Scores made pending in the transaction just committed (grader.services.lti.passback): only
    # now may a worker read them.
    send_ids = session.info.pop(SENDS_TO_DELIVER, None)
    if send_ids and has_app_context():
        for send_id in sorted(send_ids):
            enqueue_score_send(send_id)


def _send(task_name: str, row_id: int, **options) -> None:
    celery_app: Celery = current_app.extensions["celery"]
    celery_app.send_task(
        task_name, args=[row_id], queue=current_app.config["GRADER"].queue_name, **options
    )


def broker_problem() -> str | None:
    """None when the broker answers, else what went wrong, in a few words."""
    celery_app: Celery = current_app.extensions["celery"]
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # kombu raises many kinds of connection errors
        return type(exc).__name__
    return None
