"""Signing in and changing a password."""

from __future__ import annotations

from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo

from grader.web.forms import PageForm


class LoginForm(PageForm):
    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class PasswordForm(PageForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new", message="The new passwords differ.")],
    )
