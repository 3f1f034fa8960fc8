"""Pages for TAs and instructors: the assignment dashboard, the free-response queue, overrides and re-grades."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from grader.services.staff import charts, manual_grading, review
from grader.services.staff.dashboard import (
    QUESTION_STATUSES,
    RUN_STATUSES,
    BadFilter,
    Filters,
)
from grader.services.staff.dashboard import (
    dashboard as assignment_dashboard,
)
from grader.services.staff.free_response_queue import grading_queue as load_queue
from grader.services.submissions import feedback
from grader.task_queue import enqueue_grading

bp = Blueprint("staff", __name__)


@bp.app_context_processor
def staff_tools() -> dict:
    """`staff_panel(submission_id)` for the submission page: None unless the viewer is staff of its course."""

    def panel(submission_id: int) -> review.StaffPanel | None:
        return review.staff_panel(current_user._get_current_object(), submission_id)

    return {"staff_panel": panel}


@bp.get("/assignments/<int:assignment_id>/dashboard")
@login_required
def dashboard(assignment_id: int):
    query, status = request.args.to_dict(), 200
    try:
        view = _dashboard(assignment_id, _filters())
    except BadFilter as exc:
        flash(f"Showing everyone instead: {exc}.", "error")
        query, status = {}, 400
        view = _dashboard(assignment_id, Filters())
    return render_template(
        "dashboard.html",
        dash=view,
        query=query,
        run_statuses=RUN_STATUSES,
        question_statuses=QUESTION_STATUSES,
    ), status


@bp.get("/assignments/<int:assignment_id>/charts/histogram.svg")
@login_required
def histogram_chart(assignment_id: int):
    view = _dashboard(assignment_id, Filters())
    return Response(charts.histogram_svg(view.histogram, view.points), mimetype="image/svg+xml")


@bp.get("/assignments/<int:assignment_id>/charts/pass-rate.svg")
@login_required
def pass_rate_chart(assignment_id: int):
    return Response(
        charts.pass_rate_svg(_dashboard(assignment_id, Filters()).pass_rates), mimetype="image/svg+xml"
    )


@bp.get("/assignments/<int:assignment_id>/grading")
@login_required
def grading_queue(assignment_id: int):
    queue = _staff_or_404(load_queue, assignment_id, request.args.get("question") or None)
    answer = queue.next_after(
        request.args.get("after_submission", type=int), request.args.get("after_question")
    )
    return render_template("grading_queue.html", queue=queue, answer=answer, entered={})


@bp.post("/assignments/<int:assignment_id>/grading")
@login_required
def grade_answer(assignment_id: int):
    question = request.form.get("question") or None
    queue = _staff_or_404(load_queue, assignment_id, question)
    submission_id, key = request.form.get("submission_id", type=int), request.form.get("question_key", "")
    try:
        answer = queue.find(submission_id, key)
    except feedback.NotFound:
        abort(404)
    try:
        score = _score(request.form.get("score", ""))
        manual_grading.set_manual_score(
            current_user._get_current_object(), submission_id, key, score, request.form.get("comment", "")
        )
    except manual_grading.ScoreRejected as exc:
        flash(f"Not saved: {exc}.", "error")
        return render_template("grading_queue.html", queue=queue, answer=answer, entered=request.form), 400
    flash(
        f"Saved {score:g} of {answer.points:g} points for {answer.student.email} on {answer.title}.", "info"
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
    actor = current_user._get_current_object()
    # Check first, so that people who may not grade learn nothing, not even that their input was wrong.
    if not review.is_staff(actor, submission_id):
        abort(404)
    entered = request.form
    try:
        score = _score(entered.get("score", ""))
        manual_grading.set_manual_score(actor, submission_id, question_key, score, entered.get("reason", ""))
    except manual_grading.ScoreRejected as exc:
        flash(f"Not saved: {exc}.", "error")
        return render_template(
            "submission.html",
            view=feedback.submission_view(submission_id),
            override={"key": question_key, **entered},
        ), 400
    except feedback.NotFound:
        abort(404)
    flash(f"Score for {question_key} set to {score:g}.", "info")
    return redirect(
        url_for("pages.submission", submission_id=submission_id, _anchor=f"q-{question_key}"), code=303
    )


@bp.post("/submissions/<int:submission_id>/regrade")
@login_required
def regrade_submission(submission_id: int):
    run_id = _staff_or_404(manual_grading.request_regrade, submission_id)
    enqueue_grading(run_id)
    flash("Re-grading this submission; manual scores are kept.", "info")
    return redirect(url_for("pages.submission", submission_id=submission_id), code=303)


@bp.post("/assignments/<int:assignment_id>/regrade")
@login_required
def regrade_all(assignment_id: int):
    run_ids = _staff_or_404(manual_grading.request_regrade_all, assignment_id)
    for run_id in run_ids:
        enqueue_grading(run_id)
    flash(
        f"Re-grading {len(run_ids)} submission{'s' if len(run_ids) != 1 else ''}; manual scores are kept.",
        "info",
    )
    return redirect(url_for(".dashboard", assignment_id=assignment_id), code=303)


def _dashboard(assignment_id: int, filters: Filters):
    return _staff_or_404(assignment_dashboard, assignment_id, filters)


def _staff_or_404(action, *args):
    """`action(current_user, *args)`, or 404 when the thing is missing or the user is not staff of its course."""
    try:
        return action(current_user._get_current_object(), *args)
    except (feedback.NotFound, manual_grading.GradingForbidden):
        abort(404)


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


def _score(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise manual_grading.ScoreRejected("the score must be a number") from None
