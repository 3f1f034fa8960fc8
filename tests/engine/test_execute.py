"""The engine really executes notebooks, records errors per cell, and enforces its time limits."""

from __future__ import annotations

import tempfile
import time

import pytest
from nbformat import v4

from grader.engine.execute import (
    BEFORE_FIRST_CELL,
    KERNEL_DIED,
    ExecutionOptions,
    Probe,
    run_with_probes,
)

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


def test_cell_that_kills_the_kernel_is_skipped_and_the_rest_runs_in_a_new_kernel(sandbox):
    exported = []
    probes = [
        Probe("before", after_cell=1, source="print(x)", timeout=10),
        Probe("at-the-killer", after_cell=2, source="print(x)", timeout=10),
        Probe("after", after_cell=3, source="print(x)", timeout=10),
    ]
    result = execute_notebook(
        sandbox,
        notebook("x = 6 * 7\nprint('first run')", "import os; os._exit(0)", "print(x)"),
        cell_timeout=30,
        notebook_timeout=60,
        probes=probes,
        on_probe=lambda name, _result: exported.append(name),
    )
    assert result.stopped_reason is None
    # The replayed cell rebuilt `x` but shows its first run's output and count, once.
    assert result.notebook.cells[1].outputs[0]["text"] == "first run\n"
    assert len(result.notebook.cells[1].outputs) == 1
    assert result.notebook.cells[1].execution_count == 1
    assert result.notebook.cells[3].outputs[0]["text"] == "42\n"
    [error] = result.cell_errors
    assert (error.cell_index, error.ename) == (2, KERNEL_DIED)
    assert "skipped this one" in error.evalue and "os._exit" in error.source
    assert result.notebook.cells[2].outputs[-1]["evalue"] == error.evalue
    assert exported == ["before", "after"], "each answer is exported once"
    assert result.probes["after"].outputs[0]["text"] == "42\n"
    assert "kernel died while running cell #3" in result.probes["at-the-killer"].problem


def test_a_second_death_stops_the_notebook(sandbox):
    result = execute_notebook(
        sandbox,
        notebook("import os; os._exit(1)", "x = 1", "import os; os._exit(1)", "print('never')"),
        cell_timeout=30,
        notebook_timeout=60,
    )
    assert result.stopped_reason.startswith("The Python kernel died while running cell #4")
    assert "already died once" in result.stopped_reason
    assert result.notebook.cells[4].outputs == []
    assert [e.ename for e in result.cell_errors] == [KERNEL_DIED]


def test_a_cell_that_dies_only_when_replayed_counts_as_the_second_death(sandbox):
    # Read our source, then make the replay itself kill the new kernel: it gets no third one.
    # (Files cannot tell a replay apart: each kernel starts in a fresh folder.)
    replay_time = time.time() + 15
    dies_when_replayed = f"import os, time\nif time.time() > {replay_time}:\n    os._exit(0)"
    wait = f"import time\ntime.sleep(max(0, {replay_time} - time.time()) + 0.5)"
    result = execute_notebook(
        sandbox,
        notebook(dies_when_replayed, wait, "import os; os._exit(0)", "print('never')"),
        cell_timeout=30,
        notebook_timeout=60,
    )
    assert result.stopped_reason.startswith("The Python kernel died while running cell #2")
    assert result.notebook.cells[4].outputs == []


def test_fork_loop_that_kills_the_kernel_costs_only_its_cell(sandbox):
    fork_loop = (
        "import os\nwhile True:\n    try:\n        os.fork()\n"
        "    except OSError:\n        os._exit(0)"
    )
    result = execute_notebook(
        sandbox,
        notebook("x = 6 * 7", fork_loop, "print(x)"),
        cell_timeout=30,
        notebook_timeout=90,
    )
    assert result.stopped_reason is None
    assert result.notebook.cells[3].outputs[0]["text"] == "42\n"


def test_replayed_time_counts_against_the_notebook_limit(sandbox):
    started = time.monotonic()
    result = execute_notebook(
        sandbox,
        notebook("import time; time.sleep(4)", "import os; os._exit(0)", "print('late')"),
        cell_timeout=30,
        notebook_timeout=6,
    )
    assert time.monotonic() - started < 20
    assert "limit" in result.stopped_reason
    assert result.notebook.cells[3].outputs == []


def test_a_probe_that_kills_the_kernel_costs_only_its_answer(sandbox):
    probes = [
        Probe("killer", after_cell=1, source="import os; os._exit(0)", timeout=10),
        Probe("same-place", after_cell=1, source="print(x)", timeout=10),
    ]
    result = execute_notebook(
        sandbox,
        notebook("x = 1", "print(x + 1)"),
        cell_timeout=30,
        notebook_timeout=60,
        probes=probes,
    )
    assert result.stopped_reason is None and not result.cell_errors
    assert "kernel died while checking it" in result.probes["killer"].problem
    assert result.probes["same-place"].outputs[0]["text"] == "1\n"
    assert result.notebook.cells[2].outputs[0]["text"] == "2\n"


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
    probes = [Probe("after-exit", after_cell=3, source="print(1)", timeout=10)]
    result = execute_notebook(
        sandbox,
        notebook("import os; os._exit(1)", "import os; os._exit(1)", "x = 1"),
        cell_timeout=30,
        notebook_timeout=60,
        probes=probes,
    )
    assert "kernel died" in result.probes["after-exit"].problem
