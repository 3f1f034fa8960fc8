"""What every check kind gets (the evidence about one answer) and gives back (an outcome)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Generic, TypeVar

import nbformat
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from grader.engine.execute import ProbeResult
from grader.engine.locator import Location
from grader.engine.package import AssignmentPackage
from grader.engine.report import Status
from grader.engine.rubric import Question

PROBE_MIME = "application/vnd.grader.probe+json"
MAX_ARTIFACT_CHARS = 5_000_000
# A table of the package, named without folder or extension: `complex` is data/complex.csv (public)
# and hidden/complex.csv (held out). No path can be smuggled through it.
TableName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$")]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


ParamsT = TypeVar("ParamsT", bound=BaseModel)


class Artifact(BaseModel):
    """What an export cell publishes; every kind's artifact also says what the notebook rebound."""

    model_config = ConfigDict(extra="forbid")
    tamper: list[Annotated[str, StringConstraints(max_length=300)]] = Field(
        default_factory=list, max_length=50
    )


@dataclass
class ProbeContext:
    """What a check needs to write its probe: where the kernel finds the tables, the seed, the
    package."""

    data_dir: str
    heldout_dir: str
    seed: int
    package: AssignmentPackage

    def public(self, dataset: str) -> str:
        """Path of a public table inside the kernel's working folder."""
        return f"{self.data_dir}/{dataset}.csv"

    def heldout_features(self, dataset: str) -> str:
        return f"{self.heldout_dir}/{dataset}.csv"


@dataclass
class Evidence:
    """Everything known about one question's answer after the notebook ran."""

    question: Question
    params: Any
    location: Location
    notebook: nbformat.NotebookNode
    package: AssignmentPackage
    template_location: Location
    probe: ProbeResult | None = None
    artifact: Any = None
    # Why the export gave nothing usable (set once it was read and failed), and the scoring kernel's
    # answer for this question's model: {"predictions": ...} or {"error": ..., "timed_out": ...}.
    unreadable: Outcome | None = None
    scored: dict[str, Any] | None = None
    # Staff-only notes when the export came back in a shape our own code never produces.
    forged: list[str] = field(default_factory=list)

    def cells(
        self, notebook: nbformat.NotebookNode | None = None, location: Location | None = None
    ) -> list[nbformat.NotebookNode]:
        notebook, location = notebook or self.notebook, location or self.location
        return [notebook.cells[i] for i in location.cell_indices]

    def template_cells(self) -> list[nbformat.NotebookNode]:
        return self.cells(self.package.template, self.template_location)


@dataclass(frozen=True)
class TableNeed:
    """A table of the package that a check reads (data/NAME.csv, and hidden/NAME.csv when
    `heldout`), and the columns it must have."""

    name: str
    columns: tuple[str, ...] = ()
    heldout: bool = True


@dataclass
class Outcome:
    fraction: float
    status: Status
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    plot_png: bytes | None = None
    # Share of the question's points a TA still has to award by hand (free-response answers).
    manual_fraction: float = 0.0
    traceback: str | None = None


class Check(Generic[ParamsT]):
    """Defaults for a check kind: no probe, no required names or tables, all points automatic.

    A kind subclasses this, sets `kind` and `Params` (and `Artifact` if it reads something out of
    the kernel), declares what it needs and what pages may show, implements `score`, and registers
    itself.
    """

    kind: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    Artifact: ClassVar[type[Artifact] | None] = None
    # True for kinds whose export is retrained in the scoring kernel (see `scoring_job`).
    uses_scoring_kernel: ClassVar[bool] = False
    # Keys of `Outcome.details` that a student's feedback page may show; every other key is for
    # staff only.
    shown_details: ClassVar[tuple[str, ...]] = ()
    # False for kinds that read only the notebook's text: a code cell of their section that ran out
    # of time then does not stop them from being graded.
    reads_execution: ClassVar[bool] = True

    def defines(self, params: ParamsT) -> list[str]:
        """Names the answer's code must define in its section (empty: no such requirement)."""
        return []

    def tables(self, params: ParamsT) -> list[TableNeed]:
        """The package's tables the check reads, each with the columns it must have."""
        return []

    def probe_source(self, params: ParamsT, context: ProbeContext) -> str | None:
        """Code run in the kernel right after the answer's cells, or None if nothing is read out."""
        return None

    def heldout_columns(self, params: ParamsT) -> dict[str, list[str]]:
        """Held-out feature columns, by table, that the student's code must be applied to in its
        kernel."""
        return {}

    def scoring_job(self, evidence: Evidence) -> dict[str, Any] | None:
        """A job for the scoring kernel built from the exported artifact, or None if none is
        needed."""
        return None

    def automatic_share(self, params: ParamsT) -> float:
        """Share of the question's points the engine can award (the rest is for TAs)."""
        return 1.0

    def score(self, evidence: Evidence) -> Outcome:
        """Score the answer from the evidence; runs in the trusted process."""
        raise NotImplementedError


class ArtifactRejected(ValueError):
    pass


def parse_artifact(schema: type[Artifact], outputs: list[dict[str, Any]]) -> Artifact:
    """The probe's one published payload, schema-checked and size-capped; anything else is
    rejected."""
    payloads = published(outputs)
    if len(payloads) != 1:
        raise ArtifactRejected(f"expected one result from the answer, got {len(payloads)}")
    if len(json.dumps(payloads[0])) > MAX_ARTIFACT_CHARS:
        raise ArtifactRejected("the answer's result is too large")
    try:
        return schema.model_validate(payloads[0])
    except ValidationError as exc:
        raise ArtifactRejected(
            f"the answer's result has the wrong shape: {exc.errors()[0]['msg']}"
        ) from None


def published(outputs: list[dict[str, Any]]) -> list[Any]:
    """The payloads a probe published under the grader's MIME type."""
    return [
        out["data"][PROBE_MIME]
        for out in outputs
        if out.get("output_type") == "display_data" and PROBE_MIME in out.get("data", {})
    ]


def probe_error(outputs: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((out for out in outputs if out.get("output_type") == "error"), None)


def kernel_call(function: str, *args: object) -> str:
    """Source for a hidden cell calling one runtime function with literal arguments."""
    rendered = ", ".join(repr(arg) for arg in args)
    return f"__import__('grader_kernel.extract', fromlist=['extract']).{function}({rendered})"
