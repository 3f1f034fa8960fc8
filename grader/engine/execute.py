"""Run a notebook top to bottom in its own kernel process, recording which cells raised."""
from __future__ import annotations

import copy
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

ProgressCallback = Callable[[int, int], None]

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class CellError:
    """An exception a cell raised (or a timeout), in a form that serialises to JSON."""

    cell_index: int
    ename: str
    evalue: str
    traceback: str
    source: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ExecutionResult:
    notebook: nbformat.NotebookNode
    cell_errors: list[CellError] = field(default_factory=list)
    # Set when the notebook could not run to the end: why, in words a student understands.
    stopped_reason: Optional[str] = None


def execute_notebook(notebook: nbformat.NotebookNode, *, cell_timeout: int, notebook_timeout: int,
                     on_progress: Optional[ProgressCallback] = None,
                     working_dir: Optional[str] = None) -> ExecutionResult:
    """Execute a copy of `notebook` with per-cell and whole-notebook time limits."""
    notebook = copy.deepcopy(notebook)
    code_cells = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    with tempfile.TemporaryDirectory(prefix="grader-run-") as scratch:
        client = NotebookClient(
            notebook, timeout=cell_timeout, allow_errors=True, kernel_name="python3",
            shutdown_kernel="immediate", resources={"metadata": {"path": working_dir or scratch}})
        result = ExecutionResult(notebook=notebook)
        deadline = time.monotonic() + notebook_timeout
        client.reset_execution_trackers()
        with client.setup_kernel():
            for done, index in enumerate(code_cells):
                if on_progress:
                    on_progress(done, len(code_cells))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    result.stopped_reason = (f"The notebook ran past its {notebook_timeout}-second limit; "
                                             f"cells from #{index + 1} on were not run.")
                    break
                client.timeout = max(1, min(cell_timeout, int(remaining)))
                cell = notebook.cells[index]
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    result.cell_errors.append(_timeout_error(index, cell, client.timeout))
                    result.stopped_reason = (f"Cell #{index + 1} ran longer than {client.timeout} seconds "
                                             "and was stopped; the cells after it were not run.")
                    break
                except DeadKernelError:
                    result.stopped_reason = (f"The Python kernel died while running cell #{index + 1} "
                                             "(it may have run out of memory or called exit()).")
                    break
                result.cell_errors.extend(_errors_in(index, cell))
            else:
                if on_progress:
                    on_progress(len(code_cells), len(code_cells))
    return result


def _errors_in(index: int, cell: nbformat.NotebookNode) -> list[CellError]:
    return [CellError(cell_index=index, ename=out.get("ename", ""), evalue=out.get("evalue", ""),
                      traceback=_ANSI_ESCAPE.sub("", "\n".join(out.get("traceback", []))),
                      source=cell.source)
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def _timeout_error(index: int, cell: nbformat.NotebookNode, seconds: int) -> CellError:
    return CellError(cell_index=index, ename="TimeoutError", evalue=f"cell ran longer than {seconds} s",
                     traceback="", source=cell.source)
