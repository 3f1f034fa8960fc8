"""OIDC login initiation and launch validation: whether a launch is believed, and what it says.

pylti1p3 checks the token (format, registration, signature and expiry by the platform's key set,
deployment, message). The state and nonce are ours: kept in the database rather than a cookie,
because inside an LMS iframe the browser may not send our cookies back; bound together, expiring,
and consumed by the launch, so a token posted twice, or into another login, is refused.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from pylti1p3.cookie import CookieService
from pylti1p3.exception import LtiException
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.request import Request
from pylti1p3.session import SessionService
from sqlalchemy import delete

from grader.extensions import db
from grader.lti_models import LtiLoginState
from grader.models import utcnow
from grader.services.assignments.rules import as_utc
from grader.services.errors import DomainError, LtiRefused
from grader.services.lti.platforms import DatabaseToolConf, find_platform, http_session

LOGIN_LIFETIME = timedelta(minutes=10)
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEEP_LINKING_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Launch:
    """What a believed launch says, in our words."""

    platform_id: int
    deployment_id: str
    subject: str
    name: str
    email: str | None
    roles: list[str]
    context_id: str
    context_label: str
    context_title: str
    # "resource" (open an assignment) or "deep_link" (pick one to place in the LMS).
    kind: str
    resource_link_id: str | None = None
    resource_link_title: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    lineitems_url: str | None = None
    lineitem_url: str | None = None
    ags_scopes: list[str] = field(default_factory=list)
    memberships_url: str | None = None
    deep_linking: dict[str, Any] | None = None
    # Where the LMS page that framed us lives (its launch_presentation return URL).
    return_url: str | None = None


def start_login(params: Mapping[str, str], launch_url: str) -> str:
    """The URL of the platform's authentication request for a third-party login initiation."""
    for required in ("iss", "login_hint", "target_link_uri"):
        if not params.get(required):
            raise LtiRefused(f"The LMS's login request has no {required}.")
    try:
        platform = find_platform(params["iss"], params.get("client_id"))
    except DomainError as exc:
        raise LtiRefused(str(exc)) from None
    now = utcnow()
    # Logins never finished (a closed tab) would pile up: each new one clears the expired.
    db.session.execute(delete(LtiLoginState).where(LtiLoginState.expires_at < now))
    login = LtiLoginState(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        platform_id=platform.id,
        expires_at=now + LOGIN_LIFETIME,
    )
    db.session.add(login)
    db.session.commit()
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        # Always our launch URL, never the LMS's target_link_uri: no open redirect through us.
        "redirect_uri": launch_url,
        "login_hint": params["login_hint"],
        "state": login.state,
        "nonce": login.nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if urlsplit(platform.auth_login_url).query else "?"
    return platform.auth_login_url + separator + urlencode(query)


def validate_launch(form: Mapping[str, str]) -> Launch:
    """The launch a platform posted, if every check passes; LtiRefused (logged) if any fails."""
    message = _DatabaseLaunch(dict(form))
    try:
        message.validate()
    except (LtiException, DomainError) as exc:
        db.session.rollback()
        reason = str(exc) or type(exc).__name__
        log.warning("LTI launch refused: %s", reason, extra={"lti_issuer": message.claimed_issuer})
        raise LtiRefused(f"The LMS launch was refused: {reason}.") from None
    assert message.login is not None
    return _launch_of(message.login.platform_id, message.get_launch_data())


def _launch_of(platform_id: int, body: Mapping[str, Any]) -> Launch:
    # Signed by a registered platform, yet shaped however that platform likes: every claim is
    # checked for its type and length before it reaches the database.
    context = _object(body, CLAIM + "context")
    ags, nrps = _object(body, AGS_CLAIM), _object(body, NRPS_CLAIM)
    link = _object(body, CLAIM + "resource_link")
    deep_linking = body.get(DEEP_LINKING_CLAIM)
    if deep_linking is not None and not isinstance(deep_linking, dict):
        raise LtiRefused("The launch's deep-linking settings are not an object.")
    roles = body.get(CLAIM + "roles")
    name = body.get("name") or " ".join(
        str(part) for part in (body.get("given_name"), body.get("family_name")) if part
    )
    return Launch(
        platform_id=platform_id,
        deployment_id=_identifier(body.get(CLAIM + "deployment_id"), "deployment id"),
        subject=_identifier(body.get("sub"), "user id (sub)"),
        name=str(name)[:200],
        email=body.get("email") if isinstance(body.get("email"), str) else None,
        roles=[role for role in roles if isinstance(role, str)] if isinstance(roles, list) else [],
        context_id=_identifier(
            context.get("id"), "course (context) id; open the link from inside a course"
        ),
        context_label=str(context.get("label") or "")[:64],
        context_title=str(context.get("title") or "")[:255],
        kind="deep_link" if deep_linking is not None else "resource",
        resource_link_id=_identifier(link["id"], "resource link id") if link.get("id") else None,
        resource_link_title=str(link.get("title") or "")[:255],
        custom=_object(body, CLAIM + "custom"),
        lineitems_url=_url(ags.get("lineitems")),
        lineitem_url=_url(ags.get("lineitem")),
        ags_scopes=[s for s in ags.get("scope") or [] if isinstance(s, str)]
        if isinstance(ags.get("scope"), list)
        else [],
        memberships_url=_url(nrps.get("context_memberships_url")),
        deep_linking=deep_linking,
        return_url=_url(_object(body, CLAIM + "launch_presentation").get("return_url")),
    )


def _object(body: Mapping[str, Any], claim: str) -> dict[str, Any]:
    value = body.get(claim)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LtiRefused(f"The launch's claim {claim.rsplit('/', 1)[-1]!r} is not an object.")
    return value


def _identifier(value: Any, what: str) -> str:
    """An LMS id we keep (at most 255 characters, as the columns hold)."""
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
        raise LtiRefused(f"The launch has no {what}.")
    if len(str(value)) > 255:
        raise LtiRefused(f"The launch's {what} is longer than 255 characters.")
    return str(value)


def _url(value: Any) -> str | None:
    """A service or page URL from the launch; ignored unless it is a plausible one."""
    if isinstance(value, str) and len(value) <= 500 and value.startswith(("https://", "http://")):
        return value
    return None


class _FormRequest(Request):
    def __init__(self, form: dict[str, str]) -> None:
        self._form = form

    def get_param(self, key: str) -> str:
        return self._form.get(key, "")

    def is_secure(self) -> bool:
        return True


class _NoCookies(CookieService):
    """pylti1p3 insists on a cookie service; state lives in the database, so it holds nothing."""

    def get_cookie(self, name: str) -> str | None:
        return None

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        raise AssertionError("the LTI launch sets no cookies")


class _DatabaseLaunch(MessageLaunch):
    """pylti1p3's launch with our state and nonce checks and a stricter audience check."""

    def __init__(self, form: dict[str, str]) -> None:
        request = _FormRequest(form)
        super().__init__(
            request,
            DatabaseToolConf(),
            session_service=SessionService(request),
            cookie_service=_NoCookies(),
            requests_session=http_session(),
        )
        self.login: LtiLoginState | None = None

    @property
    def claimed_issuer(self) -> str | None:
        return self._jwt.get("body", {}).get("iss")

    def _get_request_param(self, key: str) -> str:
        return self._request.get_param(key)

    def validate_state(self) -> _DatabaseLaunch:
        state = self._get_request_param("state")
        login = db.session.get(LtiLoginState, state) if state else None
        if login is None:
            raise LtiException("its login is unknown or was used already (a replayed launch?)")
        if as_utc(login.expires_at) < utcnow():
            raise LtiException("its login expired; open the link in the LMS again")
        self.login = login
        return self

    def validate_nonce(self) -> _DatabaseLaunch:
        assert self.login is not None
        if self._get_jwt_body().get("nonce") != self.login.nonce:
            raise LtiException("its nonce is not the one its login sent (a replayed token?)")
        return self

    def get_client_id(self) -> str:
        # The token must be meant for us: our client id in `aud`, and when `aud` names other
        # parties too, `azp` saying we are the one it was issued to.
        body = self._get_jwt_body()
        audiences = body.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
        if len(audiences) == 1:
            return audiences[0]
        if body.get("azp") in audiences:
            return body["azp"]
        raise LtiException("its audience names several parties and no authorized party")

    def validate_registration(self) -> _DatabaseLaunch:
        try:
            super().validate_registration()
        except LtiException:
            raise LtiException(
                f"it is not meant for this tool (audience {self.get_client_id()!r}) "
                f"or its LMS ({self.get_iss()!r}) is not registered here"
            ) from None
        assert self.login is not None
        platform = find_platform(self.get_iss(), self.get_client_id())
        if platform.id != self.login.platform_id:
            raise LtiException("it comes from another LMS than its login")
        return self

    def save_launch_data(self) -> _DatabaseLaunch:
        # Consume the login: of two posts of one launch, only one deletes the row.
        assert self.login is not None
        deleted = db.session.execute(
            delete(LtiLoginState).where(
                LtiLoginState.state == self.login.state, LtiLoginState.nonce == self.login.nonce
            )
        )
        db.session.commit()
        if deleted.rowcount != 1:  # type: ignore[attr-defined]
            raise LtiException("its login was used already (a replayed launch?)")
        return self
