"""`model`: the student's model, rebuilt from its description and retrained in the scoring kernel.

The student's kernel only exports what the model *is* (a Keras architecture with its compile
settings, a scikit-learn class with its parameters, or with `refit: false` the fitted state as
data). The scoring kernel, which never runs student code, rebuilds it, trains it with the rubric's
fit parameters and fixed seeds, and predicts the held-out rows; the trusted side compares those
predictions with the labels.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import model_validator

from grader.engine.checks import register
from grader.engine.checks.accuracy import (
    DETAIL_KEYS,
    MetricTarget,
    class_metric,
    regression_metric,
    status_for,
)
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
from grader.engine.plots import decision_regions_png, predicted_vs_actual_png, training_points
from grader.engine.report import Status

Prediction = bool | int | float | str | None
SPLIT_COLUMN = "split"


class ModelParams(MetricTarget):
    factory: str | None = None
    estimator: str | None = None
    dataset: TableName
    features: list[str] = ["feature1", "feature2"]
    # A list variable of the student's naming the columns to train on, read at the answer's
    # position.
    features_from: str | None = None
    label: str = "class"
    positive_class: str | None = "red"
    negative_class: str = "blue"
    fit: dict[str, Any] = {}
    grid: TableName | None = "all_points"
    # False: score the model the student fitted, as it is, instead of retraining it.
    refit: bool = True

    @model_validator(mode="after")
    def _factory_or_estimator(self) -> ModelParams:
        if bool(self.factory) == bool(self.estimator):
            raise ValueError(
                "give exactly one of factory (a function that builds a Keras model) "
                "or estimator (a variable holding a scikit-learn or Keras model)"
            )
        if not self.refit and self.factory:
            raise ValueError(
                "refit: false scores a model the student fitted; name its variable with estimator"
            )
        if self.regression:
            # A regressor predicts numbers: no classes to name, no decision regions to draw.
            for name in ("positive_class", "grid"):
                if name in self.model_fields_set and getattr(self, name) is not None:
                    raise ValueError(
                        f"{name} does not apply to metric {self.metric} (a regression metric); "
                        "leave it out"
                    )
            self.positive_class, self.grid = None, None
        return self


class ModelArtifact(Artifact):
    model: dict[str, Any]
    # The student's `features_from` variable as it was; checked by `chosen_features`, with a message
    # for them.
    features: Any = None


@register
class ModelCheck(Check[ModelParams]):
    kind = "model"
    Params = ModelParams
    Artifact = ModelArtifact
    uses_scoring_kernel = True
    # The metric's figure is the one thing a student may learn that depends on held-out labels.
    shown_details = (*DETAIL_KEYS, "features")

    def defines(self, params: ModelParams) -> list[str]:
        return [name for name in (params.factory, params.estimator, params.features_from) if name]

    def tables(self, params: ModelParams) -> list[TableNeed]:
        # With `features_from` the student names the columns; they are checked against the table
        # when scored.
        features = [] if params.features_from else params.features
        needs = [TableNeed(params.dataset, tuple(dict.fromkeys([params.label, *features])))]
        return needs + [TableNeed(params.grid, heldout=False)] if params.grid else needs

    def probe_source(self, params: ModelParams, context: ProbeContext) -> str:
        spec = {
            "factory": params.factory,
            "estimator": params.estimator,
            "fit": params.fit,
            "refit": params.refit,
            "features_from": params.features_from,
            "features": params.features,
            "seed": context.seed,
        }
        return kernel_call("model_export", spec)

    def scoring_job(self, evidence: Evidence) -> dict[str, Any]:
        params: ModelParams = evidence.params
        model = evidence.artifact.model
        if params.factory and model.get("framework") != "keras":
            raise ValueError(f"`{params.factory}` must build a Keras model")
        features = chosen_features(evidence)
        public = evidence.package.public_table(params.dataset)
        train = training_points(public)
        heldout = evidence.package.heldout_table(params.dataset)
        predict = {"heldout": _columns(heldout, features)}
        if params.regression:
            # For the predicted-vs-actual picture, which shows public rows only.
            predict["train"] = _columns(train, features)
        elif params.grid:
            grid = evidence.package.public_table(params.grid)
            if set(features) <= set(grid.columns):
                predict["grid"] = _columns(grid, features)
        # Only a regression job says so: a classification job stays as it was, and so do its cached
        # answers.
        task = {"task": "regression"} if params.regression else {}
        return {
            **task,
            "model": model,
            "refit": params.refit,
            "fit": params.fit,
            "seed": evidence.package.rubric.runtime.seed,
            "train": _columns(train, features),
            "labels": training_labels(train[params.label], params),
            "predict": predict,
        }

    def score(self, evidence: Evidence) -> Outcome:
        params: ModelParams = evidence.params
        scored = evidence.scored or {"error": "the model was not scored"}
        if "error" in scored:
            status = Status.TIMED_OUT if scored.get("timed_out") else Status.ERROR
            return Outcome(
                0.0,
                status,
                f"We could not rebuild and train your model: {scored['error'].rstrip('.')}.",
            )
        predictions = scored.get("predictions") or {}
        heldout = evidence.package.heldout_table(params.dataset)
        actual = [_plain(label) for label in heldout[params.label]]
        if params.regression:
            value = regression_metric(params.metric, predictions.get("heldout", []), actual)
        else:
            predicted = [self._label(p, params) for p in predictions.get("heldout", [])]
            value = class_metric(
                params.metric, predicted, [str(a) for a in actual], params.positive_class
            )
        fraction = params.fraction_for(value)
        features = chosen_features(evidence)
        plot = self._picture(evidence, features, predictions)
        how = "Scored as you fitted it" if not params.refit else "Retrained on the train split"
        fit = ", ".join(f"{k}={v}" for k, v in params.fit.items()) if params.refit else ""
        message = f"{how}{f' ({fit})' if fit else ''}. " + params.explain(value)
        details: dict[str, Any] = {params.detail_key: round(value, 4)}
        if params.features_from:
            details["features"] = features
        return Outcome(
            fraction=fraction,
            status=status_for(fraction),
            message=message,
            plot_png=plot,
            details=details,
        )

    def _picture(
        self, evidence: Evidence, features: list[str], predictions: dict[str, Any]
    ) -> bytes | None:
        """Decision regions over the grid for a classifier; predicted against actual values on the
        public train rows for a regressor. Held-out rows are never drawn."""
        params: ModelParams = evidence.params
        title = f"Your `{params.factory or params.estimator}`"
        train = training_points(evidence.package.public_table(params.dataset))
        if params.regression:
            predicted = predictions.get("train")
            if not isinstance(predicted, list) or len(predicted) != len(train):
                return None
            return predicted_vs_actual_png(predicted, train[params.label].tolist(), title)
        if not (params.grid and "grid" in predictions and len(features) >= 2):
            return None
        return decision_regions_png(
            evidence.package.public_table(params.grid),
            [self._label(p, params) for p in predictions["grid"]],
            train,
            title=title,
            x=features[0],
            y=features[1],
            label=params.label,
        )

    @staticmethod
    def _label(prediction: Prediction, params: ModelParams) -> str:
        if params.positive_class is None:
            return str(prediction)
        positive = (
            prediction is True
            or prediction == 1
            or prediction in ("True", "1", params.positive_class)
        )
        return params.positive_class if positive else params.negative_class


def chosen_features(evidence: Evidence) -> list[str]:
    """The rubric's feature columns, or the student's list (`features_from`) once checked against
    the table."""
    params: ModelParams = evidence.params
    if not params.features_from:
        return list(params.features)
    chosen, name = evidence.artifact.features, params.features_from
    public = evidence.package.public_table(params.dataset)
    allowed = [
        c
        for c in public.columns
        if c not in (params.label, SPLIT_COLUMN)
        and c in evidence.package.heldout_table(params.dataset).columns
    ]
    if not isinstance(chosen, list) or not chosen or not all(isinstance(c, str) for c in chosen):
        raise ValueError(f"`{name}` must be a non-empty list of column names")
    if len(set(chosen)) != len(chosen) or len(chosen) > len(allowed):
        raise ValueError(f"`{name}` must name each column once, at most {len(allowed)} columns")
    for column in chosen:
        if column in (params.label, SPLIT_COLUMN):
            raise ValueError(
                f"`{name}` names {column!r}, which is not a feature: the model may not see it"
            )
        if column not in allowed:
            raise ValueError(
                f"`{name}` names {column[:60]!r}, which is not a column of the {params.dataset} "
                f"table (its columns: {', '.join(allowed)})"
            )
    return chosen


def training_labels(labels: pd.Series, params: ModelParams) -> list[Any]:
    """Labels as plain values computed here: the scoring kernel gets exactly what the model should
    learn."""
    if params.positive_class:
        return [str(c) == params.positive_class for c in labels]
    return [c.item() if hasattr(c, "item") else c for c in labels]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _columns(table: pd.DataFrame, features: list[str]) -> dict[str, list[Any]]:
    return {column: table[column].tolist() for column in features}
