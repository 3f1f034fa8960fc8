"""Signing in and out with a password (HTML), and API tokens (JSON): who is asking."""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from grader.extensions import db, login_manager
from grader.models import User
from grader.services.accounts import authenticate, user_for_token

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            target = request.args.get("next", "")
            # Only local paths: an open redirect would let a phishing link bounce through our login.
            return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("pages.index"))
        form.password.errors.append("Wrong e-mail or password.")
    return render_template("login.html", form=form), 200 if request.method == "GET" or form.errors == {} else 401


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


def register(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def load_user(user_id: str):
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None

    @login_manager.request_loader
    def load_user_from_token(req):
        header = req.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return user_for_token(header.removeprefix("Bearer ").strip())
        return None

    @login_manager.unauthorized_handler
    def unauthorized():
        if request.path.startswith("/api/"):
            return jsonify(error="Sign in first: send 'Authorization: Bearer <token>' "
                                 "(create one with `grader tokens create EMAIL`)."), 401
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @app.context_processor
    def inject_user():
        return {"current_user": current_user}
