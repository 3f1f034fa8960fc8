"""Finding a question's answer cells by heading path, cell id or marker, however the notebook was
edited.

Notebooks are attacker data read by the trusted worker, so headings are found by single passes with
string methods (no backtracking regular expressions) and only the start of a long heading's text is
kept.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import nbformat

from grader.engine.rubric import Locator

# Titles are compared with the template's, which are a few words: text past this never decides a
# match.
MAX_TITLE_CHARS = 300
_FENCES = ("```", "~~~")
_KEEP_MARKERS = "keep the assignment's markers when you edit it"


def normalize_title(text: str) -> str:
    """Lower-case words only: emoji, punctuation, markup and spacing do not matter."""
    text = _without_tags(text)
    kept = [
        ch if unicodedata.category(ch)[0] in "LN" else " "
        for ch in unicodedata.normalize("NFKD", text)
    ]
    return " ".join("".join(kept).lower().split())


@dataclass(frozen=True)
class Heading:
    cell_index: int
    level: int
    title: str

    @cached_property
    def key(self) -> str:
        return normalize_title(self.title)


@dataclass
class Location:
    """The cells that hold one question's answer, or why none were found."""

    cell_indices: list[int] = field(default_factory=list)
    reason: str | None = None

    @property
    def found(self) -> bool:
        return self.reason is None


def headings(notebook: nbformat.NotebookNode) -> list[Heading]:
    """Every heading in the notebook's markdown cells, in order."""
    markdown = tuple(
        (index, cell.source)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown"
    )
    return list(_headings_in(markdown))


@lru_cache(maxsize=2)
def _headings_in(markdown: tuple[tuple[int, str], ...]) -> tuple[Heading, ...]:
    # Every question locates its answer in the same notebook: read its headings once.
    found = []
    for index, source in markdown:
        in_fence = False
        for line in source.splitlines():
            if line.lstrip().startswith(_FENCES):
                in_fence = not in_fence  # a `# comment` pasted inside a code block is not a heading
                continue
            heading = None if in_fence else markdown_heading(line)
            if heading:
                found.append(Heading(index, heading[0], heading[1][:MAX_TITLE_CHARS]))
        found += [
            Heading(index, level, title[:MAX_TITLE_CHARS]) for level, title in html_headings(source)
        ]
    return tuple(found)


def markdown_heading(line: str) -> tuple[int, str] | None:
    """The level and title of an ATX heading line (`## Title ##`), or None.

    The same reading as the pattern `^\\s{0,3}(#{1,6})\\s+(.+?)\\s*#*\\s*$`, in one pass: that
    pattern backtracks cubically on a heading full of spaces.
    """
    text = line.lstrip()
    indent = len(line) - len(text)
    level = len(text) - len(text.lstrip("#"))
    if indent > 3 or not 1 <= level <= 6 or not text[level : level + 1].isspace():
        return None
    rest = text[level:]
    title_start = len(rest) - len(rest.lstrip())
    if title_start == len(rest):
        # Only spaces after the hashes: the pattern takes one of them as the title, if two or more
        # are there.
        return (level, rest[-1]) if len(rest) >= 2 else None
    # The closing sequence is spaces, then hashes, then spaces; the title keeps at least one
    # character.
    closing = len(rest.rstrip().rstrip("#").rstrip())
    return level, rest[title_start : max(title_start + 1, closing)]


def html_headings(source: str) -> list[tuple[int, str]]:
    """Levels and inner text of `<hN ...>...</hN>` elements, as `re.finditer` found them, in linear
    time."""
    lowered = source.replace(
        "H", "h"
    )  # the tags are case-insensitive; same length, so the positions hold
    tag_ends = _ForwardFinder(lowered, ">")
    closings = {level: _ForwardFinder(lowered, f"</h{level}>") for level in range(1, 7)}
    found = []
    position = lowered.find("<h")
    while position != -1:
        level = lowered[position + 2 : position + 3]
        tag_end = tag_ends.find(position + 3) if level in ("1", "2", "3", "4", "5", "6") else -1
        close = closings[int(level)].find(tag_end + 1) if tag_end != -1 else -1
        if close == -1:
            position = lowered.find("<h", position + 1)
            continue
        found.append((int(level), source[tag_end + 1 : close]))
        position = lowered.find("<h", close + len("</hN>"))
    return found


class _ForwardFinder:
    """`text.find(needle, start)` for starts that never decrease: each stretch of text is searched
    once."""

    def __init__(self, text: str, needle: str):
        self.text, self.needle, self.found = text, needle, -2

    def find(self, start: int) -> int:
        if self.found == -2 or -1 < self.found < start:
            self.found = self.text.find(self.needle, start)
        return self.found


def _without_tags(text: str) -> str:
    """`text` with each `<...>` tag replaced by a space (what `re.sub(r"<[^>]+>", " ", text)`
    gives)."""
    parts, start = [], 0
    opening = text.find("<")
    while opening != -1:
        closing = text.find(">", opening + 1)
        if closing == -1:
            break
        if closing > opening + 1:  # `<>` is not a tag
            parts += [text[start:opening], " "]
            start = closing + 1
        opening = text.find("<", closing + 1)
    parts.append(text[start:])
    return "".join(parts)


def locate(
    notebook: nbformat.NotebookNode, locator: Locator, boundaries: Iterable[str] = ()
) -> Location:
    """The cells answering `locator` in `notebook`.

    `boundaries` are the normalised headings of the template: one of them always ends a section,
    even if the student changed its level, while headings the student added only end a section
    when they are at the same or a higher level.
    """
    if locator.cell_id:
        for index, cell in enumerate(notebook.cells):
            if cell.get("id") == locator.cell_id:
                return Location(cell_indices=[index])  # the one cell: no part to cut out of it
    if not locator.section:  # a locator without a section has a cell id (see Locator)
        return Location(reason=f"no cell has the id {locator.cell_id!r}")
    indices, reason = _section_cells(notebook, locator.section, set(boundaries))
    if reason:
        return Location(reason=reason)
    return _part(notebook, indices, locator)


def _section_cells(
    notebook: nbformat.NotebookNode, section: str, boundaries: set[str]
) -> tuple[list[int], str | None]:
    wanted = [normalize_title(part) for part in section.split("/") if part.strip()]
    all_headings = headings(notebook)
    position = 0
    match: Heading | None = None
    for step, title in enumerate(wanted):
        remaining = all_headings[position:]
        match = next((h for h in remaining if h.key == title), None) or next(
            (h for h in remaining if h.key.startswith(title + " ")), None
        )
        if match is None:
            where = " / ".join(part.strip() for part in section.split("/")[: step + 1])
            return (
                [],
                f"no heading '{where}' was found; keep the assignment's headings when you edit it",
            )
        position = all_headings.index(match) + 1
    if match is None:
        return [], f"the section '{section}' names no heading"
    end = len(notebook.cells)
    for heading in all_headings[position:]:
        if heading.cell_index == match.cell_index:
            continue
        if heading.level <= match.level or heading.key in boundaries:
            end = heading.cell_index
            break
    # The heading's own cell counts when it holds more than the heading (an answer typed below it).
    start = (
        match.cell_index
        if _has_text_below_heading(notebook.cells[match.cell_index])
        else match.cell_index + 1
    )
    return list(range(start, end)), None


def _has_text_below_heading(cell: nbformat.NotebookNode) -> bool:
    lines = [line for line in cell.source.splitlines() if line.strip()]
    return any(markdown_heading(line) is None for line in lines)


def _part(notebook: nbformat.NotebookNode, indices: list[int], locator: Locator) -> Location:
    """The cells of the section from the one holding `marker` up to, not including, the next one
    holding `until`: one part of a section that asks several things."""
    marker, until, section = locator.marker, locator.until, locator.section
    if not marker:
        return Location(cell_indices=indices)
    cells = notebook.cells
    first = next((n for n, i in enumerate(indices) if marker in cells[i].source), None)
    if first is None:
        if until is None:  # a lone marker only trims the prompt: without it, the whole section
            return Location(cell_indices=indices)
        # The section's start would take in the parts before this one, and their errors.
        return Location(
            reason=f"the text {marker!r} that starts this part is not under '{section}'; "
            f"{_KEEP_MARKERS}"
        )
    part = indices[first:]
    if until is None:
        return Location(cell_indices=part)
    opening = cells[part[0]].source
    if opening.find(until, opening.index(marker) + len(marker)) != -1:
        return Location(cell_indices=part[:1])  # the student wrote both parts in one cell
    end = next((n for n, i in enumerate(part[1:], start=1) if until in cells[i].source), None)
    if end is None and any(until in cells[i].source for i in indices[:first]):
        return Location(cell_indices=part)  # the student moved this part below the next one
    if end is None:
        return Location(
            reason=f"the text {until!r} that ends this part is not under '{section}' after "
            f"{marker!r}; {_KEEP_MARKERS}"
        )
    return Location(cell_indices=part[:end])
