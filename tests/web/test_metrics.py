"""GET /metrics: Prometheus text with the queue read from the database and the runs' counters."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import nbformat
import pytest
from conftest import REPO, notebook_bytes
from prometheus_client.parser import text_string_to_metric_families

from grader import metrics
from grader.engine.grade import GradeResult
from grader.engine.report import Report
from grader.extensions import db
from grader.metrics.folder import FOLDER_VARIABLE
from grader.models import Assignment, GradingRun, RunStatus
from grader.sandbox import SandboxUnavailable
from grader.services.grading.runs import grade_run
from worker import metrics_server

FEEDBACK = "grader_time_to_feedback_seconds"
GRADING = "grader_grading_duration_seconds"


def scrape(app) -> dict[tuple[str, frozenset], float]:
    """Every sample of an anonymous scrape, keyed by name and labels."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    """A sample's value; a labelled counter nothing has counted yet is absent, which is zero."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def upload(client, data: bytes) -> int:
    response = client.post(
        "/api/submissions",
        data={"assignment": "lab6", "file": (io.BytesIO(data), "lab.ipynb")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["run_id"]


def queued_ago(app, run_id: int, seconds: float) -> None:
    with app.app_context():
        run = db.session.get(GradingRun, run_id)
        run.queued_at = datetime.now(UTC) - timedelta(seconds=seconds)
        db.session.commit()


def grade_with(app, monkeypatch, result: GradeResult, run_id: int) -> RunStatus | None:
    """Grade the run through the service, the engine answering `result` (no kernel in this tier)."""
    monkeypatch.setattr(
        "grader.services.grading.runs.grade_notebook", lambda *args, **kwargs: result
    )
    with app.app_context():
        return grade_run(run_id, replace(app.config["GRADER"], sandbox_mode="off"))


def engine_result(**fields) -> GradeResult:
    notebook = nbformat.reads(notebook_bytes("1").decode(), as_version=4)
    return GradeResult(report=Report("Lab 6", []), executed=notebook, **fields)


def test_metrics_are_prometheus_text_without_signing_in(app):
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    assert "# TYPE grader_queue_depth gauge" in response.get_data(as_text=True)


def test_queue_depth_and_oldest_age_are_read_from_the_database(app, client):
    runs = [upload(client, notebook_bytes(f"print({n})")) for n in range(2)]
    queued_ago(app, runs[0], 600)
    samples = scrape(app)
    assert value(samples, "grader_queue_depth") == 2
    assert 600 <= value(samples, "grader_oldest_queued_run_age_seconds") < 660
    with app.app_context():
        db.session.scalar(db.select(Assignment)).package_sha256 = None
        db.session.commit()
        assert [grade_run(run, app.config["GRADER"]) for run in runs] == [RunStatus.FAILED] * 2
    samples = scrape(app)
    assert value(samples, "grader_queue_depth") == 0
    assert value(samples, "grader_oldest_queued_run_age_seconds") == 0


def test_a_failed_run_is_counted_with_its_time_to_feedback(app, client):
    run = upload(client, notebook_bytes("1"))
    queued_ago(app, run, 30)
    before = scrape(app)
    with app.app_context():
        db.session.scalar(db.select(Assignment)).package_sha256 = None
        db.session.commit()
        assert grade_run(run, app.config["GRADER"]) == RunStatus.FAILED
    after = scrape(app)
    failed = ("grader_runs_finished_total", {"outcome": "failed"})
    assert value(after, failed[0], **failed[1]) == value(before, failed[0], **failed[1]) + 1
    assert value(after, FEEDBACK + "_count") == value(before, FEEDBACK + "_count") + 1
    assert 30 <= value(after, FEEDBACK + "_sum") - value(before, FEEDBACK + "_sum") < 90
    assert value(after, FEEDBACK + "_bucket", le="20.0") == value(
        before, FEEDBACK + "_bucket", le="20.0"
    )


def test_a_graded_run_counts_its_warm_kernel_cached_models_and_duration(app, client, monkeypatch):
    run = upload(client, notebook_bytes("1"))
    before = scrape(app)
    result = engine_result(
        execution_seconds=3.0, scoring_seconds=1.5, warm_kernel=True, from_cache=["q1", "q2"]
    )
    assert grade_with(app, monkeypatch, result, run) == RunStatus.GRADED
    after = scrape(app)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("grader_runs_finished_total", outcome="graded") == 1
    assert moved("grader_kernel_pool_total", result="hit") == 1
    assert moved("grader_kernel_pool_total", result="miss") == 0
    assert moved("grader_scoring_cache_hits_total") == 2
    assert moved(GRADING + "_count") == 1 and moved(GRADING + "_sum") == pytest.approx(4.5)
    assert moved(GRADING + "_bucket", le="2.0") == 0 and moved(GRADING + "_bucket", le="5.0") == 1
    assert moved("grader_reused_gradings_total") == 0


def test_reused_gradings_are_counted_and_take_no_kernel_or_grading_time(app, client, monkeypatch):
    first = upload(client, notebook_bytes("print('same')"))
    grade_with(app, monkeypatch, engine_result(execution_seconds=2.0, reusable=True), first)
    before = scrape(app)
    # An identical upload, graded at once with the earlier run's result.
    identical = upload(client, notebook_bytes("print('same')"))
    with app.app_context():
        run = db.session.get(GradingRun, identical)
        assert (run.status, run.reused_from_id) == (RunStatus.GRADED, first)
    after = scrape(app)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("grader_reused_gradings_total") == 1
    assert moved("grader_runs_finished_total", outcome="graded") == 1
    assert moved(FEEDBACK + "_count") == 1
    assert moved(GRADING + "_count") == 0
    assert moved("grader_kernel_pool_total", result="hit") == 0
    assert moved("grader_kernel_pool_total", result="miss") == 0


def test_a_grading_refused_for_want_of_a_sandbox_is_counted(app):
    before = value(scrape(app), "grader_sandbox_refusals_total", where="grading")
    metrics_server.count_sandbox_refusal(exception=SandboxUnavailable("bwrap is missing"))
    metrics_server.count_sandbox_refusal(exception=ValueError("a notebook's own error"))
    after = value(scrape(app), "grader_sandbox_refusals_total", where="grading")
    assert after == before + 1


def test_metrics_of_separate_processes_sharing_a_folder_are_summed(app, tmp_path, monkeypatch):
    folder = tmp_path / "metrics"
    folder.mkdir()
    count_once = "from grader import metrics; metrics.sandbox_refused('worker_start')"
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", count_once],
            env={**os.environ, FOLDER_VARIABLE: str(folder)},
            cwd=REPO,
            check=True,
            timeout=60,
        )
    assert len(list(folder.glob("counter_*.db"))) == 2, "one file per process"
    # The web reads the folder, as gunicorn's processes do; this process's own counts are not in it.
    monkeypatch.setenv(FOLDER_VARIABLE, str(folder))
    samples = scrape(app)
    assert value(samples, "grader_sandbox_refusals_total", where="worker_start") == 2
    assert value(samples, "grader_queue_depth") == 0


def test_the_instance_folder_is_emptied_when_a_new_service_starts(tmp_path, monkeypatch):
    monkeypatch.setenv(FOLDER_VARIABLE, "")
    monkeypatch.delenv(FOLDER_VARIABLE)
    folder = tmp_path / "metrics" / "web"
    folder.mkdir(parents=True)
    (folder / "counter_4242.db").write_bytes(b"from the last start")
    (folder / "owner").write_text("1 12345")
    assert metrics.use_folder("web", tmp_path, owner_pid=os.getpid()) == folder
    assert os.environ[FOLDER_VARIABLE] == str(folder)
    assert not list(folder.glob("*.db"))
    # A process its owner starts later (gunicorn replacing a web process) keeps its siblings' files.
    (folder / "counter_4343.db").write_bytes(b"a sibling's counts")
    monkeypatch.delenv(FOLDER_VARIABLE)
    metrics.use_folder("web", tmp_path, owner_pid=os.getpid())
    assert [path.name for path in folder.glob("*.db")] == ["counter_4343.db"]


def test_a_folder_the_operator_names_is_used_as_it_is(tmp_path, monkeypatch):
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    (chosen / "counter_4242.db").write_bytes(b"kept")
    monkeypatch.setenv(FOLDER_VARIABLE, str(chosen))
    assert metrics.use_folder("worker", tmp_path / "instance", owner_pid=os.getpid()) == chosen
    assert (chosen / "counter_4242.db").exists()
    assert not (tmp_path / "instance").exists()


def test_the_example_dashboard_shows_every_metric_the_grader_exposes(app):
    import grader.metrics.instruments  # noqa: F401  (registers every metric, counted or not)

    text = app.test_client().get("/metrics").get_data(as_text=True)
    exposed = {
        family.name
        for family in text_string_to_metric_families(text)
        # One process (this test) also reports when each series was created; a service does not.
        if family.name.startswith("grader_") and not family.name.endswith("_created")
    }
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    queried = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"grader_\w+", target["expr"])
    }
    assert queried == exposed, "the dashboard shows every metric, and only real ones"
