"""`free_response`: the placeholder was replaced by a real answer (completion credit); TAs grade the
rest."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from typing import Literal

import nbformat
from pydantic import Field

from grader.engine.checks import register
from grader.engine.checks.base import Check, Evidence, Outcome, Params
from grader.engine.report import Status

# One character class, repeated: each character of a student's answer is looked at once (no
# backtracking).
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# The details key holding the student's written answer, which their feedback page shows.
WRITTEN_ANSWER = "answer"
# Where written answers are read: markdown cells, comments and strings of code cells, or both.
ReadFrom = Literal["markdown", "comments", "both"]
# Python 3.12 splits an f-string into tokens; the text between its braces is FSTRING_MIDDLE.
_FSTRING_MIDDLE = getattr(tokenize, "FSTRING_MIDDLE", None)


class FreeResponseParams(Params):
    completion_fraction: float = Field(
        0.5, ge=0, le=1, description="Share of the points for answering at all."
    )
    min_words: int = Field(3, ge=1)
    placeholder: str = "FILLME"
    read_from: ReadFrom = Field(
        "markdown",
        description=(
            "Where answers are written: markdown cells, the comments and string literals of code "
            "cells, or both."
        ),
    )


@register
class FreeResponseCheck(Check[FreeResponseParams]):
    kind = "free_response"
    Params = FreeResponseParams
    shown_details = (WRITTEN_ANSWER,)
    # The answer is the section's text (markdown, comments), there whatever its code cells did.
    reads_execution = False

    def automatic_share(self, params: FreeResponseParams) -> float:
        return params.completion_fraction

    def score(self, evidence: Evidence) -> Outcome:
        params: FreeResponseParams = evidence.params
        answer = new_text(evidence, params.placeholder, params.read_from)
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


def new_text(evidence: Evidence, placeholder: str, read_from: ReadFrom) -> str:
    """The written lines of the student's section that the template did not have, without the
    placeholder.

    Only text counts: markdown, and with `read_from` the comments and strings of code cells; code
    itself (experiments, given code) is never a written answer.
    """
    template_lines = {
        _squash(line)
        for cell in evidence.template_cells()
        for line in cell.source.splitlines() + written_lines(cell, "both")
    }
    kept = []
    for cell in evidence.cells():
        for line in written_lines(cell, read_from):
            text = line.replace(placeholder, "").strip()
            if text and _squash(line) not in template_lines:
                kept.append(text)
    return "\n".join(kept)


def written_lines(cell: nbformat.NotebookNode, read_from: ReadFrom) -> list[str]:
    """The lines of `cell` that are written text when answers are read from `read_from`."""
    source: str = cell.source
    if cell.cell_type == "markdown" and read_from != "comments":
        return source.splitlines()
    if cell.cell_type == "code" and read_from != "markdown":
        return code_text(source).splitlines()
    return []


def code_text(source: str) -> str:
    """The comments and string literals of Python source, one after the other; code is left out.

    The tokenizer reads the source once, left to right; a cell that does not tokenize (a syntax
    error, an IPython magic) keeps the text found before the point where it stops.
    """
    pieces = []
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    try:
        for token in tokens:
            if token.type == tokenize.COMMENT:
                pieces.append(token.string.lstrip("#"))
            elif token.type == tokenize.STRING:
                pieces.append(_string_value(token.string))
            elif token.type == _FSTRING_MIDDLE:
                pieces.append(token.string)
    except (tokenize.TokenError, SyntaxError):
        pass
    return "\n".join(pieces)


def _string_value(literal: str) -> str:
    """The text of a string literal token; an f-string's text with its braces as written."""
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):  # f-strings are not literals
        value = _QUOTES.sub("", literal)
    return value if isinstance(value, str) else ""


# A string token's prefix and opening quotes, or its closing quotes.
_QUOTES = re.compile(r"""^[A-Za-z]*(\'\'\'|\"\"\"|\'|\")|(\'\'\'|\"\"\"|\'|\")$""")


def _squash(line: str) -> str:
    return " ".join(line.split()).lower()
