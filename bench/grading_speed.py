"""Benchmark: grading a notebook through the engine (cold and with warm kernels) vs bare nbclient.

    python bench/grading_speed.py [NOTEBOOK] [--assignment DIR] [--repeat N]

All are measured in the same run, on the same machine, so the ratios are what matter. The bare run
executes the notebook with nbclient in a cold kernel with only the course runtime installed (the Lab
6 notebook cannot run on current TensorFlow without it); the engine runs add locating answers,
exports, retraining the models in the scoring kernel, scoring and plots: without the sandbox,
sandboxed with a cold kernel (what `grader grade --no-cache` does), and sandboxed with a kernel from
the warm pool (what a worker does). In the warm runs the pool starts the next kernel while the
notebook is graded, as it does during a deadline rush. Last, with one result cache: the notebook,
the same notebook again (its grading is reused), and the notebook with a markdown cell added (it
runs again; its models' answers come from the cache).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grader.engine.assignment import load_assignment
from grader.engine.grade import (
    grade_notebook,
    kernel_environment,
    kernel_pool,
    kernel_profile,
    prepare_scratch,
    setup_source,
)
from grader.engine.result_cache import ResultCache
from grader.sandbox import sandbox_from_mode

LAB6 = Path(__file__).resolve().parents[1] / "fixtures" / "lab6"


def bare_nbclient(notebook: nbformat.NotebookNode, package) -> float:
    """Seconds to run the notebook with nbclient alone (plus the course runtime's setup cell)."""
    runnable = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(setup_source(package))] + [cell for cell in notebook.cells]
    )
    with tempfile.TemporaryDirectory() as scratch:
        prepare_scratch(Path(scratch), package)
        started = time.perf_counter()
        NotebookClient(
            runnable,
            timeout=600,
            allow_errors=True,
            kernel_name="python3",
            resources={"metadata": {"path": scratch}},
        ).execute(env=kernel_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started


def engine(
    notebook: nbformat.NotebookNode, package, sandbox_mode: str, kernels=None, cache=None
) -> float:
    started = time.perf_counter()
    result = grade_notebook(
        notebook, package, sandbox_from_mode(sandbox_mode), kernels=kernels, cache=cache
    )
    elapsed = time.perf_counter() - started
    report = result.report
    how = "reused" if result.reused else f"{result.scoring_seconds:.2f} s of it after the notebook"
    print(
        f"    engine ({sandbox_mode}{', warm' if kernels else ''}{', cached' if cache else ''}) "
        f"score {report.total:g}/{report.max_total:g}: {elapsed:.2f} s "
        f"({how}; models from the cache: "
        f"{', '.join(result.from_cache) or 'none'})"
    )
    return elapsed


def peak_memory_mb() -> tuple[float, float]:
    """Peak resident memory of this (the worker's) process and the largest kernel it ran, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kernels = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kernels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default=str(LAB6 / "solution.ipynb"))
    parser.add_argument(
        "--assignment", default=str(LAB6), help="assignment package (default: Lab 6)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default: 3)")
    args = parser.parse_args()
    package = load_assignment(args.assignment)
    notebook = nbformat.read(args.notebook, as_version=4)
    resubmitted = nbformat.from_dict(notebook)
    resubmitted.cells = notebook.cells + [nbformat.v4.new_markdown_cell("Resubmitted with a note.")]
    timings: dict[str, list[float]] = {
        "bare nbclient, cold": [],
        "engine, no sandbox": [],
        "engine, sandboxed, cold": [],
        "engine, sandboxed, warm": [],
        "cached, 1st": [],
        "cached, same again": [],
        "cached, text changed": [],
    }
    pool = kernel_pool(sandbox_from_mode("bubblewrap"))
    pool.warm(kernel_profile(package.rubric.runtime, package.template))
    try:
        for run in range(1, args.repeat + 1):
            print(f"run {run}/{args.repeat}")
            timings["bare nbclient, cold"].append(bare_nbclient(notebook, package))
            timings["engine, no sandbox"].append(engine(notebook, package, "off"))
            timings["engine, sandboxed, cold"].append(engine(notebook, package, "bubblewrap"))
            with tempfile.TemporaryDirectory() as cache_dir:
                # One cache: the notebook, then the same notebook again (reused: nothing runs), then
                # the notebook with one more markdown cell (it runs; its unchanged models are not
                # retrained).
                cache = ResultCache(Path(cache_dir))
                timings["cached, 1st"].append(engine(notebook, package, "bubblewrap", cache=cache))
                timings["cached, same again"].append(
                    engine(notebook, package, "bubblewrap", cache=cache)
                )
                timings["cached, text changed"].append(
                    engine(resubmitted, package, "bubblewrap", cache=cache)
                )
            # The first kernel warms while the runs above execute; later ones while the previous is
            # graded.
            pool.wait_until_ready()
            timings["engine, sandboxed, warm"].append(
                engine(notebook, package, "bubblewrap", kernels=pool)
            )
    finally:
        pool.close()
    base = statistics.median(timings["bare nbclient, cold"])
    print(f"\n{'':24} {'median s':>9} {'min s':>7} {'ratio':>6}")
    for name, values in timings.items():
        print(
            f"{name:24} {statistics.median(values):9.2f} {min(values):7.2f} "
            f"{statistics.median(values) / base:6.2f}"
        )
    cold, warm = (
        statistics.median(timings[name])
        for name in ("engine, sandboxed, cold", "engine, sandboxed, warm")
    )
    print(
        f"\nwarm pool: {warm / cold:.2f}x the cold sandboxed engine, "
        f"{warm / base:.2f}x bare cold nbclient"
    )
    first, again, changed = (
        statistics.median(timings[name])
        for name in ("cached, 1st", "cached, same again", "cached, text changed")
    )
    print(
        f"cache: grading the same notebook again takes {again / first:.3f}x the first; "
        "with only a written "
        f"answer changed (the notebook runs, no model is retrained) {changed / first:.2f}x"
    )
    own, kernel = peak_memory_mb()
    print(
        f"peak memory: worker process {own:.0f} MB, largest kernel {kernel:.0f} MB, "
        f"a worker with one warm kernel about {own + 2 * kernel:.0f} MB"
    )


if __name__ == "__main__":
    main()
