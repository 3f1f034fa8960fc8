"""Browser-test helpers: `grader serve` as the README starts it, and headless Chromium driven by
Playwright."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright
from processes import free_port, grader_command, running, wait_for_http

from grader.services.demo import DEMO_PASSWORD

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def embedded_server(tmp_path):
    """`grader serve` with nothing configured but an empty instance folder."""
    port = free_port()
    env = {"GRADER_INSTANCE_DIR": str(tmp_path / "instance")}
    log = tmp_path / "serve.log"
    with running(grader_command("serve", "--port", str(port)), env, log) as process:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_http(base_url + "/login", process, log)
        yield base_url, tmp_path / "instance", log


def sign_in(
    page, base_url: str, email: str = "student@example.edu", password: str = DEMO_PASSWORD
) -> None:
    page.goto(base_url + "/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Submit a notebook")).to_be_visible()


@pytest.fixture
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser.new_page()
        browser.close()
