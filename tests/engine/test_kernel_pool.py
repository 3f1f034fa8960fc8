"""Warm kernels: started ahead of time, one submission each, nothing carried between students."""

from __future__ import annotations

import pytest
from nbformat import v4

from engine.conftest import scores
from engine.mini_package import SOLUTION_ANSWERS, notebook
from engine.test_lab6 import LAB6
from grader.engine.assignment import load_assignment
from grader.engine.grade import grade_notebook, kernel_pool, kernel_profile

# Slow: keeps warm kernels in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

# Leaves a variable, a patched library function and files behind, as a careless or malicious
# notebook could.
LITTER = v4.new_code_cell(
    "import statistics, pandas, pathlib\n"
    "leaked_secret = 'answers of student one'\n"
    "statistics.mean = lambda data: 'patched'\n"
    "pandas.DataFrame.mean = lambda self, *args, **kwargs: 42\n"
    "pathlib.Path('left-behind.txt').write_text('student one')\n"
    "pathlib.Path('/tmp/left-behind.txt').write_text('student one')"
)

# Earns the `answer` question only in a kernel where none of that litter is visible.
CLEAN_CHECK = (
    "import os, pandas, statistics\n"
    "clean = ('leaked_secret' not in globals() and statistics.mean([1, 3]) == 2\n"
    "         and pandas.DataFrame({'a': [1, 3]}).mean()['a'] == 2\n"
    "         and not os.path.exists('left-behind.txt') "
    "and not os.path.exists('/tmp/left-behind.txt'))\n"
    "answer = 42 if clean else 0"
)


@pytest.fixture
def pool(mini_package, sandbox):
    pool = kernel_pool(sandbox)
    pool.warm(kernel_profile(mini_package.rubric.runtime, mini_package.template))
    yield pool
    pool.close()


def test_each_warm_kernel_serves_one_submission_and_nothing_leaks_to_the_next(
    pool, mini_package, sandbox
):
    first = grade_notebook(
        notebook(SOLUTION_ANSWERS, extra_after={"Question 4": [LITTER]}),
        mini_package,
        sandbox,
        kernels=pool,
    ).report
    assert first.questions and not first.cell_errors
    second = grade_notebook(
        notebook({**SOLUTION_ANSWERS, "Question 3": CLEAN_CHECK}),
        mini_package,
        sandbox,
        kernels=pool,
    ).report
    assert pool.served_warm == 2
    assert scores(second)["answer"] == 1, second.questions


def test_warm_kernel_grades_like_a_cold_one(pool, mini_package, solution_report, sandbox):
    warm = grade_notebook(notebook(SOLUTION_ANSWERS), mini_package, sandbox, kernels=pool).report
    assert pool.served_warm == 1
    assert scores(warm) == scores(solution_report)


def test_preloaded_modules_leave_no_names_in_the_notebook(pool, mini_package, sandbox):
    probe = (
        "answer = 42 if not [n for n in globals() "
        "if 'preload' in n or n in ('pandas', 'sklearn')] else 0"
    )
    report = grade_notebook(
        notebook({**SOLUTION_ANSWERS, "Question 3": probe}), mini_package, sandbox, kernels=pool
    ).report
    assert pool.served_warm == 1
    assert scores(report)["answer"] == 1


def test_a_kernel_of_another_profile_is_not_used(pool, mini_package):
    other = mini_package.rubric.runtime.model_copy(update={"legacy_keras": True})
    assert pool.take(kernel_profile(other, mini_package.template)) is None
    assert pool.served_warm == 0


def test_a_kernel_preloads_what_the_assignments_template_imports(mini_package):
    assert kernel_profile(mini_package.rubric.runtime, mini_package.template).preload == (
        "pandas",
        "sklearn",
    )


def test_lab6_kernels_preload_tensorflow_and_legacy_keras_not_keras_3():
    lab6 = load_assignment(LAB6)
    preload = kernel_profile(lab6.rubric.runtime, lab6.template).preload
    assert {"tensorflow", "tf_keras", "pandas", "sklearn", "altair"} <= set(preload)
    assert "keras" not in preload


def test_a_warm_kernel_that_dies_is_replaced_by_a_cold_one_not_reused(pool, mini_package, sandbox):
    killed = notebook({**SOLUTION_ANSWERS, "Question 3": "answer = 42\nimport os\nos._exit(0)"})
    report = grade_notebook(killed, mini_package, sandbox, kernels=pool).report
    assert pool.served_warm == 1
    assert scores(report)["chart"] == 1 and scores(report)["answer"] == 0
    # The next submission gets a kernel the pool started for it, alive and untouched.
    second = grade_notebook(notebook(SOLUTION_ANSWERS), mini_package, sandbox, kernels=pool).report
    assert pool.served_warm == 2
    assert scores(second)["answer"] == 1
