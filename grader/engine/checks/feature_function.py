"""`feature_function`: the student's function of a row (or of one column's value) either becomes a
column that a reference model must reach the target with, or (`returns: label`) is the classifier
itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Literal

import pandas as pd
from pydantic import Field, StringConstraints, model_validator
from sklearn.linear_model import LogisticRegression

from grader.engine.checks import register
from grader.engine.checks.accuracy import (
    CLASSIFICATION_METRICS,
    DETAIL_KEYS,
    MetricTarget,
    class_metric,
    status_for,
)
from grader.engine.checks.base import (
    Artifact,
    Check,
    Evidence,
    Outcome,
    Params,
    ProbeContext,
    TableName,
    TableNeed,
    kernel_call,
)
from grader.engine.plots import decision_regions_png, training_points

# Must match the kernel's cap on one exported label (grader_kernel.extract.MAX_LABEL_CHARS).
MAX_LABEL_CHARS = 100
Part = Literal["train", "heldout", "grid"]
# The exported numbers and labels are attacker data: strict JSON types, finite, bounded.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Label = (
    Annotated[str, StringConstraints(strict=True, max_length=MAX_LABEL_CHARS)]
    | Annotated[int, Field(strict=True, ge=-(2**63), lt=2**63)]
)


class OneColumn(Params):
    column: str


class FeatureParams(MetricTarget):
    function: str = "mkfeature"
    # `number`: the function's values become a column of a reference model; `label`: the function
    # is the classifier, and its labels are compared with the held-out ones.
    returns: Literal["number", "label"] = "number"
    # `row`: called with each row; `{column: NAME}`: with each value of that one column.
    applies_to: Literal["row"] | OneColumn = "row"
    dataset: TableName
    base_features: list[str] = ["feature1", "feature2"]
    # The columns the student's function is handed (default: base_features); no other column enters
    # the kernel from the held-out table.
    columns: list[str] | None = None
    label: str = "class"
    positive_class: str = "red"
    negative_class: str = "blue"
    grid: TableName | None = "all_points"

    @model_validator(mode="after")
    def _handed_columns_are_declared_features(self) -> FeatureParams:
        if self.metric not in CLASSIFICATION_METRICS:
            raise ValueError(
                f"metric {self.metric} is for regression models (kind: model); a feature function "
                f"is scored with {', '.join(CLASSIFICATION_METRICS)}"
            )
        if self.columns is not None and isinstance(self.applies_to, OneColumn):
            raise ValueError(
                "give columns only with applies_to: row (a one-value function gets its column)"
            )
        if self.label in self.inputs:
            raise ValueError(
                f"the label column {self.label!r} cannot be handed to the student's function"
            )
        return self

    @property
    def inputs(self) -> list[str]:
        if isinstance(self.applies_to, OneColumn):
            return [self.applies_to.column]
        return list(self.columns or self.base_features)

    @property
    def parts(self) -> tuple[Part, ...]:
        """The tables the function is applied to that scoring needs (the grid is for the
        picture)."""
        return ("heldout",) if self.returns == "label" else ("train", "heldout")


class FeatureArtifact(Artifact):
    """The function's numbers (`returns: number`) or labels (`returns: label`), by table."""

    values: dict[Part, list[Number]] | None = None
    labels: dict[Part, list[Label]] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FeatureArtifact:
        if (self.values is None) == (self.labels is None):
            raise ValueError("expected either values or labels")
        return self


@register
class FeatureFunctionCheck(Check[FeatureParams]):
    kind = "feature_function"
    Params = FeatureParams
    Artifact = FeatureArtifact
    shown_details = DETAIL_KEYS

    def defines(self, params: FeatureParams) -> list[str]:
        return [params.function]

    def tables(self, params: FeatureParams) -> list[TableNeed]:
        columns = (params.label, *params.base_features, *params.inputs)
        needs = [TableNeed(params.dataset, tuple(dict.fromkeys(columns)))]
        if params.grid:
            picture = (*params.base_features, *params.inputs)
            needs.append(TableNeed(params.grid, tuple(dict.fromkeys(picture)), heldout=False))
        return needs

    def heldout_columns(self, params: FeatureParams) -> dict[str, list[str]]:
        return {params.dataset: params.inputs}

    def probe_source(self, params: FeatureParams, context: ProbeContext) -> str:
        paths = {
            "train": context.public(params.dataset),
            "heldout": context.heldout_features(params.dataset),
        }
        tables = {part: paths[part] for part in params.parts}
        if params.grid:
            tables["grid"] = context.public(params.grid)
        one_value = isinstance(params.applies_to, OneColumn)
        return kernel_call(
            "feature_values", params.function, tables, params.inputs, params.returns, one_value
        )

    def score(self, evidence: Evidence) -> Outcome:
        params: FeatureParams = evidence.params
        artifact: FeatureArtifact = evidence.artifact
        label_valued = params.returns == "label"
        exported: Mapping[Part, Sequence[object]] | None = (
            artifact.labels if label_valued else artifact.values
        )
        if exported is None:
            raise ValueError(f"expected the function's {params.returns}s, got something else")
        public = evidence.package.public_table(params.dataset)
        heldout = evidence.package.heldout_table(params.dataset)
        grid = evidence.package.public_table(params.grid) if params.grid else None
        sizes = {
            "train": len(public),
            "heldout": len(heldout),
            "grid": 0 if grid is None else len(grid),
        }
        for part in (*params.parts, *exported):
            if len(exported.get(part, [])) != sizes[part]:
                raise ValueError(
                    f"expected {sizes[part]} {part} values, got {len(exported.get(part, []))}"
                )
        if label_valued:
            # Compared as text, as the held-out labels are: 1 and "1" are the same class.
            predicted = {
                part: [str(label) for label in labels] for part, labels in exported.items()
            }
            title = f"What your `{params.function}` predicts"
            said = f"Your `{params.function}` as the classifier: "
        else:
            values = artifact.values or {}
            predict = _reference_model(public, params, values["train"])
            predicted = {"heldout": predict(heldout, values["heldout"])}
            if grid is not None and "grid" in values:
                predicted["grid"] = predict(grid, values["grid"])
            title = f"Linear model with your `{params.function}`"
            said = f"A linear model using your `{params.function}` as an extra column: "
        value = class_metric(
            params.metric,
            predicted["heldout"],
            [str(label) for label in heldout[params.label]],
            params.positive_class,
        )
        fraction = params.fraction_for(value)
        plot = None
        if grid is not None and "grid" in predicted:
            plot = decision_regions_png(
                grid,
                predicted["grid"],
                training_points(public),
                title=title,
                x=params.base_features[0],
                y=params.base_features[-1],
                label=params.label,
            )
        return Outcome(
            fraction=fraction,
            status=status_for(fraction),
            message=said + params.explain(value),
            plot_png=plot,
            details={params.detail_key: round(value, 4)},
        )


def _reference_model(
    public: pd.DataFrame, params: FeatureParams, train_values: Sequence[float]
) -> Callable[[pd.DataFrame, Sequence[float]], list[str]]:
    """The reference model trained on the public train rows with the student's column; it predicts
    a table's classes from the table and the student's values on it."""
    is_train = (public["split"] == "train").to_numpy()
    reference = LogisticRegression(C=100.0, max_iter=2000)
    reference.fit(
        _with_feature(public, params, train_values)[is_train],
        public[params.label][is_train].astype(str) == params.positive_class,
    )

    def classes(table: pd.DataFrame, feature_values: Sequence[float]) -> list[str]:
        positive = reference.predict(_with_feature(table, params, feature_values))
        return [params.positive_class if p else params.negative_class for p in positive]

    return classes


def _with_feature(
    table: pd.DataFrame, params: FeatureParams, feature_values: Sequence[float]
) -> pd.DataFrame:
    frame = table[params.base_features].copy()
    frame["student_feature"] = list(feature_values)
    return frame
