"""An unpacked assignment package: its rubric, template, public data and hidden (held-out) data."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import nbformat
import pandas as pd

from grader.engine.rubric import Rubric


class AssignmentError(ValueError):
    """The assignment package is incomplete or invalid; the message says what to fix."""


@dataclass
class AssignmentPackage:
    """An unpacked assignment: `data/` is public (copied into the kernel), `hidden/` never is."""

    root: Path
    rubric: Rubric
    _unpacked: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def hidden_dir(self) -> Path:
        return self.root / "hidden"

    @property
    def solution_path(self) -> Path:
        return self.root / "solution.ipynb"

    @cached_property
    def template(self) -> nbformat.NotebookNode:
        template: nbformat.NotebookNode = nbformat.read(  # type: ignore[no-untyped-call]  # unannotated
            self.root / "template.ipynb", as_version=4
        )
        return template

    def close(self) -> None:
        """Remove the unpacked copy of a zipped package."""
        if self._unpacked is not None:
            self._unpacked.cleanup()

    def __enter__(self) -> AssignmentPackage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def public_table(self, name: str) -> pd.DataFrame:
        return _read_table(self.data_dir, name)

    def heldout_table(self, name: str) -> pd.DataFrame:
        return _read_table(self.hidden_dir, name)


def _read_table(folder: Path, name: str) -> pd.DataFrame:
    path = folder / f"{name}.csv"
    if not path.is_file():
        raise AssignmentError(f"the package has no {folder.name}/{name}.csv")
    return pd.read_csv(path)
