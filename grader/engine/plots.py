"""Pictures for the report: a classifier's decision regions, with the public points it learned from,
or a regressor's predictions against the actual values of those points.

Only public data is drawn. Held-out points (and so held-out labels) never appear in a picture: a
student could read them back off it.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd
import vl_convert

CLASS_COLOURS = alt.Scale(domain=["red", "blue"], range=["#e45756", "#4c78a8"])


def decision_regions_png(
    grid: pd.DataFrame,
    grid_predicted: Sequence[str],
    public_points: pd.DataFrame,
    title: str,
    x: str = "feature1",
    y: str = "feature2",
    label: str = "class",
) -> bytes:
    """Grid cells coloured by the predicted class, and the public training points by their class."""
    background = grid[[x, y]].assign(predicted=[str(p) for p in grid_predicted])
    points = public_points[[x, y]].assign(label=public_points[label].astype(str).to_numpy())
    axis_x = alt.X(x, scale=alt.Scale(zero=False, nice=False))
    axis_y = alt.Y(y, scale=alt.Scale(zero=False, nice=False))
    regions = (
        alt.Chart(background)
        .mark_square(size=90, opacity=0.3)
        .encode(
            x=axis_x,
            y=axis_y,
            color=alt.Color("predicted", scale=CLASS_COLOURS, title="model predicts"),
        )
    )
    dots = (
        alt.Chart(points)
        .mark_point(filled=True, size=40, strokeWidth=1)
        .encode(
            x=axis_x,
            y=axis_y,
            color=alt.Color("label", scale=CLASS_COLOURS, title="training point"),
        )
    )
    chart = (
        (regions + dots)
        .properties(width=280, height=280, title=title)
        .resolve_scale(color="shared")
    )
    return vl_convert.vegalite_to_png(chart.to_json(), scale=1)


def predicted_vs_actual_png(
    predicted: Sequence[float], actual: Sequence[float], title: str
) -> bytes:
    """The public training rows as points, actual value across, predicted value up; on the diagonal
    a prediction is exact."""
    points = pd.DataFrame({"actual": list(actual), "predicted": list(predicted)})
    low = float(min(points.min()))
    high = float(max(points.max()))
    diagonal = pd.DataFrame({"actual": [low, high], "predicted": [low, high]})
    scale = alt.Scale(domain=[low, high], zero=False, nice=False)
    axis_x = alt.X("actual", scale=scale, title="actual value (training rows)")
    axis_y = alt.Y("predicted", scale=scale, title="model predicts")
    dots = alt.Chart(points).mark_point(filled=True, size=30).encode(x=axis_x, y=axis_y)
    line = alt.Chart(diagonal).mark_line(color="#888888").encode(x=axis_x, y=axis_y)
    chart = (line + dots).properties(width=280, height=280, title=title)
    return vl_convert.vegalite_to_png(chart.to_json(), scale=1)


def training_points(public: pd.DataFrame) -> pd.DataFrame:
    """The public rows a model learns from: the train split when the table has one."""
    return public[public["split"] == "train"] if "split" in public.columns else public
