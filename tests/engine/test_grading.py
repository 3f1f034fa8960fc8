"""grade_notebook on the mini package: scores, position-bound capture, failures that stay local,
tampering."""

from __future__ import annotations

import re

import pytest
from nbformat import v4

from engine.conftest import grade_answers, scores, statuses
from engine.mini_package import SOLUTION_ANSWERS, TEMPLATE_ANSWERS, notebook
from grader.engine.execute import KERNEL_DIED
from grader.engine.grade import grade_notebook

# Slow: grades notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

FULL = {"feature": 2.0, "model": 3.0, "answer": 1.0, "chart": 1.0, "explain": 1.0}


def answers(**changes) -> dict[str, str]:
    return {**SOLUTION_ANSWERS, **{k.replace("_", " "): v for k, v in changes.items()}}


def test_solution_earns_every_automatic_point(solution_report):
    assert scores(solution_report) == FULL
    assert solution_report.total == solution_report.max_total == 8.0
    assert solution_report.manual_pending == 1.0
    assert statuses(solution_report)["explain"] == "needs_manual_grading"


def test_report_explains_and_pictures_the_model(solution_report):
    model = next(q for q in solution_report.questions if q.key == "model")
    assert re.match(
        r"Retrained on the train split. Held-out accuracy 9\d(\.\d+)?%; 90% earns full marks",
        model.message,
    )
    assert "KNeighborsClassifier" in model.answer_source
    assert model.plot_png.startswith(b"\x89PNG")
    assert 0.9 <= model.details["heldout_accuracy"] <= 1


def test_template_earns_nothing(mini_package, sandbox):
    report = grade_answers(sandbox, mini_package, TEMPLATE_ANSWERS)
    assert report.total == 0
    assert statuses(report)["explain"] == "failed"


def test_regrading_gives_identical_scores(mini_package, solution_report, sandbox):
    again = grade_answers(sandbox, mini_package)
    assert [q.to_dict() for q in again.questions] == [
        q.to_dict() for q in solution_report.questions
    ]


def test_names_redefined_after_the_question_do_not_change_its_score(
    mini_package, solution_report, sandbox
):
    # Question 4's section comes after all three answers: a check run at the end would see these.
    later = {
        "Question 4": [
            v4.new_code_cell("def mkfeature(row):\n    return 0.0"),
            v4.new_code_cell(
                "from sklearn.dummy import DummyClassifier\nmodel = DummyClassifier()"
            ),
            v4.new_code_cell("answer = -1"),
        ]
    }
    assert (
        scores(
            grade_notebook(
                notebook(SOLUTION_ANSWERS, extra_after=later), mini_package, sandbox
            ).report
        )
        == FULL
    )


def test_answer_in_an_added_cell_is_found(mini_package, sandbox):
    added = {"Question 1": [v4.new_code_cell(SOLUTION_ANSWERS["Question 1"])]}
    report = grade_notebook(
        notebook(answers(Question_1="# FILLME\n"), extra_after=added), mini_package, sandbox
    ).report
    assert scores(report) == FULL


def test_wrong_feature_fails_only_that_question(mini_package, sandbox):
    report = grade_answers(
        sandbox, mini_package, answers(Question_1="def mkfeature(row):\n    return row['feature2']")
    )
    assert scores(report) == {**FULL, "feature": 0.0}
    feature = report.questions[0]
    assert feature.status == "failed" and re.search(
        r"Held-out accuracy [1-8]?\d(\.\d+)?%;", feature.message
    )


def test_weak_model_gets_the_partial_band_or_nothing(mini_package, sandbox):
    linear = "from sklearn.linear_model import LogisticRegression\nmodel = LogisticRegression()"
    report = grade_answers(sandbox, mini_package, answers(Question_2=linear))
    assert report.questions[1].score == 0 and report.questions[1].status == "failed"


def test_cell_that_raises_inside_a_question_costs_only_that_question(mini_package, sandbox):
    report = grade_answers(
        sandbox, mini_package, answers(Question_3="answer = 6 * 7\nraise RuntimeError('oops')")
    )
    # The value was bound before the error, so it is still right; the error is reported.
    assert scores(report) == FULL
    assert report.cell_errors[0]["ename"] == "RuntimeError"
    broken_feature = "def mkfeature(row):\n    return row['no such column']"
    report = grade_answers(sandbox, mini_package, answers(Question_1=broken_feature))
    assert statuses(report)["feature"] == "error"
    assert (
        "KeyError" in report.questions[0].message
        and "no such column" in report.questions[0].traceback
    )
    assert scores(report) == {**FULL, "feature": 0.0}


def test_syntax_error_mid_notebook_costs_only_its_question(mini_package, sandbox):
    report = grade_answers(sandbox, mini_package, answers(Question_3="answer = = 42"))
    assert statuses(report)["answer"] == "not_found" or statuses(report)["answer"] == "error"
    assert scores(report) == {**FULL, "answer": 0.0}


def test_cell_that_runs_too_long_costs_only_its_question(mini_package, sandbox):
    mini_package.rubric.runtime.cell_timeout = 3
    try:
        report = grade_answers(
            sandbox,
            mini_package,
            answers(Question_2="import time\ntime.sleep(30)\n" + SOLUTION_ANSWERS["Question 2"]),
        )
    finally:
        mini_package.rubric.runtime.cell_timeout = 20
    assert statuses(report)["model"] == "timed_out"
    assert scores(report) == {**FULL, "model": 0.0}


def test_free_response_is_graded_from_its_markdown_when_a_code_cell_of_its_section_times_out(
    mini_package, sandbox
):
    looping_experiment = v4.new_code_cell("import time\ntime.sleep(30)")
    mini_package.rubric.runtime.cell_timeout = 3
    try:
        report = grade_answers(
            sandbox, mini_package, extra_after={"Question 5": [looping_experiment]}
        )
    finally:
        mini_package.rubric.runtime.cell_timeout = 20
    explain = next(q for q in report.questions if q.key == "explain")
    assert explain.status == "needs_manual_grading"
    assert "linearly separable" in explain.details["answer"]
    assert scores(report) == FULL


def test_missing_section_is_not_found_not_a_crash(mini_package, sandbox):
    nb = notebook(SOLUTION_ANSWERS)
    nb.cells = [c for c in nb.cells if c.source != "### Question 3"]
    report = grade_notebook(nb, mini_package, sandbox).report
    assert statuses(report)["answer"] == "not_found"
    assert "no heading 'Exercise / Question 3'" in report.questions[2].message


def test_answer_written_as_markdown_is_not_found(mini_package, sandbox):
    nb = notebook(SOLUTION_ANSWERS)
    index = next(i for i, c in enumerate(nb.cells) if c.source == SOLUTION_ANSWERS["Question 1"])
    nb.cells[index] = v4.new_markdown_cell(nb.cells[index].source)
    report = grade_notebook(nb, mini_package, sandbox).report
    assert statuses(report)["feature"] == "not_found"
    assert (
        "no code under 'Exercise / Question 1' defines `mkfeature`" in report.questions[0].message
    )


TAMPERING = {
    "sklearn-metrics": (
        "import sklearn.metrics\nsklearn.metrics.accuracy_score = lambda *a, **k: 1.0"
    ),
    "numpy": "import numpy\nnumpy.mean = lambda *a, **k: 1.0\n"
    "numpy.equal = lambda a, b, *r, **k: numpy.ones(len(a), bool)",
    "pandas": "import pandas\n"
    "pandas.Series.__eq__ = lambda self, other: pandas.Series(True, index=self.index)\n"
    "pandas.DataFrame.mean = lambda *a, **k: 1.0",
    "builtins": "import sklearn.neighbors, builtins\n"
    "builtins.sum = lambda *a, **k: 10**9\nbuiltins.round = lambda *a, **k: 1.0",
    "forged-probe-output": "from IPython.display import publish_display_data\n"
    "publish_display_data({'application/vnd.grader.probe+json': {'predictions': "
    "{'heldout': ['red'] * 120}}})",
}


@pytest.mark.parametrize("patch", TAMPERING, ids=list(TAMPERING))
def test_tampering_in_the_kernel_cannot_raise_the_score(mini_package, patch, sandbox):
    nb = notebook(SOLUTION_ANSWERS)
    nb.cells.insert(2, v4.new_code_cell(TAMPERING[patch]))
    report = grade_notebook(nb, mini_package, sandbox).report
    assert scores(report) == FULL
    if (
        patch != "forged-probe-output"
    ):  # a cell's own output is never read as an export, so nothing to flag
        assert report.tamper, "staff see that the notebook rebound library functions"


def test_forged_probe_result_is_rejected_cleanly(mini_package, sandbox):
    forge = (
        "import grader_kernel.extract as e\n"
        "e._emit = lambda payload: "
        "e.publish_display_data({e.PROBE_MIME: {'predictions': 'all right'}})"
    )
    nb = notebook(SOLUTION_ANSWERS)
    nb.cells.insert(2, v4.new_code_cell(forge))
    report = grade_notebook(nb, mini_package, sandbox).report
    assert statuses(report)["model"] == "error" and "wrong shape" in report.questions[1].message
    assert any(
        "question 'model' was not what the grader's own code produces" in note
        for note in report.tamper
    )
    assert all(q.score <= full for q, full in zip(report.questions, FULL.values()))
    assert scores(report)["chart"] == 1.0  # checks that need no probe are untouched


def test_outputs_uploaded_with_the_notebook_count_for_nothing(mini_package, sandbox):
    nb = notebook(SOLUTION_ANSWERS)
    chart_cell = next(c for c in nb.cells if c.source == SOLUTION_ANSWERS["Question 4"])
    chart_cell.outputs = [v4.new_output("stream", name="stdout", text="320\n")]
    # Two cells that kill the kernel: nothing after the second one runs.
    nb.cells[2:2] = [v4.new_code_cell("import os; os._exit(1)") for _ in range(2)]
    report = grade_notebook(nb, mini_package, sandbox).report
    assert statuses(report)["chart"] == "failed"
    assert report.stopped_reason.startswith("The Python kernel died while running cell #4")
    assert report.total == 1.0  # only the free-response answer, which needs no kernel


EXIT = "import os\nos._exit(0)"


def test_a_kernel_killed_in_one_question_costs_only_that_question(mini_package, sandbox):
    # `size` is set before the killing cell and needed after it: the new kernel re-runs that cell.
    before = {"Question 2": [v4.new_code_cell("size = len(df)")]}
    report = grade_answers(
        sandbox,
        mini_package,
        answers(Question_3=f"answer = 6 * 7\n{EXIT}", Question_4="print(size)"),
        extra_after=before,
    )
    assert scores(report) == {**FULL, "answer": 0.0}
    assert statuses(report)["answer"] == "error"
    answer = report.questions[2]
    assert re.match(
        r"We could not check this answer: the kernel died while running cell #\d+", answer.message
    )
    assert report.stopped_reason is None
    [error] = report.cell_errors
    assert error["ename"] == KERNEL_DIED and "os._exit" in error["source"]
    assert "started a new kernel" in error["evalue"]


def test_a_second_kernel_death_stops_the_notebook(mini_package, sandbox):
    report = grade_answers(
        sandbox,
        mini_package,
        answers(Question_3=f"answer = 6 * 7\n{EXIT}", Question_4=EXIT),
    )
    assert scores(report) == {**FULL, "answer": 0.0, "chart": 0.0}
    assert statuses(report)["chart"] == "failed"
    assert "already died once" in report.stopped_reason
