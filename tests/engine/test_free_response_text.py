"""Which text of a section counts as a free-response answer: markdown, and when asked, the comments
and string literals of its code cells, never the code; the template's lines are left out."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
from nbformat import v4

from engine.mini_package import RUBRIC
from grader.engine.checks import check_for, typed_params, validate_params
from grader.engine.checks.base import Evidence
from grader.engine.checks.free_response import code_text, new_text
from grader.engine.locator import Location
from grader.engine.report import Status
from grader.engine.rubric import parse_rubric

TEMPLATE_CODE = (
    "# What do you notice about the band? FILLME\n# Write your answer here\nprint(df.shape)"
)


def explain_question(**params):
    rubric = copy.deepcopy(RUBRIC)
    rubric["questions"][4]["params"].update(params)
    rubric = validate_params(parse_rubric(rubric))
    return rubric.questions[4]


def evidence(student_cells, **params):
    question = explain_question(**params)
    template = v4.new_notebook(cells=[v4.new_code_cell(TEMPLATE_CODE)])
    return Evidence(
        question=question,
        params=typed_params(question),
        location=Location(list(range(len(student_cells)))),
        notebook=v4.new_notebook(cells=list(student_cells)),
        package=SimpleNamespace(template=template),
        template_location=Location(list(range(len(template.cells)))),
    )


def test_code_text_keeps_comments_and_strings_and_drops_code():
    source = (
        "x = compute(3)  # the line bends here\n"
        "'''A docstring\nover two lines'''\n"
        "label = f'big {x} values'\n"
        "b'bytes are not text'\n"
        'print("it is curved")\n'
    )
    assert code_text(source).splitlines() == [
        " the line bends here",
        "A docstring",
        "over two lines",
        "big {x} values",
        "",
        "it is curved",
    ]


@pytest.mark.parametrize(
    "source",
    [
        "# notice this\nif True:\n  x = (",
        "# notice this\n%matplotlib inline",
        "# notice this\n\tdef",
    ],
)
def test_code_that_does_not_parse_keeps_the_text_before_the_problem(source):
    assert code_text(source).splitlines()[0] == " notice this"


def test_a_comment_answer_counts_only_when_the_rubric_asks_for_comments():
    answer = v4.new_code_cell(
        TEMPLATE_CODE + "\n# The points form a curved band around the middle.\nmodel.fit(X, y)"
    )
    assert new_text(evidence([answer]), "FILLME", "markdown") == ""
    assert new_text(evidence([answer]), "FILLME", "comments") == (
        "The points form a curved band around the middle."
    )


def test_template_comments_and_the_placeholder_do_not_count_and_code_never_does():
    untouched = v4.new_code_cell(TEMPLATE_CODE + "\nresult = long_experiment(a, b, c, d, e)")
    item = evidence([untouched], read_from="comments")
    outcome = check_for(item.question).score(item)
    assert outcome.status == Status.FAILED and "No answer yet" in outcome.message


def test_both_reads_markdown_and_code_answers_together():
    cells = [
        v4.new_markdown_cell("The classes overlap near the edges."),
        v4.new_code_cell('notes = "we should add a distance feature"'),
    ]
    item = evidence(cells, read_from="both")
    outcome = check_for(item.question).score(item)
    assert outcome.status == Status.NEEDS_MANUAL_GRADING
    assert outcome.details["answer"] == (
        "The classes overlap near the edges.\nwe should add a distance feature"
    )
    only_comments = evidence(cells, read_from="comments")
    assert new_text(only_comments, "FILLME", "comments") == "we should add a distance feature"


def test_read_from_accepts_only_the_documented_places():
    with pytest.raises(ValueError, match="read_from"):
        typed_params(explain_question(read_from="outputs"))
