"""What an administrator does: register an LMS by command, read the values to paste into it, and
rotate the tool's signing key without breaking anything signed with the old one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import select, update

from grader.cli import main
from grader.extensions import db
from grader.lti_models import LtiContext, LtiKey, LtiPlatform
from grader.services.lti import keys
from lti.conftest import launch, place

pytestmark = pytest.mark.slow  # a platform served on a local port

REGISTER = [
    "lti",
    "register",
    "--name",
    "Campus Moodle",
    "--issuer",
    "https://moodle.example.edu",
    "--client-id",
    "abc123",
    "--login-url",
    "https://moodle.example.edu/mod/lti/auth.php",
    "--token-url",
    "https://moodle.example.edu/mod/lti/token.php",
    "--jwks-url",
    "https://moodle.example.edu/mod/lti/certs.php",
    "--deployment",
    "1",
]


def cli(app, *args: str):
    return app.test_cli_runner().invoke(main, list(args))


def test_register_list_and_update_a_platform(app):
    first = cli(app, *REGISTER)
    assert first.exit_code == 0, first.output
    assert "Registered Campus Moodle" in first.output and "1 deployment(s)" in first.output
    # Again with another deployment: the same platform, now with two.
    again = cli(app, *REGISTER, "--deployment", "2")
    assert again.exit_code == 0 and "2 deployment(s)" in again.output
    listed = cli(app, "lti", "platforms")
    assert (
        "issuer=https://moodle.example.edu" in listed.output and "deployments=1, 2" in listed.output
    )
    with app.app_context():
        assert len(list(db.session.scalars(select(LtiPlatform)))) == 1
        # The tool's key exists from the first registration, for the admin to paste its URL.
        assert db.session.scalar(select(LtiKey)) is not None


def test_register_refuses_bad_values_with_every_reason(app):
    bad = [*REGISTER]
    bad[bad.index("--token-url") + 1] = "http://moodle.example.edu/token.php"
    bad[bad.index("--jwks-url") + 1] = "certs.php"
    result = cli(app, *bad)
    assert result.exit_code == 1
    assert "token URL: 'http://moodle.example.edu/token.php' must use https" in result.output
    assert "key set URL: 'certs.php' is not an http(s) URL" in result.output
    with app.app_context():
        assert db.session.scalar(select(LtiPlatform)) is None
    assert "No LMS is registered" in cli(app, "lti", "platforms").output


def test_config_page_and_canvas_json_give_the_tool_urls(app):
    page = app.test_client().get("/lti/config").get_data(as_text=True)
    for url in ("/lti/launch", "/lti/login", "/lti/jwks", "/lti/config.json"):
        assert f"http://localhost{url}" in page
    canvas = app.test_client().get("/lti/config.json").get_json()
    assert canvas["oidc_initiation_url"] == "http://localhost/lti/login"
    assert canvas["public_jwk_url"] == "http://localhost/lti/jwks"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in canvas["scopes"]
    [placements] = [e["settings"]["placements"] for e in canvas["extensions"]]
    assert {p["message_type"] for p in placements} == {"LtiDeepLinkingRequest"}


def test_rotated_key_signs_and_the_old_one_is_published_for_the_grace(app, lms):
    client = app.test_client()
    old_kid = client.get("/lti/jwks").get_json()["keys"][0]["kid"]
    result = cli(app, "lti", "rotate-key")
    assert result.exit_code == 0 and "previous key stays in /lti/jwks for 7 days" in result.output
    published = [key["kid"] for key in client.get("/lti/jwks").get_json()["keys"]]
    assert len(published) == 2 and published[1] == old_kid
    new_kid = published[0]
    # What the tool signs now carries the new key's id, and the platform believes it.
    link = place(app, lms)
    [answer] = [r for r in lms.requests if r["path"] == "/deep_link_return"]
    assert jwt.get_unverified_header(answer["body"]["JWT"])["kid"] == new_kid
    assert launch(app, lms, "ann-1", link=link.id).response.status_code == 303
    with app.app_context():
        db.session.execute(
            update(LtiKey)
            .where(LtiKey.kid == old_kid)
            .values(retired_at=datetime.now(UTC) - keys.RETIRED_KEY_GRACE - timedelta(hours=1))
        )
        db.session.commit()
    assert [key["kid"] for key in client.get("/lti/jwks").get_json()["keys"]] == [new_kid]


def test_the_key_set_holds_public_keys_only(app):
    [key] = app.test_client().get("/lti/jwks").get_json()["keys"]
    assert set(key) == {"kty", "e", "n", "kid", "alg", "use"}


def test_link_course_maps_an_lms_course_to_an_existing_one(app):
    assert cli(app, *REGISTER).exit_code == 0
    linked = cli(
        app,
        "lti",
        "link-course",
        "--issuer",
        "https://moodle.example.edu",
        "--context",
        "77",
        "BT-AI",
    )
    assert linked.exit_code == 0 and "LMS course '77' now opens BT-AI." in linked.output
    with app.app_context():
        context = db.session.scalar(select(LtiContext))
        assert (context.context_id, context.course.code) == ("77", "BT-AI")
    unknown = cli(
        app,
        "lti",
        "link-course",
        "--issuer",
        "https://moodle.example.edu",
        "--context",
        "77",
        "NOPE",
    )
    assert unknown.exit_code == 1 and "there is no course 'NOPE'" in unknown.output
    elsewhere = cli(
        app, "lti", "link-course", "--issuer", "https://other.example", "--context", "7", "BT-AI"
    )
    assert (
        elsewhere.exit_code == 1
        and "No LMS with issuer 'https://other.example'" in elsewhere.output
    )
