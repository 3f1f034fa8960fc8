"""A web process reads what uploads need before its first one: open assignments' time budgets."""

from __future__ import annotations

from grader.extensions import db
from grader.models import Assignment
from grader.services.grading import runs
from grader.web.readiness import warm_up


def test_warm_up_reads_each_open_assignments_budget_before_any_upload(app, monkeypatch):
    monkeypatch.setattr(runs, "_budgets", {})
    with app.app_context():
        open_ones = {a.package_sha256 for a in db.session.scalars(db.select(Assignment))}
    assert open_ones  # the demo course's assignments are released, with packages
    warm_up(app)
    assert {sha for sha, _margin in runs._budgets} == open_ones


def test_warm_up_never_stops_the_process_when_the_database_is_away(app, monkeypatch, caplog):
    def database_away(_settings):
        raise ConnectionError("database is away")

    monkeypatch.setattr("grader.web.readiness.prepare_for_uploads", database_away)
    warm_up(app)
    assert "could not warm this web process up" in caplog.text
