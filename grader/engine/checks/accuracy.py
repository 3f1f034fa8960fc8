"""Held-out metrics (accuracy by default) and the bands that turn one into credit, shared by the
feature and model checks. All of it runs on the trusted side, where the held-out labels are."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_serializer,
    model_validator,
)

from grader.engine.report import Status

Metric = Literal["accuracy", "balanced_accuracy", "f1", "r2", "mae", "rmse"]
CLASSIFICATION_METRICS: tuple[Metric, ...] = ("accuracy", "balanced_accuracy", "f1")
REGRESSION_METRICS: tuple[Metric, ...] = ("r2", "mae", "rmse")
LOWER_IS_BETTER: tuple[Metric, ...] = ("mae", "rmse")
# The details key each metric's figure is stored under (the one figure a student may see).
DETAIL_KEYS = tuple(f"heldout_{name}" for name in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS))
_NAMES = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "f1": "F1 score",
    "r2": "R²",
    "mae": "MAE",
    "rmse": "RMSE",
}


class Threshold(BaseModel):
    """`{at_least: X}` or `{at_most: X}`: the metric's value that a band (or `target`) needs."""

    model_config = ConfigDict(extra="forbid")
    at_least: float | None = Field(None, allow_inf_nan=False)
    at_most: float | None = Field(None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_bound(self) -> Threshold:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least or at_most")
        return self

    @model_serializer(mode="wrap")
    def _without_unset(self, handler: Any) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


class Band(Threshold):
    # `min_accuracy` is accuracy's own spelling of `at_least`, kept for existing rubrics.
    min_accuracy: float | None = Field(None, ge=0, le=1)
    fraction: float = Field(
        ge=0, le=1, description="Share of the question's points earned at this value."
    )

    @model_validator(mode="after")
    def _one_bound(self) -> Band:
        given = [self.min_accuracy, self.at_least, self.at_most]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give exactly one of min_accuracy, at_least or at_most")
        return self

    @property
    def bound(self) -> float:
        return next(v for v in (self.min_accuracy, self.at_least, self.at_most) if v is not None)


def _target_form(value: Any) -> str:
    return "bound" if isinstance(value, dict | Threshold) else "number"


class MetricTarget(BaseModel):
    """`metric`, and either `target` (all points when reached) or `bands` (credit by value)."""

    model_config = ConfigDict(extra="forbid")
    metric: Metric = "accuracy"
    # A number (at least it; for accuracy, a share), or a Threshold: `{at_most: 2.5}`.
    target: (
        Annotated[
            Annotated[float, Field(allow_inf_nan=False), Tag("number")]
            | Annotated[Threshold, Tag("bound")],
            Discriminator(_target_form),
        ]
        | None
    ) = None
    bands: list[Band] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_of(self) -> MetricTarget:
        if (self.target is None) == (not self.bands):
            raise ValueError("give either target or bands")
        places = [f"bands.{index}" for index in range(len(self.bands))]
        if self.target is not None:
            self.bands, places = [_band(self.target, self.metric)], ["target"]
            self.target = None
        for band, place in zip(self.bands, places):
            _check_band(band, self.metric, place)
        lower = self.lower_is_better
        self.bands = sorted(self.bands, key=lambda band: band.bound, reverse=not lower)
        return self

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER

    @property
    def regression(self) -> bool:
        return self.metric in REGRESSION_METRICS

    @property
    def detail_key(self) -> str:
        return f"heldout_{self.metric}"

    def fraction_for(self, value: float) -> float:
        return next((band.fraction for band in self.bands if self._reaches(value, band)), 0.0)

    def explain(self, value: float) -> str:
        """A sentence a student understands: what they got, and what full marks need."""
        best = max(band.fraction for band in self.bands)
        full = next(band for band in self.bands if band.fraction == best)
        partial = [band for band in self.bands if 0 < band.fraction < 1]
        text = f"Held-out {_NAMES[self.metric]} {self._shown(value)}; "
        text += f"{self._needs(full)} earns full marks"
        text += "".join(
            f", {self._needs(band)} earns {band.fraction:.0%} of the points" for band in partial
        )
        return text + "."

    def _reaches(self, value: float, band: Band) -> bool:
        return value <= band.bound if self.lower_is_better else value >= band.bound

    def _needs(self, band: Band) -> str:
        if self.metric == "accuracy":
            return percent(band.bound)
        return f"{'at most' if self.lower_is_better else 'at least'} {self._shown(band.bound)}"

    def _shown(self, value: float) -> str:
        if self.metric in ("accuracy", "balanced_accuracy"):
            return percent(value)
        return f"{value:.4g}"


def _band(target: float | Threshold, metric: Metric) -> Band:
    if isinstance(target, Threshold):
        return Band(at_least=target.at_least, at_most=target.at_most, fraction=1.0)
    if metric in LOWER_IS_BETTER:
        raise ValueError(
            f"with metric {metric} lower is better: write target: {{at_most: {target}}}"
        )
    if metric == "accuracy":
        if not 0 <= target <= 1:
            raise ValueError("target: an accuracy is between 0 and 1")
        return Band(min_accuracy=target, fraction=1.0)
    return Band(at_least=target, fraction=1.0)


def _check_band(band: Band, metric: Metric, where: str) -> None:
    if band.min_accuracy is not None and metric != "accuracy":
        raise ValueError(f"{where}: min_accuracy is for metric accuracy; write at_least")
    if metric in LOWER_IS_BETTER and band.at_least is not None:
        raise ValueError(f"{where}: with metric {metric} lower is better: write at_most")
    if metric not in LOWER_IS_BETTER and band.at_most is not None:
        raise ValueError(f"{where}: with metric {metric} higher is better: write at_least")
    if metric in CLASSIFICATION_METRICS and not 0 <= band.bound <= 1:
        raise ValueError(f"{where}: {_NAMES[metric]} is between 0 and 1")
    if metric == "r2" and band.bound > 1:
        raise ValueError(f"{where}: R² is at most 1")
    if metric in LOWER_IS_BETTER and band.bound < 0:
        raise ValueError(f"{where}: {_NAMES[metric]} is never negative")


def percent(share: float) -> str:
    """0.9 -> '90%', 0.965 -> '96.5%': exact enough that a student never sees a tie that is not
    one."""
    return f"{share * 100:.2f}".rstrip("0").rstrip(".") + "%"


def accuracy(predicted: Sequence[object], actual: Sequence[object]) -> float:
    _same_length(predicted, actual)
    return sum(p == a for p, a in zip(predicted, actual)) / len(actual) if actual else 0.0


def class_metric(
    metric: Metric, predicted: Sequence[str], actual: Sequence[str], positive: str | None
) -> float:
    """A classification metric of predicted labels against the held-out ones. F1 is binary, for
    `positive`, when one is given, and the macro average over the classes otherwise."""
    _same_length(predicted, actual)
    if metric == "accuracy":
        return accuracy(predicted, actual)
    if metric == "balanced_accuracy":
        recalls = [_recall(label, predicted, actual) for label in sorted(set(actual))]
        return sum(recalls) / len(recalls) if recalls else 0.0
    if metric != "f1":
        raise ValueError(f"{metric} is not a classification metric")
    if positive is not None:
        return _f1(positive, predicted, actual)
    labels = sorted(set(actual) | set(predicted))
    return sum(_f1(label, predicted, actual) for label in labels) / len(labels) if labels else 0.0


def regression_metric(metric: Metric, predicted: Sequence[Any], actual: Sequence[Any]) -> float:
    """R², MAE or RMSE of predicted numbers against the held-out ones."""
    _same_length(predicted, actual)
    bad = sum(not _is_number(p) for p in predicted)
    if bad:
        raise ValueError(
            f"the model's prediction for {bad} held-out rows is not a finite number; "
            "a regression model must predict numbers"
        )
    if not all(_is_number(a) for a in actual) or not actual:
        raise ValueError(f"metric {metric} needs a numeric label on every held-out row")
    errors = [float(p) - float(a) for p, a in zip(predicted, actual)]
    if metric == "mae":
        return sum(abs(e) for e in errors) / len(errors)
    if metric == "rmse":
        return math.sqrt(sum(e * e for e in errors) / len(errors))
    if metric != "r2":
        raise ValueError(f"{metric} is not a regression metric")
    mean = sum(float(a) for a in actual) / len(actual)
    total = sum((float(a) - mean) ** 2 for a in actual)
    residual = sum(e * e for e in errors)
    # A constant target: perfect predictions score 1, any others 0 (scikit-learn does the same).
    return 1 - residual / total if total else float(residual == 0)


def status_for(fraction: float) -> Status:
    return Status.PASSED if fraction >= 1 else Status.PARTIAL if fraction > 0 else Status.FAILED


def _same_length(predicted: Sequence[object], actual: Sequence[object]) -> None:
    if len(predicted) != len(actual):
        raise ValueError(f"got {len(predicted)} predictions for {len(actual)} held-out rows")


def _recall(label: str, predicted: Sequence[str], actual: Sequence[str]) -> float:
    rows = [p for p, a in zip(predicted, actual) if a == label]
    return sum(p == label for p in rows) / len(rows)


def _f1(label: str, predicted: Sequence[str], actual: Sequence[str]) -> float:
    hits = sum(p == a == label for p, a in zip(predicted, actual))
    said, there = sum(p == label for p in predicted), sum(a == label for a in actual)
    return 2 * hits / (said + there) if said + there else 0.0


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
