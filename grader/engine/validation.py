"""Is a package ready for release? Its solution must get full automatic marks and its template
none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import nbformat

from grader.engine.checks import check_for
from grader.engine.environments import BuildProgress, EnvironmentStore
from grader.engine.execute import CellError
from grader.engine.grade import (
    GradeResult,
    answer_locations,
    assignment_library_dirs,
    grade_notebook,
)
from grader.engine.package import AssignmentPackage
from grader.engine.report import QuestionReport, Report, Status
from grader.sandbox import Sandbox

NO_SOLUTION = (
    "solution: the package has no solution.ipynb, so nothing shows the rubric can award full marks"
)

# Called with the notebook's role ("solution" or "template"), cells done and cells in all.
ValidationProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class FailureCause:
    """The exception behind a question the solution failed, and the notebook cell that raised it
    (`cell_index` None: the grader's reading of the answer raised it)."""

    exception: str
    traceback: str
    cell_index: int | None = None
    source: str = ""
    # False when the cell is before the answer's section: an earlier error the answer depends on.
    in_section: bool = True


@dataclass
class PackageCheck:
    """Both reports (the solution's is None when there is none), what stands in the way of
    release, and the exception behind each question the solution failed, by question key."""

    solution: Report | None
    template: Report
    problems: list[str] = field(default_factory=list)
    causes: dict[str, FailureCause] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not self.problems


def check_package(
    package: AssignmentPackage,
    sandbox: Sandbox,
    solution: nbformat.NotebookNode | None,
    on_progress: ValidationProgress | None = None,
    environments: EnvironmentStore | None = None,
    on_build_step: BuildProgress | None = None,
) -> PackageCheck:
    """Build the assignment's own packages (raises EnvironmentBuildError when they cannot be), grade
    `solution` (if any) and the untouched template, and list the problems a person must fix."""
    assignment_library_dirs(package, environments, on_build_step)

    def grade(notebook: nbformat.NotebookNode, role: str) -> GradeResult:
        progress = (lambda done, total: on_progress(role, done, total)) if on_progress else None
        return grade_notebook(
            notebook, package, sandbox, on_progress=progress, environments=environments
        )

    solved = grade(solution, "solution") if solution is not None else None
    template_report = grade(package.template, "template").report
    solution_report = solved.report if solved else None
    return PackageCheck(
        solution_report,
        template_report,
        _problems(solution_report, template_report),
        failure_causes(solved, package) if solved else {},
    )


def failure_causes(solved: GradeResult, package: AssignmentPackage) -> dict[str, FailureCause]:
    """For each question the solution did not get full marks on, the exception that most likely
    cost it: the first raised in its section's cells; else, when the answer could not be checked at
    all, the last raised before them (a name the answer needs was never defined); else the one the
    grader's reading of the answer raised. A wrong answer is not blamed on an earlier cell."""
    locations = answer_locations(solved.executed, package)
    errors = [CellError(**error) for error in solved.report.cell_errors]
    rubric = {question.key: question for question in package.rubric.questions}
    causes = {}
    for question in solved.report.questions:
        if not _falls_short(question) or not check_for(rubric[question.key]).reads_execution:
            continue  # a written answer's failure is about its text, whatever the cells raised
        section = locations[question.key].cell_indices
        unchecked = question.status == Status.ERROR
        cause = _cell_cause(section, errors, unchecked) or _check_cause(question)
        if cause is not None:
            causes[question.key] = cause
    return causes


def _cell_cause(
    section: list[int], errors: list[CellError], look_before: bool
) -> FailureCause | None:
    inside = [error for error in errors if error.cell_index in section]
    start = min(section, default=-1) if look_before else -1
    before = [error for error in errors if error.cell_index < start]
    error = inside[0] if inside else (before[-1] if before else None)
    if error is None:
        return None
    return FailureCause(
        exception=f"{error.ename}: {error.evalue}",
        traceback=error.traceback,
        cell_index=error.cell_index,
        source=error.source,
        in_section=bool(inside),
    )


def _check_cause(question: QuestionReport) -> FailureCause | None:
    if not question.traceback:
        return None
    # A Python traceback ends with the exception's own line ("NameError: name 'x' is ...").
    lines = question.traceback.strip().splitlines()
    return FailureCause(exception=lines[-1] if lines else "", traceback=question.traceback)


def _problems(solution: Report | None, template: Report) -> list[str]:
    """Each automatic point the solution misses and each point the template earns, in words."""
    problems = (
        [NO_SOLUTION]
        if solution is None
        else [
            f"solution: {q.key} scored {q.score:g}/{q.max_score:g} ({q.status}): {q.message}"
            for q in solution.questions
            if _falls_short(q)
        ]
    )
    problems += [
        f"template: {q.key} scored {q.score:g} but should score 0: {q.message}"
        for q in template.questions
        if q.score > 0
    ]
    return problems


def _falls_short(question: QuestionReport) -> bool:
    """A solution's question that does not get its full automatic points blocks the release."""
    return question.score < question.max_score
