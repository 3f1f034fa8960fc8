"""The rubric editor: form rows (add, edit, remove), errors naming question and field, YAML export
and import."""

from __future__ import annotations

import pytest
import yaml
from bs4 import BeautifulSoup
from engine.mini_package import RUBRIC

from grader.engine.checks import typed_params
from grader.engine.rubric import parse_rubric
from web.test_instructor import assignment, create_mini, import_yaml, package_dir, teacher  # noqa: F401 (fixtures)


@pytest.fixture
def mini(teacher, package_dir) -> int:
    return create_mini(teacher, package_dir)


def form_of(page: str) -> dict[str, str]:
    """The editor's fields as the browser posts them (unticked boxes and buttons are not sent)."""
    editor = BeautifulSoup(page, "html.parser").select_one("form.rubric-editor")
    fields = {
        field["name"]: field.get("value", "")
        for field in editor.select("input")
        if field.get("type") != "checkbox" or field.has_attr("checked")
    }
    fields.update(
        {area["name"]: area.text.removeprefix("\r\n") for area in editor.select("textarea")}
    )
    for select in editor.select("select"):
        chosen = select.select_one("option[selected]") or select.select_one("option")
        fields[select["name"]] = chosen["value"]
    return fields


def questions(fields: dict[str, str]) -> int:
    return len({name.split("-")[1] for name in fields if name.startswith("questions-")})


def exported(client, assignment_id: int) -> bytes:
    response = client.get(f"/assignments/{assignment_id}/rubric.yaml")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    return response.data


def test_editor_lists_every_question_with_its_params(teacher, mini):
    page = teacher.get(f"/assignments/{mini}/rubric").get_data(as_text=True)
    fields = form_of(page)
    assert questions(fields) == 5
    assert [fields[f"questions-{i}-key"] for i in range(5)] == [
        q["key"] for q in RUBRIC["questions"]
    ]
    assert yaml.safe_load(fields["questions-0-params"]) == {
        "function": "mkfeature",
        "dataset": "band",
        "target": 0.9,
    }
    assert (
        fields["questions-1-kind"] == "model"
        and fields["questions-2-section"] == "Exercise / Question 3"
    )


def test_saving_the_form_unchanged_keeps_the_rubric(app, teacher, mini):
    url = f"/assignments/{mini}/rubric"
    before = parse_rubric(yaml.safe_load(exported(teacher, mini)))
    with_blank_row = form_of(
        teacher.post(
            url, data={**form_of(teacher.get(url).get_data(as_text=True)), "add": "Add question"}
        ).get_data(as_text=True)
    )
    assert questions(with_blank_row) == 6
    assert (
        teacher.post(url, data={**with_blank_row, "save": "Save rubric"}).status_code == 303
    )  # blank row ignored
    assert parse_rubric(yaml.safe_load(exported(teacher, mini))) == before


def test_edit_add_and_remove_questions_then_export(app, teacher, mini):
    url = f"/assignments/{mini}/rubric"
    fields = form_of(teacher.get(url).get_data(as_text=True))
    fields["questions-0-params"] = "function: mkfeature\ndataset: band\ntarget: 0.5\n"
    fields["questions-3-remove"] = "y"
    added = teacher.post(url, data={**fields, "add": "Add question"})
    assert added.status_code == 200
    fields = form_of(added.get_data(as_text=True))
    assert questions(fields) == 5 and fields["questions-4-key"] == ""  # four kept, one blank row
    fields.update(
        {
            "questions-4-key": "bonus",
            "questions-4-title": "The bonus value",
            "questions-4-points": "0.5",
            "questions-4-kind": "value",
            "questions-4-section": "Exercise / Question 3",
            "questions-4-marker": "answer =",
            "questions-4-until": "# Part B",
            "questions-4-params": "name: answer\nexpected: 42",
        }
    )
    assert teacher.post(url, data={**fields, "save": "Save rubric"}).status_code == 303
    content = yaml.safe_load(exported(teacher, mini))
    assert [q["key"] for q in content["questions"]] == [
        "feature",
        "model",
        "answer",
        "explain",
        "bonus",
    ]
    assert content["questions"][0]["params"]["target"] == 0.5
    assert content["questions"][4] == {
        "key": "bonus",
        "title": "The bonus value",
        "points": 0.5,
        "locator": {
            "section": "Exercise / Question 3",
            "marker": "answer =",
            "until": "# Part B",
        },
        "kind": "value",
        "params": {"name": "answer", "expected": 42},
    }
    assert (content["title"], content["runtime"], content["urls"]) == (
        RUBRIC["title"],
        RUBRIC["runtime"],
        RUBRIC["urls"],
    )
    assert "Rubric saved" in teacher.get(url).get_data(as_text=True)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"questions-1-points": "-3"},
            "question 'model', field points: Input should be greater than 0",
        ),
        ({"questions-1-params": "bands: [oops"}, "question 'model', field params: not valid YAML"),
        (
            {"questions-1-params": "just words"},
            "question 'model', field params: write one 'name: value' per line",
        ),
        (
            {"questions-0-params": "dataset: band\ntarget: 0.9\ntarget_typo: 1"},
            "question 'feature': params.target_typo: Extra inputs are not permitted",
        ),
        (
            {"questions-0-section": ""},
            "question 'feature', field locator: give a section (heading path) or a cell_id",
        ),
        (
            {"questions-0-until": "# Part B"},
            "question 'feature', field locator: until ends the part of a section that marker "
            "starts: give section and marker too",
        ),
        ({"questions-2-key": "feature"}, "rubric: question key 'feature' is used twice"),
        (
            {"questions-0-params": "dataset: circle\ntarget: 0.9"},
            "question 'feature' needs data/circle.csv",
        ),
    ],
)
def test_rubric_errors_name_the_question_and_field_and_nothing_is_saved(
    app, teacher, mini, change, message
):
    before = assignment(app, mini).package_sha256
    url = f"/assignments/{mini}/rubric"
    fields = {**form_of(teacher.get(url).get_data(as_text=True)), **change, "save": "Save rubric"}
    response = teacher.post(url, data=fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert "The rubric was not saved" in page and message in page
    assert form_of(page)[next(iter(change))] == next(iter(change.values()))  # input kept
    assert assignment(app, mini).package_sha256 == before


def test_yaml_export_then_import_round_trips_exactly(app, teacher, mini):
    before = assignment(app, mini).package_sha256
    original = exported(teacher, mini)
    assert import_yaml(teacher, mini, original).status_code == 303
    assert assignment(app, mini).package_sha256 == before
    assert exported(teacher, mini) == original

    edited = b"# Raised the bar after the first week.\n" + original.replace(
        b"target: 0.9", b"target: 0.95"
    )
    assert import_yaml(teacher, mini, edited).status_code == 303
    assert exported(teacher, mini) == edited  # kept byte for byte, comment included
    assert (
        typed_params(parse_rubric(yaml.safe_load(edited)).questions[0]).bands[0].min_accuracy
        == 0.95
    )
    assert import_yaml(teacher, mini, original).status_code == 303
    assert assignment(app, mini).package_sha256 == before  # same content, same package


@pytest.mark.parametrize(
    "content, message",
    [
        (b"title: Mini\nquestions: [", "rubric.yaml is not valid YAML"),
        (b"- just\n- a list\n", "rubric.yaml must hold a mapping"),
        (b"title: Mini\nquestions: []\n", "questions: List should have at least 1 item"),
        (b"\xff\xfe", "rubric.yaml is not UTF-8 text"),
    ],
)
def test_import_of_a_bad_rubric_is_rejected(app, teacher, mini, content, message):
    before = assignment(app, mini).package_sha256
    response = import_yaml(teacher, mini, content)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The rubric was not imported" in page and message in page
    assert assignment(app, mini).package_sha256 == before
