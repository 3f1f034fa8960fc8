"""`grader grade` and `grader validate-assignment`: the engine from the command line, no server
needed."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
import nbformat

from grader.engine.assignment import AssignmentError, AssignmentPackage, load_assignment
from grader.engine.environments import EnvironmentBuildError
from grader.engine.grade import GradeResult, grade_notebook
from grader.engine.report import Report
from grader.engine.result_cache import ResultCache
from grader.engine.validation import FailureCause, check_package
from grader.sandbox import Sandbox, SandboxUnavailable, sandbox_from_mode
from grader.services.errors import NotebookRejected
from grader.services.notebooks import parse_notebook

MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024
# How much of a failing cell's source and of its traceback validate-assignment prints.
SOURCE_LINES, TRACEBACK_LINES = 3, 8


def _package(path: str) -> AssignmentPackage:
    try:
        return load_assignment(path)
    except AssignmentError as exc:
        raise click.ClickException(f"Assignment {path}: {exc}") from None


def _notebook(path: Path) -> nbformat.NotebookNode:
    try:
        return parse_notebook(path.read_bytes(), MAX_NOTEBOOK_BYTES)
    except (OSError, NotebookRejected) as exc:
        raise click.ClickException(f"{path}: {exc}") from None


def _sandbox(mode: str) -> Sandbox:
    try:
        return sandbox_from_mode(mode)
    except SandboxUnavailable as exc:
        raise click.ClickException(f"Cannot isolate notebooks here: {exc}") from None


def _unusable_packages(exc: EnvironmentBuildError) -> click.ClickException:
    return click.ClickException(f"The assignment's packages cannot be used: {exc}")


def _grade(
    path: Path, package: AssignmentPackage, sandbox: Sandbox, quiet: bool, cache: ResultCache | None
) -> GradeResult:
    def progress(done: int, total: int) -> None:
        if not quiet:
            click.echo(f"\r{path.name}: cell {done} of {total}", nl=done == total, err=True)

    try:
        return grade_notebook(_notebook(path), package, sandbox, on_progress=progress, cache=cache)
    except EnvironmentBuildError as exc:
        raise _unusable_packages(exc) from None


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "grader" / "scoring"


SANDBOX_OPTION = click.option(
    "--sandbox",
    "sandbox_mode",
    type=click.Choice(["bubblewrap", "off"]),
    envvar="GRADER_SANDBOX",
    default="bubblewrap",
    show_default=True,
    help="Run notebooks isolated with bubblewrap, or 'off' (unsafe: only for your own notebooks).",
)


def print_table(report: Report, title: str) -> None:
    click.echo(f"{report.assignment} — {title}")
    width = max(len(q.key) for q in report.questions)
    for q in report.questions:
        click.echo(
            f"  {q.key:<{width}}  {q.score:>5.2f}/{q.max_score:<5.2f} {q.status:<20} {q.message}"
        )
    pending = f" (+{report.manual_pending:g} for TAs to grade)" if report.manual_pending else ""
    click.echo(f"  Total: {report.total:g} / {report.max_total:g} automatic points{pending}")
    if report.stopped_reason:
        click.echo(f"  Note: {report.stopped_reason}")
    if report.sandbox_warning:
        click.echo(f"  {report.sandbox_warning}")


def print_cause(key: str, cause: FailureCause) -> None:
    """Where the exception behind a failed solution question was raised, and its last frames."""
    if cause.cell_index is None:
        where = "checking the answer"
    else:
        place = "in its section" if cause.in_section else "before its section"
        where = f"cell #{cause.cell_index + 1} ({place})"
    click.echo(f"  {key}: {where} raised {cause.exception}", err=True)
    source = cause.source.splitlines()
    for line in source[:SOURCE_LINES]:
        click.echo(f"      | {line}", err=True)
    if len(source) > SOURCE_LINES:
        click.echo(f"      | ... ({len(source) - SOURCE_LINES} more lines)", err=True)
    for line in cause.traceback.strip().splitlines()[-TRACEBACK_LINES:]:
        click.echo(f"      {line}", err=True)


def register(cli: click.Group) -> None:
    @cli.command("grade", with_appcontext=False)
    @click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--assignment",
        "assignment_dir",
        required=True,
        type=click.Path(exists=True),
        help="Assignment package: a folder or a .zip with rubric.yaml.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.option(
        "--plots",
        type=click.Path(file_okay=False, path_type=Path),
        help="Write each question's picture into this folder as KEY.png.",
    )
    @click.option(
        "--executed",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Save the executed notebook here.",
    )
    @click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=default_cache_dir,
        show_default="~/.cache/grader/scoring",
        help=(
            "Keep results here: an unchanged notebook is not run again, "
            "an unchanged model not retrained."
        ),
    )
    @click.option(
        "--no-cache", is_flag=True, help="Run the notebook and retrain every model; keep nothing."
    )
    @SANDBOX_OPTION
    def grade(
        notebook: Path,
        assignment_dir: str,
        as_json: bool,
        plots: Path | None,
        executed: Path | None,
        cache_dir: Path,
        no_cache: bool,
        sandbox_mode: str,
    ) -> None:
        """Grade NOTEBOOK against an assignment package and print the result."""
        cache = None if no_cache else ResultCache(cache_dir)
        result = _grade(
            notebook, _package(assignment_dir), _sandbox(sandbox_mode), quiet=as_json, cache=cache
        )
        if result.reused and not as_json:
            click.echo(
                "(An identical notebook was graded before; its result is reused. "
                "--no-cache runs it.)",
                err=True,
            )
        if plots:
            plots.mkdir(parents=True, exist_ok=True)
            for question in result.report.questions:
                if question.plot_png:
                    (plots / f"{question.key}.png").write_bytes(question.plot_png)
        if executed:
            nbformat.write(result.executed, executed)
        if as_json:
            click.echo(json.dumps(result.report.to_dict(), indent=2))
        else:
            print_table(result.report, notebook.name)

    @cli.command("validate-assignment", with_appcontext=False)
    @click.argument("assignment_dir", type=click.Path(exists=True))
    @click.option(
        "--solution",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Solution notebook (default: solution.ipynb in the package).",
    )
    @SANDBOX_OPTION
    def validate_assignment(assignment_dir: str, solution: Path | None, sandbox_mode: str) -> None:
        """Check a package: the solution must get full automatic marks and the template none."""
        package = _package(assignment_dir)
        sandbox = _sandbox(sandbox_mode)
        solution = solution or package.solution_path
        if not solution.is_file():
            raise click.ClickException(f"no solution notebook at {solution}; pass --solution")

        def progress(role: str, done: int, total: int) -> None:
            click.echo(f"\r{role}: cell {done} of {total}", nl=done == total, err=True)

        try:
            outcome = check_package(
                package,
                sandbox,
                _notebook(solution),
                on_progress=progress,
                on_build_step=lambda message: click.echo(f"{message} ...", err=True),
            )
        except EnvironmentBuildError as exc:
            raise _unusable_packages(exc) from None
        print_table(outcome.solution, f"solution ({solution.name})")
        print_table(outcome.template, "untouched template")
        if outcome.problems:
            click.echo("\nThe assignment is not ready:", err=True)
            for problem in outcome.problems:
                click.echo(f"  - {problem}", err=True)
            if outcome.causes:
                click.echo("\nWhat the solution's failing questions raised:", err=True)
            for key, cause in outcome.causes.items():
                print_cause(key, cause)
            sys.exit(1)
        click.echo(
            "\nThe assignment is ready: "
            "the solution gets full automatic marks and the template none."
        )
