"""An instructor in a real browser: creates and releases an assignment, validates it, lowers a
threshold, re-grades, and a student's score changes."""

from __future__ import annotations

import nbformat
import pytest
import requests
from browser import embedded_server, page, sign_in  # noqa: F401 (pytest fixtures)
from engine.mini_package import SOLUTION_ANSWERS, build, notebook
from playwright.sync_api import expect
from processes import api_token, upload, wait_until, wait_until_finished

from grader.services.storage.packages import zip_folder

# Slow: drives Chromium against a started server.
pytestmark = pytest.mark.slow

# A linear model with the raw feature1 cannot separate the band: under 50% held-out accuracy.
WEAK_FEATURE = "def mkfeature(row):\n    return row['feature1']"


def test_instructor_lowers_a_threshold_regrades_and_the_score_changes(
    embedded_server, page, tmp_path
):
    base_url, instance, log = embedded_server
    package = tmp_path / "mini.zip"
    package.write_bytes(zip_folder(build(tmp_path / "mini")))
    alert = page.get_by_role("alert")

    sign_in(page, base_url, "instructor@example.edu")
    page.goto(base_url + "/courses/1/assignments")
    page.get_by_role("link", name="New assignment").click()
    page.get_by_label("Slug").fill("mini")
    page.get_by_label("Package zip").set_input_files(str(package))
    page.get_by_role("button", name="Create assignment").click()
    expect(alert).to_contain_text("Created Mini lab")
    page.get_by_label("Released: students see it").check()
    page.get_by_role("button", name="Save settings").click()
    expect(alert).to_contain_text("Settings saved")
    page.get_by_role("button", name="Validate", exact=True).click()
    expect(page.locator("#validation-ready")).to_be_visible(timeout=90_000)  # swapped in by polling
    expect(page.locator("#v-feature")).to_contain_text("2 / 2")
    settings_url = page.url
    page.screenshot(path=str(tmp_path / "settings.png"), full_page=True)

    token = api_token({"GRADER_INSTANCE_DIR": str(instance)})
    weak = nbformat.writes(notebook({**SOLUTION_ANSWERS, "Question 1": WEAK_FEATURE})).encode()
    submission_id = upload(base_url, token, weak, assignment="mini")["submission_id"]
    before = wait_until_finished(base_url, token, submission_id)
    assert before["status"] == "graded", log.read_text()[-3000:]
    assert (before["score"], before["questions"][0]["score"]) == (6, 0)

    page.goto(settings_url)
    page.get_by_role("link", name="Rubric editor").click()
    params = page.locator("#questions-0-params")
    expect(params).to_have_value("function: mkfeature\ndataset: band\ntarget: 0.9\n")
    params.fill("function: mkfeature\ndataset: band\ntarget: 0.4\n")
    page.get_by_role("button", name="Save rubric").click()
    expect(alert).to_contain_text("Rubric saved")
    page.screenshot(path=str(tmp_path / "rubric.png"), full_page=True)
    page.get_by_role("button", name="Re-grade all submissions").click()
    expect(alert).to_contain_text("Re-grading 1 submission")

    def regraded():
        status = requests.get(
            f"{base_url}/api/submissions/{submission_id}",
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        return status if status["run_id"] != before["run_id"] and status["finished"] else None

    after = wait_until(regraded, 90, "the re-grade to finish", interval=0.5)
    assert (after["score"], after["questions"][0]["score"]) == (8, 2), after["questions"][0][
        "message"
    ]
    page.goto(f"{base_url}/submissions/{submission_id}")
    expect(page.locator("#q-feature")).to_contain_text("40% earns full marks")
