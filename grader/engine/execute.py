"""Run a notebook top to bottom in its own kernel, with hidden probe cells at chosen positions.

A probe runs right after a given notebook cell, so it sees the kernel's state at that point of the
notebook (position-bound capture). Probes and the setup cell never appear in the executed notebook.

A kernel that dies (exit(), a memory or fork bomb) costs only what it must: a new kernel, sandboxed
and limited alike, re-runs the cells before the culprit, skips it and goes on, all within the same
time limit; answers exported before the death are not exported again. A second death stops the
notebook.
"""

from __future__ import annotations

import copy
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from grader.engine.bounded_client import BoundedNotebookClient
from grader.engine.kernel_pool import WarmKernel
from grader.sandbox import Sandbox, SandboxLimits
from grader.sandbox.kernel import sandboxed_kernel_manager
from grader.sandbox.policy import KernelLaunch

ProgressCallback = Callable[[int, int], None]
BEFORE_FIRST_CELL = -1
RECOVERY_SECONDS = 10
# A kernel that dies is replaced once; a notebook that kills the second one too (on purpose, say)
# gets no third.
KERNEL_STARTS = 2
# A probe's result (predictions over a grid, say) may be larger than what a student's cell may
# print.
PROBE_OUTPUT_BYTES = 8 * 1024 * 1024
# The whole notebook keeps at most this many cells' worth of output.
NOTEBOOK_OUTPUT_CELLS = 32
# nbclient interrupts a cell that runs past its timeout and hands back this synthetic error reply.
_TIMEOUT_MARK = "GraderCellTimeout"
# The `ename` of the error recorded on a cell that killed the kernel.
KERNEL_DIED = "KernelDied"

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class CellError:
    """An exception a cell raised (or a timeout), in a form that serialises to JSON."""

    cell_index: int
    ename: str
    evalue: str
    traceback: str
    source: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class _KernelDied(Exception):
    """The kernel died while running `what`: notebook cell `cell`, or (cell None) the grader's
    own code."""

    def __init__(self, cell: int | None, what: str, cause: str) -> None:
        # Completes "The Python kernel died ...".
        self.when = f"while running {what} ({cause})"
        super().__init__(self.when)
        self.cell = cell
        self.cause = cause


@dataclass(frozen=True)
class Probe:
    """Hidden code to run right after notebook cell `after_cell` (BEFORE_FIRST_CELL: before any)."""

    name: str
    after_cell: int
    source: str
    timeout: int


@dataclass
class ProbeResult:
    outputs: list[dict[str, Any]] = field(default_factory=list)
    # Why the probe produced nothing usable: it timed out, or the notebook never got that far.
    problem: str | None = None
    timed_out: bool = False


@dataclass
class ExecutionResult:
    notebook: nbformat.NotebookNode
    cell_errors: list[CellError] = field(default_factory=list)
    timed_out_cells: list[int] = field(default_factory=list)
    probes: dict[str, ProbeResult] = field(default_factory=dict)
    # Set when the notebook could not run to the end: why, in words a student understands.
    stopped_reason: str | None = None


@dataclass
class ExecutionOptions:
    cell_timeout: int
    notebook_timeout: int
    working_dir: str
    sandbox: Sandbox
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    setup_source: str | None = None
    probes: list[Probe] = field(default_factory=list)
    kernel_env: dict[str, str] = field(default_factory=dict)
    # Folders of the assignment's own packages, first on the kernel's import path.
    library_dirs: tuple[Path, ...] = ()
    on_progress: ProgressCallback | None = None
    # Called with each probe's result as soon as it is in, while the notebook goes on (answers are
    # scored beside the run rather than after it).
    on_probe: Callable[[str, ProbeResult], None] | None = None
    # A kernel started ahead of time in `working_dir` (see kernel_pool); None starts one now.
    warm_kernel: WarmKernel | None = None


def run_with_probes(notebook: nbformat.NotebookNode, options: ExecutionOptions) -> ExecutionResult:
    """Execute a copy of `notebook`, running the setup cell first and each probe at its position."""
    notebook = copy.deepcopy(notebook)
    # Uploaded outputs are the student's claims: a cell the grader never gets to run must show
    # nothing.
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return _Run(notebook, options).run()


class _Run:
    def __init__(self, notebook: nbformat.NotebookNode, options: ExecutionOptions):
        self.options = options
        self.result = ExecutionResult(notebook=notebook)
        resources = {"metadata": {"path": options.working_dir}}
        self.client = BoundedNotebookClient(
            notebook,
            timeout=options.cell_timeout,
            allow_errors=True,
            cell_budget_bytes=options.limits.output_kb * 1024,
            notebook_budget_bytes=options.limits.output_kb * 1024 * NOTEBOOK_OUTPUT_CELLS,
            kernel_name="python3",
            shutdown_kernel="immediate",
            resources=resources,
            interrupt_on_timeout=True,
            on_cell_executed=self._note_reply,
            error_on_timeout={"ename": _TIMEOUT_MARK, "evalue": "", "traceback": []},
        )
        self.last_cell_timed_out = False
        self.launch: KernelLaunch | None = None
        self.deadline = time.monotonic() + options.notebook_timeout
        self.probes_after: dict[int, list[Probe]] = {}
        for probe in options.probes:
            self.probes_after.setdefault(probe.after_cell, []).append(probe)
        # Code cells that have run (a kernel replacing a dead one re-runs them to rebuild their
        # state), and the cells that killed a kernel, with how (they are never run again).
        self.ran: set[int] = set()
        self.killed_by: dict[int, str] = {}

    def run(self) -> ExecutionResult:
        for start in range(KERNEL_STARTS):
            try:
                with self._kernel(self.options.warm_kernel if start == 0 else None) as launch:
                    self._run_cells(launch)
                break
            except _KernelDied as death:
                if death.cell is not None:
                    self.killed_by[death.cell] = death.when
                if start + 1 == KERNEL_STARTS:
                    self.result.stopped_reason = (
                        f"The Python kernel died {death.when}, after it had already died once "
                        "and been replaced; the cells after that point were not run."
                    )
                elif death.cell is not None:
                    self._skip(death.cell, death.cause)
        for probe in self.options.probes:
            self.result.probes.setdefault(probe.name, ProbeResult(problem=self._not_reached(probe)))
        return self.result

    @contextmanager
    def _kernel(self, warm: WarmKernel | None) -> Iterator[KernelLaunch]:
        """The warm kernel handed in, else a new one with the same sandbox, limits and data.

        A replacement is never a warm kernel: the pool's kernels each serve one submission, and the
        dead one goes with its sandbox when grading ends.
        """
        if warm is not None:
            self.client.km = warm.km
            yield warm.launch
            return
        options = self.options
        with (
            tempfile.TemporaryDirectory(prefix="grader-kernel-") as sockets,
            options.sandbox.kernel(
                options.limits,
                Path(options.working_dir),
                Path(sockets),
                options.kernel_env,
                options.library_dirs,
            ) as launch,
        ):
            self.client.km = sandboxed_kernel_manager(launch, Path(sockets))
            yield launch

    def _run_cells(self, launch: KernelLaunch) -> None:
        """Run the notebook in one kernel; raises _KernelDied if that kernel dies."""
        self.launch = launch
        notebook = self.result.notebook
        code_cells = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
        self.client.reset_execution_trackers()
        # The kernel's own stderr is library chatter (TensorFlow start-up logs); what the notebook
        # prints reaches us over the Jupyter protocol, not through these streams.
        kernel_args = {
            "stdout": subprocess.DEVNULL,
            "stderr": subprocess.DEVNULL,
            "env": launch.env,
        }
        with self.client.setup_kernel(**kernel_args):
            if self.options.setup_source and not self._set_up(self.options.setup_source):
                self.result.stopped_reason = "The grader could not prepare the notebook's kernel."
                return
            self._run_probes(BEFORE_FIRST_CELL)
            for done, index in enumerate(code_cells):
                if index in self.killed_by:
                    continue
                replay = index in self.ran
                if not replay:
                    self._progress(done, len(code_cells))
                try:
                    if not self._run_cell(index, replay):
                        return
                except DeadKernelError:
                    raise _KernelDied(index, f"cell #{index + 1}", self._death_cause()) from None
                self.ran.add(index)
                self._run_probes(index)
            self._progress(len(code_cells), len(code_cells))

    def _set_up(self, source: str) -> bool:
        try:
            return self._hidden(source, 60).problem is None
        except DeadKernelError:
            raise _KernelDied(None, "the grader's setup", self._death_cause()) from None

    def _run_cell(self, index: int, replay: bool) -> bool:
        """Run one notebook cell; False when the rest of the notebook cannot run.

        A replay only rebuilds the state of a kernel that replaces a dead one: the cell keeps the
        outputs, errors and share of the output budget of its first run.
        """
        cell = self.result.notebook.cells[index]
        first_run = (list(cell.outputs), cell.execution_count, self.client.notebook_left)
        try:
            return self._run_cell_once(index, cell, replay)
        finally:
            if replay:
                cell.outputs, cell.execution_count, self.client.notebook_left = first_run

    def _run_cell_once(self, index: int, cell: nbformat.NotebookNode, replay: bool) -> bool:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            limit = f"The notebook ran past its {self.options.notebook_timeout}-second limit"
            self.result.stopped_reason = (
                f"{limit} while its earlier cells were re-run in a new kernel; the cells not yet "
                "reached were not run."
                if replay
                else f"{limit}; cells from #{index + 1} on were not run."
            )
            return False
        self.client.timeout = max(1, min(self.options.cell_timeout, int(remaining)))
        try:
            self._execute(cell, index)
        except CellTimeoutError:
            self.last_cell_timed_out = True
        except (ValueError, KeyError):
            # jupyter_client could not read the kernel's reply (bad or repeated signature, not
            # JSON, a header without its ids): the notebook replaced something the kernel itself
            # uses to talk to us.
            self.result.stopped_reason = (
                f"Cell #{index + 1} broke the kernel's connection to the grader (for "
                "example by replacing json.dumps, which Jupyter itself uses); the "
                "cells after it were not run."
            )
            return False
        if self.last_cell_timed_out:
            seconds = self.client.timeout
            if not replay:
                self.result.timed_out_cells.append(index)
                self.result.cell_errors.append(
                    CellError(
                        index, "TimeoutError", f"cell ran longer than {seconds} s", "", cell.source
                    )
                )
            if not self._responsive():
                self.result.stopped_reason = (
                    f"Cell #{index + 1} ran longer than {seconds} seconds and could "
                    "not be stopped; the cells after it were not run."
                )
                return False
            return True
        if not replay:
            self.result.cell_errors.extend(_errors_in(index, cell))
        return True

    def _death_cause(self) -> str:
        if self.launch and self.launch.out_of_memory():
            return "it used more than its memory limit"
        return "it may have run out of memory or called exit()"

    def _skip(self, index: int, cause: str) -> None:
        """Record, on the cell and among the errors, that it killed the kernel and was skipped."""
        cell = self.result.notebook.cells[index]
        message = (
            f"The Python kernel died while running this cell ({cause}). The grader started a new "
            "kernel, re-ran the cells before this one, skipped this one and went on."
        )
        cell.outputs.append(
            nbformat.v4.new_output(  # type: ignore[no-untyped-call]  # unannotated constructor
                "error", ename=KERNEL_DIED, evalue=message, traceback=[message]
            )
        )
        self.result.cell_errors.append(CellError(index, KERNEL_DIED, message, "", cell.source))

    def _execute(self, cell: nbformat.NotebookNode, index: int, store_history: bool = True) -> None:
        self.last_cell_timed_out = False
        self.client.start_cell(None if store_history else PROBE_OUTPUT_BYTES)
        self.client.execute_cell(cell, index, store_history=store_history)

    def _note_reply(
        self, cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict[str, Any]
    ) -> None:
        if execute_reply.get("content", {}).get("ename") == _TIMEOUT_MARK:
            self.last_cell_timed_out = True

    def _responsive(self) -> bool:
        """After an interrupted cell: does the kernel answer again, or is it stuck ignoring
        SIGINT?"""
        return self._hidden("pass", RECOVERY_SECONDS, check_responsive=False).problem is None

    def _run_probes(self, after_cell: int) -> None:
        """Run the probes at this position that have no result yet (from a kernel since lost)."""
        for probe in self.probes_after.get(after_cell, []):
            if probe.name in self.result.probes:
                continue
            death = None
            try:
                result = self._hidden(probe.source, probe.timeout)
            except DeadKernelError:
                death = _KernelDied(None, "the grader's check of an answer", self._death_cause())
                result = ProbeResult(problem=f"the kernel died while checking it ({death.cause})")
            self.result.probes[probe.name] = result
            if self.options.on_probe:
                self.options.on_probe(probe.name, result)
            if death is not None:
                raise death

    def _hidden(self, source: str, timeout: int, check_responsive: bool = True) -> ProbeResult:
        """Run code that is not part of the notebook: no history, no execution count, no trace.

        Raises DeadKernelError if the kernel dies.
        """
        cell = nbformat.v4.new_code_cell(source)  # type: ignore[no-untyped-call]  # unannotated constructor
        cells = self.result.notebook.cells
        cells.append(cell)  # nbclient writes the cell back by index; give it a slot of its own
        self.client.timeout = timeout
        try:
            self._execute(cell, len(cells) - 1, store_history=False)
        except CellTimeoutError:
            self.last_cell_timed_out = True
        except ValueError:  # an unreadable reply, as in _run_cell
            self.result.stopped_reason = (
                "The kernel stopped answering the grader properly while it checked an answer."
            )
            return ProbeResult(problem="the kernel's reply could not be read")
        finally:
            cells.pop()
        if not self.last_cell_timed_out:
            return ProbeResult(outputs=[dict(output) for output in cell.outputs])
        if check_responsive and not self._responsive():
            self.result.stopped_reason = (
                "The grader's check of an answer ran too long and could not be stopped."
            )
        return ProbeResult(problem=f"took longer than {timeout} seconds", timed_out=True)

    def _not_reached(self, probe: Probe) -> str:
        if probe.after_cell in self.result.timed_out_cells:
            return "its cell ran out of time"
        if probe.after_cell in self.killed_by:
            return f"the kernel died {self.killed_by[probe.after_cell]}"
        return self.result.stopped_reason or "the notebook stopped before reaching this answer"

    def _progress(self, done: int, total: int) -> None:
        if self.options.on_progress:
            self.options.on_progress(done, total)


def plain_traceback(error_output: dict[str, Any]) -> str:
    """An error output's traceback without terminal colour codes."""
    return _ANSI_ESCAPE.sub("", "\n".join(error_output.get("traceback", [])))


def _errors_in(index: int, cell: nbformat.NotebookNode) -> list[CellError]:
    return [
        CellError(
            cell_index=index,
            ename=out.get("ename", ""),
            evalue=out.get("evalue", ""),
            traceback=plain_traceback(out),
            source=cell.source,
        )
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
