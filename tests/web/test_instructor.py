"""Instructor pages: creating assignments, settings, rubric editor and YAML, package validation."""

from __future__ import annotations

import base64
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup
from conftest import queued_messages, signed_in
from engine.local_index import local_index  # noqa: F401
from engine.mini_package import RUBRIC, build

from grader.engine.validation import NO_SOLUTION
from grader.extensions import db
from grader.models import Assignment, Blob, PackageValidation, RunStatus
from grader.services.assignments import authoring
from grader.services.assignments.prerelease import run_validation
from grader.services.storage.blobs import sha256_of
from grader.services.storage.packages import zip_folder

NEW = "/courses/1/assignments/new"


@pytest.fixture
def teacher(app):
    return signed_in(app, "instructor@example.edu")


@pytest.fixture
def package_dir(tmp_path) -> Path:
    return build(tmp_path / "mini")


def create(client, slug: str = "mini", title: str = "", **files):
    data = {"slug": slug, "title": title}
    for field, value in files.items():
        data[field] = (
            [(io.BytesIO(content), name) for name, content in value]
            if isinstance(value, list)
            else (io.BytesIO(value[1]), value[0])
        )
    return client.post(NEW, data=data, content_type="multipart/form-data")


def create_mini(client, package_dir: Path) -> int:
    response = create(client, package=("mini.zip", zip_folder(package_dir)))
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.headers["Location"].split("/")[2])


def stored(app) -> tuple[int, int]:
    with app.app_context():
        return db.session.query(Assignment).count(), db.session.query(Blob).count()


def assignment(app, assignment_id: int) -> Assignment:
    with app.app_context():
        found = db.session.get(Assignment, assignment_id)
        db.session.expunge(found)
        return found


def test_zip_upload_creates_an_unreleased_assignment(app, teacher, client, package_dir):
    assignment_id = create_mini(teacher, package_dir)
    created = assignment(app, assignment_id)
    assert (created.slug, created.title) == ("mini", "Mini lab")  # blank title: the rubric's
    assert created.package_sha256 == sha256_of(zip_folder(package_dir))
    assert created.release_at.year == 9999
    page = teacher.get(f"/assignments/{assignment_id}/settings").get_data(as_text=True)
    assert "Students cannot see it until you release it" in page
    assert (
        BeautifulSoup(page, "html.parser")
        .select_one('input[name="release"][value="never"]')
        .has_attr("checked")
    )
    assert "Mini lab" not in client.get("/").get_data(as_text=True)  # the student does not see it


def test_separate_files_make_the_same_package_as_the_zip(app, teacher, package_dir):
    def read(*parts: str) -> tuple[str, bytes]:
        return parts[-1], package_dir.joinpath(*parts).read_bytes()

    response = create(
        teacher,
        slug="mini-parts",
        title="Mini, from parts",
        template=read("template.ipynb"),
        rubric=read("rubric.yaml"),
        solution=read("solution.ipynb"),
        data=[read("data", "band.csv"), read("data", "all_points.csv")],
        hidden=[read("hidden", "band.csv")],
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    created = assignment(app, int(response.headers["Location"].split("/")[2]))
    assert created.title == "Mini, from parts"
    assert created.package_sha256 == sha256_of(zip_folder(package_dir))


def test_a_package_may_be_larger_than_a_notebook_upload(app, teacher, settings, package_dir):
    (package_dir / "data" / "images.bin").write_bytes(
        os.urandom(settings.max_upload_bytes + 100_000)
    )
    response = create(teacher, package=("mini.zip", zip_folder(package_dir)))
    assert response.status_code == 303


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, content in files.items():
            bundle.writestr(name, content)
    return buffer.getvalue()


def package_zip(package_dir: Path, drop: tuple[str, ...] = (), **replace: bytes) -> bytes:
    """The package as a zip, files left out or replaced (`rubric="..."` replaces rubric.yaml)."""
    files = {
        str(p.relative_to(package_dir)): p.read_bytes()
        for p in package_dir.rglob("*")
        if p.is_file()
    }
    names = {"rubric": "rubric.yaml", "template": "template.ipynb"}
    files.update({names[name]: content for name, content in replace.items()})
    return zip_of({name: content for name, content in files.items() if name not in drop})


BAD_RUBRIC = yaml.safe_dump(
    {**RUBRIC, "questions": [{**RUBRIC["questions"][0], "points": -1}]}
).encode()
BAD_PACKAGES = {
    "not a zip": (
        lambda d: b"these are not the files you are looking for",
        "is neither a folder nor a zip file",
    ),
    "unsafe path": (lambda d: zip_of({"../escape.txt": b"x"}), "unsafe path: ../escape.txt"),
    "bad yaml": (
        lambda d: package_zip(d, rubric=b"title: [unclosed"),
        "rubric.yaml is not valid YAML",
    ),
    "rubric error": (
        lambda d: package_zip(d, rubric=BAD_RUBRIC),
        "question 'feature', field points: Input should be greater than 0",
    ),
    "no template": (
        lambda d: package_zip(d, drop=("template.ipynb",)),
        "the package has no template.ipynb",
    ),
    "no held-out table": (
        lambda d: package_zip(d, drop=("hidden/band.csv",)),
        "question 'feature' needs hidden/band.csv",
    ),
    "broken template": (
        lambda d: package_zip(d, template=b"{not json"),
        "template.ipynb: The file is not valid JSON",
    ),
}


@pytest.mark.parametrize("case", BAD_PACKAGES, ids=list(BAD_PACKAGES))
def test_bad_packages_are_rejected_with_the_loaders_message(app, teacher, package_dir, case):
    make, message = BAD_PACKAGES[case]
    before = stored(app)
    response = create(teacher, package=("pkg.zip", make(package_dir)))
    assert response.status_code == 400
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert "The assignment was not created" in page and message in page
    assert stored(app) == before


def test_zip_bombs_oversized_uploads_and_bad_slugs_are_rejected(
    app, teacher, package_dir, monkeypatch
):
    before = stored(app)
    monkeypatch.setattr("grader.engine.assignment.MAX_PACKAGE_BYTES", 10_000)
    assert "unpacks to more than" in create(
        teacher, package=("pkg.zip", zip_folder(package_dir))
    ).get_data(as_text=True)
    monkeypatch.undo()
    monkeypatch.setattr(authoring, "MAX_PACKAGE_UPLOAD_BYTES", 1_000)
    response = create(teacher, package=("pkg.zip", zip_folder(package_dir)))
    assert response.status_code == 413 and "larger than 1.0 kB" in response.get_data(as_text=True)
    monkeypatch.undo()
    assert "Slug: use 1–64 lower-case" in create(
        teacher, slug="Lab 7!", package=("p.zip", zip_folder(package_dir))
    ).get_data(as_text=True)
    assert "already has an assignment 'lab6'" in create(
        teacher, slug="lab6", package=("p.zip", zip_folder(package_dir))
    ).get_data(as_text=True).replace("&#39;", "'")
    assert "Choose a template notebook" in create(teacher).get_data(as_text=True)
    assert stored(app) == before


@pytest.mark.parametrize("email", ["ta@example.edu", "student@example.edu"])
def test_only_the_courses_instructors_reach_authoring_pages(app, email, teacher, package_dir):
    assignment_id = create_mini(teacher, package_dir)
    other = signed_in(app, email)
    for url in [
        "/courses/1/assignments",
        NEW,
        f"/assignments/{assignment_id}/settings",
        f"/assignments/{assignment_id}/rubric",
        f"/assignments/{assignment_id}/rubric.yaml",
        f"/assignments/{assignment_id}/validation.json",
    ]:
        assert other.get(url).status_code == 404, url
    for url in [
        NEW,
        f"/assignments/{assignment_id}/settings",
        f"/assignments/{assignment_id}/rubric",
        f"/assignments/{assignment_id}/rubric/import",
        f"/assignments/{assignment_id}/validate",
    ]:
        assert other.post(url, data={"slug": "x", "title": "Stolen"}).status_code == 404, url
    assert assignment(app, assignment_id).title == "Mini lab"
    assert teacher.get("/assignments/999/settings").status_code == 404


SETTINGS = {
    "title": "Mini lab, 2025",
    "release": "later",
    "release_at": "2025-03-01T09:00",
    "due_at": "2025-03-08T17:00",
    "late_penalty_percent_per_day": "10",
    "late_penalty_cap_percent": "50",
    "max_attempts": "3",
    "score_policy": "last",
}


def test_settings_are_saved_and_shown(app, teacher, package_dir):
    assignment_id = create_mini(teacher, package_dir)
    url = f"/assignments/{assignment_id}/settings"
    assert teacher.post(url, data=SETTINGS).status_code == 303
    saved = assignment(app, assignment_id)
    assert (saved.title, saved.release_at.day, saved.due_at.hour) == ("Mini lab, 2025", 1, 17)
    assert (
        saved.late_penalty_percent_per_day,
        saved.late_penalty_cap_percent,
        saved.max_attempts,
        saved.score_policy.value,
    ) == (10, 50, 3, "last")
    page = BeautifulSoup(teacher.get(url).get_data(as_text=True), "html.parser")
    assert page.select_one("#due_at")["value"] == "2025-03-08T17:00"
    assert page.select_one('#score_policy option[value="last"]').has_attr("selected")
    assert (
        teacher.post(url, data={**SETTINGS, "release": "now", "max_attempts": ""}).status_code
        == 303
    )
    assert (
        assignment(app, assignment_id).release_at is None
        and assignment(app, assignment_id).max_attempts is None
    )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"due_at": "2025-02-01T09:00"}, "Due date: must be after the release date"),
        (
            {"late_penalty_percent_per_day": "-5"},
            "Late penalty per day: must be between 0 and 100 percent",
        ),
        ({"late_penalty_cap_percent": "lots"}, "Penalty cap: 'lots' is not a number"),
        ({"max_attempts": "0"}, "Maximum attempts: leave blank for unlimited"),
        ({"release_at": ""}, "Release date: give a date and time (UTC)"),
        ({"due_at": "next friday"}, "Due date: 'next friday' is not a date and time"),
        ({"title": " "}, "Title: give 1–200 characters"),
        ({"score_policy": "average"}, "Score that counts: choose the best or the last"),
    ],
)
def test_bad_settings_are_explained_and_nothing_changes(app, teacher, package_dir, change, message):
    assignment_id = create_mini(teacher, package_dir)
    response = teacher.post(f"/assignments/{assignment_id}/settings", data={**SETTINGS, **change})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert assignment(app, assignment_id).title == "Mini lab"


def test_validate_commits_a_row_then_enqueues_it_by_name(app, teacher, settings, package_dir):
    assignment_id = create_mini(teacher, package_dir)
    response = teacher.post(f"/assignments/{assignment_id}/validate")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        "/settings#validation"
    )
    with app.app_context():
        validation = db.session.query(PackageValidation).one()
        assert validation.status == RunStatus.QUEUED
        assert validation.package_sha256 == assignment(app, assignment_id).package_sha256
    [message] = queued_messages(settings)
    envelope = json.loads(message.read_text())
    assert envelope["headers"]["task"] == "grader.validate_package"
    assert json.loads(base64.b64decode(envelope["body"]))[0] == [validation.id]
    assert (
        teacher.get(f"/assignments/{assignment_id}/validation.json").get_json()["status"]
        == "queued"
    )
    page = teacher.get(f"/assignments/{assignment_id}/settings").get_data(as_text=True)
    assert "instructor.js" in page and '<meta http-equiv="refresh"' in page


def validate(app, teacher, assignment_id: int) -> PackageValidation:
    teacher.post(f"/assignments/{assignment_id}/validate")
    with app.app_context():
        validation_id = (
            db.session.query(PackageValidation.id).order_by(PackageValidation.id.desc()).first()[0]
        )
        assert run_validation(validation_id, app.config["GRADER"]) == RunStatus.GRADED
        assert (
            run_validation(validation_id, app.config["GRADER"]) is None
        )  # a redelivered task does nothing
        validation = db.session.get(PackageValidation, validation_id)
        db.session.expunge(validation)
        return validation


@pytest.mark.slow  # grades in the sandbox
def test_validation_grades_solution_and_template_and_shows_the_problems(app, teacher, package_dir):
    assignment_id = create_mini(teacher, package_dir)
    ready = validate(app, teacher, assignment_id)
    assert ready.problems == []
    assert [q["score"] for q in ready.outcome["solution"]["questions"]] == [
        2,
        3,
        1,
        1,
        1,
    ]  # free response: its automatic share
    assert ready.outcome["solution"]["total"] == ready.outcome["solution"]["max_total"] == 8
    assert ready.outcome["template"]["total"] == 0
    assert "Ready: the solution gets full automatic marks" in teacher.get(
        f"/assignments/{assignment_id}/settings"
    ).get_data(as_text=True)

    rubric = {
        **RUBRIC,
        "questions": [
            {
                **RUBRIC["questions"][0],
                "params": {"function": "mkfeature", "dataset": "band", "target": 0.999},
            },
            {
                **RUBRIC["questions"][1],
                "params": {
                    **RUBRIC["questions"][1]["params"],
                    "bands": [{"min_accuracy": 0.5, "fraction": 1.0}],
                },
            },
            *RUBRIC["questions"][2:],
        ],
    }
    import_yaml(teacher, assignment_id, yaml.safe_dump(rubric).encode())
    problems = validate(app, teacher, assignment_id).problems
    assert [problem.split(":")[0:2] for problem in problems] == [
        ["solution", " feature scored 0/2 (failed)"],
        ["template", " model scored 3 but should score 0"],
    ]
    page = teacher.get(f"/assignments/{assignment_id}/settings").get_data(as_text=True)
    assert "Not ready for release" in page and page.count('class="problem"') == 2


@pytest.mark.slow  # grades in the sandbox
def test_a_package_without_a_solution_is_not_ready(app, teacher, package_dir):
    (package_dir / "solution.ipynb").unlink()
    problems = validate(app, teacher, create_mini(teacher, package_dir)).problems
    assert problems == [NO_SOLUTION]


def test_packages_that_cannot_be_built_are_the_validations_problem(
    app, teacher, package_dir, local_index
):
    # Nothing is graded (no sandbox needed): the build comes first and its failure is the answer.
    rubric = {**RUBRIC, "runtime": {**RUBRIC["runtime"], "packages": ["course_helpers>=2"]}}
    (package_dir / "rubric.yaml").write_text(yaml.safe_dump(rubric))
    validation = validate(app, teacher, create_mini(teacher, package_dir))
    [problem] = validation.problems
    assert problem.startswith("runtime.packages could not be resolved:")
    assert "No matching distribution found for course_helpers>=2" in problem
    assert not validation.outcome
    settings_page = teacher.get(f"/assignments/{validation.assignment_id}/settings")
    page = BeautifulSoup(settings_page.get_data(as_text=True), "html.parser")
    assert "No matching distribution found" in page.select_one("#validation-problems").text


def test_a_url_in_runtime_packages_is_refused_at_upload(app, teacher, package_dir):
    rubric = {**RUBRIC, "runtime": {**RUBRIC["runtime"], "packages": ["x @ https://e.test/x.whl"]}}
    (package_dir / "rubric.yaml").write_text(yaml.safe_dump(rubric))
    before = stored(app)
    response = create(teacher, package=("mini.zip", zip_folder(package_dir)))
    assert response.status_code == 400
    assert "name a package on the index and a version, not a URL" in response.get_data(
        as_text=True
    ).replace("&#39;", "'")
    assert stored(app) == before


def import_yaml(client, assignment_id: int, content: bytes):
    return client.post(
        f"/assignments/{assignment_id}/rubric/import",
        content_type="multipart/form-data",
        data={"rubric_file": (io.BytesIO(content), "rubric.yaml")},
    )
