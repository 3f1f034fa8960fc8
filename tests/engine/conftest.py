"""Fixtures for engine tests: the mini package, and grading notebooks built from its answers."""

from __future__ import annotations

import pytest

from engine.mini_package import SOLUTION_ANSWERS, build, notebook
from grader.engine.assignment import load_assignment
from grader.engine.grade import grade_notebook


@pytest.fixture(scope="session")
def mini_package(tmp_path_factory):
    return load_assignment(build(tmp_path_factory.mktemp("mini") / "package"))


@pytest.fixture(scope="session")
def solution_report(mini_package, sandbox):
    return grade_notebook(notebook(SOLUTION_ANSWERS), mini_package, sandbox).report


def scores(report) -> dict[str, float]:
    return {q.key: q.score for q in report.questions}


def statuses(report) -> dict[str, str]:
    return {q.key: q.status for q in report.questions}


def grade_answers(sandbox, package, answers=None, **kwargs):
    return grade_notebook(notebook(answers or SOLUTION_ANSWERS, **kwargs), package, sandbox).report
