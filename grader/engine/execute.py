"""Run a notebook top to bottom in its own kernel, with hidden probe cells at chosen positions.

A probe runs right after a given notebook cell, so it sees the kernel's state at that point of the
notebook (position-bound capture). Probes and the setup cell never appear in the executed notebook.
"""

from __future__ import annotations

import copy
import re
import subprocess
import tempfile
import time
from collections.abc import Callable
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
# A probe's result (predictions over a grid, say) may be larger than what a student's cell may
# print.
PROBE_OUTPUT_BYTES = 8 * 1024 * 1024
# The whole notebook keeps at most this many cells' worth of output.
NOTEBOOK_OUTPUT_CELLS = 32
# nbclient interrupts a cell that runs past its timeout and hands back this synthetic error reply.
_TIMEOUT_MARK = "GraderCellTimeout"

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

    def run(self) -> ExecutionResult:
        options = self.options
        if options.warm_kernel is not None:
            self.client.km = options.warm_kernel.km
            return self._run_cells(options.warm_kernel.launch)
        with (
            tempfile.TemporaryDirectory(prefix="grader-kernel-") as sockets,
            options.sandbox.kernel(
                options.limits, Path(options.working_dir), Path(sockets), options.kernel_env
            ) as launch,
        ):
            self.client.km = sandboxed_kernel_manager(launch, Path(sockets))
            return self._run_cells(launch)

    def _run_cells(self, launch: KernelLaunch) -> ExecutionResult:
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
            if self.options.setup_source and self._hidden(self.options.setup_source, 60).problem:
                self.result.stopped_reason = "The grader could not prepare the notebook's kernel."
            else:
                self._run_probes(BEFORE_FIRST_CELL)
                for done, index in enumerate(code_cells):
                    self._progress(done, len(code_cells))
                    if not self._run_cell(index):
                        break
                    self._run_probes(index)
                else:
                    self._progress(len(code_cells), len(code_cells))
        for probe in self.options.probes:
            self.result.probes.setdefault(probe.name, ProbeResult(problem=self._not_reached(probe)))
        return self.result

    def _run_cell(self, index: int) -> bool:
        """Run one notebook cell; False when the rest of the notebook cannot run."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.result.stopped_reason = (
                f"The notebook ran past its {self.options.notebook_timeout}-second "
                f"limit; cells from #{index + 1} on were not run."
            )
            return False
        cell = self.result.notebook.cells[index]
        self.client.timeout = max(1, min(self.options.cell_timeout, int(remaining)))
        try:
            self._execute(cell, index)
        except CellTimeoutError:
            self.last_cell_timed_out = True
        except DeadKernelError:
            cause = (
                "it used more than its memory limit"
                if self.launch and self.launch.out_of_memory()
                else "it may have run out of memory or called exit()"
            )
            self.result.stopped_reason = (
                f"The Python kernel died while running cell #{index + 1} ({cause})"
            )
            return False
        except ValueError:
            # jupyter_client could not read the kernel's reply (bad or repeated signature, not
            # JSON): the notebook replaced something the kernel itself uses to talk to us.
            self.result.stopped_reason = (
                f"Cell #{index + 1} broke the kernel's connection to the grader (for "
                "example by replacing json.dumps, which Jupyter itself uses); the "
                "cells after it were not run."
            )
            return False
        if self.last_cell_timed_out:
            seconds = self.client.timeout
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
        self.result.cell_errors.extend(_errors_in(index, cell))
        return True

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
        for probe in self.probes_after.get(after_cell, []):
            result = self.result.probes[probe.name] = self._hidden(probe.source, probe.timeout)
            if self.options.on_probe:
                self.options.on_probe(probe.name, result)

    def _hidden(self, source: str, timeout: int, check_responsive: bool = True) -> ProbeResult:
        """Run code that is not part of the notebook: no history, no execution count, no trace."""
        cell = nbformat.v4.new_code_cell(source)  # type: ignore[no-untyped-call]  # unannotated constructor
        cells = self.result.notebook.cells
        cells.append(cell)  # nbclient writes the cell back by index; give it a slot of its own
        self.client.timeout = timeout
        try:
            self._execute(cell, len(cells) - 1, store_history=False)
        except CellTimeoutError:
            self.last_cell_timed_out = True
        except DeadKernelError:
            self.result.stopped_reason = (
                "The Python kernel died while the grader checked an answer."
            )
            return ProbeResult(problem="the kernel died while checking this answer")
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
