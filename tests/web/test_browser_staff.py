"""A TA in a real browser: dashboard, free-response queue, an override with a reason, and the CSV
that shows both."""

from __future__ import annotations

import csv
import io
import re

import pytest
from browser import embedded_server, page, sign_in  # noqa: F401 (pytest fixtures)
from playwright.sync_api import expect
from processes import REPO, api_token, upload, wait_until_finished

# Slow: drives Chromium against a started server.
pytestmark = pytest.mark.slow

TA = "ta@example.edu"
STUDENT = "student@example.edu"


def test_ta_grades_a_free_response_overrides_a_score_and_the_csv_shows_both(
    embedded_server, page, tmp_path
):
    base_url, instance, log = embedded_server
    token = api_token({"GRADER_INSTANCE_DIR": str(instance)}, STUDENT)
    submission = upload(
        base_url, token, (REPO / "fixtures" / "lab6" / "solution.ipynb").read_bytes()
    )["submission_id"]
    status = wait_until_finished(base_url, token, submission, timeout=240)
    assert status["status"] == "graded", log.read_text()[-3000:]

    sign_in(page, base_url, TA)
    page.goto(f"{base_url}/submissions/{submission}")
    page.get_by_role("link", name="Assignment dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lab 6 - Deep Learning 1")
    expect(page.locator("#count-graded .number")).to_have_text("1")
    expect(page.locator(f'#grid tr[data-student="{STUDENT}"] td.total')).to_contain_text("11/14")
    histogram = page.get_by_role("img", name=re.compile("Histogram of total scores"))
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 100", arg=histogram.element_handle()
    )

    page.get_by_role("link", name="Grade free-response answers").click()
    expect(page.locator("#left")).to_have_text("3 answers left to grade.")
    expect(page.locator("#answer h2")).to_have_text(
        "Group Exercise A, Question 1: the TensorFlow Playground"
    )
    page.get_by_label("Points for the whole question").fill("1.5")
    page.get_by_label("Comment for the student").fill("Good observations; say why the layers help.")
    page.get_by_role("button", name="Save and next").click()
    expect(page.locator(".flash.info")).to_contain_text(f"Saved 1.5 of 2 points for {STUDENT}")
    expect(page.locator("#left")).to_have_text("2 answers left to grade.")

    page.get_by_role("link", name="Back to the dashboard").click()
    page.locator(
        f'#grid tr[data-student="{STUDENT}"] td.cell a[href$="#q-b_q1_multilayer"]'
    ).click()
    question = page.locator("#q-b_q1_multilayer")
    question.get_by_text("Override the score").click()
    question.get_by_label("New score for").fill("2.5")
    question.get_by_label("Reason").fill("The model copies the lecture's layers without change.")
    question.get_by_role("button", name="Save score").click()
    expect(page.locator(".flash.info")).to_have_text("Score for b_q1_multilayer set to 2.5.")
    expect(page.locator("#score-history")).to_contain_text(
        "The model copies the lecture's layers without change."
    )

    page.get_by_role("link", name="Assignment dashboard").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download gradebook (CSV)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    [row] = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert (row["email"], row["a_q1_playground"], row["b_q1_multilayer"]) == (STUDENT, "1.5", "2.5")
    page.screenshot(path=str(tmp_path / "ta-dashboard.png"), full_page=True)
