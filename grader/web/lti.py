"""The LMS side of the web app (LTI 1.3): login initiation, launch, deep-linking picker, the key
set and the configuration an administrator pastes into the LMS.

Login and launch are cross-site posts from the LMS, so CSRF tokens do not apply; what protects
them is the platform's signature and our single-use state and nonce (grader.services.lti.launches).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer

from grader.extensions import db
from grader.models import Role, User
from grader.services.assignments.rules import is_released
from grader.services.errors import LtiRefused
from grader.services.lti import deep_linking, keys
from grader.services.lti.deep_linking import DeepLinkRequest
from grader.services.lti.launches import start_login, validate_launch
from grader.services.lti.provisioning import provision
from grader.web.auth import start_session
from grader.web.lti_session import FRAME_ORIGIN
from grader.web.security_headers import app_csp
from grader.web.throttles import lti_logins_per_address

bp = Blueprint("lti", __name__, url_prefix="/lti")
log = logging.getLogger(__name__)
# The picker page carries the deep-linking request, signed, for an hour: its post needs no cookie,
# which an LMS iframe may not send.
PICK_SALT = "lti-deep-link-pick"
PICK_MAX_AGE_SECONDS = 3600


@bp.route("/login", methods=["GET", "POST"])
@lti_logins_per_address
def login():
    params = request.values.to_dict()
    target = start_login(params, url_for("lti.launch", _external=True))
    return redirect(target, code=302)


@bp.post("/launch")
def launch():
    launch = validate_launch(request.form.to_dict())
    try:
        outcome = provision(launch)
    except LtiRefused as exc:
        log.warning("LTI launch refused after validation: %s", exc)
        raise
    start_session(outcome.user)
    frame_origin = _origin(launch.return_url) or _origin(outcome.context.platform.issuer)
    session[FRAME_ORIGIN] = frame_origin
    if outcome.assignment is None:
        pick = DeepLinkRequest.of(launch, outcome)
        return render_template(
            "lti_pick.html",
            course=outcome.course,
            assignments=deep_linking.pickable_assignments(pick),
            token=_serializer().dumps({"request": pick.as_dict(), "frame_origin": frame_origin}),
        )
    if outcome.role == Role.STUDENT:
        if not is_released(outcome.assignment):
            flash(
                f"“{outcome.assignment.title}” is not open yet: it has not been released.",
                "error",
            )
        return redirect(url_for("pages.index", assignment=outcome.assignment.id), code=303)
    return redirect(url_for("staff.dashboard", assignment_id=outcome.assignment.id), code=303)


@bp.post("/deep_link")
def deep_link():
    try:
        signed = _serializer().loads(request.form.get("token", ""), max_age=PICK_MAX_AGE_SECONDS)
    except BadSignature:
        raise LtiRefused(
            "This picker has expired or was altered. Open the grader from the LMS's picker again."
        ) from None
    pick = DeepLinkRequest(**signed["request"])
    actor = db.session.get(User, pick.user_id)
    assignment_id = request.form.get("assignment_id", "")
    if actor is None or not assignment_id.isdigit():
        raise LtiRefused("Pick one of the course's assignments.")
    answer = deep_linking.answer_deep_link(
        pick, actor, int(assignment_id), url_for("lti.launch", _external=True)
    )
    response = Response(render_template("lti_deep_link_return.html", answer=answer))
    # Our pages post only to ourselves; this one posts the answer back to the LMS, inside whose
    # frame it is shown (the post may come without our cookie, so the origin travels signed).
    response.headers["Content-Security-Policy"] = app_csp(
        frame_ancestors=signed["frame_origin"], form_action=_origin(answer.return_url)
    )
    return response


@bp.get("/jwks")
def jwks():
    response = jsonify(keys.published_key_set())
    # Platforms cache it; a rotation keeps the old key published long past this.
    response.cache_control.max_age = 300
    response.cache_control.public = True
    return response


@bp.get("/config")
def config():
    return render_template("lti_config.html", urls=_tool_urls())


@bp.get("/config.json")
def config_json():
    """The tool's configuration as Canvas's developer key JSON (paste it under "Paste JSON")."""
    urls = _tool_urls()
    placements = [
        {
            "placement": placement,
            "message_type": "LtiDeepLinkingRequest",
            "target_link_uri": urls["launch"],
        }
        for placement in ("assignment_selection", "link_selection")
    ]
    return jsonify(
        title="Notebook grader",
        description="Grades Jupyter notebook labs and sends the scores to the gradebook.",
        oidc_initiation_url=urls["login"],
        target_link_uri=urls["launch"],
        public_jwk_url=urls["jwks"],
        scopes=list(SCOPES),
        extensions=[
            {
                "platform": "canvas.instructure.com",
                "privacy_level": "public",
                "settings": {"placements": placements},
            }
        ],
    )


SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)


def _tool_urls() -> dict[str, str]:
    return {
        "login": url_for("lti.login", _external=True),
        "launch": url_for("lti.launch", _external=True),
        "jwks": url_for("lti.jwks", _external=True),
        "config": url_for("lti.config_json", _external=True),
        "domain": urlsplit(request.host_url).netloc,
    }


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=PICK_SALT)


def _origin(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"
