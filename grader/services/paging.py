"""Long lists a page at a time: which page to show, how many there are, and what is on it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from grader.extensions import db

PAGE_SIZE = 50

Item = TypeVar("Item")


@dataclass(frozen=True)
class Page(Generic[Item]):
    items: list[Item]
    # 1 for the first page.
    number: int
    pages: int
    # Items on every page together.
    total: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(requested: int | None, total: int, size: int = PAGE_SIZE) -> int:
    """A page that exists: none or below 1 gives the first page, past the end the last one.

    A list shrinks while people page through it (a graded answer leaves the queue), so an old link
    to the last page still shows the end of the list instead of an error.
    """
    return min(max(requested or 1, 1), _pages(total, size))


def page_of(items: Sequence[Item], requested: int | None, size: int = PAGE_SIZE) -> Page[Item]:
    """One page of a list already in memory."""
    number = page_number(requested, len(items), size)
    start = (number - 1) * size
    return Page(list(items[start : start + size]), number, _pages(len(items), size), len(items))


def page_of_query(query: Select[Any], requested: int | None, size: int = PAGE_SIZE) -> Page[Any]:
    """One page of an ordered query's first column, in two statements: a count, then the page."""
    total = (
        db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    )
    number = page_number(requested, total, size)
    items = db.session.scalars(query.limit(size).offset((number - 1) * size)).all()
    return Page(list(items), number, _pages(total, size), total)


def _pages(total: int, size: int) -> int:
    # An empty list still has a first page, which says that it is empty.
    return max(1, math.ceil(total / size))
