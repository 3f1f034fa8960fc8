"""Security headers on every response: a strict CSP for our pages, no framing or sniffing,
HSTS on https."""

from __future__ import annotations

from flask import Flask, Response, request

# Our pages load only their own scripts, styles and pictures, and frame only the executed notebook,
# which is served from here under its own sandbox CSP. Nothing inline: templates and static JS use
# no inline code.
APP_CSP = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "frame-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)
HEADERS = {
    "Content-Security-Policy": APP_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def register(app: Flask) -> None:
    """Add the headers to every response; a view that sets one itself
    (the notebook view) keeps its own."""

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        # Behind a proxy that ends TLS the request looks like http,
        # but secure cookies mean the site is https.
        if request.is_secure or app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
