"""The tool's own signing keys: made and kept by the service, rotated by command.

A platform fetches /lti/jwks to check what we sign (token requests, deep-linking answers). After a
rotation the retired key stays published for `RETIRED_KEY_GRACE`, so a platform that cached the old
key set, or a message signed just before, is still believed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pylti1p3.registration import Registration
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from grader.extensions import db
from grader.lti_models import LtiKey
from grader.models import utcnow

RETIRED_KEY_GRACE = timedelta(days=7)
KEY_BITS = 2048


def signing_key() -> LtiKey:
    """The key that signs now; the first call makes one."""
    key = _newest_active()
    if key is not None:
        return key
    try:
        return _create_key()
    except IntegrityError:  # another process made the first key at the same moment
        db.session.rollback()
        key = _newest_active()
        assert key is not None
        return key


def rotate_key() -> LtiKey:
    """Retire the signing key and make a new one; the old one stays published for a grace
    period."""
    now = utcnow()
    for key in db.session.scalars(select(LtiKey).where(LtiKey.retired_at.is_(None))):
        key.retired_at = now
    return _create_key()


def published_key_set() -> dict[str, list[dict[str, Any]]]:
    """The JWKS a platform fetches: the signing key and keys retired less than the grace ago."""
    signing_key()
    recent = utcnow() - RETIRED_KEY_GRACE
    keys = db.session.scalars(
        select(LtiKey)
        .where(or_(LtiKey.retired_at.is_(None), LtiKey.retired_at > recent))
        .order_by(LtiKey.id.desc())
    )
    return {"keys": [key.public_jwk for key in keys]}


def public_pem(key: LtiKey) -> str:
    private = serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _newest_active() -> LtiKey | None:
    return db.session.scalar(
        select(LtiKey).where(LtiKey.retired_at.is_(None)).order_by(LtiKey.id.desc()).limit(1)
    )


def _create_key() -> LtiKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # pylti1p3's JWK names the key by its thumbprint, the kid it puts in every header it signs.
    jwk = json.loads(json.dumps(Registration.get_jwk(public.decode())))
    key = LtiKey(kid=jwk["kid"], private_key_pem=private_pem, public_jwk=jwk)
    db.session.add(key)
    db.session.commit()
    return key
