"""Long lists a page at a time: the dashboard grid, the free-response queue and a student's uploads.

A page holds 50; a page number past either end shows the nearest page that exists.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import signed_in

from web.test_staff_pages import emails, soup
from web.test_staff_query_counts import STUDENT, TA, seed_class

# Students in the class, each with a free-response answer; the demo student makes one more of each.
CLASS = 55


def page_nav(page) -> tuple[str, dict[str, str]]:
    """A list's "Page k of n" and its previous and next links, by `rel`."""
    nav = page.select_one("nav.pagination")
    return nav.select_one(".page-number").text, {
        link["rel"][0]: link["href"] for link in nav.select("a")
    }


def query_of(href: str) -> dict[str, str]:
    return {name: value for name, [value] in parse_qs(urlsplit(href).query).items()}


@pytest.fixture
def lab6(app) -> int:
    return seed_class(app, CLASS)


def test_the_dashboard_grid_pages_keep_the_filters_and_sorting(app, lab6):
    ta = signed_in(app, TA)
    url = f"/assignments/{lab6}/dashboard"
    first = soup(ta.get(f"{url}?status=graded&sort=total&dir=desc"))
    assert len(emails(first)) == 50 and first.find(id="shown").get_text().startswith(
        "Showing 56 of 56"
    )
    label, links = page_nav(first)
    assert label == "Page 1 of 2" and list(links) == ["next"]
    assert urlsplit(links["next"]).path == url and urlsplit(links["next"]).fragment == "grid"
    assert query_of(links["next"]) == {
        "status": "graded",
        "sort": "total",
        "dir": "desc",
        "page": "2",
    }

    second = soup(ta.get(links["next"]))
    label, links = page_nav(second)
    assert label == "Page 2 of 2" and query_of(links["prev"])["page"] == "1" and "next" not in links
    assert len(set(emails(first) + emails(second))) == 56
    # Totals run down across the pages: 11.5 for the students a TA scored, then 10.
    totals = [
        row.select_one("td.total").get_text(" ", strip=True)
        for row in second.select("#grid tbody tr")
    ]
    assert set(totals) == {"10 /12"}
    # Sorting again starts at the first page.
    assert all("page" not in query_of(th.a["href"]) for th in second.select("#grid thead th"))


@pytest.mark.parametrize(
    "asked, shown",
    [("99", "Page 2 of 2"), ("0", "Page 1 of 2"), ("-3", "Page 1 of 2"), ("x", "Page 1 of 2")],
)
def test_a_page_number_past_either_end_shows_the_nearest_page(app, lab6, asked, shown):
    response = signed_in(app, TA).get(f"/assignments/{lab6}/dashboard?page={asked}")
    assert response.status_code == 200 and page_nav(soup(response))[0] == shown


def test_a_short_list_has_no_page_links(app, lab6):
    page = soup(signed_in(app, TA).get(f"/assignments/{lab6}/dashboard?min=11"))
    assert len(emails(page)) == 27 and not page.select("nav.pagination")


def test_the_free_response_queue_lists_its_answers_a_page_at_a_time(app, lab6):
    ta = signed_in(app, TA)
    url = f"/assignments/{lab6}/grading"
    first = soup(ta.get(f"{url}?question=explain"))
    assert len(first.select("#queue-list tbody tr")) == 50
    skip = first.find("a", string="Skip")["href"]
    skipped = soup(ta.get(skip))
    shown = skipped.select_one("#answer .meta").get_text(" ", strip=True)
    label, links = page_nav(skipped)
    assert label == "Page 1 of 2" and urlsplit(links["next"]).fragment == "queue-list"
    # The next page keeps the question and the answer being graded.
    assert query_of(links["next"]) == {**query_of(skip), "page": "2"}
    second = soup(ta.get(links["next"]))
    assert second.select_one("#answer .meta").get_text(" ", strip=True) == shown
    rows = second.select("#queue-list tbody tr")
    assert len(rows) == 6 and page_nav(second)[0] == "Page 2 of 2"
    # 27 of the 56 answers were scored by a TA; the rest wait, first come first.
    states = [
        row.find_all("td")[-1].get_text(strip=True) for row in first.select("#queue-list tbody tr")
    ]
    states += [row.find_all("td")[-1].get_text(strip=True) for row in rows]
    assert states.count("scored by a TA") == 27 and states.count("to grade") == 29


def test_a_students_uploads_are_listed_newest_first_a_page_at_a_time(app, lab6):
    student = signed_in(app, STUDENT)
    first = soup(student.get("/"))
    newest = [int(row.td.get_text(strip=True)) for row in first.select("#history tbody tr")]
    assert len(newest) == 50 and newest == sorted(newest, reverse=True)
    label, links = page_nav(first)
    assert label == "Page 1 of 2" and links == {"next": "/?page=2#history"}
    second = soup(student.get(links["next"]))
    oldest = [int(row.td.get_text(strip=True)) for row in second.select("#history tbody tr")]
    assert len(oldest) == 5 and max(oldest) < min(newest)
    assert page_nav(second) == ("Page 2 of 2", {"prev": "/?page=1#history"})
    assert page_nav(soup(student.get("/?page=7")))[0] == "Page 2 of 2"
