"""Finding a question's answer cells by heading path, cell id or marker, however the notebook was edited."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Optional

import nbformat

from grader.engine.rubric import Locator

_MARKDOWN_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_HTML_HEADING = re.compile(r"<h([1-6])[^>]*>(.*?)</h\1>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def normalize_title(text: str) -> str:
    """Lower-case words only: emoji, punctuation, markup and spacing do not matter."""
    text = _TAGS.sub(" ", text)
    kept = [ch if unicodedata.category(ch)[0] in "LN" else " " for ch in unicodedata.normalize("NFKD", text)]
    return " ".join("".join(kept).lower().split())


@dataclass(frozen=True)
class Heading:
    cell_index: int
    level: int
    title: str

    @property
    def key(self) -> str:
        return normalize_title(self.title)


@dataclass
class Location:
    """The cells that hold one question's answer, or why none were found."""

    cell_indices: list[int] = field(default_factory=list)
    reason: Optional[str] = None

    @property
    def found(self) -> bool:
        return self.reason is None


def headings(notebook: nbformat.NotebookNode) -> list[Heading]:
    """Every heading in the notebook's markdown cells, in order."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        in_fence = False
        for line in cell.source.splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                in_fence = not in_fence  # a `# comment` pasted inside a code block is not a heading
                continue
            match = None if in_fence else _MARKDOWN_HEADING.match(line)
            if match:
                found.append(Heading(index, len(match.group(1)), match.group(2)))
        for match in _HTML_HEADING.finditer(cell.source):
            found.append(Heading(index, int(match.group(1)), match.group(2)))
    return found


def locate(notebook: nbformat.NotebookNode, locator: Locator, boundaries: Iterable[str] = ()) -> Location:
    """The cells answering `locator` in `notebook`.

    `boundaries` are the normalised headings of the template: one of them always ends a section,
    even if the student changed its level, while headings the student added only end a section
    when they are at the same or a higher level.
    """
    if locator.cell_id:
        for index, cell in enumerate(notebook.cells):
            if cell.get("id") == locator.cell_id:
                return _from_marker(notebook, [index], locator.marker)
        if not locator.section:
            return Location(reason=f"no cell has the id {locator.cell_id!r}")
    indices, reason = _section_cells(notebook, locator.section, set(boundaries))
    return _from_marker(notebook, indices, locator.marker, reason)


def _section_cells(notebook, section: str, boundaries: set[str]) -> tuple[list[int], Optional[str]]:
    wanted = [normalize_title(part) for part in section.split("/") if part.strip()]
    all_headings = headings(notebook)
    position = 0
    match: Optional[Heading] = None
    for step, title in enumerate(wanted):
        remaining = all_headings[position:]
        match = (next((h for h in remaining if h.key == title), None)
                 or next((h for h in remaining if h.key.startswith(title + " ")), None))
        if match is None:
            where = " / ".join(part.strip() for part in section.split("/")[: step + 1])
            return [], f"no heading '{where}' was found; keep the assignment's headings when you edit it"
        position = all_headings.index(match) + 1
    end = len(notebook.cells)
    for heading in all_headings[position:]:
        if heading.cell_index == match.cell_index:
            continue
        if heading.level <= match.level or heading.key in boundaries:
            end = heading.cell_index
            break
    # The heading's own cell counts when it holds more than the heading (an answer typed below it).
    start = match.cell_index if _has_text_below_heading(notebook.cells[match.cell_index]) else match.cell_index + 1
    return list(range(start, end)), None


def _has_text_below_heading(cell) -> bool:
    lines = [line for line in cell.source.splitlines() if line.strip()]
    return any(not _MARKDOWN_HEADING.match(line) for line in lines)


def _from_marker(notebook, indices: list[int], marker: Optional[str], reason: Optional[str] = None) -> Location:
    if reason:
        return Location(reason=reason)
    if marker:
        first = next((i for i in indices if marker in notebook.cells[i].source), None)
        if first is not None:
            indices = [i for i in indices if i >= first]
    return Location(cell_indices=indices)
