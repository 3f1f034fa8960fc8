"""The `value` check's comparisons and options, on plain JSON data (no kernel)."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from pydantic import ValidationError

from grader.engine.checks.compare import (
    Difference,
    Tolerance,
    close_difference,
    column_difference,
    records_difference,
    set_difference,
)
from grader.engine.checks.value import ValueParams
from grader.runtime import KERNEL_PACKAGE_DIR

sys.path.insert(0, str(KERNEL_PACKAGE_DIR.parent))
from grader_kernel import extract

LOOSE = Tolerance(absolute=0.01)


@pytest.mark.parametrize(
    "actual, expected",
    [
        (3, 3.0),
        (0.301, 0.3),
        ([1, 2.004, "a"], [1, 2, "a"]),
        ({"red": 0.521, "blue": 0.48}, {"red": 0.52, "blue": 0.48}),
        (None, None),
    ],
)
def test_close_values_match_within_the_tolerance(actual, expected):
    assert close_difference(actual, expected, LOOSE) is None


@pytest.mark.parametrize(
    "actual, expected, difference",
    [
        (True, 1, Difference("", "is True, not the expected value")),
        ([1, 2], [1, 2, 3], Difference("", "has 2 items, expected 3")),
        ([1, 5, 3], [1, 2, 3], Difference("item 2", "is 5, not the expected value")),
        ({"red": 0.6}, {"red": 0.5}, Difference("`red`", "is 0.6, not the expected value")),
        ({"red": 0.5}, {"blue": 0.5}, Difference("", "has no key `blue`")),
        (5, [5], Difference("", "is 5, expected a list")),
        ([[1, 2], [3]], [[1, 2], [4]], Difference("item 2 item 1", "is 3, not the expected value")),
    ],
)
def test_close_values_name_their_first_difference(actual, expected, difference):
    assert close_difference(actual, expected, LOOSE) == difference


def test_relative_tolerance_scales_with_the_value():
    relative = Tolerance(relative=0.01)
    assert close_difference(1005.0, 1000, relative) is None
    assert close_difference(1.05, 1, relative) == Difference("", "is 1.05, not the expected value")


def test_unordered_lists_are_compared_sorted():
    assert close_difference([3, "b", 1.001, None], [None, 1, 3, "b"], LOOSE, ordered=False) is None
    assert close_difference([3, 1], [1, 2], LOOSE, ordered=False) == Difference(
        "item 2 (sorted)", "is 3, not the expected value"
    )


def test_sets_ignore_order_and_repeats():
    assert set_difference(["b", "a", "b", 2.0], ["a", "b", 2], LOOSE) is None
    assert set_difference(["a", "c"], ["a", "b"], LOOSE) == Difference(
        "item 2 (sorted, without repeats)", "is 'c', not the expected value"
    )
    assert set_difference("ab", ["a", "b"], LOOSE) == Difference(
        "", "is 'ab', not a collection of items"
    )


TABLE = {"class": ["red", "blue", "red"], "F": [98.6, 212.0, 37.0]}


def test_records_compare_rows_in_order_or_as_a_multiset():
    rows = [{"class": c, "F": f} for c, f in zip(TABLE["class"], TABLE["F"])]
    assert records_difference(TABLE, rows, LOOSE, ordered=True) is None
    assert records_difference(TABLE, rows[::-1], LOOSE, ordered=False) is None
    assert records_difference(TABLE, rows[::-1], LOOSE, ordered=True) == Difference(
        "row 1 `F`", "is 98.6, not the expected value"
    )
    assert records_difference(TABLE, rows[:2], LOOSE, ordered=False) == Difference(
        "", "has 3 rows, expected 2"
    )


def test_columns_compare_each_column_on_its_own():
    expected = {"F": [98.6, 212.0, 98.6]}
    assert column_difference(TABLE, expected, LOOSE, ordered=True) == Difference(
        "column `F`, row 3", "is 37.0, not the expected value"
    )
    assert column_difference(TABLE, {"F": [37.0, 98.6, 212.0]}, LOOSE, ordered=False) is None
    assert column_difference(TABLE, {"class": ["red"]}, LOOSE, ordered=True) == Difference(
        "column `class`", "has 3 rows, expected 1"
    )


def test_params_derive_the_exported_columns_from_the_expected_table():
    column = ValueParams(name="df", expected={"F": [1.0]}, compare="column")
    records = ValueParams(expression="df.head()", expected=[{"a": 1, "b": 2}], compare="records")
    assert (column.columns, records.columns) == (["F"], ["a", "b"])
    assert ValueParams(name="x", expected=1).columns is None
    assert ValueParams(name="x", expected=1).tolerances == Tolerance(1e-6)
    assert ValueParams(name="x", expected=1, compare="exact").tolerances == Tolerance()


@pytest.mark.parametrize(
    "params, problem",
    [
        ({"expected": 1}, "exactly one of name"),
        ({"name": "x", "expression": "len(x)", "expected": 1}, "exactly one of name"),
        ({"expression": "len(x", "expected": 1}, "not a Python expression"),
        ({"expression": "x = 1", "expected": 1}, "not a Python expression"),
        ({"name": "x", "expected": 1, "compare": "exact", "tolerance": 0.1}, "no tolerance"),
        ({"name": "x", "expected": 1, "compare": "set"}, "list of the items"),
        ({"name": "x", "expected": [1], "compare": "set", "ordered": False}, "unordered"),
        ({"name": "x", "expected": [{"a": 1}, {"b": 1}], "compare": "records"}, "same columns"),
        ({"name": "x", "expected": {"F": 1}, "compare": "column"}, "column names to lists"),
        ({"name": "x", "expected": 1, "compare": "rows"}, "Input should be"),
        ({"name": "x", "expected": 1, "tolerance": -1}, "greater than or equal to 0"),
    ],
)
def test_params_refuse_what_cannot_be_checked(params, problem):
    with pytest.raises(ValidationError, match=problem):
        ValueParams.model_validate(params)


def test_the_kernel_exports_only_the_asked_columns_whatever_the_table_shape():
    frame = pd.DataFrame(
        {"class": ["red", "blue"], "F": [98.6, 37.0], "notes": ["x", "y"]}, index=[5, 9]
    )
    only_f = {"F": [98.6, 37.0]}
    assert extract._table_columns(frame, ["F"], "`df`") == only_f
    assert extract._table_columns(frame["F"].rename("other"), ["F"], "`s`") == only_f
    assert extract._table_columns([98.6, 37.0], ["F"], "`xs`") == only_f
    assert extract._table_columns([{"F": 98.6}, {"F": 37.0}], ["F"], "`rows`") == only_f
    means = frame.groupby("class")["F"].mean()
    assert extract._table_columns(means, ["F", "class"], "`means`") == {
        "F": [37.0, 98.6],
        "class": ["blue", "red"],
    }
    with pytest.raises(
        LookupError, match=r"`df` has no column `C` \(its columns: class, F, notes\)"
    ):
        extract._table_columns(frame, ["C"], "`df`")
