"""Held-out accuracy and the bands that turn it into credit, shared by the feature and model
checks."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.engine.report import Status


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_accuracy: float = Field(ge=0, le=1)
    fraction: float = Field(
        ge=0, le=1, description="Share of the question's points earned at this accuracy."
    )


class AccuracyTarget(BaseModel):
    """Either `target` (all points at or above it) or `bands` (credit by accuracy)."""

    model_config = ConfigDict(extra="forbid")
    target: float | None = Field(None, ge=0, le=1)
    bands: list[Band] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_of(self) -> AccuracyTarget:
        if (self.target is None) == (not self.bands):
            raise ValueError("give either target or bands")
        if self.target is not None:
            self.bands = [Band(min_accuracy=self.target, fraction=1.0)]
            self.target = None
        self.bands = sorted(self.bands, key=lambda band: band.min_accuracy, reverse=True)
        return self

    def fraction_for(self, accuracy: float) -> float:
        return next((band.fraction for band in self.bands if accuracy >= band.min_accuracy), 0.0)

    def explain(self, accuracy: float) -> str:
        """A sentence a student understands: what they got, and what full marks need."""
        full = next(
            band.min_accuracy
            for band in self.bands
            if band.fraction == max(b.fraction for b in self.bands)
        )
        partial = [band for band in self.bands if 0 < band.fraction < 1]
        text = f"Held-out accuracy {percent(accuracy)}; {percent(full)} earns full marks"
        if partial:
            text += "".join(
                f", {percent(band.min_accuracy)} earns {band.fraction:.0%} of the points"
                for band in partial
            )
        return text + "."


def percent(share: float) -> str:
    """0.9 -> '90%', 0.965 -> '96.5%': exact enough that a student never sees a tie that is not
    one."""
    return f"{share * 100:.2f}".rstrip("0").rstrip(".") + "%"


def accuracy(predicted: Sequence[object], actual: Sequence[object]) -> float:
    if len(predicted) != len(actual):
        raise ValueError(f"got {len(predicted)} predictions for {len(actual)} held-out rows")
    return sum(p == a for p, a in zip(predicted, actual)) / len(actual) if actual else 0.0


def status_for(fraction: float) -> Status:
    return Status.PASSED if fraction >= 1 else Status.PARTIAL if fraction > 0 else Status.FAILED
