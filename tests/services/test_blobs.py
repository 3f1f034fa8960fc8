"""Blobs are stored once, even when two processes store the same bytes at the same moment."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from processes import fresh_postgres_database

from grader.extensions import db
from grader.models import Blob
from grader.services.storage.blobs import get_blob, put_blob
from grader.web import create_web_app


def test_storing_the_same_bytes_twice_keeps_one_blob(app):
    with app.app_context():
        first, second = put_blob(b"same notebook"), put_blob(b"same notebook")
        db.session.commit()
        assert first == second
        assert db.session.query(Blob).filter_by(sha256=first).count() == 1
        assert get_blob(first) == b"same notebook"


@pytest.mark.slow  # the machine's PostgreSQL
def test_two_transactions_storing_the_same_bytes_at_once_both_succeed(settings):
    with fresh_postgres_database() as url:
        app = create_web_app(dataclasses.replace(settings, database_url=url))
        with app.app_context():
            db.create_all()
        stored_first = threading.Event()
        errors: list[BaseException] = []

        def second_upload() -> None:
            with app.app_context():
                stored_first.wait(10)
                try:
                    # Blocks on the first transaction's uncommitted row, then finds it there.
                    put_blob(b"double-clicked upload")
                    db.session.commit()
                except BaseException as exc:  # reported below, in the test's own thread
                    errors.append(exc)

        with app.app_context():
            digest = put_blob(b"double-clicked upload")
            other = threading.Thread(target=second_upload)
            other.start()
            stored_first.set()
            other.join(timeout=1)  # still waiting for this transaction
            db.session.commit()
            other.join(timeout=30)
            assert not other.is_alive() and errors == []
            assert db.session.query(Blob).filter_by(sha256=digest).count() == 1
            db.engine.dispose()
