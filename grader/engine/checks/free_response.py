"""`free_response`: the placeholder was replaced by a real answer (completion credit); TAs grade the
rest."""

from __future__ import annotations

import re

from pydantic import Field

from grader.engine.checks import register
from grader.engine.checks.base import Check, Evidence, Outcome, Params
from grader.engine.report import Status

# One character class, repeated: each character of a student's answer is looked at once (no
# backtracking).
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# The details key holding the student's written answer, which their feedback page shows.
WRITTEN_ANSWER = "answer"


class FreeResponseParams(Params):
    completion_fraction: float = Field(
        0.5, ge=0, le=1, description="Share of the points for answering at all."
    )
    min_words: int = Field(3, ge=1)
    placeholder: str = "FILLME"


@register
class FreeResponseCheck(Check[FreeResponseParams]):
    kind = "free_response"
    Params = FreeResponseParams
    shown_details = (WRITTEN_ANSWER,)
    # The answer is the section's markdown, which is there whatever its code cells did.
    reads_execution = False

    def automatic_share(self, params: FreeResponseParams) -> float:
        return params.completion_fraction

    def score(self, evidence: Evidence) -> Outcome:
        params: FreeResponseParams = evidence.params
        answer = new_text(evidence, params.placeholder)
        words = len(_WORD.findall(answer))
        manual = 1.0 - params.completion_fraction
        if words < params.min_words:
            return Outcome(
                0.0,
                Status.FAILED,
                f"No answer yet: replace {params.placeholder} with your answer "
                f"(at least {params.min_words} words).",
            )
        if manual == 0:
            return Outcome(1.0, Status.PASSED, "Answered.", details={WRITTEN_ANSWER: answer})
        return Outcome(
            params.completion_fraction,
            Status.NEEDS_MANUAL_GRADING,
            "Answered; a TA will grade the content.",
            details={WRITTEN_ANSWER: answer},
            manual_fraction=manual,
        )


def new_text(evidence: Evidence, placeholder: str) -> str:
    """The text lines of the student's section that the template did not have, without the
    placeholder.

    Only markdown counts: code in the section (experiments, given code) is not a written answer.
    """
    template_lines = {
        _squash(line) for cell in evidence.template_cells() for line in cell.source.splitlines()
    }
    kept = []
    for cell in evidence.cells():
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            text = line.replace(placeholder, "").strip()
            if text and _squash(line) not in template_lines:
                kept.append(text)
    return "\n".join(kept)


def _squash(line: str) -> str:
    return " ".join(line.split()).lower()
