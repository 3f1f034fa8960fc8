"""Throttles (Flask-Limiter): sign-in attempts per address and per account, uploads per person."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask, current_app, request
from flask_login import current_user
from limits import parse_many

from grader.config import Settings
from grader.extensions import limiter


def register(app: Flask, settings: Settings) -> None:
    """Count where the settings say; a malformed limit stops the app here, not at a request."""
    for value in (
        settings.login_limit_per_address,
        settings.login_limit_per_account,
        settings.upload_limit,
        settings.lti_login_limit_per_address,
    ):
        parse_many(value)
    storage = settings.rate_limit_storage
    app.config.update(
        RATELIMIT_STORAGE_URI=storage,
        # Deployments (and test runs) sharing one Redis keep their counts apart by their queue name;
        # a Redis that stops answering holds a sign-in for two seconds at most.
        RATELIMIT_STORAGE_OPTIONS=(
            {
                "key_prefix": f"grader-limits:{settings.queue_name}",
                "socket_connect_timeout": 2,
                "socket_timeout": 2,
            }
            if storage.startswith("redis")
            else {}
        ),
        # X-RateLimit-* on limited responses, and Retry-After on a 429.
        RATELIMIT_HEADERS_ENABLED=True,
        # A Redis restart must not take sign-in and uploads down with it: count in memory meanwhile.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
    )
    limiter.init_app(app)


def _setting(name: str) -> Callable[[], str]:
    return lambda: getattr(current_app.config["GRADER"], name)


def _retry_in() -> str:
    breached = limiter.current_limit
    seconds = max(1, math.ceil(breached.reset_at - time.time())) if breached else 60
    return f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"


def _email() -> str:
    # No e-mail in the form: this limit is skipped, the per-address one still counts the attempt.
    return request.form.get("email", "").strip().lower()[:254]


# Every attempt from an address counts, so parallel guessing is bounded too; the default leaves room
# for a classroom signing in together behind one NAT address.
login_per_address = limiter.limit(
    _setting("login_limit_per_address"),
    methods=["POST"],
    error_message=lambda: (
        f"Too many sign-in attempts from your network. Try again in {_retry_in()}."
    ),
)

# Only wrong passwords count against an account: signing in often is no reason to be locked out.
login_per_account = limiter.limit(
    _setting("login_limit_per_account"),
    key_func=_email,
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 401,
    error_message=lambda: f"Too many wrong passwords for this account. Try again in {_retry_in()}.",
)

# Each LMS login writes a pending login row; a flood of them from one address is cut off. The
# default leaves room for a class opening a link together behind one NAT address.
lti_logins_per_address = limiter.limit(
    _setting("lti_login_limit_per_address"),
    error_message=lambda: f"Too many LMS logins from your network. Try again in {_retry_in()}.",
)

# One budget per person for the form and the API together.
uploads_per_person = limiter.shared_limit(
    _setting("upload_limit"),
    scope="upload",
    key_func=lambda: f"user-{current_user.id}",
    error_message=lambda: (
        f"Too many uploads: at most {parse_many(_setting('upload_limit')())[0]}. "
        f"Try again in {_retry_in()}."
    ),
)
