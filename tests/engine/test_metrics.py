"""The `metric` option without a kernel: the schema of targets and bands for each metric, the
figures the trusted side computes, and how a model's predictions become a score, a message and a
picture."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from nbformat import v4
from sklearn import metrics

from engine.mini_package import RUBRIC as MINI_RUBRIC
from engine.regression_package import RUBRIC, build
from grader.engine import plots
from grader.engine.assignment import load_assignment
from grader.engine.checks import check_for, typed_params, validate_params
from grader.engine.checks.accuracy import class_metric, regression_metric
from grader.engine.checks.base import Evidence
from grader.engine.checks.model import ModelArtifact
from grader.engine.locator import Location
from grader.engine.rubric import RubricError, parse_rubric


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return load_assignment(build(tmp_path_factory.mktemp("regression") / "package"))


def params_of(changes: dict, drop: tuple[str, ...] = ("target",), index: int = 0):
    rubric = copy.deepcopy(RUBRIC)
    params = rubric["questions"][index]["params"]
    for name in drop:
        params.pop(name, None)
    params.update(changes)
    return typed_params(validate_params(parse_rubric(rubric)).questions[index])


def test_accuracy_stays_the_default_and_keeps_its_bands():
    rubric = validate_params(parse_rubric(copy.deepcopy(MINI_RUBRIC)))
    model = typed_params(rubric.questions[1])
    assert model.metric == "accuracy" and model.grid == "all_points"
    assert rubric.questions[1].params["bands"][1] == {"min_accuracy": 0.7, "fraction": 0.5}
    assert model.explain(0.8) == (
        "Held-out accuracy 80%; 90% earns full marks, 70% earns 50% of the points."
    )


def test_an_error_metric_counts_at_most_and_sorts_its_bands_best_first():
    params = params_of(
        {"bands": [{"at_most": 4, "fraction": 0.5}, {"at_most": 2.5, "fraction": 1.0}]}
    )
    assert [band.at_most for band in params.bands] == [2.5, 4]
    assert [params.fraction_for(v) for v in (2.5, 3.1, 4.0, 4.01)] == [1.0, 0.5, 0.5, 0.0]
    assert params.explain(3.1) == (
        "Held-out RMSE 3.1; at most 2.5 earns full marks, at most 4 earns 50% of the points."
    )
    # A regressor predicts numbers: no classes, no decision regions.
    assert params.positive_class is None and params.grid is None
    assert params_of({"metric": "r2", "target": 0.8}).explain(0.71) == (
        "Held-out R² 0.71; at least 0.8 earns full marks."
    )


def test_balanced_accuracy_reads_as_a_share():
    params = params_of({"target": 0.8}, index=1)
    assert params.fraction_for(0.8) == 1 and params.fraction_for(0.79) == 0
    assert params.explain(0.5) == "Held-out balanced accuracy 50%; at least 80% earns full marks."


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"target": 2.5}, "with metric rmse lower is better: write target: {at_most: 2.5}"),
        ({"target": {"at_least": 2}}, "params: target: with metric rmse lower is better"),
        ({"target": {"at_most": 1, "at_least": 2}}, "give exactly one of at_least or at_most"),
        ({"target": {"at_most": -1}}, "RMSE is never negative"),
        ({"target": {"below": 1}}, "params.target.bound.below: Extra inputs"),
        (
            {"bands": [{"min_accuracy": 0.9, "fraction": 1}]},
            "bands.0: min_accuracy is for metric accuracy; write at_least",
        ),
        ({"metric": "r2", "target": {"at_most": 0.5}}, "with metric r2 higher is better"),
        ({"metric": "r2", "target": 1.5}, "R² is at most 1"),
        ({"metric": "f1", "target": 1.5}, "F1 score is between 0 and 1"),
        ({"metric": "mse", "target": 1}, "params.metric: Input should be 'accuracy'"),
        (
            {"positive_class": "yes", "target": {"at_most": 2}},
            "positive_class does not apply to metric rmse (a regression metric)",
        ),
        ({"grid": "all_points", "target": {"at_most": 2}}, "grid does not apply to metric rmse"),
        ({}, "give either target or bands"),
    ],
)
def test_targets_are_strict_and_say_which_way_is_better(changes, expected):
    with pytest.raises(RubricError, match="question 'price'") as raised:
        params_of(changes)
    assert expected in str(raised.value)


def test_a_feature_function_takes_only_classification_metrics():
    rubric = copy.deepcopy(MINI_RUBRIC)
    rubric["questions"][0]["params"].update(metric="rmse", target={"at_most": 1})
    with pytest.raises(RubricError, match="metric rmse is for regression models"):
        validate_params(parse_rubric(rubric))
    rubric["questions"][0]["params"].update(metric="f1", target=0.5)
    assert typed_params(validate_params(parse_rubric(rubric)).questions[0]).metric == "f1"


def test_classification_metrics_match_scikit_learn():
    rng = np.random.default_rng(3)
    actual = rng.choice(["red", "blue", "green"], 200, p=[0.6, 0.3, 0.1]).tolist()
    predicted = [a if rng.random() < 0.7 else "red" for a in actual]
    assert class_metric("balanced_accuracy", predicted, actual, None) == pytest.approx(
        metrics.balanced_accuracy_score(actual, predicted)
    )
    assert class_metric("f1", predicted, actual, None) == pytest.approx(
        metrics.f1_score(actual, predicted, average="macro")
    )
    assert class_metric("f1", predicted, actual, "green") == pytest.approx(
        metrics.f1_score(actual, predicted, labels=["green"], average="macro")
    )
    assert class_metric("accuracy", predicted, actual, None) == pytest.approx(
        metrics.accuracy_score(actual, predicted)
    )
    assert class_metric("f1", ["blue"] * 3, ["blue"] * 3, "red") == 0.0


def test_regression_metrics_match_scikit_learn():
    rng = np.random.default_rng(4)
    actual = rng.normal(10, 3, 100)
    predicted = actual + rng.normal(0, 1, 100)
    figures = {
        "r2": metrics.r2_score(actual, predicted),
        "mae": metrics.mean_absolute_error(actual, predicted),
        "rmse": metrics.root_mean_squared_error(actual, predicted),
    }
    for metric, expected in figures.items():
        assert regression_metric(metric, predicted.tolist(), actual.tolist()) == pytest.approx(
            expected
        )
    assert regression_metric("r2", [2.0, 2.0], [2.0, 2.0]) == 1.0
    with pytest.raises(ValueError, match="prediction for 2 held-out rows is not a finite number"):
        regression_metric("rmse", [1.0, float("nan"), "red"], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="got 1 predictions for 2 held-out rows"):
        regression_metric("mae", [1.0], [1.0, 2.0])


def evidence(package, key: str, predictions: dict) -> Evidence:
    question = next(q for q in package.rubric.questions if q.key == key)
    return Evidence(
        question=question,
        params=typed_params(question),
        location=Location([]),
        notebook=v4.new_notebook(),
        package=package,
        template_location=Location([]),
        artifact=ModelArtifact(model={"framework": "sklearn"}),
        scored={"predictions": predictions},
    )


def test_a_regressor_is_scored_by_rmse_and_pictured_on_public_rows_only(package):
    heldout = package.heldout_table("houses")
    public = package.public_table("houses")
    train = public[public["split"] == "train"]
    good = {"heldout": (heldout["price"] + 0.5).tolist(), "train": train["price"].tolist()}
    check = check_for(next(q for q in package.rubric.questions if q.key == "price"))
    outcome = check.score(evidence(package, "price", good))
    assert (outcome.status, outcome.details) == ("passed", {"heldout_rmse": 0.5})
    assert outcome.message == (
        "Retrained on the train split. Held-out RMSE 0.5; at most 2 earns full marks."
    )
    assert outcome.plot_png.startswith(b"\x89PNG")
    mean = float(train["price"].mean())
    constant = {"heldout": [mean] * len(heldout), "train": [mean] * len(train)}
    failed = check.score(evidence(package, "price", constant))
    assert failed.status == "failed" and failed.details["heldout_rmse"] > 5
    assert "Held-out RMSE" in failed.message and "at most 2 earns full marks" in failed.message


def test_the_scoring_job_asks_for_numbers_and_public_rows_for_the_picture(package):
    question = next(q for q in package.rubric.questions if q.key == "price")
    job = check_for(question).scoring_job(evidence(package, "price", {}))
    assert job["task"] == "regression" and set(job["predict"]) == {"heldout", "train"}
    assert all(isinstance(label, float) for label in job["labels"])
    classifier = next(q for q in package.rubric.questions if q.key == "pricey")
    job = check_for(classifier).scoring_job(evidence(package, "pricey", {}))
    assert "task" not in job and set(job["predict"]) == {"heldout"}
    assert set(job["labels"]) == {True, False}


def test_balanced_accuracy_sees_through_always_answering_the_common_class(package):
    heldout = package.heldout_table("houses")
    outcome = check_for(next(q for q in package.rubric.questions if q.key == "pricey")).score(
        evidence(package, "pricey", {"heldout": [False] * len(heldout)})
    )
    assert (outcome.status, outcome.details) == ("failed", {"heldout_balanced_accuracy": 0.5})
    assert outcome.plot_png is None


def test_the_regression_picture_draws_public_train_rows_only(package, monkeypatch):
    drawn: list[str] = []
    monkeypatch.setattr(
        plots.vl_convert, "vegalite_to_png", lambda spec, scale: drawn.append(spec) or b"png"
    )
    heldout, public = package.heldout_table("houses"), package.public_table("houses")
    train = public[public["split"] == "train"]
    predictions = {"heldout": heldout["price"].tolist(), "train": (train["price"] + 1).tolist()}
    question = next(q for q in package.rubric.questions if q.key == "price")
    assert check_for(question).score(evidence(package, "price", predictions)).plot_png == b"png"
    rows = [row for data in json.loads(drawn[0])["datasets"].values() for row in data]
    actual = {row["actual"] for row in rows if row["actual"] != row["predicted"]}
    assert actual == set(train["price"]) and not actual & set(heldout["price"])
