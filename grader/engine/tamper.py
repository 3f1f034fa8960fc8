"""Tampering evidence for staff: what the notebook rebound, and exports that came back forged.

The runtime in the student's kernel lists the functions of the grader, NumPy, pandas, scikit-learn,
Keras/TensorFlow and builtins that the notebook rebound; the scorer notes exports in a shape our own
code never produces. Scores never depend on any of it: clean-room scoring already ignores what such
tampering could change. It is best-effort evidence, since the notebook can also attack the runtime
that reports it.
"""

from __future__ import annotations

from grader.engine.checks.base import (
    Artifact,
    ArtifactRejected,
    Evidence,
    parse_artifact,
    probe_error,
)
from grader.engine.execute import ProbeResult

# The hidden cell after the notebook's last cell that reports what the whole notebook rebound.
TAMPER_PROBE = "__tamper__"
TAMPER_PROBE_SECONDS = 60
MAX_NOTES = 50


def tamper_notes(evidence: list[Evidence], final_report: ProbeResult | None) -> list[str]:
    """Every distinct note, in the order the notebook produced them."""
    notes: list[str] = []
    for item in evidence:
        notes += item.forged
        if item.artifact is not None:
            notes += item.artifact.tamper
    if final_report is not None and final_report.problem is None:
        error = probe_error(final_report.outputs)
        if error:
            notes.append(
                "the grader's final tamper report raised "
                f"{str(error.get('ename'))[:100]}: the notebook "
                "changed the grader's runtime"
            )
        else:
            try:
                notes += parse_artifact(Artifact, final_report.outputs).tamper
            except ArtifactRejected as exc:
                notes.append(
                    f"the grader's final tamper report was not what its own code produces ({exc})"
                )
    return list(dict.fromkeys(notes))[:MAX_NOTES]
