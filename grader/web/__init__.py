"""The web app: the shared app (grader.app) plus pages, the API, CSRF,
throttles and security headers."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from grader.app import create_app
from grader.config import Settings
from grader.extensions import csrf
from grader.web import (
    api,
    auth,
    errors,
    forms,
    health,
    instructor,
    lms_pages,
    lti,
    lti_session,
    metrics,
    pages,
    security_headers,
    staff,
    throttles,
)


def create_web_app(settings: Settings | None = None) -> Flask:
    """Build the web app that gunicorn, `grader serve` and the tests serve."""
    app = create_app(settings)
    settings = app.config["GRADER"]
    csrf.init_app(app)
    forms.register(app)
    throttles.register(app, settings)
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )
    auth.register(app)
    lti_session.register(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(instructor.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(lms_pages.bp)
    # The LMS posts logins and launches cross-site; their signature and single-use state protect
    # them, and the deep-linking pick carries its own signed token (grader.web.lti).
    csrf.exempt(lti.bp)
    app.register_blueprint(lti.bp)
    # The API authenticates each request with a bearer token, not a cookie, so CSRF does not apply.
    csrf.exempt(api.bp)
    app.register_blueprint(api.bp)
    errors.register(app)
    security_headers.register(app)
    return app
