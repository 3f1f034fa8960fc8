"""Which page of a list to show: pages of 50; a page number past either end gives the nearest."""

from __future__ import annotations

import pytest

from grader.services.paging import Page, page_of


@pytest.mark.parametrize(
    "asked, number, first_item",
    [(None, 1, 0), (1, 1, 0), (2, 2, 50), (3, 3, 100), (4, 3, 100), (0, 1, 0), (-2, 1, 0)],
)
def test_a_page_past_either_end_is_the_nearest_page(asked, number, first_item):
    page = page_of(list(range(101)), asked)
    assert (page.number, page.pages, page.total, page.items[0]) == (number, 3, 101, first_item)
    assert page.has_previous == (number > 1) and page.has_next == (number < 3)


def test_the_last_page_holds_what_is_left_and_an_empty_list_has_one_page():
    assert page_of(list(range(101)), 3).items == [100]
    assert page_of([], 5) == Page(items=[], number=1, pages=1, total=0)
    assert page_of(list("abcde"), 2, size=2).items == ["c", "d"]
