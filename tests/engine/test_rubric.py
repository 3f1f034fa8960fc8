"""Rubric and package validation: errors name the question and field; zip packages load safely."""

from __future__ import annotations

import copy
import shutil
import zipfile

import pytest
import yaml

from engine.mini_package import RUBRIC, build
from grader.engine.assignment import AssignmentError, load_assignment
from grader.engine.checks import typed_params, validate_params
from grader.engine.rubric import RubricError, parse_rubric


def broken(change) -> dict:
    rubric = copy.deepcopy(RUBRIC)
    change(rubric)
    return rubric


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda r: r["questions"][1].update(kind="neural"),
            "question 'model', field kind: unknown kind 'neural'",
        ),
        (
            lambda r: r["questions"][1]["params"]["bands"][0].update(min_accuracy=1.5),
            "question 'model': params.bands.0.min_accuracy: "
            "Input should be less than or equal to 1",
        ),
        (
            lambda r: r["questions"][1]["params"].update(factory="create_model"),
            "question 'model': params: give exactly one of factory",
        ),
        (
            lambda r: r["questions"][0].pop("locator"),
            "question 'feature', field locator: Field required",
        ),
        (lambda r: r["questions"][0].update(locator={}), "give a section"),
        (lambda r: r["questions"][2].update(points=-1), "question 'answer', field points"),
        (
            lambda r: r["questions"][3]["params"].update(expect="video"),
            "question 'chart': params.expect: Input should be",
        ),
        (
            lambda r: r["questions"][4]["params"].update(surprise=1),
            "params.surprise: Extra inputs are not permitted",
        ),
        (
            lambda r: r["questions"].append(copy.deepcopy(r["questions"][0])),
            "question key 'feature' is used twice",
        ),
        (lambda r: r.update(questions=[]), "questions"),
    ],
)
def test_rubric_errors_name_the_question_and_field(change, expected):
    with pytest.raises(RubricError) as error:
        validate_params(parse_rubric(broken(change)))
    assert expected in str(error.value)


def test_the_rubric_shape_is_checked_without_the_check_kinds():
    rubric = parse_rubric(
        broken(lambda r: r["questions"][1].update(kind="neural", params={"any": 1}))
    )
    assert rubric.questions[1].kind == "neural"


def test_target_is_shorthand_for_one_band():
    rubric = validate_params(parse_rubric(copy.deepcopy(RUBRIC)))
    assert rubric.questions[0].params["bands"] == [{"min_accuracy": 0.9, "fraction": 1.0}]
    params = typed_params(rubric.questions[0])
    assert [(b.min_accuracy, b.fraction) for b in params.bands] == [(0.9, 1.0)]
    assert params.fraction_for(0.89) == 0 and params.fraction_for(0.9) == 1


def test_package_problems_are_named(tmp_path):
    root = build(tmp_path / "pkg")
    (root / "rubric.yaml").write_text("title: [unclosed")
    with pytest.raises(AssignmentError, match="not valid YAML"):
        load_assignment(root)
    (root / "rubric.yaml").write_text(
        yaml.safe_dump(broken(lambda r: r["urls"].update({"https://x/y.csv": "y.csv"})))
    )
    with pytest.raises(AssignmentError, match="maps to data/y.csv"):
        load_assignment(root)
    rubric = broken(lambda r: r["questions"][1]["params"].update(dataset="bnad"))
    (root / "rubric.yaml").write_text(yaml.safe_dump(rubric))
    with pytest.raises(AssignmentError, match="question 'model' needs data/bnad.csv"):
        load_assignment(root)
    (root / "template.ipynb").unlink()
    with pytest.raises(AssignmentError, match="no template.ipynb"):
        load_assignment(root)


def test_zip_package_with_a_top_level_folder_loads(tmp_path):
    build(tmp_path / "lab")
    archive = shutil.make_archive(str(tmp_path / "lab"), "zip", root_dir=tmp_path, base_dir="lab")
    with load_assignment(archive) as package:
        assert package.rubric.title == "Mini lab"
        assert len(package.heldout_table("band")) == 120
        unpacked = package.root
    assert not unpacked.exists()


def test_zip_with_unsafe_paths_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../../escape.txt", "x")
    with pytest.raises(AssignmentError, match="unsafe path"):
        load_assignment(archive)
    assert not (tmp_path.parent / "escape.txt").exists()


def test_not_a_zip(tmp_path):
    path = tmp_path / "lab.zip"
    path.write_text("hello")
    with pytest.raises(AssignmentError, match="neither a folder nor a zip"):
        load_assignment(path)
