"""Celery tasks: they take ids, call one service function, and own only their retry policy."""
from celery import shared_task
from flask import current_app

from grader.queue import GRADE_TASK, VALIDATE_TASK
from grader.services.grading import grade_run
from grader.services.validation import run_validation
from worker import kernels


@shared_task(name=GRADE_TASK)
def grade_submission(run_id: int) -> str | None:
    """Execute and grade the submission behind grading run `run_id`."""
    settings = current_app.config["GRADER"]
    status = grade_run(run_id, settings, kernels=kernels.start(settings))
    return status.value if status else None


@shared_task(name=VALIDATE_TASK)
def validate_package(validation_id: int) -> str | None:
    """Grade the solution and template of the package behind validation `validation_id`."""
    status = run_validation(validation_id, current_app.config["GRADER"])
    return status.value if status else None
