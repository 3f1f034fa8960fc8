"""In a real browser, inside the LMS's iframe, cross-site: an instructor places an assignment with
the picker and a student opens it, signed in, through a cookie the frame may use."""

from __future__ import annotations

import threading
from urllib.parse import urlencode

import pytest
import requests
from browser import page  # noqa: F401  (fixture)
from playwright.sync_api import expect
from werkzeug.serving import make_server

from lti.conftest import CONTEXT, connect
from lti.platform import INSTRUCTOR, LEARNER, LtiTestPlatform

# Slow: a browser, and the tool served on a port.
pytestmark = pytest.mark.slow


@pytest.fixture
def served_tool(app):
    """The app served on a port as http://localhost (another site than the platform's
    127.0.0.1)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="tool")
    thread.start()
    yield f"http://localhost:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def framing_lms(app, served_tool):
    with LtiTestPlatform(
        tool_key_set=lambda: requests.get(served_tool + "/lti/jwks", timeout=10).json(),
        launch_url=served_tool + "/lti/launch",
        login_url=served_tool + "/lti/login",
    ) as platform:
        platform.add_context(CONTEXT, "ML-101", "Machine learning")
        platform.add_user("ann-1", "Ann Learner", "ann@lms.example", [LEARNER], CONTEXT)
        platform.add_user("ted-3", "Ted Teacher", "ted@lms.example", [INSTRUCTOR], CONTEXT)
        connect(app, platform)
        yield platform
        assert platform.problems == []


def open_in_lms(page, platform, sub: str, **login):
    page.goto(
        f"{platform.issuer}/frame?" + urlencode(platform.login_request(sub, CONTEXT, **login))
    )
    return page.frame_locator("#tool")


def test_place_an_assignment_then_open_it_as_a_student_inside_the_frame(page, framing_lms):
    picker = open_in_lms(page, framing_lms, "ted-3", message="deep_link")
    picker.get_by_role("button", name="Add “Lab 6 - Deep Learning 1”").click()
    # The answer goes back to the LMS by itself (our script, allowed by the page's CSP).
    expect(picker.get_by_role("heading", name="Placed 1 item(s)")).to_be_visible()
    [link] = framing_lms.links.values()
    assert framing_lms.lineitems[link.lineitem]["scoreMaximum"] == 14

    tool = open_in_lms(page, framing_lms, "ann-1", resource_link_id=link.id)
    expect(tool.get_by_role("heading", name="Submit a notebook")).to_be_visible()
    expect(tool.get_by_label("Assignment")).to_have_value(link.custom["assignment_id"])
    # The session cookie travels in the frame: the next page is still Ann's.
    tool.get_by_role("link", name="Notebook grader").click()
    expect(tool.get_by_text("ann@lms.example")).to_be_visible()
