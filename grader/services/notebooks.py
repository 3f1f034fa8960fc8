"""Parsing and validating uploaded notebooks before anything is stored."""

from __future__ import annotations

import json
import warnings

import nbformat
from nbformat.v4.rwbase import rejoin_lines
from nbformat.validator import ValidationError, normalize
from nbformat.warnings import MissingIDFieldWarning

from grader.services.errors import NotebookRejected, NotebookTooLarge

# What the worker reads of a notebook costs time in proportion to its sources, so they are capped
# where no honest notebook comes near (the Lab 6 solution has 97 cells, none over 800 characters, no
# line over 120). Outputs are not capped here: they are cleared before grading.
MAX_CELLS = 10_000
MAX_CELL_SOURCE_CHARS = 1_000_000
MAX_LINE_CHARS = 100_000


def human_size(n_bytes: float) -> str:
    """Bytes in the unit a person would use: '2.0 kB', '20.0 MB'."""
    for unit in ("B", "kB", "MB"):
        if n_bytes < 1000:
            return f"{n_bytes:.1f} {unit}" if unit != "B" else f"{int(n_bytes)} B"
        n_bytes /= 1000
    return f"{n_bytes:.1f} GB"


def parse_notebook(data: bytes, max_bytes: int) -> nbformat.NotebookNode:
    """Return the notebook in `data`, or raise NotebookRejected saying what is wrong with it."""
    if len(data) > max_bytes:
        raise NotebookTooLarge(
            f"The file is {human_size(len(data))}; the limit is {human_size(max_bytes)}. "
            "Clear large outputs (Edit → Clear all outputs) and upload again."
        )
    if not data.strip():
        raise NotebookRejected(
            "The file is empty. Upload the .ipynb file saved from Jupyter or Colab."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotebookRejected(
            "The file is not text. A notebook is a JSON text file ending in .ipynb; "
            "did you upload a PDF, an image or a zip by mistake?"
        ) from None
    try:
        content = json.loads(text)
    except RecursionError:
        raise NotebookRejected("The file's JSON is nested too deeply to be a notebook.") from None
    except json.JSONDecodeError as exc:
        raise NotebookRejected(
            f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}). Download the notebook again with File → Download .ipynb."
        ) from None
    if not isinstance(content, dict):
        raise NotebookRejected(
            f"The file holds a JSON {type(content).__name__}, not a notebook "
            "(a notebook is a JSON object with 'cells' and 'nbformat')."
        )
    version = content.get("nbformat")
    if version != 4:
        raise NotebookRejected(
            f"The notebook format version is {version!r}; only version 4 notebooks "
            "are accepted. Open it in a current Jupyter or Colab and save it again."
        )
    cells = content.get("cells")
    if (
        isinstance(cells, list) and len(cells) > MAX_CELLS
    ):  # before validation, which takes time per cell
        raise NotebookRejected(
            f"The notebook has {len(cells):,} cells; the limit is {MAX_CELLS:,} cells. "
            "Merge or delete cells and upload again."
        )
    try:
        notebook = nbformat.from_dict(_with_cell_ids(content))
        nbformat.validate(notebook)
        rejoin_lines(
            notebook
        )  # sources stored as lists of lines become strings, as nbformat.read gives
    except RecursionError:
        raise NotebookRejected("The notebook's JSON is nested too deeply to be valid.") from None
    except ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "top level"
        raise NotebookRejected(
            f"The notebook does not match the Jupyter format at {where}: {exc.message[:300]}"
        ) from None
    except (TypeError, AttributeError, KeyError):
        # nbformat's own helpers trip over some malformed shapes before the schema can name them.
        raise NotebookRejected(
            "The notebook does not match the Jupyter format: its cells are not cell objects."
        ) from None
    _check_sources(notebook)
    return notebook


def _check_sources(notebook: nbformat.NotebookNode) -> None:
    """Reject a cell whose source, or one of its lines, is longer than the worker will read."""
    for number, cell in enumerate(notebook.cells, start=1):
        if len(cell.source) > MAX_CELL_SOURCE_CHARS:
            raise NotebookRejected(
                f"Cell #{number} is {len(cell.source):,} characters long; the limit is "
                f"{MAX_CELL_SOURCE_CHARS:,} characters per cell. Split it or load large "
                "data from a file instead."
            )
        longest = max(cell.source.splitlines() or [""], key=len)
        if len(longest) > MAX_LINE_CHARS:
            raise NotebookRejected(
                f"Cell #{number} has a line of {len(longest):,} characters; the limit is "
                f"{MAX_LINE_CHARS:,} characters per line."
            )


def _with_cell_ids(content: dict) -> dict:
    """Old Colab notebooks lack cell ids; add them rather than reject or warn on every upload."""
    cells = content.get("cells")
    if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
        return content  # let validation describe the damage
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingIDFieldWarning)
        _, normalized = normalize(content)
    return normalized
