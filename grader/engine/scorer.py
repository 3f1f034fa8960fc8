"""The trusted side: turn what the notebook left behind into a per-question result."""

from __future__ import annotations

import logging
from typing import Any

from grader.engine.answers import code_source, defined_names
from grader.engine.checks import check_for
from grader.engine.checks.base import (
    ArtifactRejected,
    Check,
    Evidence,
    Outcome,
    parse_artifact,
    probe_error,
    published,
)
from grader.engine.execute import ExecutionResult, ProbeResult, plain_traceback
from grader.engine.report import QuestionReport, Status

log = logging.getLogger(__name__)


def missing_definitions(evidence: Evidence) -> list[str]:
    """Names the check needs that no code cell of the answer's section defines."""
    check = check_for(evidence.question)
    defined = set[str]().union(
        *(defined_names(c.source) for c in evidence.cells() if c.cell_type == "code")
    )
    return [name for name in check.defines(evidence.params) if name not in defined]


def score_question(evidence: Evidence, execution: ExecutionResult) -> QuestionReport:
    """Score one question; problems with this answer never affect the others."""
    question = evidence.question
    check = check_for(question)
    report = QuestionReport(
        key=question.key,
        title=question.title,
        score=0.0,
        max_score=round(question.points * check.automatic_share(evidence.params), 6),
        status=Status.FAILED,
        message="",
        answer_source=code_source(evidence.cells()),
    )
    outcome = _outcome(evidence, execution, check)
    report.status, report.message, report.details = outcome.status, outcome.message, outcome.details
    report.score = round(question.points * outcome.fraction, 6)
    report.manual_points = round(question.points * outcome.manual_fraction, 6)
    report.plot_png, report.traceback = outcome.plot_png, outcome.traceback
    return report


def read_export(evidence: Evidence) -> Outcome | None:
    """Parse the answer's export into `evidence.artifact`; the Outcome to report when nothing usable
    came."""
    if evidence.artifact is None and evidence.unreadable is None:
        evidence.unreadable = _parse_export(evidence)
    return evidence.unreadable


def _parse_export(evidence: Evidence) -> Outcome | None:
    probe = evidence.probe or ProbeResult(problem="it was not reached")
    if probe.problem is not None:
        return Outcome(
            0.0,
            Status.TIMED_OUT if probe.timed_out else Status.ERROR,
            f"We could not check this answer: {probe.problem.rstrip('.')}.",
        )
    error = probe_error(probe.outputs)
    if error:
        if published(
            probe.outputs
        ):  # our exports publish last; a result followed by an error is not ours
            evidence.forged.append(
                f"the answer export of question {evidence.question.key!r} published a result "
                f"and then raised {str(error.get('ename'))[:100]}"
            )
        return Outcome(
            0.0,
            Status.ERROR,
            f"Checking your answer raised {error.get('ename')}: {error.get('evalue', '')[:300]}",
            traceback=plain_traceback(error),
        )
    schema = check_for(evidence.question).Artifact
    if schema is None:
        return None
    try:
        evidence.artifact = parse_artifact(schema, probe.outputs)
    except ArtifactRejected as exc:
        evidence.forged.append(
            f"the answer export of question {evidence.question.key!r} was not what the "
            f"grader's own code produces ({exc})"
        )
        return Outcome(0.0, Status.ERROR, f"We could not read your answer's result: {exc}.")
    return None


def _outcome(evidence: Evidence, execution: ExecutionResult, check: Check[Any]) -> Outcome:
    section = evidence.question.locator.section or evidence.question.locator.cell_id
    if not evidence.location.found:
        return Outcome(0.0, Status.NOT_FOUND, f"Answer not found: {evidence.location.reason}.")
    missing = missing_definitions(evidence)
    if missing:
        return Outcome(
            0.0,
            Status.NOT_FOUND,
            f"Answer not found: no code under '{section}' defines "
            f"`{missing[0]}`. Write your answer in a code cell in that section.",
        )
    timed_out = set(evidence.location.cell_indices) & set(execution.timed_out_cells)
    if timed_out and check.reads_execution:
        return Outcome(
            0.0,
            Status.TIMED_OUT,
            f"Cell #{min(timed_out) + 1} of this answer ran out of time and was "
            "stopped, so it could not be checked.",
        )
    if check.Artifact is not None and (unreadable := read_export(evidence)) is not None:
        return unreadable
    try:
        return check.score(evidence)
    except (ValueError, KeyError) as exc:
        log.exception("scoring %s failed", evidence.question.key)
        return Outcome(
            0.0, Status.ERROR, f"We could not score this answer: {str(exc).rstrip('.')}."
        )
