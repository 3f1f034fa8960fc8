"""Clean-room scoring on the mini lab: nothing the student's kernel says about a model's quality is
believed.

The attacker has read our source. The weak answer is a linear model on a band that no line separates
(about 60% held-out accuracy, under the 70% partial band); each attack tries to make it pass anyway.
"""

from __future__ import annotations

import json

import pytest
import yaml
from nbformat import v4

from engine.conftest import grade_answers, scores, statuses
from engine.mini_package import SOLUTION_ANSWERS, build, notebook
from grader.engine import plots
from grader.engine.assignment import load_assignment
from grader.engine.grade import grade_notebook
from grader.engine.result_cache import ResultCache

# Slow: grades notebooks in the bubblewrap sandbox, which needs root.
pytestmark = pytest.mark.slow

WEAK = {
    **SOLUTION_ANSWERS,
    "Question 2": (
        "from sklearn.linear_model import LogisticRegression\nmodel = LogisticRegression()"
    ),
}
# Perfect-looking predictions made from the public rows with k-nearest neighbours (computed first,
# so that rebinding the runtime cannot break the forger itself), published as if the grader's export
# had made them.
FORGE = """
import pandas as pd
from IPython.display import publish_display_data
from sklearn.neighbors import KNeighborsClassifier
public = pd.read_csv("data/band.csv")
train = public[public["split"] == "train"]
knn = KNeighborsClassifier(3).fit(train[["feature1", "feature2"]], train["class"] == "red")
heldout = pd.read_csv(".grader/heldout/band.csv")
forged = {"predictions": {"heldout": knn.predict(heldout[["feature1", "feature2"]]).tolist()}}
def forge(*args, **kwargs):
    publish_display_data({"application/vnd.grader.probe+json": forged})
"""
ATTACKS = {
    "forged-export": FORGE + "import grader_kernel.extract as e\ne.model_export = forge",
    "every-runtime-function": FORGE
    + """
import sys, types
for name, module in list(sys.modules.items()):
    if name.startswith("grader_kernel"):
        for attr, value in list(vars(module).items()):
            if isinstance(value, types.FunctionType):
                setattr(module, attr, forge)
""",
    "sklearn-clone": "import sklearn.base\nfrom sklearn.neighbors import KNeighborsClassifier\n"
    "sklearn.base.clone = lambda estimator, **k: KNeighborsClassifier(3)",
    "numpy-mean": "import numpy\nnumpy.mean = lambda *a, **k: 1.0",
    "predict": "from sklearn.linear_model import LogisticRegression\n"
    "LogisticRegression.predict = lambda self, X: (abs(X['feature1'] - 0.5) < 0.2).to_numpy()",
}


def weak_with(attack: str):
    return notebook(WEAK, extra_after={"Question 2": [v4.new_code_cell(attack)]})


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_a_weak_model_cannot_be_made_to_pass_and_the_attempt_is_flagged(
    mini_package, attack, sandbox
):
    report = grade_notebook(weak_with(ATTACKS[attack]), mini_package, sandbox).report
    assert scores(report)["model"] == 0.0
    assert statuses(report)["model"] in ("failed", "error")
    assert report.tamper, "the attempt is recorded for staff"


def test_the_weak_model_alone_fails_and_is_not_flagged(mini_package, sandbox):
    report = grade_answers(sandbox, mini_package, WEAK)
    assert (
        statuses(report)["model"] == "failed" and "Held-out accuracy" in report.questions[1].message
    )
    assert report.tamper == []


def test_honest_solution_has_no_tamper_flags(solution_report):
    assert solution_report.tamper == []


def test_rebound_library_functions_are_named_for_staff(mini_package, sandbox):
    report = grade_notebook(
        weak_with(ATTACKS["sklearn-clone"] + "\n" + ATTACKS["numpy-mean"]), mini_package, sandbox
    ).report
    assert {"sklearn.base.clone", "numpy.mean"} <= set(report.tamper)


def test_a_custom_estimator_class_is_refused_by_name(mini_package, sandbox):
    custom = (
        "from sklearn.base import BaseEstimator, ClassifierMixin\n"
        "class CleverModel(ClassifierMixin, BaseEstimator):\n"
        "    def fit(self, X, y):\n        return self\n"
        "    def predict(self, X):\n        return [True] * len(X)\n"
        "model = CleverModel()"
    )
    report = grade_answers(sandbox, mini_package, {**SOLUTION_ANSWERS, "Question 2": custom})
    model = report.questions[1]
    assert model.status == "error" and "CleverModel" in model.message and model.score == 0


def test_a_student_written_module_cannot_reach_the_scoring_kernel(mini_package, sandbox):
    # Shadow our scoring code wherever the notebook can write; the scoring kernel has its own home
    # and /tmp.
    shadow = (
        "import os\n"
        "evil = 'def serve(*a, **k):\\n    raise SystemExit(0)\\nmain = serve\\n'\n"
        "for root in ('.', '/tmp', os.path.expanduser('~')):\n"
        "    for package in ('scoring_kernel', '.grader/scoring_kernel'):\n"
        "        try:\n"
        "            os.makedirs(os.path.join(root, package), exist_ok=True)\n"
        "            for name in ('__init__.py', 'serve.py', 'rebuild.py'):\n"
        "                open(os.path.join(root, package, name), 'w').write(evil)\n"
        "        except OSError:\n"
        "            pass\n"
    )
    report = grade_notebook(weak_with(shadow), mini_package, sandbox).report
    assert (
        statuses(report)["model"] == "failed" and "Held-out accuracy" in report.questions[1].message
    )
    solution = notebook(SOLUTION_ANSWERS, extra_after={"Question 1": [v4.new_code_cell(shadow)]})
    assert scores(grade_notebook(solution, mini_package, sandbox).report)["model"] == 3.0


@pytest.fixture(scope="module")
def fitted_package(tmp_path_factory):
    """The mini lab asking for the student's *fitted* model, and for a model on columns the student
    picks."""
    root = build(tmp_path_factory.mktemp("fitted") / "package")
    rubric = yaml.safe_load((root / "rubric.yaml").read_text())
    model = next(q for q in rubric["questions"] if q["key"] == "model")
    model["params"]["refit"] = False
    rubric["questions"].append(
        {
            "key": "chosen",
            "title": "Pick the columns",
            "points": 2,
            "kind": "model",
            "locator": {"section": "Exercise / Question 2"},
            "params": {
                "estimator": "model",
                "dataset": "band",
                "features_from": "columns",
                "target": 0.9,
            },
        }
    )
    (root / "rubric.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False))
    return load_assignment(root)


FITTED = (
    "from sklearn.neighbors import KNeighborsClassifier\n"
    "train = df[df['split'] == 'train']\n"
    "columns = {columns}\n"
    "model = KNeighborsClassifier(5).fit(train[['feature1', 'feature2']], train['class']{target})"
)


def fitted_answer(sandbox, package, columns="['feature1']", target=""):
    answers = {**SOLUTION_ANSWERS, "Question 2": FITTED.format(columns=columns, target=target)}
    report = grade_answers(sandbox, package, answers)
    return {q.key: q for q in report.questions}


def test_refit_false_scores_the_model_as_the_student_fitted_it(fitted_package, sandbox):
    assert fitted_answer(sandbox, fitted_package)["model"].status == "passed"
    assert "Scored as you fitted it" in fitted_answer(sandbox, fitted_package)["model"].message
    # Fitted on a shuffled label the same class of model learns nothing: it is not retrained for
    # them.
    shuffled = fitted_answer(
        sandbox, fitted_package, target=".sample(frac=1, random_state=1).to_numpy()"
    )["model"]
    assert shuffled.status == "failed"


@pytest.mark.parametrize(
    "columns, status, words",
    [
        ("['feature1']", "passed", None),
        ("['feature2']", "failed", "Held-out accuracy"),
        ("['feature1', 'class']", "error", "'class', which is not a feature"),
        ("['feature1', 'nope']", "error", "'nope', which is not a column"),
        ("'feature1'", "error", "must be a non-empty list of column names"),
    ],
)
def test_features_from_trains_on_the_students_columns_once_checked(
    fitted_package, columns, status, words, sandbox
):
    chosen = fitted_answer(sandbox, fitted_package, columns=columns)["chosen"]
    assert chosen.status == status, chosen.message
    if words:
        assert words in chosen.message
    if status == "passed":
        assert chosen.details["features"] == ["feature1"]


def test_an_identical_notebook_is_not_run_again_and_a_changed_answer_retrains_nothing(
    mini_package, tmp_path, solution_report, sandbox
):
    cache = ResultCache(tmp_path)
    first = grade_notebook(notebook(SOLUTION_ANSWERS), mini_package, sandbox, cache=cache)
    again = grade_notebook(notebook(SOLUTION_ANSWERS), mini_package, sandbox, cache=cache)
    assert not first.reused and first.from_cache == []
    assert again.reused and again.report.to_dict(include_plots=True) == first.report.to_dict(
        include_plots=True
    )
    assert again.executed == first.executed
    # Only the written answer changed: the notebook runs again, the unchanged model is not
    # retrained.
    rewritten = {
        **SOLUTION_ANSWERS,
        "Question 5": "FILLME\nThe classes form a band; a line cannot split it.",
    }
    changed = grade_notebook(notebook(rewritten), mini_package, sandbox, cache=cache)
    assert not changed.reused and changed.from_cache == ["model"]
    assert [q.to_dict() for q in first.report.questions] == [
        q.to_dict() for q in solution_report.questions
    ]
    assert [q.to_dict() for q in changed.report.questions if q.key != "explain"] == [
        q.to_dict() for q in first.report.questions if q.key != "explain"
    ]


def test_a_grading_that_timed_out_is_never_reused(mini_package, tmp_path, sandbox):
    cache = ResultCache(tmp_path)
    slow = notebook({**SOLUTION_ANSWERS, "Question 3": "import time\ntime.sleep(60)\nanswer = 42"})
    first = grade_notebook(slow, mini_package, sandbox, cache=cache)
    assert first.report.questions[2].status == "timed_out"
    assert not grade_notebook(slow, mini_package, sandbox, cache=cache).reused


def test_pictures_draw_public_points_only(mini_package, monkeypatch, sandbox):
    drawn = []
    monkeypatch.setattr(
        plots.vl_convert, "vegalite_to_png", lambda spec, scale: drawn.append(spec) or b"png"
    )
    report = grade_answers(sandbox, mini_package)
    assert {q.key for q in report.questions if q.plot_png} == {"feature", "model"} and len(
        drawn
    ) == 2
    heldout = mini_package.heldout_table("band")
    secret = {(round(x, 4), round(y, 4)) for x, y in zip(heldout["feature1"], heldout["feature2"])}
    public = mini_package.public_table("band")
    for spec in map(json.loads, drawn):
        rows = [row for dataset in spec["datasets"].values() for row in dataset]
        points = {(row["feature1"], row["feature2"]) for row in rows if "label" in row}
        assert points and not points & secret
        assert len(points) == (public["split"] == "train").sum()
