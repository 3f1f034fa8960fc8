"""An assignment with tight limits, and a notebook builder that puts an attack where we want it."""
from __future__ import annotations

import subprocess

import pytest
import yaml
from nbformat import v4

from engine.mini_package import RUBRIC, SOLUTION_ANSWERS, build, notebook
from grader.engine.assignment import load_assignment

LIMITS = {"memory_mb": 768, "processes": 64, "scratch_mb": 32, "max_file_mb": 16, "output_kb": 64,
          "cpu_seconds": 300}
RUNTIME = {**RUBRIC["runtime"], "cell_timeout": 4, "notebook_timeout": 90, "limits": LIMITS}


@pytest.fixture(scope="session")
def attack_package(tmp_path_factory):
    root = build(tmp_path_factory.mktemp("attack") / "package")
    (root / "rubric.yaml").write_text(yaml.safe_dump({**RUBRIC, "runtime": RUNTIME}, sort_keys=False))
    return load_assignment(root)


def with_attack(source: str, where: str = "end"):
    """The mini solution plus an attack cell: in Question 3's section, or in a new section at the end."""
    if where == "question 3":
        nb = notebook(SOLUTION_ANSWERS, extra_after={"Question 3": [v4.new_code_cell(source)]})
    else:
        nb = notebook(SOLUTION_ANSWERS)
        nb.cells += [v4.new_markdown_cell("## My experiments"), v4.new_code_cell(source)]
    return nb


def sandbox_processes() -> list[str]:
    """Processes still running as the sandbox's user: a survivor means the sandbox leaked."""
    done = subprocess.run(["ps", "-u", "65534", "-o", "pid=,args="], capture_output=True, text=True)
    return [line for line in done.stdout.splitlines() if line.strip()]
