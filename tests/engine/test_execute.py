"""The engine really executes notebooks, records errors per cell, and enforces its time limits."""

from __future__ import annotations

import tempfile
import time

import pytest
from nbformat import v4

from grader.engine.execute import BEFORE_FIRST_CELL, ExecutionOptions, Probe, run_with_probes

# Slow: runs kernels in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow


def execute_notebook(sandbox, notebook, **options):
    with tempfile.TemporaryDirectory() as working_dir:
        return run_with_probes(
            notebook, ExecutionOptions(working_dir=working_dir, sandbox=sandbox, **options)
        )


def notebook(*sources: str):
    return v4.new_notebook(
        cells=[v4.new_markdown_cell("# Lab")] + [v4.new_code_cell(s) for s in sources]
    )


def test_cells_run_in_order_and_errors_do_not_stop_the_rest(sandbox):
    progress = []
    result = execute_notebook(
        sandbox,
        notebook("x = 6 * 7", "1 / 0", "print(x)"),
        cell_timeout=30,
        notebook_timeout=60,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert result.stopped_reason is None
    assert result.notebook.cells[3].outputs[0]["text"] == "42\n"
    [error] = result.cell_errors
    assert (error.cell_index, error.ename, error.source) == (2, "ZeroDivisionError", "1 / 0")
    assert "\x1b[" not in error.traceback and "1 / 0" in error.traceback
    assert progress == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_input_notebook_is_not_modified(sandbox):
    original = notebook("print('hi')")
    execute_notebook(sandbox, original, cell_timeout=30, notebook_timeout=60)
    assert original.cells[1].outputs == []


def test_slow_cell_is_interrupted_and_the_rest_still_runs(sandbox):
    started = time.monotonic()
    result = execute_notebook(
        sandbox,
        notebook("x = 1", "import time; time.sleep(60)", "print('after', x)"),
        cell_timeout=2,
        notebook_timeout=60,
    )
    assert time.monotonic() - started < 30
    assert result.stopped_reason is None
    assert result.timed_out_cells == [2]
    assert [e.ename for e in result.cell_errors] == ["TimeoutError"]
    assert result.notebook.cells[3].outputs[0]["text"] == "after 1\n"


def test_cell_that_ignores_interrupts_stops_the_notebook(sandbox):
    stubborn = (
        "import signal, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "while True: time.sleep(0.1)"
    )
    result = execute_notebook(
        sandbox, notebook(stubborn, "print('never')"), cell_timeout=2, notebook_timeout=60
    )
    assert "could not be stopped" in result.stopped_reason
    assert result.notebook.cells[2].outputs == []


def test_whole_notebook_deadline_applies_across_cells(sandbox):
    cells = ["import time; time.sleep(1.5)"] * 6
    result = execute_notebook(sandbox, notebook(*cells), cell_timeout=30, notebook_timeout=3)
    assert result.stopped_reason is not None
    assert "limit" in result.stopped_reason or "longer than" in result.stopped_reason
    executed = [c for c in result.notebook.cells[1:] if c.get("execution_count")]
    assert 1 <= len(executed) < 6


def test_kernel_that_exits_is_reported_not_raised(sandbox):
    result = execute_notebook(
        sandbox,
        notebook("import os; os._exit(1)", "print('after')"),
        cell_timeout=30,
        notebook_timeout=60,
    )
    assert "kernel died" in result.stopped_reason


def test_probes_see_the_state_at_their_position_and_leave_no_trace(sandbox):
    probes = [
        Probe("first", after_cell=1, source="print(x)", timeout=10),
        Probe("start", after_cell=BEFORE_FIRST_CELL, source="print('x' in globals())", timeout=10),
        Probe("slow", after_cell=2, source="import time; time.sleep(30)", timeout=2),
        Probe("late", after_cell=3, source="print(x)", timeout=10),
    ]
    result = execute_notebook(
        sandbox,
        notebook("x = 1", "x = 2", "x = 3"),
        cell_timeout=30,
        notebook_timeout=60,
        probes=probes,
    )
    assert result.probes["first"].outputs[0]["text"] == "1\n"
    assert result.probes["start"].outputs[0]["text"] == "False\n"
    assert result.probes["slow"].timed_out and not result.probes["first"].timed_out
    assert result.probes["late"].outputs[0]["text"] == "3\n"
    assert len(result.notebook.cells) == 4
    assert [c.execution_count for c in result.notebook.cells[1:]] == [1, 2, 3]


def test_probe_after_a_cell_never_reached_says_why(sandbox):
    probes = [Probe("after-exit", after_cell=2, source="print(1)", timeout=10)]
    result = execute_notebook(
        sandbox,
        notebook("import os; os._exit(1)", "x = 1"),
        cell_timeout=30,
        notebook_timeout=60,
        probes=probes,
    )
    assert "kernel died" in result.probes["after-exit"].problem
