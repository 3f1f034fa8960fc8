"""The HTML forms (WTForms), one module per area; this module holds what they share."""

from __future__ import annotations

from flask import Flask
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import Form
from wtforms.widgets import HiddenInput


class PageForm(FlaskForm):
    """A form of the grader's pages, which often hold several:
    so its hidden inputs carry no id to repeat."""

    def hidden_tag(self) -> Markup:
        return Markup(
            "\n".join(
                str(field(id=False)) for field in self if isinstance(field.widget, HiddenInput)
            )
        )


class ActionForm(PageForm):
    """A button that changes something (sign out, re-grade, validate): just its CSRF token."""


def problems(form: Form, names: dict[str, str] | None = None) -> list[str]:
    """Every field's errors as 'Name: message' lines, in the form's order;
    `names` shortens long labels."""
    names = names or {}
    return [
        f"{names.get(field.name, field.label.text)}: {error}"
        for field in form
        for error in field.errors
    ]


def register(app: Flask) -> None:
    """`action_form()` in every template, for the buttons that post."""
    # A global rather than a context variable, so that imported macros see it too.
    app.add_template_global(lambda: ActionForm(formdata=None), "action_form")
