"""Content-addressed storage of notebooks and rendered pages in the database."""

from __future__ import annotations

import hashlib

from grader.extensions import db
from grader.models import Blob


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_blob(data: bytes) -> str:
    """Store `data` once under its sha256 (inside the caller's transaction) and return the hash."""
    digest = sha256_of(data)
    if db.session.get(Blob, digest) is None:
        db.session.add(Blob(sha256=digest, size=len(data), content=data))
        db.session.flush()
    return digest


def get_blob(digest: str) -> bytes:
    blob = db.session.get(Blob, digest)
    if blob is None:
        raise LookupError(f"blob {digest} is missing")
    return blob.content
