"""Is a package ready for release? Its solution must get full automatic marks and its template
none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import nbformat

from grader.engine.grade import grade_notebook
from grader.engine.package import AssignmentPackage
from grader.engine.report import Report
from grader.sandbox import Sandbox

NO_SOLUTION = (
    "solution: the package has no solution.ipynb, so nothing shows the rubric can award full marks"
)

# Called with the notebook's role ("solution" or "template"), cells done and cells in all.
ValidationProgress = Callable[[str, int, int], None]


@dataclass
class PackageCheck:
    """Both reports (the solution's is None when there is none) and what stands in the way of
    release."""

    solution: Report | None
    template: Report
    problems: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems


def check_package(
    package: AssignmentPackage,
    sandbox: Sandbox,
    solution: nbformat.NotebookNode | None,
    on_progress: ValidationProgress | None = None,
) -> PackageCheck:
    """Grade `solution` (if any) and the untouched template, and list the problems a person must
    fix."""

    def grade(notebook: nbformat.NotebookNode, role: str) -> Report:
        progress = (lambda done, total: on_progress(role, done, total)) if on_progress else None
        return grade_notebook(notebook, package, sandbox, on_progress=progress).report

    solution_report = grade(solution, "solution") if solution is not None else None
    template_report = grade(package.template, "template")
    return PackageCheck(
        solution_report, template_report, _problems(solution_report, template_report)
    )


def _problems(solution: Report | None, template: Report) -> list[str]:
    """Each automatic point the solution misses and each point the template earns, in words."""
    problems = (
        [NO_SOLUTION]
        if solution is None
        else [
            f"solution: {q.key} scored {q.score:g}/{q.max_score:g} ({q.status}): {q.message}"
            for q in solution.questions
            if q.score < q.max_score
        ]
    )
    problems += [
        f"template: {q.key} scored {q.score:g} but should score 0: {q.message}"
        for q in template.questions
        if q.score > 0
    ]
    return problems
