"""The dashboards' figures: the look of `salespipe.charts` (template, colours, fonts, number
formats), plus the uncertainty of every win rate.

Each function takes a frame as `salespipe.metrics` returns it and only draws it; the one thing
computed here is the Wilson interval of each rate (`stats`), which is how a rate is shown, not
a new number. Titles say what is shown, bars carry their numbers, rates read as percentages and
money as money. A figure is written as one plain spec and validated once by `go.Figure(spec)`:
building it call by call (`add_trace`, `update_layout`) costs ~6x more, and a dashboard redraws
five figures on every filter change.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .. import charts
from ..metrics import FUNNEL_STAGES
from . import stats

# measure -> (what the rate is, what its denominator counts)
MEASURES = {
    "win_rate": ("won / (won + lost)", "closed deals"),
    "win_rate_all": ("won / all opportunities (open ones count as not won)", "opportunities"),
}
SMALL_COLOR = "#9ca3af"
MUTED = "#6b7280"
MISSING = {
    "owner": "(no owner)",
    "source": "(no source)",
    "product": "(never quoted)",
    "region": "(no region)",
    "account": "(no account)",
}


@functools.cache
def _template() -> dict:
    return charts._template().to_plotly_json()


def _layout(title: str, x_title: str, y_title: str, *, height: int = 440, legend: bool = True, note: str = "") -> dict:
    """charts._figure's layout as a spec, with an optional second line under the title."""
    title_spec: dict[str, Any] = {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 17}}
    if note:
        title_spec["subtitle"] = {"text": note, "font": {"size": 12, "color": MUTED}}
    return {
        "template": _template(),
        "title": title_spec,
        "font": {"family": charts.FONT, "size": 13, "color": "#1f2937"},
        "height": height,
        "margin": {"l": 70, "r": 30, "t": 100 if note else 70, "b": 60},
        "hoverlabel": {"font": {"family": charts.FONT, "size": 13}},
        "showlegend": legend,
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        "separators": ".,",
        "xaxis": {"title": {"text": x_title}, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "automargin": True},
    }


def _figure(traces: list[dict], layout: dict) -> go.Figure:
    return go.Figure({"data": traces, "layout": layout})


def trials(frame: pd.DataFrame, measure: str) -> np.ndarray:
    """The deals behind each rate: won + lost for win_rate, won + lost + open for win_rate_all."""
    n = frame["won"].to_numpy(dtype=float) + frame["lost"].to_numpy(dtype=float)
    if measure == "win_rate_all":
        n = n + frame["open"].to_numpy(dtype=float)
    return n


def group_labels(frame: pd.DataFrame, by: str) -> list[str]:
    """The category label of each row: the value, or what its absence means."""
    return [MISSING.get(by, "(none)") if charts._missing(v) else str(v) for v in frame[by]]


# -- the funnel ---------------------------------------------------------------------------------


def funnel_figure(frame: pd.DataFrame, title: str, note: str = "") -> go.Figure:
    """One funnel of the six stages: the count, the conversion from the previous and from the first stage."""
    if frame.empty:
        return charts.no_data(title)
    text = []
    for stage, n, prev, first in zip(
        frame["stage"], frame["count"], frame["conversion_from_previous"], frame["conversion_from_first"]
    ):
        if stage == FUNNEL_STAGES[0]:
            text.append(f"{charts.count(n)} leads")
        else:
            text.append(f"{charts.count(n)} · {charts.pct(prev)} of previous · {charts.pct(first)} of leads")
    trace = {
        "type": "funnel",
        "name": "leads",
        "y": frame["stage"].astype(str).tolist(),
        "x": frame["count"].astype("int64").tolist(),
        "text": text,
        "textinfo": "text",
        "textposition": "auto",
        "textangle": 0,
        "customdata": [
            [charts.pct(p), charts.pct(f)]
            for p, f in zip(frame["conversion_from_previous"], frame["conversion_from_first"])
        ],
        "marker": {"color": [charts.STAGE_COLORS.get(str(s), charts.ACCENT) for s in frame["stage"]]},
        "connector": {"fillcolor": "#eef2f7", "line": {"color": "#d1d5db", "width": 1}},
        "hovertemplate": "%{y}: %{x:,}<br>from previous stage %{customdata[0]}"
        "<br>from first stage %{customdata[1]}<extra></extra>",
    }
    layout = _layout(title, "leads", "stage", height=460, legend=False, note=note)
    layout["xaxis"]["tickformat"] = ",d"
    return _figure([trace], layout)


def conversion_trend_figure(frame: pd.DataFrame, title: str, note: str = "") -> go.Figure:
    """Conversion from the previous stage per period: one line per stage step (lead → qualified, ...)."""
    if frame.empty:
        return charts.no_data(title)
    traces = []
    for i, stage in enumerate(FUNNEL_STAGES[1:], 1):
        step = f"{FUNNEL_STAGES[i - 1]} → {stage}"
        rows = frame[frame["stage"] == stage]
        previous = frame[frame["stage"] == FUNNEL_STAGES[i - 1]]
        traces.append(
            {
                "type": "scatter",
                "name": step,
                "x": pd.to_datetime(rows["period"]).dt.strftime("%Y-%m-%d").tolist(),
                "y": rows["conversion_from_previous"].astype(float).tolist(),
                "mode": "lines+markers",
                "line": {"color": charts.STAGE_COLORS.get(stage, charts._color(i)), "width": 2},
                "marker": {"size": 5},
                "customdata": [
                    [charts.count(n), charts.count(p), charts.pct(f)]
                    for n, p, f in zip(rows["count"], previous["count"], rows["conversion_from_first"])
                ],
                "hovertemplate": f"<b>{step}</b> %{{x|%d %b %Y}}<br>"
                "%{y:.1%} of previous (%{customdata[0]} of %{customdata[1]})"
                "<br>%{customdata[2]} of the leads<extra></extra>",
            }
        )
    layout = _layout(title, "period", "conversion from previous stage", note=note)
    layout["yaxis"].update(charts.PERCENT_AXIS)
    layout["xaxis"]["type"] = "date"
    return _figure(traces, layout)


def time_in_stage_figure(frame: pd.DataFrame, title: str, note: str = "") -> go.Figure:
    """Days spent in each state · status before leaving it: median and 90th percentile bars."""
    if frame.empty:
        return charts.no_data(title)
    stages = charts._stage_labels(frame)
    hover = charts._stat_hover(frame)
    traces = [
        {
            "type": "bar",
            "name": charts.STAT_NAMES[column],
            "orientation": "h",
            "y": stages,
            "x": frame[column].astype(float).tolist(),
            "text": [charts._num(v) for v in frame[column]],
            "textposition": "outside",
            "textangle": 0,
            "cliponaxis": False,
            "marker": {"color": charts.STAT_COLORS[column]},
            "customdata": hover,
            "hovertemplate": "<b>%{y}</b>: %{customdata[0]} times<br>" + charts.STAT_HOVER + "<extra></extra>",
        }
        for column in ("median_days", "p90_days")
    ]
    layout = _layout(title, "days in stage", "state · status", height=charts._height(2 * len(stages), 24), note=note)
    layout["xaxis"].update(charts.DAYS_AXIS)
    layout["yaxis"].update({"type": "category", "autorange": "reversed"})
    layout["barmode"] = "group"
    return _figure(traces, layout)


# -- win rates ----------------------------------------------------------------------------------


def _rate_hover(frame: pd.DataFrame, rate, low, high, small, confidence: float) -> list[list[str]]:
    return [
        [
            charts.pct(lo),
            charts.pct(hi),
            charts.count(w),
            charts.count(lost),
            charts.count(o),
            charts.money(v),
            "<br><b>too few deals to judge</b>" if s else "",
            f"{confidence:.0%}",
            charts.pct(r),
        ]
        for r, lo, hi, w, lost, o, v, s in zip(
            rate, low, high, frame["won"], frame["lost"], frame["open"], frame["won_value"], small
        )
    ]


RATE_HOVER = (
    "win rate %{customdata[8]} (%{customdata[7]} interval %{customdata[0]} – %{customdata[1]})"
    "<br>won %{customdata[2]} · lost %{customdata[3]} · open %{customdata[4]}"
    "<br>won value %{customdata[5]}%{customdata[6]}<extra></extra>"
)


def _bar_text(rate: float, n: float, small: bool, denominator: str) -> str:
    if math.isnan(rate):
        return f"no {denominator}"
    text = f"{charts.pct(rate)} · n={charts.count(n)}"
    return text + " · too few" if small else text


def win_rate_bars(
    frame: pd.DataFrame,
    by: str,
    measure: str = "win_rate",
    *,
    title: str,
    min_deals: int = stats.MIN_DEALS,
    confidence: float = stats.CONFIDENCE,
) -> go.Figure:
    """Win rate per `by` value as horizontal bars, highest on top, each with its Wilson interval.

    Groups with fewer than `min_deals` deals behind the rate are grey and hatched (a second
    trace, "too few to judge"); the rule is stated under the title.
    """
    if frame.empty:
        return charts.no_data(title)
    what, denominator = MEASURES[measure]
    frame = frame.reset_index(drop=True)
    n = trials(frame, measure)
    low, high = stats.wilson_interval(frame["won"].to_numpy(dtype=float), n, confidence)
    small = stats.too_small(n, min_deals)
    rate = frame[measure].to_numpy(dtype=float)
    labels = group_labels(frame, by)
    order = sorted(range(len(frame)), key=lambda i: (math.isnan(rate[i]), -np.nan_to_num(rate[i]), labels[i]))
    hover = _rate_hover(frame, rate, low, high, small, confidence)
    traces = []
    for flagged in (False, True):
        keep = [i for i in order if bool(small[i]) == flagged]
        if not keep:
            continue
        x = np.nan_to_num(rate[keep])
        inside = x >= 0.2
        traces.append(
            {
                "type": "bar",
                "name": f"too few to judge (< {min_deals} {denominator})" if flagged else f"{min_deals}+ {denominator}",
                "orientation": "h",
                "y": [labels[i] for i in keep],
                "x": x.tolist(),
                "text": [_bar_text(rate[i], n[i], small[i], denominator) for i in keep],
                "textposition": ["inside" if k else "outside" for k in inside],
                "insidetextanchor": "start",
                "textfont": {"color": ["white" if k else "#1f2937" for k in inside]},
                "constraintext": "none",
                "cliponaxis": False,
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": np.nan_to_num(high[keep] - x).tolist(),
                    "arrayminus": np.nan_to_num(x - low[keep]).tolist(),
                    "color": "#374151",
                    "thickness": 1.5,
                    "width": 4,
                },
                "marker": {"color": SMALL_COLOR, "pattern": {"shape": "/", "fgcolor": "#f3f4f6"}}
                if flagged
                else {"color": charts.ACCENT},
                "customdata": [hover[i] for i in keep],
                "hovertemplate": "<b>%{y}</b><br>" + RATE_HOVER,
            }
        )
    note = f"{what}, opportunities by creation date<br>" + stats.rule_text(min_deals, confidence, denominator)
    layout = _layout(title, what, by, height=charts._height(len(frame), per=32), legend=bool(small.any()), note=note)
    layout["xaxis"].update({"tickformat": ".0%", "range": [0, 1]})
    layout["yaxis"].update(
        {"type": "category", "categoryorder": "array", "categoryarray": [labels[i] for i in reversed(order)]}
    )
    layout["barmode"] = "overlay"
    return _figure(traces, layout)


def win_rate_trend(
    frame: pd.DataFrame,
    measure: str = "win_rate",
    *,
    title: str,
    min_deals: int = stats.MIN_DEALS,
    confidence: float = stats.CONFIDENCE,
) -> go.Figure:
    """Win rate per period as a line; every point has its Wilson interval, small periods are hollow and grey."""
    if frame.empty:
        return charts.no_data(title)
    what, denominator = MEASURES[measure]
    frame = frame.reset_index(drop=True)
    n = trials(frame, measure)
    low, high = stats.wilson_interval(frame["won"].to_numpy(dtype=float), n, confidence)
    small = stats.too_small(n, min_deals)
    rate = frame[measure].to_numpy(dtype=float)
    few = len(frame) <= 16
    colors = [SMALL_COLOR if s else charts.ACCENT for s in small]
    trace = {
        "type": "scatter",
        "name": what,
        "x": pd.to_datetime(frame["period"]).dt.strftime("%Y-%m-%d").tolist(),
        "y": [None if math.isnan(r) else float(r) for r in rate],
        "mode": "lines+markers+text" if few else "lines+markers",
        "textposition": "top center",
        "line": {"color": charts.ACCENT, "width": 2},
        "marker": {
            "size": 8,
            "color": colors,
            "symbol": ["circle-open" if s else "circle" for s in small],
            "line": {"width": 2, "color": colors},
        },
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": np.nan_to_num(high - rate).tolist(),
            "arrayminus": np.nan_to_num(rate - low).tolist(),
            "color": "#93a3b8",
            "thickness": 1.5,
            "width": 3,
        },
        "customdata": _rate_hover(frame, rate, low, high, small, confidence),
        "hovertemplate": "<b>%{x|%d %b %Y}</b><br>" + RATE_HOVER,
    }
    if few:
        trace["text"] = [charts.pct(r) for r in rate]
    rule = stats.rule_text(min_deals, confidence, denominator).replace("Grey, hatched", "Hollow grey points")
    note = f"{what}, by period of opportunity creation; recent periods still have open deals<br>{rule}"
    layout = _layout(title, "period (opportunity created)", what, legend=False, note=note)
    layout["yaxis"].update({"tickformat": ".0%", "range": [0, 1]})
    layout["xaxis"]["type"] = "date"
    return _figure([trace], layout)


__all__ = [
    "MEASURES",
    "conversion_trend_figure",
    "funnel_figure",
    "group_labels",
    "time_in_stage_figure",
    "trials",
    "win_rate_bars",
    "win_rate_trend",
]
