"""Pictures for the report: a classifier's decision boundary with held-out points marked right/wrong."""
from __future__ import annotations

from typing import Sequence

import altair as alt
import pandas as pd
import vl_convert

CLASS_COLOURS = alt.Scale(domain=["red", "blue"], range=["#e45756", "#4c78a8"])


def decision_boundary_png(grid: pd.DataFrame, grid_predicted: Sequence[str], points: pd.DataFrame,
                          points_predicted: Sequence[str], title: str, x: str = "feature1",
                          y: str = "feature2") -> bytes:
    """Grid cells coloured by the predicted class; held-out points by true class, wrong ones as crosses."""
    background = grid[[x, y]].assign(predicted=list(grid_predicted))
    held_out = points[[x, y, "class"]].assign(
        result=["right" if p == c else "wrong" for p, c in zip(points_predicted, points["class"])])
    axis_x = alt.X(x, scale=alt.Scale(zero=False, nice=False))
    axis_y = alt.Y(y, scale=alt.Scale(zero=False, nice=False))
    regions = alt.Chart(background).mark_square(size=90, opacity=0.3).encode(
        x=axis_x, y=axis_y, color=alt.Color("predicted", scale=CLASS_COLOURS, title="model predicts"))
    dots = alt.Chart(held_out).mark_point(filled=True, size=45, strokeWidth=1.5).encode(
        x=axis_x, y=axis_y,
        color=alt.Color("class", scale=CLASS_COLOURS, title="true class"),
        shape=alt.Shape("result", scale=alt.Scale(domain=["right", "wrong"], range=["circle", "cross"]),
                        title="held-out point"))
    chart = (regions + dots).properties(width=280, height=280, title=title).resolve_scale(color="shared")
    return vl_convert.vegalite_to_png(chart.to_json(), scale=1)
