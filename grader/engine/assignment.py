"""Loading an assignment package: a folder (or zip) with rubric.yaml, template, data and hidden data."""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import nbformat
import pandas as pd
import yaml

from grader.engine.rubric import Rubric, RubricError, parse_rubric

MAX_PACKAGE_BYTES = 200 * 1024 * 1024


class AssignmentError(ValueError):
    """The assignment package is incomplete or invalid; the message says what to fix."""


@dataclass
class AssignmentPackage:
    """An unpacked assignment: `data/` is public (copied into the kernel), `hidden/` never is."""

    root: Path
    rubric: Rubric
    _unpacked: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

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
        return nbformat.read(self.root / "template.ipynb", as_version=4)

    def close(self) -> None:
        """Remove the unpacked copy of a zipped package."""
        if self._unpacked is not None:
            self._unpacked.cleanup()

    def __enter__(self) -> AssignmentPackage:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def public_table(self, name: str) -> pd.DataFrame:
        return _read_table(self.data_dir, name)

    def heldout_table(self, name: str) -> pd.DataFrame:
        return _read_table(self.hidden_dir, name)


def load_assignment(path: str | Path) -> AssignmentPackage:
    """Load a package from a folder or a .zip file; raise AssignmentError naming what is wrong."""
    path = Path(path)
    if not path.exists():
        raise AssignmentError(f"{path} does not exist")
    if not path.is_file():
        return _load_folder(path, None)
    unpacked = tempfile.TemporaryDirectory(prefix="grader-assignment-")
    try:
        return _load_folder(_unzip(path, Path(unpacked.name)), unpacked)
    except AssignmentError:
        unpacked.cleanup()
        raise


def _load_folder(root: Path, unpacked: tempfile.TemporaryDirectory | None) -> AssignmentPackage:
    for required in ("rubric.yaml", "template.ipynb"):
        if not (root / required).is_file():
            raise AssignmentError(f"the package has no {required} (looked in {root})")
    try:
        rubric = parse_rubric(yaml.safe_load((root / "rubric.yaml").read_text()))
    except yaml.YAMLError as exc:
        raise AssignmentError(f"rubric.yaml is not valid YAML: {exc}") from None
    except RubricError as exc:
        raise AssignmentError(f"rubric.yaml has problems:\n{exc}") from None
    for url, filename in rubric.urls.items():
        if not (root / "data" / filename).is_file() or "/" in filename or filename.startswith("."):
            raise AssignmentError(f"urls: {url} maps to data/{filename}, which is not a file in the package")
    _check_tables(root, rubric)
    return AssignmentPackage(root=root, rubric=rubric, _unpacked=unpacked)


def _check_tables(root: Path, rubric: Rubric) -> None:
    """Every dataset a question names has a public and a held-out table holding the columns it names."""
    for question in rubric.questions:
        params = question.typed_params()
        dataset, grid = getattr(params, "dataset", None), getattr(params, "grid", None)
        if grid and not (root / "data" / f"{grid}.csv").is_file():
            raise AssignmentError(
                f"question {question.key!r} needs data/{grid}.csv, which is not in the package"
            )
        if not dataset:
            continue
        columns = [
            getattr(params, "label", None),
            *getattr(params, "features", []),
            *getattr(params, "base_features", []),
            *(getattr(params, "columns", None) or []),
        ]
        for folder in ("data", "hidden"):
            path = root / folder / f"{dataset}.csv"
            if not path.is_file():
                raise AssignmentError(
                    f"question {question.key!r} needs {folder}/{dataset}.csv, which is not in the package"
                )
            header = pd.read_csv(path, nrows=0).columns
            missing = [column for column in dict.fromkeys(columns) if column and column not in header]
            if missing:
                raise AssignmentError(
                    f"question {question.key!r} names column {missing[0]!r}, which "
                    f"{folder}/{dataset}.csv does not have"
                )


def _unzip(archive: Path, target: Path) -> Path:
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            if sum(member.file_size for member in members) > MAX_PACKAGE_BYTES:
                raise AssignmentError("the package unpacks to more than 200 MB")
            for member in members:
                name = Path(member.filename)
                if name.is_absolute() or ".." in name.parts:
                    raise AssignmentError(f"the zip holds an unsafe path: {member.filename}")
            bundle.extractall(target)
    except zipfile.BadZipFile:
        raise AssignmentError(f"{archive.name} is neither a folder nor a zip file") from None
    # A zip made from the folder itself holds one top-level folder; accept both layouts.
    entries = [p for p in target.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir() and not (target / "rubric.yaml").exists():
        return entries[0]
    return target


def _read_table(folder: Path, name: str) -> pd.DataFrame:
    path = folder / f"{name}.csv"
    if not path.is_file():
        raise AssignmentError(f"the package has no {folder.name}/{name}.csv")
    return pd.read_csv(path)
