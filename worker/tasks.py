"""Celery tasks: they take ids, call one service function, and own only their retry policy."""

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import OperationalError

from grader.services.assignments.prerelease import run_validation
from grader.services.errors import LtiServiceFailed
from grader.services.grading.runs import grade_run
from grader.services.grading.sweeper import requeue_stuck_runs
from grader.services.lti import passback
from grader.task_queue import (
    GRADE_TASK,
    LTI_SCORE_TASK,
    SWEEP_TASK,
    VALIDATE_TASK,
    enqueue_grading,
    enqueue_score_send,
)
from worker import kernels
from worker.identity import worker_name

# The database being away for a moment (restart, failover) is retried with growing pauses; the run
# stays claimed by this worker process, which may take it again.
DATABASE_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 30,
}


# Its soft and hard time limits come with each message (grader.task_queue.enqueue_grading),
# from the run's rubric.
@shared_task(name=GRADE_TASK, bind=True, **DATABASE_RETRY)
def grade_submission(self, run_id: int) -> str | None:
    """Execute and grade the submission behind grading run `run_id`."""
    settings = current_app.config["GRADER"]
    _hard, soft = self.request.timelimit or (None, None)
    status = grade_run(
        run_id, settings, kernels=kernels.start(settings), worker=worker_name(), time_limit=soft
    )
    return status.value if status else None


@shared_task(name=SWEEP_TASK, **DATABASE_RETRY)
def sweep_runs() -> list[int]:
    """Send again the runs whose message seems lost or whose worker died, and LMS scores still
    pending long after they were sent."""
    run_ids = requeue_stuck_runs(current_app.config["GRADER"])
    for run_id in run_ids:
        enqueue_grading(run_id)
    for send_id in passback.sends_to_resend():
        enqueue_score_send(send_id)
    return run_ids


# An LMS that refuses or is away is asked again after 5 s, 10 s, 20 s ... up to 30 minutes apart,
# about four hours in all; then the send is failed, for staff to resend.
SCORE_RETRIES = 16
SCORE_RETRY_MAX_SECONDS = 1800


@shared_task(name=LTI_SCORE_TASK, bind=True, **{**DATABASE_RETRY, "max_retries": SCORE_RETRIES})
def send_lti_score(self, send_id: int) -> str | None:
    """Give pending LMS score `send_id` to its line item (Assignment and Grade Services)."""
    try:
        state = passback.deliver(send_id)
    except LtiServiceFailed as exc:
        if self.request.retries >= SCORE_RETRIES:
            passback.give_up(send_id)
            return "failed"
        delay = min(SCORE_RETRY_MAX_SECONDS, 5 * 2**self.request.retries)
        raise self.retry(exc=exc, countdown=delay) from None
    return state.value if state else None


@shared_task(name=VALIDATE_TASK)
def validate_package(validation_id: int) -> str | None:
    """Grade the solution and template of the package behind validation `validation_id`."""
    status = run_validation(validation_id, current_app.config["GRADER"])
    return status.value if status else None
