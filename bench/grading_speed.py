"""Benchmark: grading a notebook through the engine, with and without the sandbox, versus bare nbclient.

    python bench/grading_speed.py [NOTEBOOK] [--assignment DIR] [--repeat N]

Both are measured in the same run, on the same machine, so the ratios are what matter. The bare run
executes the notebook with nbclient and only the course runtime installed (the Lab 6 notebook cannot
run on current TensorFlow without it); the engine runs add locating answers, probes that retrain the
models, scoring and plots, once without and once with the bubblewrap sandbox.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grader.engine.assignment import load_assignment
from grader.engine.grade import grade_notebook, kernel_environment, prepare_scratch, setup_source
from grader.sandbox import sandbox_from_mode

LAB6 = Path(__file__).resolve().parents[1] / "fixtures" / "lab6"


def bare_nbclient(notebook: nbformat.NotebookNode, package) -> float:
    """Seconds to execute the notebook with nbclient alone (plus the course runtime's setup cell)."""
    runnable = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup_source(package))] +
                                        [cell for cell in notebook.cells])
    with tempfile.TemporaryDirectory() as scratch:
        prepare_scratch(Path(scratch), package)
        started = time.perf_counter()
        NotebookClient(runnable, timeout=600, allow_errors=True, kernel_name="python3",
                       resources={"metadata": {"path": scratch}}).execute(
            env=kernel_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started


def engine(notebook: nbformat.NotebookNode, package, sandbox_mode: str) -> float:
    started = time.perf_counter()
    report = grade_notebook(notebook, package, sandbox_from_mode(sandbox_mode)).report
    elapsed = time.perf_counter() - started
    print(f"    engine ({sandbox_mode}) score {report.total:g}/{report.max_total:g}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default=str(LAB6 / "solution.ipynb"))
    parser.add_argument("--assignment", default=str(LAB6), help="assignment package (default: Lab 6)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default: 3)")
    args = parser.parse_args()
    package = load_assignment(args.assignment)
    notebook = nbformat.read(args.notebook, as_version=4)
    timings: dict[str, list[float]] = {"bare nbclient": [], "engine, no sandbox": [], "engine, sandboxed": []}
    for run in range(1, args.repeat + 1):
        print(f"run {run}/{args.repeat}")
        timings["bare nbclient"].append(bare_nbclient(notebook, package))
        timings["engine, no sandbox"].append(engine(notebook, package, "off"))
        timings["engine, sandboxed"].append(engine(notebook, package, "bubblewrap"))
    base = statistics.median(timings["bare nbclient"])
    print(f"\n{'':20} {'median s':>9} {'min s':>7} {'ratio':>6}")
    for name, values in timings.items():
        print(f"{name:20} {statistics.median(values):9.2f} {min(values):7.2f} {statistics.median(values) / base:6.2f}")
    overhead = statistics.median(timings["engine, sandboxed"]) / statistics.median(timings["engine, no sandbox"])
    print(f"\nsandbox overhead: {overhead:.2f}x the unsandboxed engine")


if __name__ == "__main__":
    main()
