"""Sessions that began with an LMS launch live inside the LMS's iframe: their cookie must travel
cross-site (SameSite=None; Secure; Partitioned) and their pages may be framed by that LMS, and
only by it.

Every other session keeps SameSite=Lax and pages no one may frame.
"""

from __future__ import annotations

from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface

# The origin of the LMS page that launched this session (from its signed launch), or absent.
FRAME_ORIGIN = "lti_frame_origin"


def framing_origin() -> str | None:
    """The LMS origin allowed to frame this session's pages, if it began with a launch."""
    return session.get(FRAME_ORIGIN)


class LtiAwareSessionInterface(SecureCookieSessionInterface):
    def get_cookie_samesite(self, app: Flask) -> str | None:
        # SameSite=None without Secure is refused by browsers: over plain http (a laptop trial)
        # the cookie stays Lax, and the LMS must open the grader in a new window.
        return "None" if _framed(app) else super().get_cookie_samesite(app)

    def get_cookie_partitioned(self, app: Flask) -> bool:
        # Browsers that block third-party cookies still keep a partitioned one (CHIPS): it is sent
        # only inside this LMS's pages, which is exactly where this session lives.
        return _framed(app) or super().get_cookie_partitioned(app)


def _framed(app: Flask) -> bool:
    return bool(app.config["SESSION_COOKIE_SECURE"] and session.get(FRAME_ORIGIN))


def register(app: Flask) -> None:
    app.session_interface = LtiAwareSessionInterface()
