"""Entry point for `celery -A worker.celery_app worker`: the Flask app's Celery, with our tasks."""

import logging
import threading

from celery.signals import (
    setup_logging,
    task_failure,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

from grader import metrics
from grader.app import create_app
from grader.config import InsecureSecretKey, Settings
from grader.logs import configure_logging
from grader.sandbox import SandboxUnavailable, sandbox_from_mode
from grader.sandbox.selfcheck import isolation_problems
from grader.services.grading import workers
from worker import kernels, metrics_server
from worker.identity import worker_name

settings = Settings.from_env()
try:
    settings.require_production_secret()
except InsecureSecretKey as exc:
    # One line for the operator (of `grader worker`, `grader beat`, `celery -A`),
    # not Celery's traceback.
    raise SystemExit(str(exc)) from None
flask_app = create_app(settings)
app = flask_app.extensions["celery"]
app.conf.imports = ("worker.tasks",)
log = logging.getLogger(__name__)
# Set when this process stops, so its "alive" reports stop too.
_stopping = threading.Event()
task_failure.connect(metrics_server.count_sandbox_refusal)
worker_process_shutdown.connect(metrics_server.forget_process)


@worker_init.connect
def serve_metrics(**_) -> None:
    """Serve this worker's metrics; connected before the sandbox check (Celery calls handlers in
    the order they connect), so a worker that refuses to grade has counted why."""
    metrics_server.start(flask_app.config["GRADER"])


@setup_logging.connect
def use_structured_logs(**_) -> None:
    """Our JSON lines, not Celery's format (connecting here tells Celery to leave logging alone)."""
    configure_logging()


@worker_init.connect
def refuse_to_grade_without_isolation(**_) -> None:
    """Fail closed: a worker whose sandbox does not isolate stops before taking any task."""
    settings = flask_app.config["GRADER"]
    try:
        sandbox = sandbox_from_mode(settings.sandbox_mode, settings.kernel_cpu_weight)
    except SandboxUnavailable as exc:
        metrics.sandbox_refused("worker_start")
        raise SystemExit(f"Refusing to grade: {exc}") from None
    if not sandbox.enforced:
        log.warning("GRADER_SANDBOX=off: notebooks run WITHOUT isolation; reports will say so")
        return
    problems = isolation_problems(sandbox, [str(settings.instance_dir)])
    if problems:
        raise SystemExit("Refusing to grade, the sandbox does not isolate: " + "; ".join(problems))
    log.info("sandbox check passed: no network, unprivileged user, private files hidden")


@worker_process_init.connect
def start_process(**_) -> None:
    """Each process that grades keeps its own kernels warm (a kernel cannot cross a fork), from the
    start for the open assignment due soonest, and says it is alive."""
    kernels.start_warm(flask_app)
    threading.Thread(target=_report_alive, name="worker-heartbeat", daemon=True).start()


@worker_process_shutdown.connect
def stop_process(**_) -> None:
    """On a warm shutdown: close the warm kernels (sandbox, cgroups, folders)
    and stop reporting alive."""
    _stopping.set()
    kernels.stop()
    with flask_app.app_context():
        workers.forget(worker_name())


def _report_alive() -> None:
    while True:
        try:
            with flask_app.app_context():
                workers.record_alive(worker_name())
        except (
            Exception
        ):  # the database is away for a moment; staff see this worker again once it is back
            log.warning("could not record that this worker is alive", exc_info=True)
        if _stopping.wait(workers.WORKER_HEARTBEAT_SECONDS):
            return
