"""Metrics over HTTP from the real service: gunicorn's /metrics, a Celery worker's port, and
`grader serve` showing its worker's on its web's /metrics."""

from __future__ import annotations

import sys

import pytest
import requests
from conftest import notebook_bytes
from processes import (
    api_token,
    free_port,
    grader_command,
    running,
    upload,
    wait_for_http,
    wait_until,
    wait_until_finished,
)
from prometheus_client.parser import text_string_to_metric_families

from workers.test_production_flow import production_env  # noqa: F401

# Slow: starts gunicorn and a Celery worker on PostgreSQL and Redis, and grades a notebook.
pytestmark = pytest.mark.slow


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_worker_port_and_web_metrics_show_a_graded_run(production_env, tmp_path):
    web_port, metrics_port = free_port(), free_port()
    base_url = f"http://127.0.0.1:{web_port}"
    env = {**production_env, "GRADER_WORKER_METRICS_PORT": str(metrics_port)}
    web = [sys.executable, "-m", "gunicorn", "--workers", "2"]
    web += ["--bind", f"127.0.0.1:{web_port}", "grader.wsgi:app"]
    notebook = notebook_bytes("print(6 * 7)")
    token = production_env["TOKEN"]
    with running(web, env, tmp_path / "web.log") as web_process:
        wait_for_http(base_url + "/health", web_process, tmp_path / "web.log")
        first = upload(base_url, token, notebook)
        waiting = scrape(base_url + "/metrics")
        assert value(waiting, "grader_queue_depth") == 1
        assert value(waiting, "grader_oldest_queued_run_age_seconds") > 0
        with running(grader_command("worker"), env, tmp_path / "worker.log") as worker:
            status = wait_until_finished(base_url, token, first["submission_id"], timeout=300)
            assert status["status"] == "graded", (tmp_path / "worker.log").read_text()[-3000:]
            worker_url = f"http://127.0.0.1:{metrics_port}/metrics"
            wait_for_http(worker_url, worker, tmp_path / "worker.log")
            # The pool process that graded writes its file; the main process serves the sums.
            graded = wait_until(
                lambda: (
                    (samples := scrape(worker_url))
                    and value(samples, "grader_runs_finished_total", outcome="graded") == 1
                    and samples
                ),
                30,
                "the worker's metrics to count the graded run",
            )
        # An identical upload takes that result at once, in whichever web process answers it.
        again = upload(base_url, token, notebook)
        web_samples = scrape(base_url + "/metrics")
    assert value(graded, "grader_grading_duration_seconds_count") == 1
    assert value(graded, "grader_grading_duration_seconds_sum") > 0
    pool = [value(graded, "grader_kernel_pool_total", result=r) for r in ("hit", "miss")]
    assert sum(pool) == 1
    assert value(graded, "grader_time_to_feedback_seconds_count") == 1
    assert again["run_id"] != first["run_id"]
    assert value(web_samples, "grader_queue_depth") == 0
    assert value(web_samples, "grader_reused_gradings_total") == 1
    assert value(web_samples, "grader_runs_finished_total", outcome="graded") == 1


def test_grader_serve_shows_its_workers_gradings_on_the_webs_metrics(tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # No key: serve makes its own, as the README starts it.
    env = {"GRADER_INSTANCE_DIR": str(tmp_path / "instance"), "GRADER_SECRET_KEY": ""}
    log = tmp_path / "serve.log"
    with running(grader_command("serve", "--port", str(port)), env, log) as serve:
        wait_for_http(base_url + "/health", serve, log, timeout=120)
        token = api_token(env)
        accepted = upload(base_url, token, notebook_bytes("print(6 * 7)"))
        status = wait_until_finished(base_url, token, accepted["submission_id"], timeout=300)
        samples = scrape(base_url + "/metrics")
    assert status["status"] == "graded", log.read_text()[-3000:]
    # Counted in the embedded worker's pool process, shown by the web: they share one folder.
    assert value(samples, "grader_runs_finished_total", outcome="graded") == 1
    assert value(samples, "grader_grading_duration_seconds_count") == 1
    assert [path.name for path in (tmp_path / "instance" / "metrics").iterdir()] == ["embedded"]
