"""A NotebookClient that stops keeping a cell's output once it passes its budget.

Truncating as output arrives (rather than after the cell) keeps an output flood from filling the
worker's memory; the stored notebook and the feedback page stay small, and say what was cut.
"""

from __future__ import annotations

import json
from typing import Any

from nbclient import NotebookClient
from nbformat import NotebookNode
from nbformat.v4 import new_output


class BoundedNotebookClient(NotebookClient):
    def __init__(
        self, *args: Any, cell_budget_bytes: int, notebook_budget_bytes: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.cell_budget = cell_budget_bytes
        self.notebook_left = notebook_budget_bytes
        self.cell_left = cell_budget_bytes
        self.truncated_cells: set[int] = set()

    def start_cell(self, budget_bytes: int | None = None) -> None:
        """Call before each cell: it gets its own budget (hidden probe cells may ask for a bigger
        one)."""
        self.cell_left = budget_bytes or self.cell_budget

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        size = len(json.dumps(msg.get("content", {}), default=str))
        if size <= min(self.cell_left, self.notebook_left):
            self.cell_left -= size
            self.notebook_left -= size
            return super().output(outs, msg, display_id, cell_index)
        if cell_index not in self.truncated_cells:
            self.truncated_cells.add(cell_index)
            outs.append(
                new_output(  # type: ignore[no-untyped-call]  # nbformat's constructors are unannotated
                    "stream",
                    name="stderr",
                    text=(
                        "\n[grader: output truncated here; "
                        "this cell produced more output than is kept "
                        f"({self.cell_budget // 1024} kB per cell)]\n"
                    ),
                )
            )
        return None
