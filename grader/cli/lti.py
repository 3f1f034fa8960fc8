"""`grader lti ...`: connecting LMSs over LTI 1.3 (register a platform, rotate the tool's key, map
and sync courses)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from grader.extensions import db
from grader.models import Course
from grader.services.errors import DomainError
from grader.services.lti import keys, roster
from grader.services.lti.platforms import (
    PlatformSpec,
    find_platform,
    register_platform,
    registered_platforms,
)
from grader.services.lti.provisioning import link_context

lti = AppGroup(
    "lti",
    help=(
        "Connect LMSs (Canvas, Moodle, ...) over LTI 1.3. The values to give the LMS are at "
        "/lti/config on the running grader; see the README's LMS section."
    ),
)


@lti.command("register")
@click.option("--name", required=True, help="A name staff recognise, e.g. 'University Canvas'.")
@click.option(
    "--issuer",
    required=True,
    help="The platform's issuer (iss), e.g. https://canvas.instructure.com.",
)
@click.option("--client-id", required=True, help="The client id the LMS gave this tool.")
@click.option("--login-url", required=True, help="The platform's OIDC authentication (auth) URL.")
@click.option("--token-url", required=True, help="The platform's OAuth2 access token URL.")
@click.option("--jwks-url", required=True, help="The platform's public key set (JWKS) URL.")
@click.option(
    "--deployment",
    "deployments",
    multiple=True,
    required=True,
    help="A deployment id of the tool on the platform (repeat for several).",
)
@click.option(
    "--audience", default=None, help="The token request's audience, if not the token URL."
)
def register_lms(
    name: str,
    issuer: str,
    client_id: str,
    login_url: str,
    token_url: str,
    jwks_url: str,
    deployments: tuple[str, ...],
    audience: str | None,
) -> None:
    """Register an LMS (or update it and add deployments): only registered LMSs can launch."""
    spec = PlatformSpec(
        name=name,
        issuer=issuer,
        client_id=client_id,
        auth_login_url=login_url,
        auth_token_url=token_url,
        key_set_url=jwks_url,
        deployment_ids=deployments,
        auth_audience=audience,
    )
    platform = _run(lambda: register_platform(spec))
    click.echo(
        f"Registered {platform.name} (platform {platform.id}): "
        f"{len(platform.deployments)} deployment(s)."
    )


@lti.command("platforms")
def platforms() -> None:
    """List the registered LMSs."""
    found = registered_platforms()
    if not found:
        click.echo("No LMS is registered. Add one with `grader lti register`.")
    for platform in found:
        deployments = ", ".join(d.deployment_id for d in platform.deployments)
        click.echo(
            f"{platform.id}  {platform.name}  issuer={platform.issuer}  "
            f"client_id={platform.client_id}  deployments={deployments}"
        )


@lti.command("rotate-key")
def rotate_key() -> None:
    """Sign with a new key from now on; the old one stays published for a grace period."""
    key = keys.rotate_key()
    days = keys.RETIRED_KEY_GRACE.days
    click.echo(
        f"Now signing with key {key.kid}. The previous key stays in /lti/jwks for {days} days."
    )


@lti.command("link-course")
@click.option("--issuer", required=True, help="The platform's issuer, as registered.")
@click.option("--client-id", default=None, help="Needed when the issuer is registered twice.")
@click.option("--context", "context_id", required=True, help="The LMS course's context id.")
@click.argument("course_code")
def link_course(issuer: str, client_id: str | None, context_id: str, course_code: str) -> None:
    """Make the LMS course CONTEXT open the existing course COURSE_CODE (instead of a new one)."""
    course = db.session.scalar(select(Course).where(Course.code == course_code))
    if course is None:
        raise click.ClickException(f"there is no course {course_code!r}")
    platform = _run(lambda: find_platform(issuer, client_id))
    link_context(platform.id, context_id, course)
    click.echo(f"LMS course {context_id!r} now opens {course.code}.")


@lti.command("sync-roster")
@click.argument("course_code")
def sync_roster(course_code: str) -> None:
    """Enrol the whole class of the LMS course(s) linked to COURSE_CODE, with their LMS roles."""
    course = db.session.scalar(select(Course).where(Course.code == course_code))
    if course is None:
        raise click.ClickException(f"there is no course {course_code!r}")
    result = _run(lambda: roster.sync_roster(None, course.id))
    click.echo(
        f"Enrolled {result.enrolled} from {result.contexts} LMS course(s); "
        f"skipped {result.skipped} (other roles or inactive)."
    )


def _run(action):
    try:
        return action()
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None


def register(cli: click.Group) -> None:
    cli.add_command(lti)
