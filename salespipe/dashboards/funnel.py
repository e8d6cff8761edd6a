"""The funnel dashboard: leads through the stages, how each conversion moves by period, and how
long deals sit in each stage.

    dash = FunnelDashboard()            # SALESPIPE_DB, else data/salespipe.duckdb, read-only
    dash.widget                          # show it (a notebook cell, or voila)
    dash.filters["view"].value = "activity"
    dash.figures["funnel"]               # the plotly figure as drawn
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import pandas as pd
import plotly.graph_objects as go

from . import figures
from ._base import Dashboard

VIEWS = (("Cohort: leads created in the range", "cohort"), ("Activity: stage reached in the range", "activity"))


class FunnelDashboard(Dashboard):
    """Funnel (count per stage, conversion from previous and from first), conversion trend, time in stage."""

    title = "Sales funnel"
    chart_names = ("funnel", "conversion_trend", "time_in_stage")

    def __init__(self, db: Any = None, *, view: str = "cohort", **kw: Any) -> None:
        self._view = view
        super().__init__(db, **kw)

    def _extra_filters(self) -> dict[str, W.ValueWidget]:
        view = W.Dropdown(options=VIEWS, value=self._view, description="View", layout=W.Layout(width="360px"))
        view.add_class("sp-filter-view")
        return {"view": view}

    def compute(self, options: dict[str, Any]) -> dict[str, pd.DataFrame]:
        view, period = self.filters["view"].value, self.filters["period"].value
        both = self.frame("funnels", view=view, period=period, **options)  # the funnel and its trend in one pass
        return {
            "funnel": both["total"],
            "conversion_trend": both["period"],
            "time_in_stage": self.frame("time_in_stage", entity="opportunity", **options),
        }

    def draw(self, frames: dict[str, pd.DataFrame]) -> dict[str, go.Figure]:
        view, period = self.filters["view"].value, self.filters["period"].value
        if view == "cohort":
            funnel_title = "Funnel: leads created in the range, by the furthest stage they reached"
            funnel_note = "Each stage counts the leads that ever reached it; recent leads are still on their way."
            trend_title = f"Conversion from the previous stage, by {period} the leads were created"
        else:
            funnel_title = "Funnel activity: stages reached in the range"
            funnel_note = "Each stage counts the leads that reached it in the range, whenever they were created."
            trend_title = f"Conversion from the previous stage, stages reached per {period}"
        return {
            "funnel": figures.funnel_figure(frames["funnel"], funnel_title, funnel_note),
            "conversion_trend": figures.conversion_trend_figure(
                frames["conversion_trend"], trend_title, "Hover a point for the counts behind it."
            ),
            "time_in_stage": figures.time_in_stage_figure(
                frames["time_in_stage"],
                "Days an opportunity spends in each stage",
                "Stays that began in the range and have ended: median and 90th percentile",
            ),
        }


__all__ = ["VIEWS", "FunnelDashboard"]
