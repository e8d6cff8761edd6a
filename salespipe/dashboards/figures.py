"""The dashboards' figures: the look of `salespipe.charts` (colours, fonts, number formats), plus
the uncertainty of every win rate.

Each function takes a frame as `salespipe.metrics` returns it and only draws it; the one thing
computed here is the Wilson interval of each rate (`stats`), which is how the rate is shown, not
a new number. Titles say what is shown, bars carry their numbers, rates read as percentages and
money as money.
"""

from __future__ import annotations

import math

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
MISSING = {
    "owner": "(no owner)",
    "source": "(no source)",
    "product": "(never quoted)",
    "region": "(no region)",
    "account": "(no account)",
}


def trials(frame: pd.DataFrame, measure: str) -> np.ndarray:
    """The deals behind each rate: won + lost for win_rate, won + lost + open for win_rate_all."""
    n = frame["won"].to_numpy(dtype=float) + frame["lost"].to_numpy(dtype=float)
    if measure == "win_rate_all":
        n = n + frame["open"].to_numpy(dtype=float)
    return n


def group_labels(frame: pd.DataFrame, by: str) -> list[str]:
    """The category label of each row: the value, or what its absence means."""
    return [MISSING.get(by, "(none)") if charts._missing(v) else str(v) for v in frame[by]]


def _subtitle(figure: go.Figure, text: str) -> None:
    figure.update_layout(title_subtitle_text=text, title_subtitle_font={"size": 12, "color": "#6b7280"})
    figure.update_layout(margin_t=100)


def funnel_figure(frame: pd.DataFrame, title: str, subtitle: str = "") -> go.Figure:
    """One funnel of the six stages: the count, the conversion from the previous and from the first stage."""
    if frame.empty:
        return charts.no_data(title)
    fig = charts._figure(title, "leads", "stage", height=460, legend=False)
    text = []
    for stage, n, prev, first in zip(
        frame["stage"], frame["count"], frame["conversion_from_previous"], frame["conversion_from_first"]
    ):
        if stage == FUNNEL_STAGES[0]:
            text.append(f"{charts.count(n)} leads")
        else:
            text.append(f"{charts.count(n)} · {charts.pct(prev)} of previous · {charts.pct(first)} of leads")
    fig.add_trace(
        go.Funnel(
            name="leads",
            y=frame["stage"].astype(str).tolist(),
            x=frame["count"].to_numpy(dtype="int64"),
            text=text,
            textinfo="text",
            textposition="auto",
            textangle=0,
            customdata=[
                [charts.pct(p), charts.pct(f)]
                for p, f in zip(frame["conversion_from_previous"], frame["conversion_from_first"])
            ],
            marker={"color": [charts.STAGE_COLORS.get(str(s), charts.ACCENT) for s in frame["stage"]]},
            connector={"fillcolor": "#eef2f7", "line": {"color": "#d1d5db", "width": 1}},
            hovertemplate="%{y}: %{x:,}<br>from previous stage %{customdata[0]}"
            "<br>from first stage %{customdata[1]}<extra></extra>",
        )
    )
    fig.update_xaxes(tickformat=",d")
    if subtitle:
        _subtitle(fig, subtitle)
    return fig


def conversion_trend_figure(frame: pd.DataFrame, title: str, subtitle: str = "") -> go.Figure:
    """Conversion from the previous stage per period: one line per stage step (lead → qualified, ...)."""
    if frame.empty:
        return charts.no_data(title)
    fig = charts._figure(title, "period", "conversion from previous stage", legend=True)
    for i, stage in enumerate(FUNNEL_STAGES[1:], 1):
        rows = frame[frame["stage"] == stage]
        previous = frame[frame["stage"] == FUNNEL_STAGES[i - 1]]
        fig.add_trace(
            go.Scatter(
                name=f"{FUNNEL_STAGES[i - 1]} → {stage}",
                x=pd.to_datetime(rows["period"]).to_numpy(),
                y=rows["conversion_from_previous"].to_numpy(dtype=float),
                mode="lines+markers",
                line={"color": charts.STAGE_COLORS.get(stage, charts._color(i)), "width": 2},
                marker={"size": 5},
                customdata=[
                    [charts.count(n), charts.count(p), charts.pct(f)]
                    for n, p, f in zip(rows["count"], previous["count"], rows["conversion_from_first"])
                ],
                hovertemplate=f"<b>{FUNNEL_STAGES[i - 1]} → {stage}</b> %{{x|%d %b %Y}}<br>"
                "%{y:.1%} of previous (%{customdata[0]} of %{customdata[1]})"
                "<br>%{customdata[2]} of the leads<extra></extra>",
            )
        )
    fig.update_yaxes(**charts.PERCENT_AXIS)
    fig.update_xaxes(type="date")
    if subtitle:
        _subtitle(fig, subtitle)
    return fig


def _rate_hover(frame: pd.DataFrame, low: np.ndarray, high: np.ndarray, small: np.ndarray, confidence: float) -> list:
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
        ]
        for lo, hi, w, lost, o, v, s in zip(
            low, high, frame["won"], frame["lost"], frame["open"], frame["won_value"], small
        )
    ]


RATE_HOVER = (
    "win rate %{customdata[8]} (%{customdata[7]} interval %{customdata[0]} – %{customdata[1]})"
    "<br>won %{customdata[2]} · lost %{customdata[3]} · open %{customdata[4]}"
    "<br>won value %{customdata[5]}%{customdata[6]}<extra></extra>"
)


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
    fig = charts._figure(title, what, by, height=charts._height(len(frame), per=32), legend=bool(small.any()))
    hover = _rate_hover(frame, low, high, small, confidence)
    for flagged in (False, True):
        keep = [i for i in order if bool(small[i]) == flagged]
        if not keep:
            continue
        x = rate[keep]
        fig.add_trace(
            go.Bar(
                name=f"too few to judge (< {min_deals} {denominator})" if flagged else f"{min_deals}+ {denominator}",
                orientation="h",
                y=[labels[i] for i in keep],
                x=np.nan_to_num(x),
                text=[_bar_text(rate[i], n[i], small[i], denominator) for i in keep],
                textposition=["inside" if r >= 0.2 else "outside" for r in np.nan_to_num(x)],
                insidetextanchor="start",
                textfont={"color": ["white" if r >= 0.2 else "#1f2937" for r in np.nan_to_num(x)]},
                constraintext="none",
                cliponaxis=False,
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": np.nan_to_num(high[keep] - x),
                    "arrayminus": np.nan_to_num(x - low[keep]),
                    "color": "#374151",
                    "thickness": 1.5,
                    "width": 4,
                },
                marker={
                    "color": SMALL_COLOR if flagged else charts.ACCENT,
                    "pattern": {"shape": "/", "fgcolor": "#f3f4f6"} if flagged else None,
                },
                customdata=[[*hover[i], charts.pct(rate[i])] for i in keep],
                hovertemplate="<b>%{y}</b><br>" + RATE_HOVER,
            )
        )
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=[labels[i] for i in reversed(order)])
    fig.update_layout(barmode="overlay")
    _subtitle(fig, f"{what}, opportunities by creation date<br>" + stats.rule_text(min_deals, confidence, denominator))
    return fig


def _bar_text(rate: float, n: float, small: bool, denominator: str) -> str:
    if math.isnan(rate):
        return f"no {denominator}"
    text = f"{charts.pct(rate)} · n={charts.count(n)}"
    return text + " · too few" if small else text


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
    fig = charts._figure(title, "period (opportunity created)", what, legend=False)
    few = len(frame) <= 16
    fig.add_trace(
        go.Scatter(
            name=what,
            x=pd.to_datetime(frame["period"]).to_numpy(),
            y=rate,
            mode="lines+markers+text" if few else "lines+markers",
            text=[charts.pct(r) for r in rate] if few else None,
            textposition="top center",
            line={"color": charts.ACCENT, "width": 2},
            marker={
                "size": 8,
                "color": [SMALL_COLOR if s else charts.ACCENT for s in small],
                "symbol": ["circle-open" if s else "circle" for s in small],
                "line": {"width": 2, "color": [SMALL_COLOR if s else charts.ACCENT for s in small]},
            },
            error_y={
                "type": "data",
                "symmetric": False,
                "array": np.nan_to_num(high - rate),
                "arrayminus": np.nan_to_num(rate - low),
                "color": "#93a3b8",
                "thickness": 1.5,
                "width": 3,
            },
            customdata=[[*h, charts.pct(r)] for h, r in zip(_rate_hover(frame, low, high, small, confidence), rate)],
            hovertemplate="<b>%{x|%d %b %Y}</b><br>" + RATE_HOVER,
        )
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    fig.update_xaxes(type="date")
    _subtitle(
        fig,
        f"{what}, by period of opportunity creation; recent periods still have open deals<br>"
        + stats.rule_text(min_deals, confidence, denominator).replace("Grey, hatched", "Hollow grey points"),
    )
    return fig


__all__ = [
    "MEASURES",
    "conversion_trend_figure",
    "funnel_figure",
    "group_labels",
    "trials",
    "win_rate_bars",
    "win_rate_trend",
]
