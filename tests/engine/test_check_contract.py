"""What a check kind declares: the tables and columns it reads, the statuses it gives, what pages
may show."""

from __future__ import annotations

import copy

import pytest
import yaml

from engine.mini_package import RUBRIC, build
from grader.engine.assignment import AssignmentError, load_assignment
from grader.engine.checks import check_for, shown_details, typed_params, validate_params
from grader.engine.checks.base import TableNeed
from grader.engine.report import STATUSES, QuestionReport, Status
from grader.engine.rubric import Question, parse_rubric


def questions() -> dict[str, Question]:
    rubric = validate_params(parse_rubric(copy.deepcopy(RUBRIC)))
    return {question.key: question for question in rubric.questions}


def test_checks_declare_the_tables_and_columns_they_read():
    rubric = questions()
    needs = {key: check_for(q).tables(typed_params(q)) for key, q in rubric.items()}
    assert needs["feature"] == [
        TableNeed("band", ("class", "feature1", "feature2")),
        TableNeed("all_points", ("feature1", "feature2"), heldout=False),
    ]
    assert needs["model"][0] == TableNeed("band", ("class", "feature1", "feature2"))
    assert needs["answer"] == needs["chart"] == needs["explain"] == []


def test_a_column_a_check_declares_must_be_in_both_tables(tmp_path):
    root = build(tmp_path / "pkg")
    rubric = copy.deepcopy(RUBRIC)
    rubric["questions"][0]["params"]["columns"] = ["feature1", "colour"]
    (root / "rubric.yaml").write_text(yaml.safe_dump(rubric))
    with pytest.raises(
        AssignmentError, match="names column 'colour', which data/band.csv does not have"
    ):
        load_assignment(root)


def test_pages_see_only_the_details_a_check_declares_shown():
    stored = {"answer": "Because.", "heldout_accuracy": 0.9, "plot_sha256": "ab", "internal": 1}
    assert shown_details(stored) == {"answer": "Because.", "heldout_accuracy": 0.9}


def test_statuses_keep_their_stored_spelling():
    stored = (
        "passed",
        "partial",
        "failed",
        "error",
        "timed_out",
        "not_found",
        "needs_manual_grading",
    )
    assert stored == STATUSES
    assert f"{Status.NEEDS_MANUAL_GRADING}" == "needs_manual_grading"
    report = QuestionReport("q", "Q", 1.0, 1.0, Status.PASSED, "ok")
    data = report.to_dict(include_plot=True)
    assert data["status"] == "passed" and type(data["status"]) is str
    assert QuestionReport.from_dict(data).status is Status.PASSED
