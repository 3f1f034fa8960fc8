"""The errors services raise: each says what went wrong in words meant for the person who asked.

They know nothing of HTTP; the web app maps each kind to a status once (grader/web/errors.py), and
the CLI prints them. Catch the kind (`NotFound`, `Forbidden`, `Invalid`), not the module that raised
it.
"""

from __future__ import annotations


class DomainError(Exception):
    """Something the grader will not do; `str(error)` tells the asker why."""


class NotFound(DomainError, LookupError):
    """The thing asked for does not exist, or is not the asker's to see: the two look the same."""


class Forbidden(DomainError, PermissionError):
    """The asker may see the thing but not do this to it."""


class Invalid(DomainError, ValueError):
    """Input the asker must fix."""


class AuthoringError(Invalid):
    """An assignment package, settings or rubric an instructor must fix (one line per problem)."""


class AccountError(Invalid):
    """A request about accounts that cannot be carried out."""


class TokenRejected(AccountError):
    """A bearer token that does not sign anyone in: unknown, expired or revoked."""


class ScoreRejected(Invalid):
    """A manual score out of range, or without a reason."""


class BadFilter(Invalid):
    """A sort or filter value the dashboard does not know."""


class NotebookRejected(Invalid):
    """An upload that is not a notebook we can grade."""


class NotebookTooLarge(NotebookRejected):
    """An upload over the size cap."""


class AttemptsUsed(Forbidden):
    """A student who has used every attempt an assignment allows."""


class LtiRefused(Invalid):
    """An LTI login or launch we do not believe (bad signature, wrong audience, replayed, expired,
    unknown platform or deployment), or one that asks for something this grader does not have."""


class LtiServiceFailed(DomainError):
    """An LMS service (token, grades, class list) refused a request or did not answer."""
