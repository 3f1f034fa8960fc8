"""`feature_function`: the student's row function becomes a column; a reference model must reach the
target."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sklearn.linear_model import LogisticRegression

from grader.engine.checks import register
from grader.engine.checks.accuracy import AccuracyTarget, accuracy, status_for
from grader.engine.checks.base import (
    Artifact,
    Check,
    Evidence,
    Outcome,
    ProbeContext,
    TableName,
    TableNeed,
    kernel_call,
)
from grader.engine.plots import decision_regions_png, training_points


class FeatureParams(AccuracyTarget):
    function: str = "mkfeature"
    dataset: TableName
    base_features: list[str] = ["feature1", "feature2"]
    # The columns the student's function is handed (default: base_features); no other column enters
    # the kernel from the held-out table.
    columns: list[str] | None = None
    label: str = "class"
    positive_class: str = "red"
    negative_class: str = "blue"
    grid: TableName | None = "all_points"

    @property
    def inputs(self) -> list[str]:
        return list(self.columns or self.base_features)


class FeatureArtifact(Artifact):
    values: dict[str, list[float]]


@register
class FeatureFunctionCheck(Check[FeatureParams]):
    kind = "feature_function"
    Params = FeatureParams
    Artifact = FeatureArtifact
    shown_details = ("heldout_accuracy",)

    def defines(self, params: FeatureParams) -> list[str]:
        return [params.function]

    def tables(self, params: FeatureParams) -> list[TableNeed]:
        columns = (params.label, *params.base_features, *params.inputs)
        needs = [TableNeed(params.dataset, tuple(dict.fromkeys(columns)))]
        return needs + [TableNeed(params.grid, heldout=False)] if params.grid else needs

    def heldout_columns(self, params: FeatureParams) -> dict[str, list[str]]:
        return {params.dataset: params.inputs}

    def probe_source(self, params: FeatureParams, context: ProbeContext) -> str:
        tables = {
            "train": context.public(params.dataset),
            "heldout": context.heldout_features(params.dataset),
        }
        if params.grid:
            tables["grid"] = context.public(params.grid)
        return kernel_call("feature_values", params.function, tables, params.inputs)

    def score(self, evidence: Evidence) -> Outcome:
        params: FeatureParams = evidence.params
        values = evidence.artifact.values
        public = evidence.package.public_table(params.dataset)
        heldout = evidence.package.heldout_table(params.dataset)
        for part, table in (("train", public), ("heldout", heldout)):
            if len(values.get(part, [])) != len(table):
                raise ValueError(
                    f"expected {len(table)} {part} values, got {len(values.get(part, []))}"
                )
        is_train = (public["split"] == "train").to_numpy()
        reference = LogisticRegression(C=100.0, max_iter=2000)
        reference.fit(
            _with_feature(public, params, values["train"])[is_train],
            public[params.label][is_train].astype(str) == params.positive_class,
        )

        def classes(table: pd.DataFrame, feature_values: Sequence[float]) -> list[str]:
            positive = reference.predict(_with_feature(table, params, feature_values))
            return [params.positive_class if p else params.negative_class for p in positive]

        predicted = classes(heldout, values["heldout"])
        held_out_accuracy = accuracy(predicted, [str(label) for label in heldout[params.label]])
        fraction = params.fraction_for(held_out_accuracy)
        plot = None
        if params.grid and "grid" in values:
            grid = evidence.package.public_table(params.grid)
            plot = decision_regions_png(
                grid,
                classes(grid, values["grid"]),
                training_points(public),
                title=f"Linear model with your `{params.function}`",
                x=params.base_features[0],
                y=params.base_features[-1],
                label=params.label,
            )
        message = (
            f"A linear model using your `{params.function}` as an extra column: "
            + params.explain(held_out_accuracy)
        )
        return Outcome(
            fraction=fraction,
            status=status_for(fraction),
            message=message,
            plot_png=plot,
            details={"heldout_accuracy": round(held_out_accuracy, 4)},
        )


def _with_feature(
    table: pd.DataFrame, params: FeatureParams, feature_values: Sequence[float]
) -> pd.DataFrame:
    frame = table[params.base_features].copy()
    frame["student_feature"] = list(feature_values)
    return frame
