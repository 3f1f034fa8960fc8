"""LMS platforms an administrator registered, and the pylti1p3 views of them: the tool
configuration it looks registrations and deployments up in, and a registration carrying our key."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from grader.extensions import db
from grader.lti_models import LtiDeployment, LtiPlatform
from grader.services.errors import Invalid, NotFound
from grader.services.lti.keys import public_pem, signing_key

# Every call to a platform gives up after this long: a slow LMS must not hold a worker or a page.
PLATFORM_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class PlatformSpec:
    """What `grader lti register` asks for: the values the LMS shows for this tool."""

    name: str
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    deployment_ids: tuple[str, ...]
    auth_audience: str | None = None


def register_platform(spec: PlatformSpec) -> LtiPlatform:
    """Add a platform, or update the one with this issuer and client id and add deployments."""
    problems = _problems(spec)
    if problems:
        raise Invalid("; ".join(problems))
    platform = db.session.scalar(
        select(LtiPlatform).where(
            LtiPlatform.issuer == spec.issuer, LtiPlatform.client_id == spec.client_id
        )
    )
    if platform is None:
        platform = LtiPlatform(issuer=spec.issuer, client_id=spec.client_id)
        db.session.add(platform)
    platform.name = spec.name
    platform.auth_login_url, platform.auth_token_url = spec.auth_login_url, spec.auth_token_url
    platform.key_set_url, platform.auth_audience = spec.key_set_url, spec.auth_audience
    known = {deployment.deployment_id for deployment in platform.deployments}
    for deployment_id in dict.fromkeys(spec.deployment_ids):
        if deployment_id not in known:
            platform.deployments.append(LtiDeployment(deployment_id=deployment_id))
    db.session.commit()
    signing_key()  # made now, so the admin can paste the key set URL at once
    return platform


def registered_platforms() -> list[LtiPlatform]:
    return list(
        db.session.scalars(
            select(LtiPlatform)
            .options(selectinload(LtiPlatform.deployments))
            .order_by(LtiPlatform.id)
        )
    )


def find_platform(issuer: str, client_id: str | None) -> LtiPlatform:
    """The platform with this issuer (and client id, needed when the issuer has several)."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    found = list(db.session.scalars(query.limit(2)))
    if not found:
        raise NotFound(f"No LMS with issuer {issuer!r} is registered with this grader.")
    if len(found) > 1:
        raise Invalid(
            f"Several registrations share issuer {issuer!r}: the LMS must send client_id."
        )
    return found[0]


def registration_of(platform: LtiPlatform) -> Registration:
    """pylti1p3's registration of a platform, signing with our current key."""
    key = signing_key()
    registration = Registration()
    registration.set_issuer(platform.issuer).set_client_id(platform.client_id)
    registration.set_auth_login_url(platform.auth_login_url)
    registration.set_auth_token_url(platform.auth_token_url).set_key_set_url(platform.key_set_url)
    if platform.auth_audience:
        registration.set_auth_audience(platform.auth_audience)
    registration.set_tool_private_key(key.private_key_pem).set_tool_public_key(public_pem(key))
    return registration


class DatabaseToolConf(ToolConfAbstract):
    """pylti1p3's tool configuration, read from the registered platforms.

    An issuer may have several registrations (two Canvas developer keys), so lookups always go by
    issuer and client id.
    """

    def __init__(self) -> None:
        super().__init__()
        for platform in registered_platforms():
            self.set_iss_has_many_clients(platform.issuer)

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        return registration_of(find_platform(iss, None))

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Registration | None:
        try:
            return registration_of(find_platform(iss, client_id))
        except NotFound:
            return None

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self._deployment(find_platform(iss, None), deployment_id)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        return self._deployment(find_platform(iss, client_id), deployment_id)

    @staticmethod
    def _deployment(platform: LtiPlatform, deployment_id: str) -> Deployment | None:
        if deployment_id not in {d.deployment_id for d in platform.deployments}:
            return None
        return Deployment().set_deployment_id(deployment_id)


class TimeoutSession(requests.Session):
    """A requests session whose calls give up after PLATFORM_TIMEOUT_SECONDS (pylti1p3 sets
    none)."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", PLATFORM_TIMEOUT_SECONDS)
        return super().request(*args, **kwargs)


def http_session() -> requests.Session:
    session = TimeoutSession()
    session.headers["User-Agent"] = "notebook-grader-lti"
    return session


def _problems(spec: PlatformSpec) -> list[str]:
    problems = [
        f"{label} is required"
        for label, value in (
            ("name", spec.name),
            ("issuer", spec.issuer),
            ("client id", spec.client_id),
        )
        if not value.strip()
    ]
    if not spec.deployment_ids:
        problems.append(
            "give at least one deployment id (the LMS shows it after installing the tool)"
        )
    urls = {
        "issuer": spec.issuer,
        "login URL": spec.auth_login_url,
        "token URL": spec.auth_token_url,
        "key set URL": spec.key_set_url,
    }
    problems += [
        f"{label}: {problem}" for label, url in urls.items() if (problem := url_problem(url))
    ]
    return problems


def url_problem(url: str) -> str | None:
    """Why an LMS URL is unusable: it must be https (plain http only on this machine, for
    trials)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL"
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return f"{url!r} must use https (plain http is allowed only for localhost)"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
