"""An assignment with tight limits, and a notebook builder that puts an attack where we want it."""

from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator

import psutil
import pytest
import yaml
from engine.mini_package import RUBRIC, SOLUTION_ANSWERS, build, notebook
from nbformat import v4

from grader.engine.assignment import load_assignment
from grader.engine.grade import GradeResult, grade_notebook
from grader.sandbox.bubblewrap import SANDBOX_UID

LIMITS = {
    "memory_mb": 768,
    "processes": 64,
    "scratch_mb": 32,
    "max_file_mb": 16,
    "output_kb": 64,
    "cpu_seconds": 300,
}
RUNTIME = {**RUBRIC["runtime"], "cell_timeout": 4, "notebook_timeout": 90, "limits": LIMITS}
FULL = {"feature": 2.0, "model": 3.0, "answer": 1.0, "chart": 1.0, "explain": 1.0}


PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture(scope="package", autouse=True)
def adopt_orphans() -> Iterator[None]:
    """While these tests run, make pytest the parent of any process orphaned below it, not init."""
    # So a process that escapes its kernel's tree is still found among this run's descendants.
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, ctypes.get_errno()
    yield
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@pytest.fixture(scope="session")
def attack_package(tmp_path_factory):
    root = build(tmp_path_factory.mktemp("attack") / "package")
    (root / "rubric.yaml").write_text(
        yaml.safe_dump({**RUBRIC, "runtime": RUNTIME}, sort_keys=False)
    )
    return load_assignment(root)


def with_attack(source: str, where: str = "end"):
    """The mini solution plus an attack cell: in Question 3's section, or a new one at the end."""
    if where == "question 3":
        nb = notebook(SOLUTION_ANSWERS, extra_after={"Question 3": [v4.new_code_cell(source)]})
    else:
        nb = notebook(SOLUTION_ANSWERS)
        nb.cells += [v4.new_markdown_cell("## My experiments"), v4.new_code_cell(source)]
    return nb


def sandbox_processes() -> list[str]:
    """This test run's processes still running as the sandbox's user: a survivor means a leak."""
    # Only our own descendants: another grader on this machine runs its kernels as the same user.
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.uids().real == SANDBOX_UID and process.status() != psutil.STATUS_ZOMBIE:
                found.append(f"{process.pid} {' '.join(process.cmdline())}")
        except psutil.NoSuchProcess:
            continue
    return found


def grade(sandbox, package, nb) -> GradeResult:
    """Grade in the real sandbox, checking that it ends in time and leaves no process behind."""
    already_running = set(
        sandbox_processes()
    )  # a warm kernel kept by an earlier test is not this one's
    started = time.monotonic()
    result = grade_notebook(nb, package, sandbox)
    assert time.monotonic() - started < 120, "grading must end within the notebook's limits"
    survivors = [p for p in sandbox_processes() if p not in already_running]
    assert survivors == [], "nothing the notebook started may outlive its grading"
    return result


def last_cell_text(result: GradeResult) -> str:
    return "".join(
        str(out.get("text", "")) + str(out.get("evalue", "")) + str(out.get("data", ""))
        for out in result.executed.cells[-1].outputs
    )
