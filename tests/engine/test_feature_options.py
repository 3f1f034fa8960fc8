"""`feature_function` options without a kernel: `returns: label` and `applies_to: {column}` in the
schema, the export the scorer accepts, trusted-side scoring, and the kernel's label conversion."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from nbformat import v4

from engine.feature_options_package import ONE_VALUE, PREDICT, build_variant, variant_rubric
from grader.engine.assignment import load_assignment
from grader.engine.checks import check_for, typed_params, validate_params
from grader.engine.checks.base import ArtifactRejected, Evidence, ProbeContext, parse_artifact
from grader.engine.checks.feature_function import MAX_LABEL_CHARS, FeatureArtifact
from grader.engine.locator import Location
from grader.engine.rubric import RubricError, parse_rubric
from grader.runtime import KERNEL_PACKAGE_DIR

sys.path.insert(0, str(KERNEL_PACKAGE_DIR.parent))
from grader_kernel import extract


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return load_assignment(build_variant(tmp_path_factory.mktemp("options") / "package"))


def question(package, key):
    return next(q for q in package.rubric.questions if q.key == key)


def with_params(base: dict, **changes) -> dict:
    rubric = variant_rubric()
    rubric["questions"] = [{**base, "params": {**base["params"], **changes}}]
    return rubric


def test_defaults_keep_a_row_function_returning_a_number():
    params = typed_params(validate_params(parse_rubric(with_params(ONE_VALUE))).questions[0])
    assert params.returns == "number" and params.applies_to.column == "feature1"
    default = typed_params(
        validate_params(parse_rubric(with_params(PREDICT, returns="number"))).questions[0]
    )
    assert default.applies_to == "row" and default.inputs == ["feature1", "feature2"]


@pytest.mark.parametrize(
    "base, changes, expected",
    [
        (PREDICT, {"returns": "text"}, "params.returns: Input should be 'number' or 'label'"),
        (ONE_VALUE, {"applies_to": "column"}, "params.applies_to"),
        (ONE_VALUE, {"applies_to": {"column": "feature1", "x": 1}}, "Extra inputs"),
        (ONE_VALUE, {"columns": ["feature2"]}, "give columns only with applies_to: row"),
        (ONE_VALUE, {"applies_to": {"column": "class"}}, "the label column 'class' cannot"),
        (PREDICT, {"columns": ["feature1", "class"]}, "the label column 'class' cannot"),
        (PREDICT, {"base_features": ["class"]}, "the label column 'class' cannot"),
    ],
)
def test_the_options_are_strict(base, changes, expected):
    with pytest.raises(RubricError, match="question 'predict|question 'one_value") as raised:
        validate_params(parse_rubric(with_params(base, **changes)))
    assert expected in str(raised.value)


def test_the_kernel_gets_the_declared_column_only_and_a_classifier_no_train_rows(package):
    context = ProbeContext("data", "hidden-features", 0, package)
    one_value, predict = question(package, "one_value"), question(package, "predict")
    assert check_for(one_value).heldout_columns(typed_params(one_value)) == {"band": ["feature1"]}
    one_value_probe = check_for(one_value).probe_source(typed_params(one_value), context)
    assert "['feature1'], 'number', True)" in one_value_probe
    probe = check_for(predict).probe_source(typed_params(predict), context)
    assert "'train'" not in probe and "'hidden-features/band.csv'" in probe
    assert "['feature1', 'feature2'], 'label', False)" in probe


def evidence(package, key, payload) -> Evidence:
    q = question(package, key)
    output = {"output_type": "display_data", "data": {"application/vnd.grader.probe+json": payload}}
    return Evidence(
        question=q,
        params=typed_params(q),
        location=Location([]),
        notebook=v4.new_notebook(),
        package=package,
        template_location=Location([]),
        artifact=parse_artifact(FeatureArtifact, [output]),
    )


def band_labels(table) -> list[str]:
    return np.where(abs(table["feature1"] - 0.5) < 0.2, "red", "blue").tolist()


def test_labels_are_scored_against_the_heldout_labels_and_pictured(package):
    heldout, grid = package.heldout_table("band"), package.public_table("all_points")
    payload = {"labels": {"heldout": band_labels(heldout), "grid": band_labels(grid)}}
    outcome = check_for(question(package, "predict")).score(evidence(package, "predict", payload))
    assert (outcome.status, outcome.fraction, outcome.details) == (
        "passed",
        1.0,
        {"heldout_accuracy": 1.0},
    )
    assert outcome.message.startswith("Your `my_predict` as the classifier: Held-out accuracy 100%")
    assert outcome.plot_png.startswith(b"\x89PNG")


def test_a_constant_label_earns_the_share_of_that_class(package):
    heldout = package.heldout_table("band")
    payload = {"labels": {"heldout": ["blue"] * len(heldout)}}
    outcome = check_for(question(package, "predict")).score(evidence(package, "predict", payload))
    blue = round(float((heldout["class"] == "blue").mean()), 4)
    assert outcome.status == "failed" and outcome.details == {"heldout_accuracy": blue}
    assert outcome.plot_png is None


def test_a_one_value_feature_feeds_the_reference_model(package):
    public, heldout = package.public_table("band"), package.heldout_table("band")
    values = {
        part: (abs(table["feature1"] - 0.5)).tolist()
        for part, table in (("train", public), ("heldout", heldout))
    }
    outcome = check_for(question(package, "one_value")).score(
        evidence(package, "one_value", {"values": values})
    )
    assert outcome.status == "passed"
    assert outcome.message.startswith("A linear model using your `from_feature1` as an extra")


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({"labels": {"heldout": [1.0]}}, "valid string"),
        ({"labels": {"heldout": [True]}}, "valid string"),
        ({"labels": {"heldout": ["x" * (MAX_LABEL_CHARS + 1)]}}, "at most 100 characters"),
        ({"labels": {"heldout": [2**63]}}, "valid string"),
        ({"labels": {"heldout": [["red"]]}}, "valid string"),
        ({"labels": {"heldout": [None]}}, "valid string"),
        ({"labels": {"secret": ["red"]}}, "Input should be 'train', 'heldout' or 'grid'"),
        ({"values": {"heldout": [float("nan")]}}, "finite number"),
        ({"values": {"heldout": ["1.5"]}}, "valid number"),
        ({"values": {"heldout": [1.0]}, "labels": {"heldout": ["red"]}}, "either values or labels"),
        ({}, "either values or labels"),
    ],
)
def test_exports_that_our_code_never_produces_are_rejected(payload, expected):
    output = {"output_type": "display_data", "data": {"application/vnd.grader.probe+json": payload}}
    with pytest.raises(ArtifactRejected, match="the answer's result has the wrong shape") as raised:
        parse_artifact(FeatureArtifact, [output])
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    "key, payload, expected",
    [
        ("predict", {"values": {"heldout": [1.0] * 120}}, "expected the function's labels"),
        ("predict", {"labels": {"heldout": ["red"] * 119}}, "expected 120 heldout values, got 119"),
        ("predict", {"labels": {"grid": ["red"] * 121}}, "expected 120 heldout values, got 0"),
        ("one_value", {"labels": {"heldout": ["red"] * 120}}, "expected the function's numbers"),
    ],
)
def test_an_export_of_the_wrong_kind_or_length_is_not_scored(package, key, payload, expected):
    with pytest.raises(ValueError, match=expected):
        check_for(question(package, key)).score(evidence(package, key, payload))


class LyingText(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__

    def __str__(self):
        return "blue"


class LyingNumber(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__

    def __repr__(self):
        return "'red'"


@pytest.mark.parametrize(
    "returned, exported",
    [
        ("red", "red"),
        (np.str_("red"), "red"),
        (np.int64(3), 3),
        (LyingText("red"), "red"),
        (LyingNumber(2), 2),
    ],
)
def test_the_kernel_exports_labels_as_plain_text_or_integers(returned, exported):
    label = extract._label(returned, "my_predict", 1)
    assert type(label) is type(exported) and str.__eq__(str(label), str(exported))


@pytest.mark.parametrize(
    "returned, expected",
    [
        (1.0, "returned 1.0 for row 7; it must return a class label: text such as 'red'"),
        (True, "returned True for row 7"),
        (np.True_, "returned np.True_ for row 7"),
        (None, "returned None for row 7"),
        (2**63, "for row 7; it must return a class label"),
        ("x" * 10_000_000, "returned a label of 10000000 characters for row 7; a class label"),
    ],
)
def test_the_kernel_refuses_what_is_not_a_label(returned, expected):
    with pytest.raises((TypeError, ValueError), match=expected):
        extract._label(returned, "my_predict", 7)


def test_kernel_and_scorer_cap_labels_alike():
    assert extract.MAX_LABEL_CHARS == MAX_LABEL_CHARS
