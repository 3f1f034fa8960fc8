"""Editing an assignment's rubric: as question rows on a web page, or as a whole rubric.yaml
(import/export).

Both ways validate like the loader does and write a new package blob with only rubric.yaml changed,
so the other files, and the package's sha256 when nothing changed, stay the same.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from grader.engine.assignment import AssignmentError
from grader.engine.checks import CHECKS
from grader.engine.rubric import RubricError, parse_rubric
from grader.extensions import db
from grader.models import Assignment
from grader.services.errors import AuthoringError
from grader.services.storage.blobs import get_blob
from grader.services.storage.packages import store_package

KINDS = sorted(CHECKS)
LOCATOR_FIELDS = ("section", "cell_id", "marker", "until")


@dataclass
class QuestionRow:
    """One question as the editor shows it: every field as text, params as a YAML mapping."""

    key: str = ""
    title: str = ""
    points: str = ""
    kind: str = ""
    section: str = ""
    cell_id: str = ""
    marker: str = ""
    until: str = ""
    params: str = ""

    @property
    def blank(self) -> bool:
        return not any(value.strip() for name, value in asdict(self).items() if name != "kind")


def export_rubric(assignment: Assignment) -> bytes:
    """The package's rubric.yaml exactly as stored, comments included."""
    with zipfile.ZipFile(io.BytesIO(get_blob(assignment.package_sha256))) as bundle:
        return bundle.read("rubric.yaml")


def current_rows(assignment: Assignment) -> list[QuestionRow]:
    """The stored rubric's questions as editor rows
    (from the YAML as written, not its normalised form)."""
    content = yaml.safe_load(export_rubric(assignment))
    rows = []
    for question in content.get("questions") or []:
        locator = question.get("locator") or {}
        params = question.get("params") or {}
        rows.append(
            QuestionRow(
                key=str(question.get("key", "")),
                title=str(question.get("title", "")),
                points=f"{question.get('points', ''):g}"
                if isinstance(question.get("points"), (int, float))
                else str(question.get("points", "")),
                kind=str(question.get("kind", "")),
                **{name: str(locator.get(name) or "") for name in LOCATOR_FIELDS},
                params=yaml.safe_dump(params, sort_keys=False, allow_unicode=True)
                if params
                else "",
            )
        )
    return rows


def save_rows(assignment: Assignment, rows: list[QuestionRow]) -> str:
    """Validate the edited questions and store them; title, runtime and urls are kept.
    Return the new sha256."""
    content = yaml.safe_load(export_rubric(assignment))
    content["questions"] = _questions(rows)
    return _store(
        assignment, yaml.safe_dump(content, sort_keys=False, allow_unicode=True, width=120).encode()
    )


def import_rubric(assignment: Assignment, data: bytes) -> str:
    """Replace rubric.yaml with an uploaded one, kept byte for byte; return the new sha256."""
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AuthoringError("rubric.yaml is not UTF-8 text") from None
    return _store(assignment, data)


def kind_fields() -> dict[str, list[str]]:
    """Each kind's params, with defaults, for the editor's help: 'dataset (required)',
    'target = None'."""
    return {
        kind: [
            name
            + (
                " (required)"
                if info.is_required()
                else f" = {info.get_default(call_default_factory=True)!r}"
            )
            for name, info in CHECKS[kind].Params.model_fields.items()
        ]
        for kind in KINDS
    }


def _questions(rows: list[QuestionRow]) -> list[dict[str, Any]]:
    questions, problems = [], []
    for number, row in enumerate((row for row in rows if not row.blank), start=1):
        try:
            params = yaml.safe_load(row.params) if row.params.strip() else {}
        except yaml.YAMLError as exc:
            params = None
            problems.append(
                f"question {row.key.strip() or '#' + str(number)!r}, "
                f"field params: not valid YAML: {exc}"
            )
        if params is not None and not isinstance(params, dict):
            problems.append(
                f"question {row.key.strip() or '#' + str(number)!r}, field params: write one "
                "'name: value' per line, e.g. 'target: 0.9'"
            )
        questions.append(
            {
                "key": row.key.strip(),
                "title": row.title.strip(),
                "points": _number(row.points),
                "locator": {
                    name: getattr(row, name).strip()
                    for name in LOCATOR_FIELDS
                    if getattr(row, name).strip()
                },
                "kind": row.kind,
                "params": params,
            }
        )
    if problems:
        raise AuthoringError("\n".join(problems))
    return questions


def _number(text: str) -> int | float | str:
    """Points as YAML reads them (2, not 2.0); anything else is left for the schema to reject."""
    for kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            pass
    return text.strip()


def _store(assignment: Assignment, rubric_yaml: bytes) -> str:
    """A new package blob: the stored files with this rubric.yaml, checked by the loader; commit."""
    # The schema first, for messages naming question and field; then the loader, for files and URLs.
    try:
        parse_rubric(yaml.safe_load(rubric_yaml))
    except yaml.YAMLError as exc:
        raise AuthoringError(f"rubric.yaml is not valid YAML: {exc}") from None
    except RubricError as exc:
        raise AuthoringError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="grader-rubric-") as scratch:
        root = Path(scratch)
        # Our own blob, written by zip_folder: trusted, and flat (rubric.yaml at the root).
        with zipfile.ZipFile(io.BytesIO(get_blob(assignment.package_sha256))) as bundle:
            bundle.extractall(root)
        (root / "rubric.yaml").write_bytes(rubric_yaml)
        try:
            assignment.package_sha256 = store_package(root)
        except AssignmentError as exc:
            raise AuthoringError(str(exc)) from None
    db.session.commit()
    return assignment.package_sha256
