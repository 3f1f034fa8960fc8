"""Identical work is done once: a notebook graded before, unchanged, against the same package, is
not run again.

The key covers everything a grading depends on: the notebook's cells (type and source; outputs and
metadata are ignored, since outputs are cleared before running), every file of the assignment
package, the grader's own engine, runtime and sandbox code with the training libraries' versions,
and whether the sandbox was on. Grading is deterministic (fixed seeds, no clock in any score), so
the stored report is the report a new run would give. Only gradings that ran to the end without a
timeout are stored: a result that depended on how busy the machine was must be produced afresh.

`notebook_fingerprint` is the notebook's share of that key, kept with each submission in the
database, so that an identical upload is answered on any machine, even before it is queued
(grader.services.grading.identical).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import nbformat

from grader.engine.package import AssignmentPackage
from grader.engine.report import Report, Status
from grader.engine.result_cache import ResultCache, code_fingerprint

GRADER_CODE_DIRS = ("engine", "runtime", "sandbox")


def grading_key(
    notebook: nbformat.NotebookNode, package: AssignmentPackage, sandbox_label: str | None
) -> str:
    """The hash of everything that decides this notebook's grading."""
    digest = hashlib.sha256(
        json.dumps(
            {"code": code_fingerprint(), "engine": engine_fingerprint(), "sandbox": sandbox_label}
        ).encode()
    )
    digest.update(cells_digest(notebook).encode())
    for path in sorted(p for p in package.root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(package.root)).encode() + b"\0" + path.read_bytes())
    return "grading-" + digest.hexdigest()


def notebook_fingerprint(notebook: nbformat.NotebookNode) -> str:
    """The hash of what the grader would run in `notebook`, by this version of the grader: equal
    fingerprints are graded alike, against the same package."""
    return hashlib.sha256((engine_fingerprint() + cells_digest(notebook)).encode()).hexdigest()


def cells_digest(notebook: nbformat.NotebookNode) -> str:
    """The hash of the notebook's cells, each its type and source."""
    # Outputs and metadata are left out: outputs are cleared before running, and editors rewrite
    # metadata (Colab, cell ids) without changing what runs.
    digest = hashlib.sha256()
    for cell in notebook.cells:
        digest.update(json.dumps([cell.cell_type, cell.source]).encode())
    return digest.hexdigest()


def reusable(report: Report, timed_out_cells: list[int]) -> bool:
    """Whether a grading is worth keeping: it ran to the end, and nothing in it depended on time."""
    return (
        report.stopped_reason is None
        and not timed_out_cells
        and not any(question.status == Status.TIMED_OUT for question in report.questions)
    )


def load(cache: ResultCache, key: str) -> tuple[Report, nbformat.NotebookNode] | None:
    """The stored report and executed notebook, or None."""
    stored = cache.get(key)
    if stored is None:
        return None
    executed = nbformat.from_dict(stored["executed"])  # type: ignore[no-untyped-call]  # unannotated
    return Report.from_dict(stored["report"]), executed


def store(cache: ResultCache, key: str, report: Report, executed: nbformat.NotebookNode) -> None:
    cache.put(key, {"report": report.to_dict(include_plots=True), "executed": executed})


@lru_cache(maxsize=1)
def engine_fingerprint() -> str:
    """A hash of the grader's own grading code: a new version of it grades everything afresh."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for folder in GRADER_CODE_DIRS:
        for source in sorted((root / folder).rglob("*.py")):
            digest.update(str(source.relative_to(root)).encode() + source.read_bytes())
    return digest.hexdigest()
