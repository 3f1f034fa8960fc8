"""The LTI test platform checks what it claims to: the harness alone, with a stand-in tool."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.grade import Grade
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector

from lti.platform import (
    AGS_CLAIM,
    CLAIM,
    DL_DATA_CLAIM,
    DL_ITEMS_CLAIM,
    DL_SETTINGS_CLAIM,
    INSTRUCTOR,
    JWT_BEARER,
    LEARNER,
    MEDIA_LINEITEM,
    MEDIA_LINEITEMS,
    MEDIA_MEMBERSHIPS,
    MEDIA_SCORE,
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_MEMBERSHIP,
    SCOPE_SCORE,
    TEACHING_ASSISTANT,
    LtiTestPlatform,
    PlatformRefusal,
)

TOOL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRAY_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
TOOL_KEY_PEM = TOOL_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
TOOL_PUBLIC_PEM = (
    TOOL_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
# The JWKS as a pylti1p3 tool publishes it (its kid is the key's thumbprint).
TOOL_JWKS = {"keys": [Registration.get_jwk(TOOL_PUBLIC_PEM)]}
TOOL_KID = TOOL_JWKS["keys"][0]["kid"]
LAUNCH_URL = "http://localhost/lti/launch"


@pytest.fixture
def platform():
    """A served platform with one course of three people; the tool's keys are TOOL_JWKS."""
    with LtiTestPlatform(lambda: TOOL_JWKS, LAUNCH_URL, "http://localhost/lti/login") as served:
        served.add_context("course-1", "C1", "Course one")
        served.add_user("ann", "Ann Learner", "ann@example.org", [LEARNER], "course-1")
        served.add_user("bob", "Bob Learner", "bob@example.org", [LEARNER], "course-1")
        served.add_user("ted", "Ted Teacher", "ted@example.org", [INSTRUCTOR], "course-1")
        served.add_user("tia", "Tia Assistant", "tia@example.org", [TEACHING_ASSISTANT])
        yield served


def auth_url(platform, login, **changes):
    """The authentication request a tool sends after the login initiation `login`."""
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": login["client_id"],
        "redirect_uri": login["target_link_uri"],
        "login_hint": login["login_hint"],
        "lti_message_hint": login["lti_message_hint"],
        "nonce": "nonce-1",
        "state": "state-1",
    } | changes
    return f"{platform.auth_login_url}?{urlencode(params)}"


def verified(platform, id_token, **options):
    """The id token's claims, verified with the key that /jwks publishes."""
    jwks = requests.get(platform.jwks_url, timeout=5).json()
    kid = jwt.get_unverified_header(id_token)["kid"]
    (key,) = [jwt.PyJWK(key) for key in jwks["keys"] if key["kid"] == kid]
    return jwt.decode(
        id_token, key, ["RS256"], audience=platform.client_id, issuer=platform.issuer, **options
    )


def assertion(platform, key=TOOL_KEY, jti=None, **changes):
    """A client assertion, as pylti1p3 signs it."""
    now = int(time.time())
    claims = {"iss": platform.client_id, "sub": platform.client_id, "aud": platform.token_url}
    claims |= {"iat": now - 5, "exp": now + 60, "jti": jti or str(uuid.uuid4())} | changes
    return jwt.encode(claims, key, "RS256", headers={"kid": TOOL_KID})


def token(platform, *scopes, **assertion_changes):
    form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER}
    form |= {
        "client_assertion": assertion(platform, **assertion_changes),
        "scope": " ".join(scopes),
    }
    return requests.post(platform.token_url, data=form, timeout=5)


def bearer(platform, *scopes):
    return {"Authorization": "Bearer " + token(platform, *scopes).json()["access_token"]}


def test_a_launch_id_token_verifies_against_the_jwks_and_carries_the_launch(platform):
    item = platform.add_lineitem(
        "course-1", "Lab 1", 10, platform.add_resource_link("course-1", "l1").id
    )
    login = platform.login_request("ann", "course-1", resource_link_id="l1")
    assert login["iss"] == platform.issuer and login["lti_deployment_id"] == "deployment-1"
    assert login["login_hint"] == "ann" and login["target_link_uri"] == LAUNCH_URL

    target, form = platform.authorize(auth_url(platform, login))

    assert target == LAUNCH_URL and form["state"] == "state-1"
    claims = verified(platform, form["id_token"])
    assert (
        claims["nonce"] == "nonce-1" and claims["sub"] == "ann" and claims["azp"] == "grader-tool"
    )
    assert claims[CLAIM + "message_type"] == "LtiResourceLinkRequest"
    assert claims[CLAIM + "deployment_id"] == "deployment-1"
    assert claims[CLAIM + "resource_link"]["id"] == "l1"
    assert claims[CLAIM + "context"]["label"] == "C1" and claims[CLAIM + "roles"] == [LEARNER]
    assert claims[CLAIM + "launch_presentation"]["document_target"] == "iframe"
    assert claims[AGS_CLAIM]["lineitem"] == item["id"]
    assert claims[AGS_CLAIM]["lineitems"] == platform.issuer + "/contexts/course-1/line_items"
    assert SCOPE_LINEITEM_READONLY in claims[AGS_CLAIM]["scope"]
    assert platform.problems == []


def test_the_auth_endpoint_refuses_a_wrong_redirect_uri_and_serves_a_launch_form(platform):
    login = platform.login_request("ted", "course-1")
    with pytest.raises(PlatformRefusal, match="redirect_uri"):
        platform.authorize(auth_url(platform, login, redirect_uri="http://evil.example/launch"))
    with pytest.raises(PlatformRefusal, match="prompt"):
        platform.authorize(auth_url(platform, login, prompt="login"))
    over_http = requests.get(auth_url(platform, login, nonce=""), timeout=5)
    assert over_http.status_code == 400 and "nonce" in over_http.json()["error_description"]
    assert len(platform.problems) == 3

    page = requests.get(auth_url(platform, login), timeout=5)
    assert page.ok and f'action="{LAUNCH_URL}"' in page.text and 'name="id_token"' in page.text


def test_tampered_id_tokens_fail_the_checks_a_tool_must_make(platform):
    login = platform.login_request("ann", "course-1")
    url = auth_url(platform, login)
    tampered = {
        name: platform.authorize(url, tamper=name)[1]["id_token"]
        for name in ("wrong_key", "wrong_audience", "expired", "unknown_deployment")
    }
    with pytest.raises(jwt.InvalidSignatureError):
        verified(platform, tampered["wrong_key"])
    with pytest.raises(jwt.InvalidAudienceError):
        verified(platform, tampered["wrong_audience"])
    with pytest.raises(jwt.ExpiredSignatureError):
        verified(platform, tampered["expired"])
    assert (
        verified(platform, tampered["unknown_deployment"])[CLAIM + "deployment_id"]
        != "deployment-1"
    )


def test_a_deep_linking_launch_asks_for_one_resource_link(platform):
    login = platform.login_request("ted", "course-1", message="deep_link")
    claims = verified(platform, platform.authorize(auth_url(platform, login))[1]["id_token"])
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingRequest"
    assert CLAIM + "resource_link" not in claims
    settings = claims[DL_SETTINGS_CLAIM]
    assert settings["deep_link_return_url"] == platform.issuer + "/deep_link_return"
    assert settings["accept_types"] == ["ltiResourceLink"] and settings["accept_multiple"] is False
    assert isinstance(settings["data"], str)


def test_the_token_endpoint_checks_the_client_assertion(platform):
    granted = token(platform, SCOPE_SCORE, SCOPE_MEMBERSHIP, jti="jti-1")
    assert granted.ok, granted.text
    assert granted.json()["token_type"] == "Bearer" and granted.json()["expires_in"] > 0
    assert granted.json()["scope"] == f"{SCOPE_SCORE} {SCOPE_MEMBERSHIP}"

    assert token(platform, SCOPE_SCORE, jti="jti-1").status_code == 401  # replayed
    assert token(platform, SCOPE_SCORE, key=STRAY_KEY).status_code == 401  # not in the JWKS
    assert token(platform, SCOPE_SCORE, aud="http://elsewhere/token").status_code == 401
    assert token(platform, SCOPE_SCORE, iss="someone-else").status_code == 401
    assert token(platform, SCOPE_SCORE, exp=int(time.time()) - 1).status_code == 401
    assert token(platform, "https://example.org/scope/everything").status_code == 400
    as_json = requests.post(
        platform.token_url, json={"grant_type": "client_credentials"}, timeout=5
    )
    assert as_json.status_code == 400
    assert len(platform.problems) == 7 and "replayed" in platform.problems[0]


def test_scores_are_checked_and_kept(platform):
    item = platform.add_lineitem("course-1", "Lab 1", 10)
    now = datetime.now(UTC)
    score = {
        "userId": "ann",
        "scoreGiven": 7.5,
        "scoreMaximum": 10,
        "activityProgress": "Completed",
    }
    score |= {"gradingProgress": "FullyGraded", "timestamp": now.isoformat()}
    scoring = bearer(platform, SCOPE_SCORE)

    def post(body, headers=scoring, media_type=MEDIA_SCORE):
        headers = headers | {"Content-Type": media_type}
        return requests.post(item["id"] + "/scores", json=body, headers=headers, timeout=5)

    assert post(score, media_type="application/json").status_code == 415
    assert post(score, headers=bearer(platform, SCOPE_LINEITEM_READONLY)).status_code == 403
    assert post(score, headers={}).status_code == 401
    assert post(score | {"activityProgress": "Done"}).status_code == 400
    assert post(score | {"userId": "tia"}).status_code == 400  # not in the course
    assert post(score | {"timestamp": now.replace(tzinfo=None).isoformat()}).status_code == 400
    assert len(platform.problems) == 6 and platform.scores(item["id"]) == []

    assert post(score).status_code == 204
    assert post(score | {"scoreGiven": 9}).status_code == 409  # not after the previous one
    later = (now + timedelta(seconds=1)).isoformat()
    assert post(score | {"scoreGiven": 9, "timestamp": later}).status_code == 204
    assert [s["scoreGiven"] for s in platform.scores(item["id"])] == [7.5, 9]
    assert platform.latest_score(item["id"], "ann")["timestamp"] == later
    assert platform.requests[-1]["headers"]["Content-Type"] == MEDIA_SCORE


def test_line_items_are_created_and_found_by_the_spec(platform):
    headers = bearer(platform, SCOPE_LINEITEM) | {"Content-Type": MEDIA_LINEITEM}
    url = platform.issuer + "/contexts/course-1/line_items"
    created = requests.post(
        url, json={"label": "Lab 2", "scoreMaximum": 5, "tag": "lab"}, headers=headers, timeout=5
    )
    assert created.status_code == 201 and created.json()["id"].startswith(url + "/")
    refused = requests.post(
        url, json={"label": "Lab 3", "scoreMaximum": 0}, headers=headers, timeout=5
    )
    assert refused.status_code == 400 and "scoreMaximum" in platform.problems[-1]

    headers["Accept"] = MEDIA_LINEITEMS
    found = requests.get(url, params={"tag": "lab"}, headers=headers, timeout=5)
    assert [item["label"] for item in found.json()] == ["Lab 2"]
    assert requests.get(url, params={"tag": "quiz"}, headers=headers, timeout=5).json() == []
    headers["Accept"] = MEDIA_LINEITEM
    assert requests.get(created.json()["id"], headers=headers, timeout=5).json()["label"] == "Lab 2"


def test_memberships_come_in_pages_linked_by_the_link_header(platform):
    headers = bearer(platform, SCOPE_MEMBERSHIP) | {"Accept": MEDIA_MEMBERSHIPS}
    url, members = platform.issuer + "/contexts/course-1/memberships", []
    while url:
        page = requests.get(url, headers=headers, timeout=5)
        assert page.ok and page.headers["Content-Type"] == MEDIA_MEMBERSHIPS
        assert len(page.json()["members"]) <= 2
        members += page.json()["members"]
        url = page.links.get("next", {}).get("url")
    assert [m["user_id"] for m in members] == ["ann", "bob", "ted"]
    assert members[2] | {"roles": []} == {
        "user_id": "ted",
        "roles": [],
        "name": "Ted Teacher",
        "email": "ted@example.org",
        "status": "Active",
    }
    refused = requests.get(
        platform.memberships_url("course-1"), headers=bearer(platform, SCOPE_SCORE), timeout=5
    )
    assert refused.status_code == 403 and platform.problems == [
        f"GET /contexts/course-1/memberships: token lacks scope ('{SCOPE_MEMBERSHIP}',)"
    ]


def test_pylti1p3_service_clients_work_against_the_platform(platform):
    """The tool side uses pylti1p3: its token request, paging and score POST pass the checks."""
    registration = (
        Registration().set_client_id(platform.client_id).set_auth_token_url(platform.token_url)
    )
    registration.set_tool_private_key(TOOL_KEY_PEM).set_tool_public_key(TOOL_PUBLIC_PEM)
    item = platform.add_lineitem("course-1", "Lab 1", 10, platform.add_resource_link("course-1").id)
    with requests.Session() as session:
        connector = ServiceConnector(registration, session)
        nrps = NamesRolesProvisioningService(
            connector, {"context_memberships_url": platform.memberships_url("course-1")}
        )
        assert [m["user_id"] for m in nrps.get_members()] == ["ann", "bob", "ted"]
        ags = AssignmentsGradesService(connector, {"scope": [SCOPE_SCORE], "lineitem": item["id"]})
        grade = Grade().set_user_id("bob").set_score_given(4).set_score_maximum(10)
        grade.set_activity_progress("Completed").set_grading_progress("FullyGraded")
        ags.put_grade(grade.set_timestamp(datetime.now(UTC).isoformat()))
    assert platform.latest_score(item["id"], "bob")["scoreGiven"] == 4
    assert platform.problems == []


def test_a_deep_linking_response_places_a_link_with_its_line_item(platform):
    login = platform.login_request("ted", "course-1", message="deep_link")
    claims = verified(platform, platform.authorize(auth_url(platform, login))[1]["id_token"])
    item = {
        "type": "ltiResourceLink",
        "title": "Lab 4",
        "url": LAUNCH_URL + "?lab=4",
        "custom": {"lab": "4"},
    }
    item["lineItem"] = {"scoreMaximum": 20, "label": "Lab 4", "resourceId": "lab-4", "tag": "lab"}
    response = {
        "iss": platform.client_id,
        "aud": [platform.issuer],
        "nonce": "n-1",
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    response |= {
        CLAIM + "deployment_id": "deployment-1",
        CLAIM + "message_type": "LtiDeepLinkingResponse",
        CLAIM + "version": "1.3.0",
    }
    response |= {DL_ITEMS_CLAIM: [item], DL_DATA_CLAIM: claims[DL_SETTINGS_CLAIM]["data"]}
    signed = jwt.encode(response, TOOL_KEY, "RS256", headers={"kid": TOOL_KID})

    answered = requests.post(platform.deep_link_return_url, data={"JWT": signed}, timeout=5)
    assert answered.ok and "Lab 4" in answered.text
    replayed = requests.post(platform.deep_link_return_url, data={"JWT": signed}, timeout=5)
    assert replayed.status_code == 400 and "data" in platform.problems[-1]

    (link,) = [link for link in platform.links.values() if link.title == "Lab 4"]
    lineitem = platform.lineitems[link.lineitem]
    assert (
        lineitem["resourceLinkId"] == link.id
        and lineitem["scoreMaximum"] == 20
        and lineitem["tag"] == "lab"
    )
    login = platform.login_request("ann", "course-1", resource_link_id=link.id)
    assert login["target_link_uri"] == LAUNCH_URL + "?lab=4"
    launch = verified(platform, platform.authorize(auth_url(platform, login))[1]["id_token"])
    assert launch[AGS_CLAIM]["lineitem"] == link.lineitem and launch[CLAIM + "custom"] == {
        "lab": "4"
    }
