"""The Lab 6 package end to end, real TensorFlow training: solution, template and every scenario."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from grader.engine.assignment import load_assignment
from grader.engine.grade import grade_notebook, kernel_pool, kernel_profile, prepare_scratch

# Slow: grades the TensorFlow lab in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

LAB6 = Path(__file__).resolve().parents[2] / "fixtures" / "lab6"
SCENARIOS = LAB6 / "scenarios"
SOLUTION_SCORES = {
    "review_feature": 2.0,
    "a_q0_icebreakers": 1.0,
    "a_q1_playground": 1.0,
    "a_q2_settings": 1.0,
    "a_q3_verbose_run": 1.0,
    "a_q3_describe": 1.0,
    "b_q1_multilayer": 4.0,
}


@pytest.fixture(scope="module")
def lab6():
    return load_assignment(LAB6)


@pytest.fixture(scope="module")
def reports(lab6, sandbox):
    """Grade each notebook once per test run, on first use."""
    cache = {}

    def report(path: Path):
        if path not in cache:
            cache[path] = grade_notebook(nbformat.read(path, as_version=4), lab6, sandbox).report
        return cache[path]

    return report


def scores(report) -> dict[str, float]:
    return {q.key: q.score for q in report.questions}


def question(report, key):
    return next(q for q in report.questions if q.key == key)


def test_solution_gets_full_automatic_marks_with_pictures(reports):
    report = reports(LAB6 / "solution.ipynb")
    assert scores(report) == SOLUTION_SCORES
    assert report.total == report.max_total == 11.0
    assert report.manual_pending == 3.0
    for key in ("review_feature", "b_q1_multilayer"):
        assert question(report, key).plot_png.startswith(b"\x89PNG")
    assert re.search(
        r"Held-out accuracy 9\d(\.\d+)?%; 90% earns full marks, 80% earns 50% of the points",
        question(report, "b_q1_multilayer").message,
    )


def test_untouched_template_gets_nothing(reports):
    report = reports(LAB6 / "template.ipynb")
    assert report.total == 0
    assert question(report, "b_q1_multilayer").status == "failed"


def test_regrading_the_solution_in_a_warm_kernel_gives_identical_results(lab6, reports, sandbox):
    # The warm kernel has TensorFlow imported already; the legacy Keras runtime must still hold.
    pool = kernel_pool(sandbox)
    pool.warm(kernel_profile(lab6.rubric.runtime, lab6.template))
    try:
        again = grade_notebook(
            nbformat.read(LAB6 / "solution.ipynb", as_version=4), lab6, sandbox, kernels=pool
        ).report
    finally:
        pool.close()
    assert pool.served_warm == 1
    assert [q.to_dict() for q in again.questions] == [
        q.to_dict() for q in reports(LAB6 / "solution.ipynb").questions
    ]


@pytest.mark.parametrize("scenario", sorted(p.name for p in SCENARIOS.glob("*tamper*.ipynb")))
def test_tampering_scores_exactly_what_the_solution_scores(reports, scenario):
    assert scores(reports(SCENARIOS / scenario)) == scores(reports(LAB6 / "solution.ipynb"))
    assert reports(SCENARIOS / scenario).tamper, "staff are shown what the notebook rebound"
    assert reports(LAB6 / "solution.ipynb").tamper == []


# What each behaviour scenario should change relative to the solution.
EXPECTED = {
    "wrong-feature.ipynb": {"review_feature": (0.0, "failed")},
    "weak-linear-model.ipynb": {"b_q1_multilayer": (0.0, "failed")},
    "markdown-answer-instead-of-code.ipynb": {"review_feature": (0.0, "failed")},
    "syntax-error-mid-notebook.ipynb": {},
    "reordered-cells.ipynb": {},
    "answer-in-added-cell.ipynb": {},
    "names-redefined-after-question.ipynb": {},
    "cell-raises-inside-question.ipynb": {},
    "colab-metadata.ipynb": {},
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario(reports, scenario):
    report = reports(SCENARIOS / scenario)
    changed = EXPECTED[scenario]
    assert scores(report) == {
        **SOLUTION_SCORES,
        **{key: score for key, (score, _) in changed.items()},
    }
    for key, (_, status) in changed.items():
        assert question(report, key).status == status


def test_errors_are_reported_where_they_happened(reports):
    syntax = reports(SCENARIOS / "syntax-error-mid-notebook.ipynb")
    assert [e["ename"] for e in syntax.cell_errors] == ["SyntaxError"]
    raises = reports(SCENARIOS / "cell-raises-inside-question.ipynb")
    assert (
        raises.cell_errors[0]["ename"] == "KeyError" and "colour" in raises.cell_errors[0]["evalue"]
    )


def test_held_out_labels_never_reach_the_kernels_folder(lab6, tmp_path):
    prepare_scratch(tmp_path, lab6)
    # Only the feature function's table, with only its declared columns: the model's held-out rows
    # go to the scoring kernel alone.
    shipped_tables = sorted(p.name for p in (tmp_path / ".grader" / "heldout").iterdir())
    assert shipped_tables == ["center.csv"]
    shipped = pd.read_csv(tmp_path / ".grader" / "heldout" / "center.csv")
    assert list(shipped.columns) == ["feature1", "feature2"]
    assert len(shipped) == len(pd.read_csv(LAB6 / "hidden" / "center.csv"))
    everything = "".join(p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())
    assert (
        "heldout,0." not in everything
    )  # rows of the hidden files (class,split=heldout,...) appear nowhere
    assert not any("hidden" in p.parts for p in tmp_path.rglob("*"))


def test_cli_json_for_the_solution():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "grade",
            str(LAB6 / "solution.ipynb"),
            "--assignment",
            str(LAB6),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["total"] == report["max_total"] == 11.0
    assert set(report["questions"][0]) >= {
        "key",
        "title",
        "score",
        "max_score",
        "status",
        "message",
    }
