"""Dashboard pictures: a histogram of totals and a pass-rate bar per question,
with the numbers behind them."""

from __future__ import annotations

import base64
import math
import statistics
from dataclasses import dataclass

import altair as alt
import vl_convert

BAR = "#2156a5"
MOST_BINS = 10


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    students: int

    @property
    def label(self) -> str:
        return f"{self.low:g}–{self.high:g}"


@dataclass(frozen=True)
class PassRate:
    key: str
    title: str
    full_marks: int
    graded: int

    @property
    def percent(self) -> float:
        return round(100 * self.full_marks / self.graded, 1) if self.graded else 0.0


def histogram(totals: list[float], points: float) -> list[Bin]:
    """Equal bins from 0 to the assignment's points; the last bin includes full marks."""
    count = max(1, min(MOST_BINS, math.ceil(points)))
    width = (points or 1) / count
    students = [0] * count
    for total in totals:
        students[min(count - 1, max(0, int(total // width)))] += 1
    return [Bin(round(i * width, 3), round((i + 1) * width, 3), n) for i, n in enumerate(students)]


def histogram_alt(totals: list[float], points: float) -> str:
    if not totals:
        return "Histogram of total scores: no graded submissions yet."
    return (
        f"Histogram of total scores after late penalty for {len(totals)} graded student"
        f"{'s' if len(totals) != 1 else ''}, out of {points:g} points: "
        f"median {statistics.median(totals):g}, "
        f"lowest {min(totals):g}, highest {max(totals):g}."
    )


def pass_rate_alt(rates: list[PassRate]) -> str:
    graded = [rate for rate in rates if rate.graded]
    if not graded:
        return "Pass rate per question: no graded submissions yet."
    # min and max keep the first of equals, so ties name the earlier question.
    lowest = min(graded, key=lambda rate: rate.percent)
    highest = max(graded, key=lambda rate: rate.percent)
    return (
        f"Share of students with full marks on each of {len(graded)} questions: lowest "
        f"{lowest.title} ({lowest.percent:g}%), highest {highest.title} ({highest.percent:g}%)."
    )


def histogram_svg(bins: list[Bin], points: float) -> str:
    values = [{"low": b.low, "high": b.high, "students": b.students} for b in bins]
    # Whole students only on the y axis, with at most about five ticks.
    top = max([b.students for b in bins] + [1])
    step = math.ceil(top / 5)
    ticks = list(range(0, top + step, step))
    chart = (
        alt.Chart(alt.Data(values=values))
        .mark_bar(color=BAR, stroke="white")
        .encode(
            x=alt.X(
                "low:Q",
                bin="binned",
                title="Total score after late penalty",
                scale=alt.Scale(domain=[0, points or 1]),
            ),
            x2="high:Q",
            y=alt.Y(
                "students:Q",
                title="Students",
                scale=alt.Scale(domain=[0, ticks[-1]]),
                axis=alt.Axis(values=ticks, format="d"),
            ),
        )
        .properties(width=380, height=200)
    )
    return vl_convert.vegalite_to_svg(chart.to_json())


def pass_rate_svg(rates: list[PassRate]) -> str:
    # Keys, not titles: they are short, and the grid's columns carry the same names.
    values = [{"key": rate.key, "percent": rate.percent} for rate in rates]
    chart = (
        alt.Chart(alt.Data(values=values))
        .mark_bar()
        .encode(
            x=alt.X(
                "percent:Q", title="Students with full marks (%)", scale=alt.Scale(domain=[0, 100])
            ),
            y=alt.Y("key:N", sort=None, title=None),
            # Questions most students miss stand out in red.
            color=alt.condition(alt.datum.percent < 50, alt.value("#b42318"), alt.value("#1f7a3a")),
        )
        .properties(width=260, height=alt.Step(22))
    )
    return vl_convert.vegalite_to_svg(chart.to_json())


def data_url(svg: str) -> str:
    """The picture as a `data:` URL, so the page that shows it carries it and needs no second
    request."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
