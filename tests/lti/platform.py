"""An LTI 1.3 Advantage platform (an LMS stand-in) for tests of the grader's LTI tool.

The third-party package lti1p3platform signs the id tokens, holds the platform's keys, checks the
tool's client assertion at the token endpoint and its deep-linking responses. It has no AGS or NRPS
endpoint, so those are written here by the IMS specs (AGS 2.0, NRPS 2.0). Every request the tool
sends is checked; a refusal answers 4xx with a JSON reason and is kept in `problems`, so a test can
end with `assert platform.problems == []`.

    with LtiTestPlatform(tool_key_set=lambda: client.get("/lti/jwks").get_json(),
                         launch_url="http://localhost/lti/launch",
                         login_url="http://localhost/lti/login") as platform:
        platform.add_context("course-1", "C1", "Course one")
        platform.add_user("student-1", "Ann Learner", "ann@example.org", [LEARNER], "course-1")
        login = platform.login_request("student-1", "course-1", resource_link_id="link-1")
        ...  # GET the tool's login URL with `login`; it redirects to platform.auth_login_url
        launch_url, form = platform.authorize(redirect_location)  # POST `form` to `launch_url`
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, request
from lti1p3platform import exceptions as lti_exceptions
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
LEARNER, INSTRUCTOR, TEACHING_ASSISTANT = (
    ROLE + "Learner",
    ROLE + "Instructor",
    ROLE + "TeachingAssistant",
)

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY = AGS + "lineitem", AGS + "lineitem.readonly"
SCOPE_RESULT_READONLY, SCOPE_SCORE = AGS + "result.readonly", AGS + "score"
SCOPE_MEMBERSHIP = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_SCOPES = [SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_RESULT_READONLY, SCOPE_SCORE]
ALLOWED_SCOPES = {*AGS_SCOPES, SCOPE_MEMBERSHIP}

MEDIA_LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_SCORE = "application/vnd.ims.lis.v1.score+json"
MEDIA_RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
MEDIA_MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DL_SETTINGS_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
DL_ITEMS_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
DL_DATA_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ACTIVITY_PROGRESS = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING_PROGRESS = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}
TAMPERS = ("wrong_key", "wrong_audience", "expired", "unknown_deployment")


class PlatformRefusal(Exception):
    """A check the platform made failed: the tool sent something a real platform would refuse."""

    def __init__(self, reason: str, status: int = 400, error: str = "invalid_request") -> None:
        super().__init__(reason)
        self.reason, self.status, self.error = reason, status, error


def _check(condition: Any, reason: str, status: int = 400, error: str = "invalid_request") -> None:
    if not condition:
        raise PlatformRefusal(reason, status, error)


@dataclass
class ResourceLink:
    id: str
    context_id: str
    title: str
    url: str | None = None  # None: the tool's launch URL
    custom: dict[str, Any] = field(default_factory=dict)
    lineitem: str | None = None  # the URL of the line item bound to this link


def _private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else list(aud or [])


# lti1p3platform is framework-neutral: these adapters give it a dict request and take its answers.
class _DictRequest(Request):
    def build_metadata(self, request: dict[str, str]) -> TRequest:
        return {"method": "GET", "get_data": request, "form_data": {}, "path": "/auth"}


class _Config(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self._the_registration: Registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._the_registration


class _Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class _Launch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data

    def set_deep_linking_settings(self, settings: dict[str, Any]) -> None:
        # set_dl fixes accept_multiple True, adds "embed" and takes `data` only as a dict; the deep
        # linking request here offers what the grader supports, with an opaque string as `data`.
        self.set_dl(settings["deep_link_return_url"], accept_types={"ltiResourceLink"})
        self._deep_linking_launch_data = {DL_SETTINGS_CLAIM: settings}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the requests are in `platform.requests`; a line each on stderr is noise


class LtiTestPlatform:
    """An LTI 1.3 platform served on 127.0.0.1 in a thread while used as a context manager."""

    def __init__(
        self,
        tool_key_set: Callable[[], dict[str, Any]] | None = None,
        launch_url: str | None = None,
        login_url: str | None = None,
        client_id: str = "grader-tool",
        deployment_id: str = "deployment-1",
        members_page_size: int = 2,
    ) -> None:
        self.tool_key_set, self.launch_url, self.login_url = tool_key_set, launch_url, login_url
        self.client_id, self.deployment_id = client_id, deployment_id
        self.members_page_size = members_page_size
        self.extra_redirect_uris: list[str] = []
        # The next this-many score posts are answered 503, as by a platform that is briefly away.
        self.score_outages = 0
        # Claims every id token gets on top of (or instead of) its usual ones, signed as usual.
        self.extra_claims: dict[str, Any] = {}
        self.problems: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.contexts: dict[str, dict[str, str]] = {}
        self.users: dict[str, dict[str, str]] = {}
        self.roles: dict[str, dict[str, list[str]]] = {}  # context id -> user sub -> roles
        self.links: dict[str, ResourceLink] = {}
        self.lineitems: dict[str, dict[str, Any]] = {}  # line item URL -> line item
        self._scores: dict[str, list[dict[str, Any]]] = {}  # line item URL -> accepted scores
        self._pending: dict[str, dict[str, Any]] = {}  # lti_message_hint -> launch
        self._deep_link_data: dict[str, str] = {}  # `data` of a deep linking request -> context
        self._tokens: dict[str, tuple[set[str], float]] = {}  # access token -> (scopes, expiry)
        self._seen_jti: set[str] = set()
        self._lock = threading.RLock()  # the server's threads and the test share all of the above
        self._registration = Registration().set_platform_private_key(_private_pem())
        self._registration.set_platform_public_key(
            _public_pem(self._registration.get_platform_private_key())
        )
        self._config = _Config(registration=self._registration)
        self._config.set_accepted_deeplinking_types(["ltiResourceLink"])
        self._config.get_registration()  # its checks assert that the registration was fetched
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.issuer = ""

    # --- serving ---------------------------------------------------------------------------
    def __enter__(self) -> LtiTestPlatform:
        self._server = make_server(
            "127.0.0.1", 0, _app(self), threaded=True, request_handler=_QuietHandler
        )
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="lti-platform")
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    auth_login_url = property(lambda self: self.issuer + "/auth")
    token_url = property(lambda self: self.issuer + "/token")
    jwks_url = property(lambda self: self.issuer + "/jwks")
    deep_link_return_url = property(lambda self: self.issuer + "/deep_link_return")

    def lineitems_url(self, context_id: str) -> str:
        return f"{self.issuer}/contexts/{quote(context_id, safe='')}/line_items"

    def memberships_url(self, context_id: str) -> str:
        return f"{self.issuer}/contexts/{quote(context_id, safe='')}/memberships"

    # --- the course ------------------------------------------------------------------------
    def add_context(self, context_id: str, label: str, title: str) -> None:
        with self._lock:
            self.contexts[context_id] = {"id": context_id, "label": label, "title": title}
            self.roles.setdefault(context_id, {})

    def add_user(
        self, sub: str, name: str, email: str, roles: list[str], context_id: str | None = None
    ) -> None:
        """Add a user; with a context, enrol them there with these roles."""
        with self._lock:
            self.users[sub] = {"sub": sub, "name": name, "email": email}
            if context_id is not None:
                self.enrol(sub, context_id, roles)

    def enrol(self, sub: str, context_id: str, roles: list[str]) -> None:
        with self._lock:
            _check(context_id in self.contexts, f"unknown context {context_id!r}")
            self.roles[context_id][sub] = list(roles)

    def add_resource_link(
        self,
        context_id: str,
        resource_link_id: str | None = None,
        title: str = "Assignment",
        url: str | None = None,
        custom: dict[str, Any] | None = None,
    ) -> ResourceLink:
        with self._lock:
            _check(context_id in self.contexts, f"unknown context {context_id!r}")
            link_id = resource_link_id or "link-" + secrets.token_hex(6)
            link = ResourceLink(link_id, context_id, title, url, dict(custom or {}))
            self.links[link_id] = link
            return link

    def add_lineitem(
        self,
        context_id: str,
        label: str,
        score_maximum: float,
        resource_link_id: str | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> dict[str, Any]:
        """Create a line item, bound to a resource link when one is given (its launches say so)."""
        body = {"label": label, "scoreMaximum": score_maximum, "resourceLinkId": resource_link_id}
        body |= {"resourceId": resource_id, "tag": tag}
        with self._lock:
            return self._create_lineitem(context_id, {k: v for k, v in body.items() if v})

    def _create_lineitem(self, context_id: str, body: dict[str, Any]) -> dict[str, Any]:
        _check(_is_number(body.get("scoreMaximum")), "lineitem: scoreMaximum must be a number")
        _check(body["scoreMaximum"] > 0, "lineitem: scoreMaximum must be > 0")
        _check(isinstance(body.get("label"), str) and body["label"], "lineitem: label is required")
        link_id = body.get("resourceLinkId")
        if link_id is not None:
            link = self.links.get(link_id)
            _check(link and link.context_id == context_id, f"lineitem: unknown link {link_id!r}")
        item = {**body, "id": f"{self.lineitems_url(context_id)}/{len(self.lineitems) + 1}"}
        self.lineitems[item["id"]] = item
        self._scores[item["id"]] = []
        if link_id is not None and self.links[link_id].lineitem is None:
            self.links[link_id].lineitem = item["id"]
        return item

    def scores(self, lineitem_url: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._scores.get(lineitem_url, []))

    def latest_score(self, lineitem_url: str, user_sub: str) -> dict[str, Any] | None:
        mine = [s for s in self.scores(lineitem_url) if s["userId"] == user_sub]
        return mine[-1] if mine else None

    # --- launches --------------------------------------------------------------------------
    @property
    def redirect_uris(self) -> list[str]:
        """The tool's registered redirect URIs: its launch URL, deep-linked URLs and any extra."""
        placed = [link.url for link in self.links.values() if link.url]
        return [self.launch_url, *placed, *self.extra_redirect_uris]

    def _sync_registration(self) -> None:
        # The tool's URLs and keys may be set after construction, and the issuer once served.
        _check(self.issuer, "the platform is not started (use it as a context manager)")
        _check(
            self.launch_url and self.login_url, "the tool's launch_url and login_url are not set"
        )
        registration = self._registration
        registration.set_iss(self.issuer).set_client_id(self.client_id)
        registration.set_deployment_id(self.deployment_id).set_oidc_login_url(self.login_url)
        registration.set_launch_url(self.launch_url).set_deeplink_launch_url(self.launch_url)
        if self.tool_key_set is not None:
            registration.set_tool_key_set(self.tool_key_set())

    def login_request(
        self,
        user_sub: str,
        context_id: str,
        resource_link_id: str | None = None,
        message: str = "resource",
    ) -> dict[str, str]:
        """The third-party login initiation parameters to send to the tool's login URL.

        A resource launch of an unknown (or no) resource_link_id creates that link in the context.
        """
        _check(message in ("resource", "deep_link"), f"unknown message {message!r}")
        with self._lock:
            self._sync_registration()
            _check(
                user_sub in self.roles.get(context_id, {}), f"{user_sub!r} not in {context_id!r}"
            )
            pending = {"user": user_sub, "context": context_id, "message": message}
            if message == "resource":
                link = self.links.get(resource_link_id or "")
                if link is None:
                    link = self.add_resource_link(context_id, resource_link_id)
                _check(link.context_id == context_id, f"link {link.id!r} is in another context")
                pending |= {"link": link.id, "target": link.url or self.launch_url}
            else:
                pending["target"] = self.launch_url
            hint = secrets.token_urlsafe(16)
            self._pending[hint] = pending
            login = _Login(None, self._config).set_launch_url(pending["target"])
            login.set_lti_message_hint(hint=hint)
            return dict(parse_qsl(urlsplit(login.initiate_login(user_sub)).query))

    def authorize(self, auth_url: str, tamper: str | None = None) -> tuple[str, dict[str, str]]:
        """Answer the tool's authentication request: (the tool's redirect_uri, the form to POST).

        tamper spoils the id token for tests of the tool: one of TAMPERS.
        """
        try:
            return self._authorize(auth_url, tamper)
        except PlatformRefusal as refusal:
            self._problem(f"GET /auth: {refusal.reason}")
            raise

    def _authorize(self, auth_url: str, tamper: str | None) -> tuple[str, dict[str, str]]:
        parts = urlsplit(auth_url)
        _check(
            f"{parts.scheme}://{parts.netloc}{parts.path}" == self.auth_login_url,
            f"auth request to {auth_url!r}, not to {self.auth_login_url!r}",
        )
        params = dict(parse_qsl(parts.query))
        expected = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post"}
        expected |= {"prompt": "none", "client_id": self.client_id}
        for name, value in expected.items():
            _check(params.get(name) == value, f"auth: {name}={params.get(name)!r}, not {value!r}")
        for name in ("nonce", "state", "login_hint", "lti_message_hint"):
            _check(params.get(name), f"auth: {name} is missing")
        _check(tamper in (None, *TAMPERS), f"unknown tamper {tamper!r}")
        with self._lock:
            self._sync_registration()
            _check(
                params.get("redirect_uri") in self.redirect_uris,
                f"auth: redirect_uri {params.get('redirect_uri')!r} is not registered",
            )
            pending = self._pending.get(params["lti_message_hint"])
            _check(pending, "auth: lti_message_hint matches no launch")
            _check(pending["user"] == params["login_hint"], "auth: login_hint is not the launch's")
            launch = self._launch(params, pending)
            form = launch.lti_launch()
        id_token = self._tampered(form["id_token"], tamper) if tamper else form["id_token"]
        return params["redirect_uri"], {"id_token": id_token, "state": form["state"]}

    def _launch(self, params: dict[str, str], pending: dict[str, Any]) -> _Launch:
        user, context = self.users[pending["user"]], self.contexts[pending["context"]]
        launch = _Launch(_DictRequest(params), self._config)
        launch.set_launch_url(pending["target"])
        roles = self.roles[context["id"]][user["sub"]]
        launch.set_user_data(user["sub"], roles, user["name"], user["email"])
        launch.set_launch_context_claim(
            context["id"], [COURSE_OFFERING], context["title"], context["label"]
        )
        launch.set_launch_presentation_claim("iframe", self.issuer + "/return")
        launch.set_nrps(self.memberships_url(context["id"]))
        # set_ags offers lineitem but not lineitem.readonly (and drops scopes while iterating over
        # them when a link has a lineitem but no container): the claim is written here in full.
        ags = {"scope": AGS_SCOPES, "lineitems": self.lineitems_url(context["id"])}
        if pending["message"] == "resource":
            link = self.links[pending["link"]]
            launch.set_resource_link_claim(link.id, title=link.title)
            if link.custom:
                launch.set_custom_parameters_claim(link.custom)
            if link.lineitem:
                ags["lineitem"] = link.lineitem
        else:
            data = secrets.token_urlsafe(16)
            self._deep_link_data[data] = context["id"]
            launch.set_deep_linking_settings(
                {
                    "deep_link_return_url": self.deep_link_return_url,
                    "accept_types": ["ltiResourceLink"],
                    "accept_presentation_document_targets": ["iframe", "window"],
                    "accept_multiple": False,
                    "data": data,
                }
            )
        launch.set_extra_claims({AGS_CLAIM: ags, **self.extra_claims})
        return launch

    def _tampered(self, id_token: str, tamper: str) -> str:
        claims = jwt.decode(id_token, options={"verify_signature": False})
        key = self._registration.get_platform_private_key()
        if tamper == "wrong_key":
            key = _private_pem()  # another key under the platform's kid
        elif tamper == "wrong_audience":
            claims |= {"aud": "another-tool", "azp": "another-tool"}
        elif tamper == "expired":
            claims |= {"iat": int(time.time()) - 3600, "exp": int(time.time()) - 1800}
        else:
            claims[CLAIM + "deployment_id"] = "unknown-deployment"
        return jwt.encode(claims, key, "RS256", headers={"kid": self._registration.get_kid()})

    # --- checks shared by the endpoints ----------------------------------------------------
    def _problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    def _verified_tool_jwt(self, token: str) -> dict[str, Any]:
        """The claims of a JWT the tool signed (lti1p3platform checks the signature by kid)."""
        _check(self.tool_key_set is not None, "no tool_key_set configured", 500, "server_error")
        try:
            claims = self._config.tool_validate_and_decode(token)
        except (lti_exceptions.LtiException, jwt.PyJWTError) as error:
            raise PlatformRefusal(f"JWT refused: {error}", 401, "invalid_client") from error
        # lti1p3platform turns off the audience check and lets a JWT without exp through.
        _check(_is_number(claims.get("exp")), "JWT has no exp", 401, "invalid_client")
        _check(claims["exp"] > time.time(), "JWT expired", 401, "invalid_client")
        return claims

    def issue_token(self, form: dict[str, str]) -> dict[str, Any]:
        """The token endpoint: an access token for a client assertion (IMS Security Framework)."""
        _check(
            form.get("grant_type") == "client_credentials",
            "grant_type",
            400,
            "unsupported_grant_type",
        )
        _check(form.get("client_assertion_type") == JWT_BEARER, "client_assertion_type is wrong")
        _check(form.get("client_assertion"), "client_assertion is missing")
        scopes = form.get("scope", "").split()
        _check(scopes, "scope is missing", 400, "invalid_scope")
        unknown = sorted(set(scopes) - ALLOWED_SCOPES)
        _check(not unknown, f"scopes not allowed: {unknown}", 400, "invalid_scope")
        with self._lock:
            self._sync_registration()
            claims = self._verified_tool_jwt(form["client_assertion"])
            try:  # lti1p3platform's own checks (required fields, grant type, signature)
                self._config.get_access_token(form)
            except Exception as error:
                raise PlatformRefusal(
                    f"lti1p3platform: {error!r}", 401, "invalid_client"
                ) from error
            for name in ("iss", "sub"):
                _check(
                    claims.get(name) == self.client_id,
                    f"assertion {name} is not the client_id",
                    401,
                    "invalid_client",
                )
            audiences = {self.token_url, self.issuer} & set(_audiences(claims))
            _check(audiences, "assertion aud is not the token URL", 401, "invalid_client")
            jti = claims.get("jti")
            _check(isinstance(jti, str) and jti, "assertion has no jti", 401, "invalid_client")
            _check(jti not in self._seen_jti, "assertion jti replayed", 401, "invalid_client")
            self._seen_jti.add(jti)
            token = secrets.token_urlsafe(24)
            self._tokens[token] = (set(scopes), time.time() + 3600)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": " ".join(scopes),
        }

    # --- deep linking ----------------------------------------------------------------------
    def accept_deep_link_response(self, token: str) -> list[dict[str, Any]]:
        """Check the tool's LtiDeepLinkingResponse and place its items: the placed links."""
        try:
            return self._accept_deep_link_response(token)
        except PlatformRefusal as refusal:
            self._problem(f"POST /deep_link_return: {refusal.reason}")
            raise

    def _accept_deep_link_response(self, token: str) -> list[dict[str, Any]]:
        with self._lock:
            self._sync_registration()
            claims = self._verified_tool_jwt(token)
            try:  # lti1p3platform: the message type and the accepted content item types
                items = self._config.validate_deeplinking_resp({"JWT": token})
            except lti_exceptions.LtiDeepLinkingResponseException as error:
                raise PlatformRefusal(f"deep linking response: {error}") from error
            _check(
                claims.get("iss") == self.client_id,
                "deep linking response: iss is not the client_id",
            )
            _check(
                self.issuer in _audiences(claims), "deep linking response: aud is not the platform"
            )
            _check(claims.get("nonce"), "deep linking response: nonce is missing")
            _check(claims.get(CLAIM + "version") == "1.3.0", "deep linking response: version")
            deployment = claims.get(CLAIM + "deployment_id")
            _check(
                deployment == self.deployment_id,
                f"deep linking response: deployment {deployment!r}",
            )
            # The data of the request, echoed, tells which launch (and context) this answers; once.
            context_id = self._deep_link_data.pop(claims.get(DL_DATA_CLAIM) or "", None)
            _check(context_id, "deep linking response: data matches no open deep linking request")
            _check(
                len(items) <= 1, "deep linking response: several items, accept_multiple is false"
            )
            placed = []
            for item in items:
                link = self.add_resource_link(
                    context_id,
                    None,
                    item.get("title") or "Untitled",
                    item.get("url"),
                    item.get("custom"),
                )
                lineitem = None
                if item.get("lineItem") is not None:
                    spec = item["lineItem"]
                    _check(
                        isinstance(spec, dict), "deep linking response: lineItem is not an object"
                    )
                    body = {
                        k: spec[k]
                        for k in ("scoreMaximum", "label", "resourceId", "tag")
                        if k in spec
                    }
                    body.setdefault("label", link.title)
                    lineitem = self._create_lineitem(
                        context_id, {**body, "resourceLinkId": link.id}
                    )
                url = link.url or self.launch_url
                placed.append(
                    {
                        "resource_link_id": link.id,
                        "context_id": context_id,
                        "url": url,
                        "title": link.title,
                        "custom": link.custom,
                        "lineitem": lineitem,
                    }
                )
            return placed

    # --- AGS and NRPS ----------------------------------------------------------------------
    def _bearer(self, *scopes_any: str) -> None:
        """Check the request's access token: present, known, unexpired, with one of these scopes."""
        header = request.headers.get("Authorization", "")
        _check(header.startswith("Bearer "), "no Bearer access token", 401, "invalid_token")
        with self._lock:
            granted, expiry = self._tokens.get(header[len("Bearer ") :], (None, 0.0))
        _check(granted is not None, "unknown access token", 401, "invalid_token")
        _check(expiry > time.time(), "expired access token", 401, "invalid_token")
        _check(
            granted & set(scopes_any), f"token lacks scope {scopes_any}", 403, "insufficient_scope"
        )

    def _context(self, context_id: str) -> dict[str, str]:
        # pylti1p3 lowercases the whole Link header before taking the next page's URL from it.
        found = self.contexts.get(context_id) or next(
            (c for c in self.contexts.values() if c["id"].lower() == context_id.lower()), None
        )
        _check(found, f"unknown context {context_id!r}", 404, "not_found")
        return found

    def _lineitem(self, context_id: str, number: int) -> dict[str, Any]:
        url = f"{self.lineitems_url(self._context(context_id)['id'])}/{number}"
        _check(url in self.lineitems, f"unknown line item {url!r}", 404, "not_found")
        return self.lineitems[url]

    def check_score(self, context_id: str, lineitem: dict[str, Any], score: Any) -> None:
        """The checks of AGS 2.0 (the score publish service) on a score's payload, then keep it."""
        _check(isinstance(score, dict), "score: the body is not a JSON object")
        members = self.roles.get(self._context(context_id)["id"], {})
        _check(
            score.get("userId") in members, f"score: userId {score.get('userId')!r} is not a member"
        )
        if score.get("scoreGiven") is not None:
            _check(_is_number(score["scoreGiven"]), "score: scoreGiven is not a number")
            _check(score["scoreGiven"] >= 0, "score: scoreGiven < 0")
            _check(_is_number(score.get("scoreMaximum")), "score: scoreGiven without scoreMaximum")
        if score.get("scoreMaximum") is not None:
            _check(_is_number(score["scoreMaximum"]), "score: scoreMaximum is not a number")
            _check(score["scoreMaximum"] > 0, "score: scoreMaximum <= 0")
        progress = score.get("activityProgress"), score.get("gradingProgress")
        _check(progress[0] in ACTIVITY_PROGRESS, f"score: activityProgress {progress[0]!r}")
        _check(progress[1] in GRADING_PROGRESS, f"score: gradingProgress {progress[1]!r}")
        _check("comment" not in score or isinstance(score["comment"], str), "score: comment")
        stamp = _timestamp(score.get("timestamp"))
        with self._lock:
            previous = [s for s in self._scores[lineitem["id"]] if s["userId"] == score["userId"]]
            if previous:
                _check(
                    stamp > _timestamp(previous[-1]["timestamp"]),
                    "score: stale timestamp",
                    409,
                    "conflict",
                )
            self._scores[lineitem["id"]].append(score)


def _timestamp(value: Any) -> datetime:
    try:
        stamp = datetime.fromisoformat(value) if isinstance(value, str) and "T" in value else None
    except ValueError:
        stamp = None
    _check(
        stamp and stamp.tzinfo,
        f"score: timestamp {value!r} is not an ISO 8601 date-time with offset",
    )
    return stamp


def _page(
    items: list[Any], url: str, default_limit: int | None
) -> tuple[list[Any], dict[str, str]]:
    """A page of items by the `limit` and `offset` parameters, with a Link to the next page."""
    try:
        limit = int(request.args.get("limit", default_limit or len(items) or 1))
        offset = int(request.args.get("offset", 0))
    except ValueError as error:
        raise PlatformRefusal("limit and offset must be integers") from error
    _check(limit > 0 and offset >= 0, "limit must be > 0 and offset >= 0")
    headers = {}
    if offset + limit < len(items):
        headers["Link"] = f'<{url}?limit={limit}&offset={offset + limit}>; rel="next"'
    return items[offset : offset + limit], headers


def _app(platform: LtiTestPlatform) -> Flask:
    """The platform's HTTP endpoints, each a thin layer over the platform's checks."""
    app = Flask(__name__)
    p = platform

    def accept(media_type: str) -> None:
        offered = [value for value, _quality in request.accept_mimetypes]
        _check(
            media_type in offered,
            f"Accept {request.headers.get('Accept')!r}, not {media_type}",
            406,
        )

    def content_type(media_type: str) -> Any:
        _check(
            request.mimetype == media_type,
            f"Content-Type {request.mimetype!r}, not {media_type}",
            415,
        )
        body = request.get_json(force=True, silent=True)
        _check(isinstance(body, dict), "the body is not a JSON object")
        return body

    def answer(body: Any, media_type: str, status: int = 200, headers: Any = None) -> Response:
        return Response(json.dumps(body), status, headers, mimetype=media_type)

    @app.before_request
    def record() -> None:
        if request.mimetype == "application/x-www-form-urlencoded":
            body: Any = request.form.to_dict()
        else:
            body = request.get_json(force=True, silent=True) or request.get_data(as_text=True)
        kept = ("Authorization", "Accept", "Content-Type")
        headers = {name: request.headers[name] for name in kept if name in request.headers}
        entry = {
            "method": request.method,
            "path": request.path,
            "query": request.args.to_dict(),
            "headers": headers,
            "body": body,
        }
        with p._lock:
            p.requests.append(entry)

    @app.errorhandler(PlatformRefusal)
    def refused(refusal: PlatformRefusal) -> Response:
        p._problem(f"{request.method} {request.path}: {refusal.reason}")
        return answer(
            {"error": refusal.error, "error_description": refusal.reason},
            "application/json",
            refusal.status,
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:  # unknown paths and methods are problems too
        return refused(
            PlatformRefusal(error.description or error.name, error.code or 500, "invalid_request")
        )

    @app.errorhandler(Exception)
    def crashed(error: Exception) -> Response:  # a bug here, or a body the checks did not foresee
        return refused(PlatformRefusal(f"platform error {error!r}", 500, "server_error"))

    @app.get("/jwks")
    def jwks() -> Response:
        return answer(p._config.get_jwks(), "application/json")

    @app.get("/auth")
    def auth() -> Response:
        # Not via p.authorize: the refusal is recorded once, by the error handler.
        target, form = p._authorize(f"{p.auth_login_url}?{request.query_string.decode()}", None)
        fields = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
            for name, value in form.items()
        )
        page = (
            f'<form id="launch" method="post" action="{html.escape(target)}">{fields}</form>'
            '<script>document.getElementById("launch").submit()</script>'
        )
        return Response(page, mimetype="text/html")

    @app.post("/token")
    def token() -> Response:
        _check(
            request.mimetype == "application/x-www-form-urlencoded",
            "the token request is not a form",
        )
        return answer(p.issue_token(request.form.to_dict()), "application/json")

    @app.post("/deep_link_return")
    def deep_link_return() -> Response:
        _check(request.form.get("JWT"), "form field JWT is missing")
        placed = p._accept_deep_link_response(request.form["JWT"])
        titles = "".join(f"<li>{html.escape(item['title'])}</li>" for item in placed)
        return Response(
            f"<h1>Placed {len(placed)} item(s)</h1><ul>{titles}</ul>", mimetype="text/html"
        )

    @app.get("/frame")
    def frame() -> Response:
        # A course page of the LMS: the tool in an iframe, started by a login initiation with
        # this request's parameters (from login_request), as an LMS opens a tool placed in it.
        source = html.escape(f"{p.login_url}?{request.query_string.decode()}")
        return Response(
            f'<h1>LMS course page</h1><iframe id="tool" title="Tool" src="{source}" '
            'width="1000" height="700"></iframe>',
            mimetype="text/html",
        )

    @app.get("/favicon.ico")
    def favicon() -> Response:  # browsers ask; an LMS has one
        return Response(status=204)

    @app.get("/return")
    def launch_return() -> Response:
        return Response("<h1>Back in the course</h1>", mimetype="text/html")

    @app.get("/contexts/<context_id>/line_items")
    def lineitems(context_id: str) -> Response:
        p._bearer(SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY)
        accept(MEDIA_LINEITEMS)
        context = p._context(context_id)
        filters = {"resource_link_id": "resourceLinkId", "resource_id": "resourceId", "tag": "tag"}
        with p._lock:
            items = [
                item
                for url, item in p.lineitems.items()
                if url.startswith(p.lineitems_url(context["id"]) + "/")
            ]
        for parameter, name in filters.items():
            if parameter in request.args:
                items = [item for item in items if item.get(name) == request.args[parameter]]
        page, headers = _page(items, p.lineitems_url(context["id"]), None)
        return answer(page, MEDIA_LINEITEMS, 200, headers)

    @app.post("/contexts/<context_id>/line_items")
    def create_lineitem(context_id: str) -> Response:
        p._bearer(SCOPE_LINEITEM)
        body = content_type(MEDIA_LINEITEM)
        with p._lock:
            item = p._create_lineitem(p._context(context_id)["id"], body)
        return answer(item, MEDIA_LINEITEM, 201)

    @app.get("/contexts/<context_id>/line_items/<int:number>")
    def lineitem(context_id: str, number: int) -> Response:
        p._bearer(SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY)
        accept(MEDIA_LINEITEM)
        return answer(p._lineitem(context_id, number), MEDIA_LINEITEM)

    @app.post("/contexts/<context_id>/line_items/<int:number>/scores")
    def score(context_id: str, number: int) -> Response:
        with p._lock:
            away, p.score_outages = p.score_outages > 0, max(0, p.score_outages - 1)
        if away:  # on purpose, not a problem of the tool's
            return answer({"error": "temporarily_unavailable"}, "application/json", 503)
        p._bearer(SCOPE_SCORE)
        item = p._lineitem(context_id, number)
        p.check_score(context_id, item, content_type(MEDIA_SCORE))
        return Response(status=204)

    @app.get("/contexts/<context_id>/line_items/<int:number>/results")
    def results(context_id: str, number: int) -> Response:
        p._bearer(SCOPE_RESULT_READONLY)
        accept(MEDIA_RESULTS)
        item = p._lineitem(context_id, number)
        latest: dict[str, dict[str, Any]] = {}
        for given in p.scores(item["id"]):
            latest[given["userId"]] = given
        found = [
            {
                "id": f"{item['id']}/results/{quote(user, safe='')}",
                "scoreOf": item["id"],
                "userId": user,
                "resultScore": given.get("scoreGiven"),
                "resultMaximum": given.get("scoreMaximum"),
                "comment": given.get("comment"),
            }
            for user, given in latest.items()
            if request.args.get("user_id") in (None, user)
        ]
        page, headers = _page(found, f"{item['id']}/results", None)
        return answer(page, MEDIA_RESULTS, 200, headers)

    @app.get("/contexts/<context_id>/memberships")
    def memberships(context_id: str) -> Response:
        p._bearer(SCOPE_MEMBERSHIP)
        accept(MEDIA_MEMBERSHIPS)
        context = p._context(context_id)
        with p._lock:
            members = [
                {
                    "user_id": sub,
                    "roles": roles,
                    "name": p.users[sub]["name"],
                    "email": p.users[sub]["email"],
                    "status": "Active",
                }
                for sub, roles in p.roles[context["id"]].items()
                if request.args.get("role") in (None, *roles)
            ]
        url = p.memberships_url(context["id"])
        page, headers = _page(members, url, p.members_page_size)
        body = {"id": request.url, "context": context, "members": page}
        return answer(body, MEDIA_MEMBERSHIPS, 200, headers)

    return app
