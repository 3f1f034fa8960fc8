"""Loading an assignment package: a folder (or zip) with rubric.yaml, template, data and hidden
data."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import yaml

from grader.engine.checks import check_for, typed_params, validate_params
from grader.engine.package import AssignmentError, AssignmentPackage
from grader.engine.rubric import Rubric, RubricError, parse_rubric

__all__ = ["MAX_PACKAGE_BYTES", "AssignmentError", "AssignmentPackage", "load_assignment"]

MAX_PACKAGE_BYTES = 200 * 1024 * 1024


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


def _load_folder(
    root: Path, unpacked: tempfile.TemporaryDirectory[str] | None
) -> AssignmentPackage:
    for required in ("rubric.yaml", "template.ipynb"):
        if not (root / required).is_file():
            raise AssignmentError(f"the package has no {required} (looked in {root})")
    try:
        rubric = validate_params(parse_rubric(yaml.safe_load((root / "rubric.yaml").read_text())))
    except yaml.YAMLError as exc:
        raise AssignmentError(f"rubric.yaml is not valid YAML: {exc}") from None
    except RubricError as exc:
        raise AssignmentError(f"rubric.yaml has problems:\n{exc}") from None
    for url, filename in rubric.urls.items():
        if not (root / "data" / filename).is_file() or "/" in filename or filename.startswith("."):
            raise AssignmentError(
                f"urls: {url} maps to data/{filename}, which is not a file in the package"
            )
    _check_tables(root, rubric)
    return AssignmentPackage(root=root, rubric=rubric, _unpacked=unpacked)


def _check_tables(root: Path, rubric: Rubric) -> None:
    """Every table a question's check declares is in the package, with the columns the check
    names."""
    for question in rubric.questions:
        for table in check_for(question).tables(typed_params(question)):
            for folder in ("data", "hidden") if table.heldout else ("data",):
                path = root / folder / f"{table.name}.csv"
                if not path.is_file():
                    raise AssignmentError(
                        f"question {question.key!r} needs {folder}/{table.name}.csv, "
                        "which is not in the package"
                    )
                header = pd.read_csv(path, nrows=0).columns
                missing = [column for column in table.columns if column not in header]
                if missing:
                    raise AssignmentError(
                        f"question {question.key!r} names column {missing[0]!r}, which "
                        f"{folder}/{table.name}.csv does not have"
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
