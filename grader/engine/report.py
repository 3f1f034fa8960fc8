"""The grading report: per-question results and totals, serialisable to JSON."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """What became of one question; the values are stored in the database and in JSON reports."""

    PASSED = "passed"
    PARTIAL = "partial"
    FAILED = "failed"
    ERROR = "error"
    TIMED_OUT = "timed_out"
    NOT_FOUND = "not_found"
    NEEDS_MANUAL_GRADING = "needs_manual_grading"


STATUSES = tuple(status.value for status in Status)


@dataclass
class QuestionReport:
    key: str
    title: str
    score: float
    max_score: float
    status: Status
    message: str
    manual_points: float = 0.0
    answer_source: str = ""
    traceback: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    plot_png: bytes | None = None

    def to_dict(self, include_plot: bool = False) -> dict[str, Any]:
        data = {
            "key": self.key,
            "title": self.title,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status.value,
            "message": self.message,
            "manual_points": self.manual_points,
            "answer_source": self.answer_source,
            "traceback": self.traceback,
            "details": self.details,
            "has_plot": self.plot_png is not None,
        }
        if include_plot and self.plot_png is not None:
            data["plot_png_base64"] = base64.b64encode(self.plot_png).decode()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuestionReport:
        """The inverse of `to_dict(include_plot=True)`."""
        plot = data.get("plot_png_base64")
        fields = {
            key: value for key, value in data.items() if key not in ("has_plot", "plot_png_base64")
        }
        fields["status"] = Status(fields["status"])
        return cls(**fields, plot_png=base64.b64decode(plot) if plot else None)


@dataclass
class Report:
    assignment: str
    questions: list[QuestionReport]
    stopped_reason: str | None = None
    cell_errors: list[dict[str, Any]] = field(default_factory=list)
    # Set when the notebook ran without isolation (unsafe local mode): every page shows it.
    sandbox_warning: str | None = None
    # Functions of the grader runtime or of a library that the notebook rebound (e.g. "numpy.mean"),
    # and answers whose export came back forged: shown to staff only, never used to score.
    tamper: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(q.score for q in self.questions), 6)

    @property
    def max_total(self) -> float:
        """The points the engine can award; free-response points left to TAs are not included."""
        return round(sum(q.max_score for q in self.questions), 6)

    @property
    def manual_pending(self) -> float:
        return round(sum(q.manual_points for q in self.questions), 6)

    def to_dict(self, include_plots: bool = False) -> dict[str, Any]:
        return {
            "assignment": self.assignment,
            "total": self.total,
            "max_total": self.max_total,
            "manual_pending": self.manual_pending,
            "stopped_reason": self.stopped_reason,
            "sandbox_warning": self.sandbox_warning,
            "tamper": self.tamper,
            "cell_errors": self.cell_errors,
            "questions": [q.to_dict(include_plots) for q in self.questions],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The inverse of `to_dict(include_plots=True)`; totals are recomputed from the
        questions."""
        return cls(
            assignment=data["assignment"],
            questions=[QuestionReport.from_dict(q) for q in data["questions"]],
            stopped_reason=data["stopped_reason"],
            cell_errors=data["cell_errors"],
            sandbox_warning=data["sandbox_warning"],
            tamper=data["tamper"],
        )
