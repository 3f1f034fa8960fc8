"""How the `value` check compares an exported answer with the expected value.

Each comparison returns None when they match, or the first difference in words for the student.
Both sides are JSON data: the answer is attacker data, so everything here runs in time linear
(or n log n when sorting) in its size, whatever its shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Tolerance:
    absolute: float = 0.0
    relative: float = 0.0


@dataclass(frozen=True)
class Difference:
    """Where the answer first differs (`item 3`, `row 2, \\`F\\``; empty: the whole value) and
    how."""

    where: str
    how: str


def close_difference(
    actual: Any, expected: Any, tolerance: Tolerance, ordered: bool = True
) -> Difference | None:
    """Numbers within tolerance, at any depth; lists item by item (as multisets unless `ordered`),
    mappings key by key."""
    if not isinstance(expected, list) or not isinstance(actual, list) or ordered:
        return _difference(actual, expected, tolerance, "")
    return _items_difference(_sorted(actual), _sorted(expected), tolerance, "item", " (sorted)")


def set_difference(actual: Any, expected: list[Any], tolerance: Tolerance) -> Difference | None:
    """The distinct items, compared in sorted order; order and repeats do not count."""
    if not isinstance(actual, list):
        return Difference("", f"is {short(actual)}, not a collection of items")
    return _items_difference(
        _distinct(actual), _distinct(expected), tolerance, "item", " (sorted, without repeats)"
    )


def records_difference(
    actual: dict[str, list[Any]],
    expected: list[dict[str, Any]],
    tolerance: Tolerance,
    ordered: bool,
) -> Difference | None:
    """A table (column name -> values) read row by row against the expected rows (in any order
    unless `ordered`)."""
    rows = [dict(zip(actual, values)) for values in zip(*actual.values())]
    if ordered:
        return _items_difference(rows, expected, tolerance, "row", "")
    return _items_difference(_sorted(rows), _sorted(expected), tolerance, "row", " (sorted)")


def column_difference(
    actual: dict[str, list[Any]],
    expected: dict[str, list[Any]],
    tolerance: Tolerance,
    ordered: bool,
) -> Difference | None:
    """Each expected column against the answer's column of that name (each a multiset unless
    `ordered`)."""
    for column, values in expected.items():
        got = actual[column]
        if not ordered:
            got, values = _sorted(got), _sorted(values)
        suffix = "" if ordered else " (sorted)"
        found = _items_difference(got, values, tolerance, "row", suffix)
        if found is not None:
            where = f"column `{column}`" + (f", {found.where}" if found.where else "")
            return Difference(where, found.how)
    return None


def short(value: Any) -> str:
    """A value as a student reads it, cut to one line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _difference(actual: Any, expected: Any, tolerance: Tolerance, where: str) -> Difference | None:
    for container, noun in ((list, "a list"), (dict, "a mapping")):
        if isinstance(expected, container) != isinstance(actual, container):
            wanted = noun if isinstance(expected, container) else "a single value"
            return Difference(where, f"is {short(actual)}, expected {wanted}")
    if isinstance(expected, list) and isinstance(actual, list):
        return _items_difference(actual, expected, tolerance, "item", "", where)
    if isinstance(expected, dict) and isinstance(actual, dict):
        if actual.keys() != expected.keys():
            missing = sorted(expected.keys() - actual.keys())
            extra = sorted(actual.keys() - expected.keys())
            how = f"has no key `{missing[0]}`" if missing else f"has an extra key `{extra[0]}`"
            return Difference(where, how)
        for key in expected:
            found = _difference(actual[key], expected[key], tolerance, f"{where} `{key}`".strip())
            if found is not None:
                return found
        return None
    if _same_scalar(actual, expected, tolerance):
        return None
    # The expected value itself is never shown: resubmitting must not reveal the answer item by
    # item.
    return Difference(where, f"is {short(actual)}, not the expected value")


def _items_difference(
    actual: list[Any],
    expected: list[Any],
    tolerance: Tolerance,
    noun: str,
    suffix: str,
    where: str = "",
) -> Difference | None:
    if len(actual) != len(expected):
        return Difference(where, f"has {len(actual)} {noun}s, expected {len(expected)}")
    for number, (got, wanted) in enumerate(zip(actual, expected), start=1):
        found = _difference(got, wanted, tolerance, f"{where} {noun} {number}{suffix}".strip())
        if found is not None:
            return found
    return None


def _same_scalar(actual: Any, expected: Any, tolerance: Tolerance) -> bool:
    # Python counts True as 1, but an answer of True is not the number 1.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(
            actual, expected, rel_tol=tolerance.relative, abs_tol=tolerance.absolute
        )
    return bool(actual == expected)


def _sorted(items: list[Any]) -> list[Any]:
    return sorted(items, key=_order)


def _distinct(items: list[Any]) -> list[Any]:
    keyed = sorted(((_order(item), item) for item in items), key=lambda pair: pair[0])
    return [item for n, (key, item) in enumerate(keyed) if n == 0 or key != keyed[n - 1][0]]


def _order(value: Any) -> tuple[Any, ...]:
    """A total order over JSON values (None, booleans, numbers, text, lists, mappings), so lists of
    mixed items sort; numbers sort by value, so sorted items pair up within a tolerance."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, list):
        return (4, tuple(_order(item) for item in value))
    if isinstance(value, dict):
        return (5, tuple(sorted((str(key), _order(item)) for key, item in value.items())))
    return (6, repr(value))
