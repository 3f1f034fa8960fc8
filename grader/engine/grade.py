"""grade_notebook: the one function the CLI, the worker and the tests call to grade a notebook."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from grader.engine import reuse
from grader.engine.answers import imported_modules
from grader.engine.checks import check_for, typed_params
from grader.engine.checks.base import Evidence, ProbeContext, kernel_call
from grader.engine.environments import BuildProgress, EnvironmentStore
from grader.engine.execute import (
    BEFORE_FIRST_CELL,
    ExecutionOptions,
    Probe,
    ProbeResult,
    ProgressCallback,
    run_with_probes,
)
from grader.engine.kernel_pool import KernelPool, KernelProfile, WarmKernel
from grader.engine.locator import Location, headings, locate
from grader.engine.package import AssignmentPackage
from grader.engine.report import Report
from grader.engine.result_cache import ResultCache
from grader.engine.rubric import RuntimeOptions
from grader.engine.scorer import missing_definitions, read_export, score_question
from grader.engine.scoring_kernel import ScoringKernel
from grader.engine.tamper import TAMPER_PROBE, TAMPER_PROBE_SECONDS, tamper_notes
from grader.runtime import KERNEL_PACKAGE_DIR
from grader.sandbox import Sandbox

RUNTIME_DIR = ".grader"
DATA_DIR, HELDOUT_DIR = "data", f"{RUNTIME_DIR}/heldout"
# Deterministic, quiet numerics in the kernel; the same notebook always gets the same score.
# Libraries the scoring kernel may import ahead of its first job, and the time it may take to start.
SCORING_START_SECONDS = 60
TRAINING_MODULES = ("numpy", "pandas", "sklearn", "tensorflow", "tf_keras", "keras")
KERNEL_ENVIRONMENT = {
    "PYTHONHASHSEED": "0",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_DETERMINISTIC_OPS": "1",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
}


@dataclass
class GradeResult:
    report: Report
    executed: nbformat.NotebookNode
    execution_seconds: float = 0.0
    scoring_seconds: float = 0.0
    warm_kernel: bool = False
    # Questions whose retrained model's answer came from the cache (nothing was trained for them).
    from_cache: list[str] = field(default_factory=list)
    # The whole grading was that of an identical notebook graded before: nothing ran.
    reused: bool = False
    # It may stand for an identical notebook's grading: it ran to the end and nothing in it
    # depended on time (reuse.reusable).
    reusable: bool = False


def grade_notebook(
    notebook: nbformat.NotebookNode,
    package: AssignmentPackage,
    sandbox: Sandbox,
    on_progress: ProgressCallback | None = None,
    kernels: KernelPool | None = None,
    cache: ResultCache | None = None,
    environments: EnvironmentStore | None = None,
    reuse_gradings: bool = True,
) -> GradeResult:
    """Execute `notebook` in `sandbox` with the package's runtime and score every rubric question.

    With `kernels`, the notebook runs in a kernel the pool started ahead of time (when one fits).
    Models are retrained in a separate scoring kernel while the notebook goes on. `cache` keeps the
    retrained models' answers, and whole gradings: an unchanged notebook graded before against the
    same package is not run again (unless not `reuse_gradings`: the service records identical
    gradings in its database instead, and a re-grade it asks for must run). The assignment's own
    packages (`runtime.packages`) are built
    into `environments` the first time this machine needs them.
    """
    key = reuse.grading_key(notebook, package, sandbox.label) if cache and reuse_gradings else None
    stored = reuse.load(cache, key) if cache and key else None
    if stored is not None:
        report, executed = stored
        if on_progress:
            code_cells = sum(cell.cell_type == "code" for cell in executed.cells)
            on_progress(code_cells, code_cells)
        return GradeResult(report=report, executed=executed, reused=True, reusable=True)
    rubric = package.rubric
    library_dirs = assignment_library_dirs(package, environments)
    located, in_template = (
        answer_locations(notebook, package),
        answer_locations(package.template, package),
    )
    evidence: dict[str, Evidence] = {}
    for question in rubric.questions:
        evidence[question.key] = Evidence(
            question=question,
            params=typed_params(question),
            package=package,
            notebook=notebook,
            location=located[question.key],
            template_location=in_template[question.key],
        )
    probes = [
        probe
        for item in evidence.values()
        if (probe := _probe_for(item, rubric.runtime)) is not None
    ]
    probes.append(
        Probe(
            name=TAMPER_PROBE,
            after_cell=_last_code_cell(notebook),
            source=kernel_call("tamper_report"),
            timeout=TAMPER_PROBE_SECONDS,
        )
    )
    models = sum(check_for(item.question).uses_scoring_kernel for item in evidence.values())
    started = time.perf_counter()
    with ScoringKernel(
        sandbox, rubric.runtime.limits, kernel_environment(), scoring_settings(package), cache
    ) as scoring:
        if models:
            scoring.start()  # imports its libraries while the notebook starts, at a low CPU share

        def on_probe(name: str, result: ProbeResult) -> None:
            if name in evidence:
                evidence[name].probe = result
                _send_to_scoring(evidence[name], scoring)

        profile = kernel_profile(rubric.runtime, package.template, library_dirs)
        with _kernel_home(kernels, profile) as (scratch, warm_kernel):
            prepare_scratch(scratch, package)
            execution = run_with_probes(
                notebook,
                ExecutionOptions(
                    cell_timeout=rubric.runtime.cell_timeout,
                    notebook_timeout=rubric.runtime.notebook_timeout,
                    working_dir=str(scratch),
                    sandbox=sandbox,
                    limits=rubric.runtime.limits,
                    setup_source=setup_source(package),
                    probes=probes,
                    kernel_env=kernel_environment(),
                    library_dirs=library_dirs,
                    on_progress=on_progress,
                    on_probe=on_probe,
                    warm_kernel=warm_kernel,
                ),
            )
        notebook_done = time.perf_counter()
        # Each model may take one probe_timeout to retrain (most were done while the notebook still
        # ran), plus the scoring kernel's own start on a busy machine.
        budget = rubric.runtime.probe_timeout * max(1, models) + SCORING_START_SECONDS
        retrained = scoring.results(timeout=budget)
    questions = []
    for item in evidence.values():
        item.notebook = execution.notebook
        item.probe = execution.probes.get(item.question.key)
        item.scored = item.scored or retrained.get(item.question.key)
        questions.append(score_question(item, execution))
    report = Report(
        assignment=rubric.title,
        questions=questions,
        stopped_reason=execution.stopped_reason,
        cell_errors=[error.to_dict() for error in execution.cell_errors],
        sandbox_warning=sandbox.label,
        tamper=tamper_notes(list(evidence.values()), execution.probes.get(TAMPER_PROBE)),
    )
    reusable = reuse.reusable(report, execution.timed_out_cells) and not scoring.failed
    if cache and key and reusable:
        reuse.store(cache, key, report, execution.notebook)
    return GradeResult(
        report=report,
        executed=execution.notebook,
        execution_seconds=notebook_done - started,
        scoring_seconds=time.perf_counter() - notebook_done,
        warm_kernel=warm_kernel is not None,
        from_cache=list(scoring.cached),
        reusable=reusable,
    )


def assignment_library_dirs(
    package: AssignmentPackage,
    environments: EnvironmentStore | None = None,
    on_step: BuildProgress | None = None,
) -> tuple[Path, ...]:
    """The folders of the assignment's own packages, built first if this machine lacks them
    (raises EnvironmentBuildError when they cannot be)."""
    store = environments or EnvironmentStore()
    environment = store.prepare(package.rubric.runtime.packages, on_step)
    return (environment.site,) if environment else ()


def answer_locations(
    notebook: nbformat.NotebookNode, package: AssignmentPackage
) -> dict[str, Location]:
    """Where each question's answer lives in `notebook`, by key; the template's headings always end
    a section."""
    boundaries = [heading.key for heading in headings(package.template)]
    return {q.key: locate(notebook, q.locator, boundaries) for q in package.rubric.questions}


def _send_to_scoring(evidence: Evidence, scoring: ScoringKernel) -> None:
    """As soon as a model's description is out of the notebook, retrain it beside the notebook's
    next cells."""
    check = check_for(evidence.question)
    if not check.uses_scoring_kernel or read_export(evidence) is not None:
        return
    try:
        job = check.scoring_job(evidence)
        if job is not None:
            scoring.submit(evidence.question.key, job)
    except ValueError as exc:  # the export names columns or a framework the question does not allow
        evidence.scored = {"error": str(exc)}


def scoring_settings(package: AssignmentPackage) -> dict[str, Any]:
    """What the scoring kernel imports ahead: the training libraries the assignment's template
    imports."""
    preload = kernel_profile(package.rubric.runtime, package.template).preload
    return {
        "legacy_keras": package.rubric.runtime.legacy_keras,
        "preload": [module for module in preload if module in TRAINING_MODULES],
    }


def _last_code_cell(notebook: nbformat.NotebookNode) -> int:
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    return code[-1] if code else BEFORE_FIRST_CELL


def _probe_for(evidence: Evidence, runtime: RuntimeOptions) -> Probe | None:
    check = check_for(evidence.question)
    if not evidence.location.found or missing_definitions(evidence):
        return None
    context = ProbeContext(
        data_dir=DATA_DIR, heldout_dir=HELDOUT_DIR, seed=runtime.seed, package=evidence.package
    )
    source = check.probe_source(evidence.params, context)
    if source is None:
        return None
    return Probe(
        name=evidence.question.key,
        after_cell=_capture_point(evidence),
        source=source,
        timeout=runtime.probe_timeout,
    )


def _capture_point(evidence: Evidence) -> int:
    """Right after the last code cell of the answer's section: later cells may redefine its
    names."""
    cells = evidence.notebook.cells
    code = [i for i in evidence.location.cell_indices if cells[i].cell_type == "code"]
    if code:
        return code[-1]
    before = [
        i
        for i in range(min(evidence.location.cell_indices, default=0))
        if cells[i].cell_type == "code"
    ]
    return before[-1] if before else BEFORE_FIRST_CELL


@contextmanager
def _kernel_home(
    kernels: KernelPool | None, profile: KernelProfile
) -> Iterator[tuple[Path, WarmKernel | None]]:
    """The kernel's working folder, and the warm kernel already running in it if the pool had
    one."""
    warm = kernels.take(profile) if kernels else None
    if warm is None:
        with tempfile.TemporaryDirectory(prefix="grader-scratch-") as scratch:
            yield Path(scratch), None
    else:
        with warm:
            yield warm.working_dir, warm


def kernel_profile(
    runtime: RuntimeOptions,
    template: nbformat.NotebookNode,
    library_dirs: tuple[Path, ...] = (),
) -> KernelProfile:
    """What a kernel for this assignment is started with, before the submission is known: its
    runtime, its own packages' folders, and the packages its template notebook imports."""
    modules = dict.fromkeys(
        module
        for cell in template.cells
        if cell.cell_type == "code"
        for module in imported_modules(cell.source)
    )
    if runtime.legacy_keras and "keras" in modules:
        # Under the legacy runtime `keras` means tf_keras; importing Keras 3 early would bypass that
        # alias.
        modules = dict.fromkeys("tf_keras" if module == "keras" else module for module in modules)
    return KernelProfile(
        limits=runtime.limits,
        legacy_keras=runtime.legacy_keras,
        environment=tuple(sorted(kernel_environment().items())),
        preload=tuple(modules),
        library_dirs=library_dirs,
    )


def kernel_pool(sandbox: Sandbox, size: int = 1) -> KernelPool:
    """A pool of kernels whose working folders are laid out for grading."""
    return KernelPool(sandbox, scratch_skeleton, size=size)


def scratch_skeleton(scratch: Path) -> None:
    """The folders a kernel is started with (the sandbox shows them read-only) and the course
    runtime."""
    (scratch / DATA_DIR).mkdir(exist_ok=True)
    (scratch / HELDOUT_DIR).mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        KERNEL_PACKAGE_DIR,
        scratch / RUNTIME_DIR / "grader_kernel",
        ignore=shutil.ignore_patterns("__pycache__"),
        dirs_exist_ok=True,
    )


def prepare_scratch(scratch: Path, package: AssignmentPackage) -> None:
    """The kernel's working folder: public data, the runtime, and of the held-out tables only the
    feature columns that a check applies the student's own code to (never a label, never an
    undeclared column)."""
    scratch_skeleton(scratch)
    if package.data_dir.is_dir():
        shutil.copytree(package.data_dir, scratch / DATA_DIR, dirs_exist_ok=True)
    for table, columns in heldout_inputs(package).items():
        package.heldout_table(table)[columns].to_csv(
            scratch / HELDOUT_DIR / f"{table}.csv", index=False
        )


def heldout_inputs(package: AssignmentPackage) -> dict[str, list[str]]:
    """Held-out columns, by table, that the checks declare the student's kernel needs."""
    needed: dict[str, list[str]] = {}
    for question in package.rubric.questions:
        for table, columns in check_for(question).heldout_columns(typed_params(question)).items():
            needed[table] = list(dict.fromkeys(needed.get(table, []) + columns))
    return needed


def setup_source(package: AssignmentPackage) -> str:
    settings = {
        "legacy_keras": package.rubric.runtime.legacy_keras,
        "url_map": package.rubric.urls,
        "data_dir": DATA_DIR,
    }
    return (
        f"__import__('sys').path.insert(0, {RUNTIME_DIR!r})\n"
        f"__import__('grader_kernel').install({json.dumps(settings)!r})"
    )


def kernel_environment() -> dict[str, str]:
    """A clean environment: the grader's own settings (database and broker URLs, secrets) never
    reach student code."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **KERNEL_ENVIRONMENT}
