"""`model`: the student's model factory or estimator, retrained with the rubric's fit parameters."""
from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import model_validator

from grader.engine.checks import register
from grader.engine.checks.accuracy import AccuracyTarget, accuracy, status_for
from grader.engine.checks.base import Artifact, Check, Evidence, Outcome, ProbeContext, kernel_call
from grader.engine.plots import decision_boundary_png

Prediction = Union[bool, int, float, str]


class ModelParams(AccuracyTarget):
    factory: Optional[str] = None
    estimator: Optional[str] = None
    dataset: str
    features: list[str] = ["feature1", "feature2"]
    positive_class: Optional[str] = "red"
    negative_class: str = "blue"
    fit: dict[str, Any] = {}
    grid: Optional[str] = "all_points"

    @model_validator(mode="after")
    def _factory_or_estimator(self):
        if bool(self.factory) == bool(self.estimator):
            raise ValueError("give exactly one of factory (a function that builds a Keras model) "
                             "or estimator (a scikit-learn style model variable)")
        return self


class ModelArtifact(Artifact):
    predictions: dict[str, list[Prediction]]


@register
class ModelCheck(Check):
    kind = "model"
    Params = ModelParams
    Artifact = ModelArtifact

    def defines(self, params: ModelParams) -> list[str]:
        return [params.factory or params.estimator]

    def probe_source(self, params: ModelParams, context: ProbeContext) -> str:
        public = context.package.public_table(params.dataset)
        train = public.index[public["split"] == "train"]
        classes = public.loc[train, "class"]
        # Labels are computed here, as plain values: the kernel never compares pandas objects for us,
        # so a notebook that patches pandas or numpy comparisons cannot skew what the model learns.
        labels = ([str(c) == params.positive_class for c in classes] if params.positive_class
                  else [c.item() if hasattr(c, "item") else c for c in classes])
        predict = {"heldout": context.heldout_features(params.dataset)}
        if params.grid:
            predict["grid"] = context.public(params.grid)
        spec = {"factory": params.factory, "estimator": params.estimator, "fit": params.fit, "seed": context.seed,
                "train": context.public(params.dataset), "train_rows": [int(i) for i in train],
                "labels": labels, "features": params.features, "predict": predict}
        return kernel_call("model_predictions", spec)

    def score(self, evidence: Evidence) -> Outcome:
        params: ModelParams = evidence.params
        heldout = evidence.package.heldout_table(params.dataset)
        predictions = evidence.artifact.predictions
        predicted = [self._label(p, params) for p in predictions.get("heldout", [])]
        held_out_accuracy = accuracy(predicted, [str(label) for label in heldout["class"]])
        fraction = params.fraction_for(held_out_accuracy)
        plot = None
        if params.grid and "grid" in predictions:
            grid = evidence.package.public_table(params.grid)
            plot = decision_boundary_png(grid, [self._label(p, params) for p in predictions["grid"]], heldout,
                                         predicted, title=f"Your `{params.factory or params.estimator}`",
                                         x=params.features[0], y=params.features[-1])
        fit = ", ".join(f"{k}={v}" for k, v in params.fit.items())
        message = f"Retrained on the train split{f' ({fit})' if fit else ''}. " + params.explain(held_out_accuracy)
        return Outcome(fraction=fraction, status=status_for(fraction), message=message, plot_png=plot,
                       details={"heldout_accuracy": round(held_out_accuracy, 4)})

    @staticmethod
    def _label(prediction: Prediction, params: ModelParams) -> str:
        if params.positive_class is None:
            return str(prediction)
        positive = prediction is True or prediction == 1 or prediction in ("True", "1", params.positive_class)
        return params.positive_class if positive else params.negative_class
