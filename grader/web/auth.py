"""Signing in and out with a password (HTML), and API tokens (JSON): who is asking."""

from __future__ import annotations

import secrets
import time

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from grader.extensions import db, login_manager
from grader.models import User
from grader.services.errors import AccountError, TokenRejected
from grader.services.people.accounts import (
    authenticate,
    change_password,
    end_sessions,
    user_for_token,
)
from grader.web.forms.auth import LoginForm, PasswordForm
from grader.web.throttles import login_per_account, login_per_address

bp = Blueprint("auth", __name__)

SEND_TOKEN = "Send 'Authorization: Bearer <token>' (create one with `grader tokens create EMAIL`)."
# When this session signed in (epoch seconds): a sign-in lasts GRADER_SESSION_HOURS however busy it
# is.
SIGNED_IN_AT = "signed_in_at"


@bp.route("/login", methods=["GET", "POST"])
@login_per_address
@login_per_account
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            start_session(user)
            target = request.args.get("next", "")
            # Only local paths: an open redirect would let a phishing link bounce through our login.
            return redirect(
                target
                if target.startswith("/") and not target.startswith("//")
                else url_for("pages.index")
            )
        form.password.errors.append("Wrong e-mail or password.")
    return render_template(
        "login.html", form=form
    ), 200 if request.method == "GET" or form.errors == {} else 401


@bp.errorhandler(429)
def too_many_attempts(exc):
    # The sign-in form again, with the e-mail kept and the reason above the button.
    return render_template("login.html", form=LoginForm(), notice=exc.description), 429


@bp.post("/logout")
@login_required
def logout():
    # Ends every session of this account, so a copied cookie is worthless from now on.
    end_sessions(current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            change_password(user, form.current.data, form.new.data)
        except AccountError as exc:
            form.new.errors.append(str(exc))
        else:
            db.session.commit()
            # Every other session has ended; this one goes on with the new session token.
            login_user(user)
            flash("Your password is changed, and you are signed out everywhere else.", "success")
            return redirect(url_for("pages.index"))
    status = 400 if form.errors else 200
    return render_template("account_password.html", form=form), status


def start_session(user: User) -> None:
    """Sign `user` in with a fresh session (a password sign-in or an LMS launch)."""
    session.clear()
    login_user(user)
    session.permanent = True
    session[SIGNED_IN_AT] = int(time.time())


def bearer_token(req) -> str | None:
    """The token of an 'Authorization: Bearer' header, or None when there is no such header."""
    header = req.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None


def require_bearer_token():
    """Before each API request: a JSON 401 saying why unless a valid bearer token signed in."""
    if bearer_token(request) is None or not current_user.is_authenticated:
        return _token_needed()
    return None


def _token_needed():
    return jsonify(error=g.get("token_rejected", SEND_TOKEN)), 401


def _session_is_current(user: User, token: str) -> bool:
    lifetime = current_app.config["GRADER"].session_hours * 3600
    return (
        secrets.compare_digest(user.session_token.encode(), token.encode())
        and time.time() - session.get(SIGNED_IN_AT, 0) < lifetime
    )


def register(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        # A bearer token, when sent, decides alone: a valid cookie must not cover for a bad token.
        if bearer_token(request) is not None:
            return None
        user_id, _, token = session_id.partition(":")
        user = db.session.get(User, int(user_id)) if user_id.isdigit() and token else None
        return user if user is not None and _session_is_current(user, token) else None

    @login_manager.request_loader
    def load_user_from_token(req) -> User | None:
        token = bearer_token(req)
        if token is None:
            return None
        try:
            return user_for_token(token)
        except TokenRejected as exc:
            g.token_rejected = str(exc)
            return None

    @login_manager.unauthorized_handler
    def unauthorized():
        if request.path.startswith("/api/"):
            return _token_needed()
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @app.context_processor
    def inject_user():
        return {"current_user": current_user}
