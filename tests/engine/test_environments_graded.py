"""`runtime.packages` in the real sandbox: the notebook imports the assignment's own package, cannot
change it, and a warm kernel from the pool has it too."""

from __future__ import annotations

import copy

import nbformat
import pytest
import yaml
from nbformat import v4

from engine.local_index import local_index  # noqa: F401
from engine.mini_package import RUBRIC, build
from grader.engine.assignment import load_assignment
from grader.engine.environments import EnvironmentStore
from grader.engine.grade import assignment_library_dirs, grade_notebook, kernel_pool, kernel_profile

# Slow: grades notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

QUESTION = {
    "key": "helpers",
    "title": "The course helpers' answer",
    "points": 1,
    "kind": "value",
    "locator": {"section": "Exercise / Question 1"},
    "params": {"name": "answer", "expected": "from the course wheel"},
}


@pytest.fixture
def package(local_index, tmp_path):
    root = build(tmp_path / "package")
    rubric = copy.deepcopy(RUBRIC)
    rubric["runtime"]["packages"] = ["course_helpers==1.0"]
    rubric["questions"] = [QUESTION]
    (root / "rubric.yaml").write_text(yaml.safe_dump(rubric))
    return load_assignment(root)


def answer_notebook(answer: str, after: str = "print('done')") -> nbformat.NotebookNode:
    return v4.new_notebook(
        cells=[
            v4.new_markdown_cell("## Exercise"),
            v4.new_markdown_cell("### Question 1"),
            v4.new_code_cell(answer),
            v4.new_code_cell(after),
        ]
    )


TAMPER = """import pathlib, course_helpers
target = pathlib.Path(course_helpers.__file__)
try:
    target.write_text('ANSWER = "forged"')
    print("wrote", target)
except OSError as exc:
    print("refused:", type(exc).__name__)
"""


def test_the_notebook_imports_the_package_and_cannot_change_it(package, sandbox, tmp_path):
    store = EnvironmentStore(tmp_path / "environments")
    result = grade_notebook(
        answer_notebook("import course_helpers\nanswer = course_helpers.ANSWER", after=TAMPER),
        package,
        sandbox,
        environments=store,
    )
    [question] = result.report.questions
    assert question.status == "passed", question.message
    printed = "".join(output.get("text", "") for output in result.executed.cells[3].outputs)
    assert printed.startswith("refused: "), printed
    [site] = assignment_library_dirs(package, store)
    assert "forged" not in (site / "course_helpers" / "__init__.py").read_text()


def test_a_warm_kernel_has_the_package_too(package, sandbox, tmp_path):
    store = EnvironmentStore(tmp_path / "environments")
    library_dirs = assignment_library_dirs(package, store)
    pool = kernel_pool(sandbox)
    try:
        pool.warm(kernel_profile(package.rubric.runtime, package.template, library_dirs))
        pool.wait_until_ready()
        result = grade_notebook(
            answer_notebook("import course_helpers\nanswer = course_helpers.ANSWER"),
            package,
            sandbox,
            kernels=pool,
            environments=store,
        )
    finally:
        pool.close()
    assert result.warm_kernel
    assert [q.status for q in result.report.questions] == ["passed"]
