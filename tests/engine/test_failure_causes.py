"""Which exception validation blames for a question the solution failed: its own cells' first,
else the last one before its section, else the one raised while reading the answer."""

from __future__ import annotations

from engine.mini_package import SOLUTION_ANSWERS, notebook
from grader.engine.execute import CellError
from grader.engine.grade import GradeResult
from grader.engine.report import QuestionReport, Report, Status
from grader.engine.validation import FailureCause, failure_causes

# Cells of the mini notebook: 1 loads the data, 4 answers Question 1, 6 Question 2, 8 Question 3,
# 10 Question 4, 12 Question 5 (markdown).
KEYS = ("feature", "model", "answer", "chart", "explain")


def error(index: int, name: str) -> dict:
    return CellError(index, name, "boom", f"Traceback\n{name}: boom", f"cell {index}").to_dict()


def causes(mini_package, failed, cell_errors, tracebacks=None, status=Status.ERROR):
    questions = [
        QuestionReport(
            key=key,
            title=key,
            score=0.0 if key in failed else 1.0,
            max_score=1.0,
            status=status if key in failed else Status.PASSED,
            message="",
            traceback=(tracebacks or {}).get(key),
        )
        for key in KEYS
    ]
    report = Report("Mini lab", questions, cell_errors=cell_errors)
    return failure_causes(GradeResult(report, notebook(SOLUTION_ANSWERS)), mini_package)


def test_an_error_in_the_answers_own_cells_comes_first(mini_package):
    found = causes(mini_package, {"answer"}, [error(1, "OSError"), error(8, "ValueError")])
    assert found == {
        "answer": FailureCause(
            "ValueError: boom", "Traceback\nValueError: boom", 8, "cell 8", in_section=True
        )
    }


def test_an_error_in_its_section_is_shown_for_a_wrong_answer_too(mini_package):
    found = causes(mini_package, {"answer"}, [error(8, "ValueError")], status=Status.FAILED)
    assert found["answer"].cell_index == 8


def test_else_the_last_error_before_its_section_and_never_one_after_it(mini_package):
    found = causes(
        mini_package,
        {"chart"},
        [error(1, "OSError"), error(6, "NameError"), error(12, "KeyError")],
    )
    assert found["chart"].cell_index == 6 and not found["chart"].in_section
    assert causes(mini_package, {"feature"}, [error(6, "NameError")]) == {}


def test_a_wrong_answer_is_not_blamed_on_an_earlier_cell(mini_package):
    assert causes(mini_package, {"chart"}, [error(8, "ValueError")], status=Status.FAILED) == {}


def test_else_the_exception_raised_while_reading_the_answer(mini_package):
    tracebacks = {"answer": "Traceback (most recent call last):\n  ...\nNameError: name 'x'"}
    found = causes(mini_package, {"answer"}, [], tracebacks)
    assert found["answer"] == FailureCause("NameError: name 'x'", tracebacks["answer"])


def test_a_written_answer_is_not_blamed_on_a_cell_error(mini_package):
    assert causes(mini_package, {"explain"}, [error(10, "ValueError")]) == {}
