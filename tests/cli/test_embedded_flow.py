"""The README's run command: `grader serve` on SQLite with its own worker, driven over HTTP and in a
browser."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from browser import embedded_server, page, sign_in  # noqa: F401 (pytest fixtures)
from conftest import notebook_bytes
from playwright.sync_api import expect
from processes import REPO, api_token, grader_command, upload, wait_until_finished

# Slow: starts `grader serve` with its worker and sandboxed kernels.
pytestmark = pytest.mark.slow


def test_serve_uses_sqlite_and_grades_with_its_own_worker(embedded_server):
    base_url, instance, log = embedded_server
    token = api_token({"GRADER_INSTANCE_DIR": str(instance)})
    accepted = upload(base_url, token, notebook_bytes("print('hello from the kernel')"))
    status = wait_until_finished(base_url, token, accepted["submission_id"])
    assert status["status"] == "graded", log.read_text()[-3000:]
    assert (instance / "grader.sqlite").exists()


def test_student_uploads_in_the_browser_and_sees_the_result(embedded_server, page, tmp_path):
    base_url, _instance, _log = embedded_server
    notebook = tmp_path / "my lab.ipynb"
    notebook.write_bytes(notebook_bytes("answer = 40 + 2\nanswer", "answer / 0"))
    sign_in(page, base_url)
    page.get_by_label("Notebook").set_input_files(str(notebook))
    page.get_by_role("button", name="Upload and grade").click()
    expect(page.locator("#status-badge")).to_have_text("graded", timeout=90_000)
    expect(page.get_by_text("Cell #2: ZeroDivisionError: division by zero")).to_be_visible()
    frame = page.frame_locator("iframe.notebook")
    expect(frame.get_by_text("42").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "feedback.png"), full_page=True)


def test_browser_shows_a_clear_error_for_a_bad_file(embedded_server, page, tmp_path):
    base_url, _instance, _log = embedded_server
    bad = tmp_path / "notes.ipynb"
    bad.write_text("these are my notes, not a notebook")
    sign_in(page, base_url)
    page.get_by_label("Notebook").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and grade").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid JSON")


def test_lab6_solution_uploaded_in_the_browser_gets_full_marks_with_pictures(
    embedded_server, page, tmp_path
):
    base_url, _instance, log = embedded_server
    sign_in(page, base_url)
    page.get_by_label("Assignment").select_option(label="BT-AI · Lab 6 - Deep Learning 1")
    page.get_by_label("Notebook").set_input_files(
        str(REPO / "fixtures" / "lab6" / "solution.ipynb")
    )
    page.get_by_role("button", name="Upload and grade").click()
    expect(page.locator("#status-badge")).to_have_text("graded", timeout=240_000)
    expect(page.locator("#results h2")).to_contain_text(
        "Results: 11 / 14 points (3 still to be graded by a TA)"
    )
    expect(page.locator("#q-b_q1_multilayer")).to_contain_text(
        re.compile(r"Held-out accuracy 9\d(\.\d+)?%; 90% earns full marks")
    )
    plots = page.locator("img.plot")
    expect(plots).to_have_count(2)
    for index in range(2):
        plots.nth(index).scroll_into_view_if_needed()
        assert page.evaluate(
            "img => img.complete && img.naturalWidth > 100", plots.nth(index).element_handle()
        )
    page.screenshot(path=str(tmp_path / "lab6-feedback.png"), full_page=True)


def test_student_drops_a_notebook_on_the_upload_form(embedded_server, page):
    base_url, _instance, _log = embedded_server
    sign_in(page, base_url)
    page.get_by_label("Assignment").select_option(label="BT-AI · Lab 6 - Deep Learning 1")
    # The drop zone's script is deferred: a person cannot drop before the page has loaded, and
    # neither may the test (the heading may show first).
    page.wait_for_load_state("load")
    # What the browser does when a file is dragged from the desktop: a drop event carrying it.
    page.locator("#dropzone").evaluate(
        """(zone, text) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([text], "dropped.ipynb", {type: "application/x-ipynb+json"}));
        zone.dispatchEvent(new DragEvent("drop", \
{dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""",
        notebook_bytes("print('dropped in')").decode(),
    )
    expect(page.locator("#dropzone")).to_contain_text("Ready to upload dropped.ipynb")
    page.get_by_role("button", name="Upload and grade").click()
    expect(page.locator("#status-badge")).to_have_text("graded", timeout=90_000)
    expect(page.locator(".meta").first).to_contain_text("dropped.ipynb")
    page.goto(base_url + "/")
    expect(page.locator("#history")).to_contain_text("dropped.ipynb")


def test_student_opening_another_students_feedback_is_refused(embedded_server, page):
    base_url, instance, _log = embedded_server
    env = {"GRADER_INSTANCE_DIR": str(instance)}
    subprocess.run(
        grader_command(
            "users",
            "create",
            "other@example.edu",
            "--password",
            "other-secret",
            "--course",
            "BT-AI",
        ),
        env={**os.environ, **env},
        check=True,
        timeout=120,
    )
    accepted = upload(base_url, api_token(env), notebook_bytes("secret = 'my own work'"))
    sign_in(page, base_url, "other@example.edu", password="other-secret")
    for path in (
        f"/submissions/{accepted['submission_id']}",
        f"/submissions/{accepted['submission_id']}/notebook.html",
        f"/submissions/{accepted['submission_id']}/executed.ipynb",
    ):
        response = page.goto(base_url + path)
        assert response.status == 404, path
        expect(page.get_by_text("not yours to see")).to_be_visible()
        expect(page.get_by_text("my own work")).to_have_count(0)
