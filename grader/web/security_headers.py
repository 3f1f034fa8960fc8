"""Security headers on every response: a strict CSP for our pages, no framing or sniffing,
HSTS on https.

A session that began with an LMS launch may be framed by that LMS's origin (and no other):
grader.web.lti_session.
"""

from __future__ import annotations

from flask import Flask, Response, request

from grader.web.lti_session import framing_origin


def app_csp(frame_ancestors: str | None = None, form_action: str | None = None) -> str:
    """Our pages load only their own scripts, styles and pictures, and frame only the executed
    notebook, which is served from here under its own sandbox CSP. Nothing inline: templates and
    static JS use no inline code. Framing and posting elsewhere only to the origins given."""
    return "; ".join(
        [
            "default-src 'self'",
            "img-src 'self' data:",
            "frame-src 'self'",
            f"frame-ancestors 'self' {frame_ancestors}"
            if frame_ancestors
            else "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'self'",
            f"form-action 'self' {form_action}" if form_action else "form-action 'self'",
        ]
    )


HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def register(app: Flask) -> None:
    """Add the headers to every response; a view that sets one itself
    (the notebook view, the deep-linking answer) keeps its own."""

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        csp = response.headers.setdefault(
            "Content-Security-Policy", app_csp(frame_ancestors=framing_origin())
        )
        # For browsers without CSP's frame-ancestors; it cannot name an origin, so it is sent only
        # where no one may frame the page.
        if "frame-ancestors 'none'" in csp:
            response.headers.setdefault("X-Frame-Options", "DENY")
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        # Behind a proxy that ends TLS the request looks like http,
        # but secure cookies mean the site is https.
        if request.is_secure or app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
