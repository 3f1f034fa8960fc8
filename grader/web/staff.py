"""Pages for TAs and instructors: the assignment dashboard, the free-response queue,
overrides and re-grades."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from grader.models import User
from grader.services.errors import BadFilter, ScoreRejected
from grader.services.permissions import require_grader
from grader.services.staff import charts, manual_grading, review
from grader.services.staff.dashboard import (
    QUESTION_STATUSES,
    RUN_STATUSES,
    Dashboard,
    Filters,
)
from grader.services.staff.dashboard import (
    dashboard as assignment_dashboard,
)
from grader.services.staff.free_response_queue import Answer
from grader.services.staff.free_response_queue import grading_queue as load_queue
from grader.services.submissions import feedback
from grader.task_queue import enqueue_grading
from grader.web.forms.staff import GradeAnswerForm, OverrideForm

bp = Blueprint("staff", __name__)


@bp.app_context_processor
def staff_tools() -> dict:
    """`staff_panel(submission_id)` for the submission page:
    None unless the viewer is staff of its course."""

    def panel(submission_id: int) -> review.StaffPanel | None:
        return review.staff_panel(current_user._get_current_object(), submission_id)

    # A blank form for each question, so a rejected score shows only under its own question.
    return {"staff_panel": panel, "override_form": lambda: OverrideForm(formdata=None)}


@bp.get("/assignments/<int:assignment_id>/dashboard")
@login_required
def dashboard(assignment_id: int):
    # Without `page`: sorting or filtering again starts at the first page;
    # the page links add it back.
    query, status = _args_but_page(), 200
    try:
        view = _dashboard(assignment_id, _filters(), request.args.get("page", type=int))
    except BadFilter as exc:
        flash(f"Showing everyone instead: {exc}.", "error")
        query, status = {}, 400
        view = _dashboard(assignment_id, Filters(), None)
    return render_template(
        "dashboard.html",
        dash=view,
        charts=_chart_images(view),
        query=query,
        run_statuses=RUN_STATUSES,
        question_statuses=QUESTION_STATUSES,
    ), status


@bp.get("/assignments/<int:assignment_id>/grading")
@login_required
def grading_queue(assignment_id: int):
    queue = load_queue(
        _user(),
        assignment_id,
        request.args.get("question") or None,
        request.args.get("page", type=int),
    )
    answer = queue.next_after(
        request.args.get("after_submission", type=int), request.args.get("after_question")
    )
    form = GradeAnswerForm(formdata=None, data=_graded(answer, queue.question) if answer else None)
    return render_template("grading_queue.html", queue=queue, answer=answer, form=form)


@bp.post("/assignments/<int:assignment_id>/grading")
@login_required
def grade_answer(assignment_id: int):
    form = GradeAnswerForm()
    question = form.question.data or None
    queue = load_queue(_user(), assignment_id, question)
    submission_id, key = form.submission_id.data, form.question_key.data
    answer = queue.find(submission_id, key)
    try:
        _save(form, submission_id, key, form.comment.data)
    except ScoreRejected as exc:
        flash(f"Not saved: {exc}.", "error")
        return render_template("grading_queue.html", queue=queue, answer=answer, form=form), 400
    flash(
        (
            f"Saved {form.score.data:g} of {answer.points:g} points for {answer.student.email} "
            f"on {answer.title}."
        ),
        "info",
    )
    return redirect(
        url_for(
            ".grading_queue",
            assignment_id=assignment_id,
            question=question,
            after_submission=submission_id,
            after_question=key,
        ),
        code=303,
    )


@bp.post("/submissions/<int:submission_id>/questions/<question_key>/score")
@login_required
def override_score(submission_id: int, question_key: str):
    # Check first, so that people who may not grade learn nothing,
    # not even that their input was wrong.
    require_grader(_user(), submission_id)
    form = OverrideForm()
    try:
        _save(form, submission_id, question_key, form.reason.data)
    except ScoreRejected as exc:
        flash(f"Not saved: {exc}.", "error")
        return render_template(
            "submission.html",
            view=feedback.submission_view(submission_id),
            override={"key": question_key, "form": form},
        ), 400
    flash(f"Score for {question_key} set to {form.score.data:g}.", "info")
    return redirect(
        url_for("pages.submission", submission_id=submission_id, _anchor=f"q-{question_key}"),
        code=303,
    )


@bp.post("/submissions/<int:submission_id>/regrade")
@login_required
def regrade_submission(submission_id: int):
    run_id = manual_grading.request_regrade(_user(), submission_id)
    enqueue_grading(run_id)
    flash("Re-grading this submission; manual scores are kept.", "info")
    return redirect(url_for("pages.submission", submission_id=submission_id), code=303)


@bp.post("/assignments/<int:assignment_id>/regrade")
@login_required
def regrade_all(assignment_id: int):
    run_ids = manual_grading.request_regrade_all(_user(), assignment_id)
    for run_id in run_ids:
        enqueue_grading(run_id)
    flash(
        (
            f"Re-grading {len(run_ids)} submission{'s' if len(run_ids) != 1 else ''}; "
            "manual scores are kept."
        ),
        "info",
    )
    return redirect(url_for(".dashboard", assignment_id=assignment_id), code=303)


def _dashboard(assignment_id: int, filters: Filters, page: int | None) -> Dashboard:
    return assignment_dashboard(_user(), assignment_id, filters, page)


def _chart_images(view: Dashboard) -> dict[str, str]:
    """The page's charts drawn from its own dashboard and sent inside it: a chart at a URL of its
    own would build the whole dashboard again for each picture."""
    if not view.submitted:
        # The page shows no charts before anyone submits.
        return {}
    return {
        "histogram": charts.data_url(charts.histogram_svg(view.histogram, view.points)),
        "pass_rate": charts.data_url(charts.pass_rate_svg(view.pass_rates)),
    }


def _args_but_page() -> dict[str, str]:
    return {name: value for name, value in request.args.items() if name != "page"}


def _user() -> User:
    return current_user._get_current_object()


def _graded(answer: Answer, question: str | None) -> dict[str, object]:
    """The hidden fields that name the shown answer and keep the queue's question filter."""
    return {
        "submission_id": answer.submission_id,
        "question_key": answer.key,
        "question": question or "",
    }


def _save(
    form: GradeAnswerForm | OverrideForm, submission_id: int, key: str, reason: str | None
) -> None:
    """Save the form's score for one question; ScoreRejected says what is wrong,
    from the form or the service."""
    if not form.score.validate(form):
        raise ScoreRejected(form.score.errors[0])
    manual_grading.set_manual_score(_user(), submission_id, key, form.score.data, reason or "")


def _filters() -> Filters:
    args = request.args
    return Filters(
        status=args.get("status") or None,
        question_status=args.get("question_status") or None,
        question=args.get("question") or None,
        min_total=_bound(args.get("min"), "minimum"),
        max_total=_bound(args.get("max"), "maximum"),
        sort=args.get("sort") or "student",
        descending=args.get("dir") == "desc",
    )


def _bound(text: str | None, name: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise BadFilter(f"the {name} score must be a number") from None
