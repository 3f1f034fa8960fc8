"""Malformed bodies and out-of-range ids sent to /api get a 400 or a 404 with a JSON error, never a
500, on SQLite and on PostgreSQL (which overflow and refuse characters differently)."""

from __future__ import annotations

import dataclasses
import io
import json
from contextlib import nullcontext

import pytest
from conftest import notebook_bytes, token_for
from processes import fresh_postgres_database
from sqlalchemy import select

from grader.extensions import db
from grader.models import Assignment, GradingRun, ManualScore, QuestionResult, RunStatus, Submission
from grader.services.demo import load_demo
from grader.services.people.accounts import find_user
from grader.services.storage.blobs import put_blob
from grader.web import create_web_app

TA = "ta@example.edu"
# Past PostgreSQL's INTEGER, past SQLite's 64-bit INTEGER, the 30 digits, and ids that
# cannot be.
BAD_IDS = [str(2**31), str(2**63), "1" + "0" * 29, "0", "-1", "1.5", "1e3", "%C2%B2"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def app(request, settings):
    """The demo app on a fresh SQLite file or a fresh PostgreSQL database (dropped afterwards)."""
    postgres = request.param == "postgresql"
    with fresh_postgres_database() if postgres else nullcontext(settings.database_url) as url:
        app = create_web_app(dataclasses.replace(settings, database_url=url))
        app.config.update(TESTING=True)
        with app.app_context():
            db.create_all()
            load_demo(
                force=postgres
            )  # a throwaway database: the demo's published passwords do no harm
        yield app
        with app.app_context():
            db.engine.dispose()


def seed_graded_submission(app) -> int:
    """A graded Lab 6 submission of the demo student, written straight to the database (nothing is
    run): 'model' (3 automatic points) and 'explain' (1 automatic point, 2 left to TAs)."""
    with app.app_context():
        assignment = db.session.scalar(select(Assignment).where(Assignment.slug == "lab6"))
        submission = Submission(
            assignment=assignment,
            student=find_user("student@example.edu"),
            original_filename="lab6.ipynb",
            sha256=put_blob(notebook_bytes("x = 1")),
        )
        results = [
            QuestionResult(
                question_key="model",
                auto_score=3.0,
                max_score=3.0,
                status="passed",
                message="Accuracy 0.91",
                details={"title": "Model"},
            ),
            QuestionResult(
                question_key="explain",
                auto_score=1.0,
                max_score=1.0,
                manual_points=2.0,
                status="needs_manual_grading",
                message="",
                details={},
            ),
        ]
        run = GradingRun(
            submission=submission,
            status=RunStatus.GRADED,
            score=4.0,
            max_score=4.0,
            manual_pending=2.0,
            cells_total=1,
            cells_done=1,
            question_results=results,
        )
        db.session.add_all([submission, run])
        db.session.commit()
        return submission.id


@pytest.fixture
def submission_id(app) -> int:
    return seed_graded_submission(app)


@pytest.fixture
def ta(app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = token_for(app, TA)["Authorization"]
    return client


def score(
    client, submission_id, body: str, key: str = "model", content_type: str = "application/json"
):
    return client.post(
        f"/api/submissions/{submission_id}/questions/{key}/score",
        data=body,
        content_type=content_type,
    )


def upload(app, assignment: str, filename: str = "lab6.ipynb"):
    return app.test_client().post(
        "/api/submissions",
        headers=token_for(app),
        data={"assignment": assignment, "file": (io.BytesIO(notebook_bytes("x = 1")), filename)},
    )


def assert_error(response, status: int, says: str = "") -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert set(body) == {"error"} and says in body["error"], body


NOT_A_SCORE_OBJECT = [
    "[]",
    '[{"score": 1, "reason": "r"}]',
    '"score"',
    "3",
    "null",
    "true",
    "{}",
] + [
    json.dumps(body)
    for body in [
        {"score": "2", "reason": "text for a number"},
        {"score": True, "reason": "a boolean"},
        {"score": None, "reason": "null"},
        {"score": [2], "reason": "a list"},
        {"score": {"n": 2}, "reason": "an object"},
        {"score": 2, "reason": 5},
        {"score": 2, "reason": None},
        {"score": 2},
        {"reason": "no score"},
        {"score": 2, "reason": "fine", "comment": "an unknown field"},
    ]
]


def test_a_score_body_that_is_not_a_score_object_is_a_400(ta, submission_id, subtests):
    for body in NOT_A_SCORE_OBJECT:
        with subtests.test(body=body):
            assert_error(score(ta, submission_id, body), 400, '{"score": number, "reason": text}')


def test_a_score_body_that_is_not_json_is_a_400(ta, submission_id, subtests):
    for body, content_type in [
        ('{"score": 2,', "application/json"),
        ('{"score": 2, "reason": "r"}', "text/plain"),
        ("score=2&reason=r", "application/x-www-form-urlencoded"),
    ]:
        with subtests.test(body=body, content_type=content_type):
            assert_error(
                score(ta, submission_id, body, content_type=content_type), 400, "send JSON"
            )


def test_a_score_out_of_range_is_a_400(ta, submission_id, subtests):
    for raw_score, says in [
        ("1" + "0" * 400, "out of range"),
        ("-1", "between 0 and 3"),
        ("NaN", "between 0 and 3"),
        ("Infinity", "between 0 and 3"),
        ("1e400", "between 0 and 3"),
    ]:
        with subtests.test(score=raw_score[:20]):
            assert_error(
                score(ta, submission_id, f'{{"score": {raw_score}, "reason": "r"}}'), 400, says
            )


def test_a_reason_the_database_cannot_store_is_a_400_and_nothing_is_stored(
    app, ta, submission_id, subtests
):
    for reason in ["nul \\u0000 inside", "a lone surrogate \\ud800"]:
        with subtests.test(reason=reason):
            assert_error(
                score(ta, submission_id, f'{{"score": 1, "reason": "{reason}"}}'),
                400,
                "cannot be stored",
            )
    with app.app_context():
        assert db.session.scalar(select(ManualScore)) is None
    good = score(ta, submission_id, '{"score": 1, "reason": "Hard-coded predictions."}')
    assert good.status_code == 200 and good.get_json()["questions"][0]["manual_score"] == 1.0


def test_an_unknown_question_key_is_a_404(ta, submission_id, subtests):
    for key in ["nope", "x" * 300, "%00", "%F0%9F%90%8D", "model%20"]:
        with subtests.test(key=key[:20]):
            assert_error(score(ta, submission_id, '{"score": 1, "reason": "r"}', key=key), 404)


def test_an_id_out_of_range_or_not_an_id_is_a_404(ta, submission_id, subtests):
    for method, path in [
        ("GET", "/api/submissions/{}"),
        ("POST", "/api/submissions/{}/regrade"),
        ("POST", "/api/submissions/{}/questions/model/score"),
    ]:
        for bad_id in BAD_IDS:
            with subtests.test(method=method, path=path, id=bad_id):
                response = ta.open(
                    path.format(bad_id), method=method, json={"score": 1, "reason": "r"}
                )
                assert_error(response, 404)
    assert ta.get(f"/api/submissions/{submission_id}").status_code == 200


def test_an_upload_for_an_assignment_that_names_nothing_is_a_404_and_a_bad_file_name_a_400(
    app, subtests
):
    for reference in ["1" + "0" * 29, str(2**31), "²", "lab6\x00", "\x00", "-1"]:
        with subtests.test(assignment=reference):
            assert_error(upload(app, reference), 404)
    for filename in ["lab\x006.ipynb", "\x00.ipynb"]:
        with subtests.test(filename=filename):
            assert_error(upload(app, "lab6", filename), 400, "NUL")
    with app.app_context():
        assert db.session.scalar(select(Submission)) is None
