"""The locator survives the edits students and Colab make to notebooks."""

from __future__ import annotations

import pytest
from nbformat import v4

from grader.engine.locator import locate, normalize_title
from grader.engine.rubric import Locator

B_Q1 = Locator(section="Group Exercise B / Question 1")
BOUNDARIES = ["group exercise a", "question 1", "question 2", "group exercise b"]


def lab(*cells):
    return v4.new_notebook(cells=list(cells))


def md(text):
    return v4.new_markdown_cell(text)


def code(text):
    return v4.new_code_cell(text)


@pytest.mark.parametrize(
    "title",
    [
        "Group Exercise B",
        "▼ group exercise b!",
        "🎯 GROUP  EXERCISE — B",
        "<b>Group Exercise B</b>",
    ],
)
def test_titles_match_whatever_the_emoji_case_and_punctuation(title):
    assert normalize_title(title) == "group exercise b"


def test_section_is_found_under_its_parent_not_the_first_question_1():
    nb = lab(
        md("## Group Exercise A"),
        md("### Question 1"),
        code("a = 1"),
        md("## Group Exercise B"),
        md("### Question 1"),
        code("b = 2"),
        md("### Question 2"),
        code("c = 3"),
    )
    assert locate(nb, B_Q1, BOUNDARIES).cell_indices == [5]


def test_changed_heading_levels_still_end_at_the_next_template_heading():
    nb = lab(
        md("# Group Exercise B"),
        md("###### Question 1"),
        code("b = 2"),
        md("#### Question 2"),
        code("c"),
    )
    assert locate(nb, B_Q1, BOUNDARIES).cell_indices == [2]


def test_students_own_subheadings_and_added_cells_stay_in_the_section():
    nb = lab(
        md("## Group Exercise B"),
        md("### Question 1"),
        code("# FILLME"),
        md("#### My notes"),
        code("b = 2"),
        md("more words"),
        md("### Question 2"),
    )
    assert locate(nb, B_Q1, BOUNDARIES).cell_indices == [2, 3, 4, 5]


def test_answer_typed_into_the_heading_cell_counts():
    nb = lab(
        md("## Group Exercise B"),
        md("### Question 1\nWe think the answer is 4."),
        md("### Question 2"),
    )
    assert locate(nb, B_Q1, BOUNDARIES).cell_indices == [1]


def test_reordered_sections_are_found_where_they_now_are():
    nb = lab(
        md("## Group Exercise B"),
        md("### Question 2"),
        code("c = 3"),
        md("### Question 1"),
        code("b = 2"),
    )
    assert locate(nb, B_Q1, BOUNDARIES).cell_indices == [4]


def test_missing_heading_is_a_clear_not_found():
    location = locate(lab(md("## Group Exercise A"), md("### Question 1")), B_Q1, BOUNDARIES)
    assert not location.found
    assert "no heading 'Group Exercise B'" in location.reason


def test_a_section_of_only_slashes_is_not_found_rather_than_a_crash():
    location = locate(
        lab(md("## Group Exercise B"), code("a = 1")), Locator(section=" / "), BOUNDARIES
    )
    assert not location.found and "names no heading" in location.reason


def test_cell_id_wins_when_present_and_falls_back_to_the_section():
    nb = lab(md("## Group Exercise B"), md("### Question 1"), code("b = 2"), code("x = 1"))
    nb.cells[3]["id"] = "answer-cell"
    assert locate(
        nb, Locator(section="Group Exercise B / Question 1", cell_id="answer-cell")
    ).cell_indices == [3]
    del nb.cells[3]["id"]  # Colab and old Jupyter drop ids
    assert locate(
        nb, Locator(section="Group Exercise B / Question 1", cell_id="answer-cell")
    ).cell_indices == [2, 3]
    assert not locate(nb, Locator(cell_id="answer-cell")).found


def test_marker_skips_the_prompt_cells_above_it():
    nb = lab(
        md("### Question 1"), code("model = make()  # given"), md("FILLME"), code("answer = 3")
    )
    assert locate(nb, Locator(section="Question 1", marker="FILLME")).cell_indices == [2, 3]


def test_colab_metadata_does_not_matter():
    nb = lab(md("## Group Exercise B"), md("### Question 1"), code("b = 2"))
    nb.metadata["colab"] = {"name": "Lab6.ipynb", "provenance": []}
    for cell in nb.cells:
        cell.metadata.update(
            {"id": "xyz", "colab": {"base_uri": "https://localhost:8080/"}, "outputId": "1"}
        )
        cell.pop("id", None)
    assert locate(nb, B_Q1, BOUNDARIES).cell_indices == [2]


def test_an_exact_heading_wins_over_a_longer_one_that_comes_first():
    nb = lab(
        md("## Review Exercise"), code("a = 1"), md("## Review"), code("b = 2"), md("## Unit A")
    )
    assert locate(
        nb, Locator(section="Review"), ["review", "review exercise", "unit a"]
    ).cell_indices == [3]


def test_headings_inside_fenced_code_are_not_headings():
    nb = lab(
        md("### Question 1"),
        md("My answer:\n```python\n# compute the loss\nloss = 1\n```"),
        code("x = 1"),
        md("### Question 2"),
    )
    assert locate(nb, Locator(section="Question 1"), ["question 1", "question 2"]).cell_indices == [
        1,
        2,
    ]


PARTS = ["question 1", "question 2"]


def two_parts(start_a="# Part A", start_b="# Part B"):
    """One heading, two parts: each opens with its marker, and part B's cell raises."""
    return lab(
        md("### Question 1\nAnswer both parts."),
        code(f"{start_a}\nanswer = 42"),
        md("A note of the student's."),
        code(f"{start_b}\nratio = 1 / 0"),
        code("print(ratio)"),
        md("### Question 2"),
        code("# Part C\nlater = 1"),
    )


def part(marker, until=None):
    return Locator(section="Question 1", marker=marker, until=until)


def test_until_ends_a_part_before_the_cell_holding_the_next_marker():
    nb = two_parts()
    assert locate(nb, part("# Part A", "# Part B"), PARTS).cell_indices == [1, 2]
    assert locate(nb, part("# Part B"), PARTS).cell_indices == [3, 4]  # to the section's end


def test_markers_may_be_markdown_lines_above_the_code():
    nb = lab(
        md("### Question 1"),
        md("**Part A**"),
        code("answer = 42"),
        md("**Part B**"),
        code("ratio = 1 / 0"),
        md("### Question 2"),
    )
    assert locate(nb, part("**Part A**", "**Part B**"), PARTS).cell_indices == [1, 2]
    assert locate(nb, part("**Part B**"), PARTS).cell_indices == [3, 4]


def test_markers_may_be_code_comments_matched_by_part_of_their_text():
    nb = two_parts("# Part A: the answer", "# Part B: the ratio")
    assert locate(nb, part("Part A:", "Part B:"), PARTS).cell_indices == [1, 2]


def test_a_missing_end_marker_is_a_clear_not_found():
    nb = two_parts(start_b="# my ratio")
    location = locate(nb, part("# Part A", "# Part B"), PARTS)
    assert not location.found
    assert location.reason == (
        "the text '# Part B' that ends this part is not under 'Question 1' after '# Part A'; "
        "keep the assignment's markers when you edit it"
    )


def test_an_end_marker_in_the_next_section_does_not_count():
    nb = two_parts()
    location = locate(nb, part("# Part A", "# Part C"), PARTS)
    assert not location.found and "'# Part C' that ends this part" in location.reason


def test_a_missing_start_marker_is_not_found_only_when_the_part_has_an_end():
    nb = two_parts(start_a="# my answer")
    # Alone, a marker trims the prompt; a part with an end must not take in the parts before it.
    assert locate(nb, part("# Part A"), PARTS).cell_indices == [0, 1, 2, 3, 4]
    location = locate(nb, part("# Part A", "# Part B"), PARTS)
    assert not location.found and "'# Part A' that starts this part" in location.reason


def test_an_end_marker_above_the_start_is_not_the_end():
    nb = two_parts(start_a="# Part A (after Part B's setup)", start_b="# Part B")
    nb.cells.insert(1, code("# Part B setup, given"))
    assert locate(nb, part("# Part A", "# Part B"), PARTS).cell_indices == [2, 3]


def test_a_part_moved_below_the_next_one_runs_to_the_sections_end():
    nb = two_parts()
    nb.cells[1:4] = [nb.cells[3], nb.cells[1], nb.cells[2]]  # part B, then part A
    assert locate(nb, part("# Part A", "# Part B"), PARTS).cell_indices == [2, 3, 4]
    assert locate(nb, part("# Part B"), PARTS).cell_indices == [1, 2, 3, 4]


def test_both_parts_written_in_one_cell_make_that_cell_the_part():
    nb = two_parts()
    nb.cells[1:4] = [code("# Part A\nanswer = 42\n# Part B\nratio = 1 / 0")]
    assert locate(nb, part("# Part A", "# Part B"), PARTS).cell_indices == [1]
    assert locate(nb, part("# Part B"), PARTS).cell_indices == [1, 2]


def test_a_cell_id_that_is_found_is_the_answer_whatever_the_markers():
    nb = two_parts()
    nb.cells[3]["id"] = "part-b"
    locator = Locator(section="Question 1", cell_id="part-b", marker="# Part A", until="# Part B")
    assert locate(nb, locator, PARTS).cell_indices == [3]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"section": "Question 1", "until": "# Part B"}, "give section and marker too"),
        ({"cell_id": "c1", "marker": "# Part A", "until": "# Part B"}, "give section and marker"),
        ({"section": "Question 1", "marker": "# Part A", "until": " "}, "until must hold text"),
    ],
)
def test_until_without_a_part_to_end_is_refused_at_load_time(fields, message):
    with pytest.raises(ValueError, match=message):
        Locator(**fields)
