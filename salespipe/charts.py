"""Plotly figures of the metric frames (docs/metrics.md).

Each function takes a frame as `salespipe.metrics` returns it and only draws it: no rates or
totals are recomputed here. A frame that lacks a column the chart needs raises `ValidationError`
naming it; an empty frame gives a figure that says "no data". Optional `period` and `by` columns
(owner, source, product, account, region) become one trace per group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import plotly.graph_objects as go

from .chart_style import (  # noqa: F401 (the shared look, used here and re-exported as charts.*)
    ACCENT,
    ACCENT_LIGHT,
    BY_COLUMNS,
    CONFIG,
    DAYS_AXIS,
    FONT,
    MONEY_AXIS,
    OUTCOME_COLORS,
    PALETTE,
    PERCENT_AXIS,
    STAGE_COLORS,
    STAT_COLORS,
    STAT_NAMES,
    _by,
    _check,
    _color,
    _figure,
    _groups,
    _height,
    _label,
    _labels,
    _missing,
    _num,
    _period_label,
    _template,
    count,
    days,
    money,
    no_data,
    pct,
)
from .db import Database


def funnel_chart(frame: pd.DataFrame, title: str = "Funnel: leads reaching each stage") -> go.Figure:
    """The funnel frame as a funnel: count per stage, with the frame's conversion rates as text."""
    need = ["stage", "count", "conversion_from_previous", "conversion_from_first"]
    frame = _check(frame, need, "funnel_chart")
    if frame.empty:
        return no_data(title)
    keys = [c for c in ("period", *BY_COLUMNS) if c in frame.columns]
    fig = _figure(title, "leads", "stage", legend=bool(keys))
    for i, (name, rows) in enumerate(_groups(frame, keys)):
        text = [f"{count(n)} · {pct(f)}" for n, f in zip(rows["count"], rows["conversion_from_first"])]
        hover = [[pct(p), pct(f)] for p, f in zip(rows["conversion_from_previous"], rows["conversion_from_first"])]
        colors = [STAGE_COLORS.get(str(s), ACCENT) for s in rows["stage"]] if not keys else _color(i)
        fig.add_trace(
            go.Funnel(
                name=name or "leads",
                y=rows["stage"].astype(str).tolist(),
                x=rows["count"].to_numpy(),
                text=text,
                textinfo="text",
                textposition="auto",
                textangle=0,
                customdata=hover,
                marker={"color": colors},
                connector={"fillcolor": "#eef2f7", "line": {"color": "#d1d5db", "width": 1}},
                hovertemplate=(
                    ("<b>" + name + "</b><br>" if name else "")
                    + "%{y}: %{x:,} leads<br>from previous stage %{customdata[0]}"
                    + "<br>from first stage %{customdata[1]}<extra></extra>"
                ),
            )
        )
    fig.update_xaxes(tickformat=",d")
    return fig


def win_rate_chart(frame: pd.DataFrame, by: str | Sequence[str] = "owner", title: str | None = None) -> go.Figure:
    """Win rate (won / closed) per `by` value as horizontal bars, highest on top."""
    keys = [by] if isinstance(by, str) else list(by)
    label = " · ".join(keys)
    title = title or f"Win rate by {label}"
    need = [*keys, "won", "lost", "open", "win_rate", "won_value", "win_rate_all"]
    frame = _check(frame, need, "win_rate_chart")
    if frame.empty:
        return no_data(title)
    others = [c for c in ("period", *BY_COLUMNS) if c in frame.columns and c not in keys]
    categories = frame[keys].drop_duplicates()
    fig = _figure(title, "win rate (won / (won + lost))", label, height=_height(len(categories)), legend=bool(others))
    for i, (name, rows) in enumerate(_groups(frame, others)):
        hover = [
            [pct(a), count(w), count(lo), count(o), money(v)]
            for a, w, lo, o, v in zip(rows["win_rate_all"], rows["won"], rows["lost"], rows["open"], rows["won_value"])
        ]
        fig.add_trace(
            go.Bar(
                name=name or "win rate",
                orientation="h",
                y=_labels(rows, keys),
                x=rows["win_rate"].to_numpy(dtype=float),
                text=[pct(v) for v in rows["win_rate"]],
                textposition="auto",
                customdata=hover,
                marker={"color": _color(i) if others else ACCENT},
                hovertemplate=(
                    ("<b>" + name + "</b><br>" if name else "")
                    + "<b>%{y}</b><br>win rate %{text}<br>won of all (incl. open) %{customdata[0]}"
                    + "<br>won %{customdata[1]} · lost %{customdata[2]} · open %{customdata[3]}"
                    + "<br>won value %{customdata[4]}<extra></extra>"
                ),
            )
        )
    fig.update_xaxes(**PERCENT_AXIS)
    fig.update_yaxes(categoryorder="total ascending" if not others else "trace", type="category")
    fig.update_layout(barmode="group")
    return fig


def win_rate_trend_chart(frame: pd.DataFrame, title: str = "Win rate by month of opportunity creation") -> go.Figure:
    """Win rate per period as lines: won / closed, and won / all (incl. still open) dotted."""
    need = ["period", "won", "lost", "open", "win_rate", "win_rate_all"]
    frame = _check(frame, need, "win_rate_trend_chart")
    if frame.empty:
        return no_data(title)
    keys = _by(frame)
    fig = _figure(title, "period (opportunity created)", "win rate", legend=True)
    for i, (name, rows) in enumerate(_groups(frame, keys)):
        hover = [
            [pct(a), count(w), count(lo), count(o)]
            for a, w, lo, o in zip(rows["win_rate_all"], rows["won"], rows["lost"], rows["open"])
        ]
        color = _color(i) if keys else ACCENT
        template = (
            ("<b>" + name + "</b><br>" if name else "")
            + "%{x|%b %Y}<br>win rate %{customdata[4]}<br>won of all (incl. open) %{customdata[0]}"
            + "<br>won %{customdata[1]} · lost %{customdata[2]} · open %{customdata[3]}<extra></extra>"
        )
        hover = [[*h, pct(r)] for h, r in zip(hover, rows["win_rate"])]
        fig.add_trace(
            go.Scatter(
                name=name or "won / (won + lost)",
                x=pd.to_datetime(rows["period"]).to_numpy(),
                y=rows["win_rate"].to_numpy(dtype=float),
                mode="lines+markers",
                line={"color": color, "width": 2},
                marker={"size": 5},
                customdata=hover,
                hovertemplate=template,
            )
        )
        if not keys:
            fig.add_trace(
                go.Scatter(
                    name="won / all created (incl. open)",
                    x=pd.to_datetime(rows["period"]).to_numpy(),
                    y=rows["win_rate_all"].to_numpy(dtype=float),
                    mode="lines",
                    line={"color": OUTCOME_COLORS["open"], "width": 2, "dash": "dot"},
                    customdata=hover,
                    hovertemplate=template,
                )
            )
    fig.update_yaxes(**PERCENT_AXIS)
    fig.update_xaxes(type="date")
    fig.update_layout(hovermode="closest")
    return fig


def pipeline_chart(frame: pd.DataFrame, title: str = "Open pipeline by phase") -> go.Figure:
    """Open pipeline per phase: estimated value and probability-weighted value."""
    need = ["phase", "count", "value", "weighted_value"]
    frame = _check(frame, need, "pipeline_chart")
    if frame.empty:
        return no_data(title)
    keys = _by(frame)
    fig = _figure(title, "phase", "value", legend=True)
    for i, (name, rows) in enumerate(_groups(frame, keys)):
        hover = [
            [count(n), money(v), money(w)] for n, v, w in zip(rows["count"], rows["value"], rows["weighted_value"])
        ]
        template = (
            ("<b>" + name + "</b><br>" if name else "")
            + "<b>%{x}</b>: %{customdata[0]} open opportunities"
            + "<br>value %{customdata[1]}<br>weighted value %{customdata[2]}<extra></extra>"
        )
        phases = rows["phase"].astype(str).tolist()
        fig.add_trace(
            go.Bar(
                name=f"{name} · value" if name else "estimated value",
                x=phases,
                y=rows["value"].to_numpy(dtype=float),
                text=[money(v) for v in rows["value"]],
                textposition="outside",
                textangle=0,
                cliponaxis=False,
                marker={"color": _color(i) if keys else ACCENT_LIGHT},
                customdata=hover,
                hovertemplate=template,
                offsetgroup="value" if keys else None,
            )
        )
        fig.add_trace(
            go.Bar(
                name=f"{name} · weighted" if name else "weighted by probability",
                x=phases,
                y=rows["weighted_value"].to_numpy(dtype=float),
                text=[money(v) for v in rows["weighted_value"]],
                textposition="outside",
                textangle=0,
                cliponaxis=False,
                marker={"color": _color(i) if keys else ACCENT, "pattern": {"shape": "/"} if keys else None},
                customdata=hover,
                hovertemplate=template,
                offsetgroup="weighted" if keys else None,
            )
        )
    fig.update_yaxes(**MONEY_AXIS)
    fig.update_xaxes(type="category")
    fig.update_layout(barmode="relative" if keys else "group")
    return fig


def _stat_hover(rows: pd.DataFrame) -> list[list[str]]:
    return [
        [count(n), days(md), days(mn), days(p)]
        for n, md, mn, p in zip(rows["count"], rows["median_days"], rows["mean_days"], rows["p90_days"])
    ]


STAT_HOVER = "%{customdata[0]} · median %{customdata[1]} · mean %{customdata[2]} · 90th percentile %{customdata[3]}"


def cycle_time_chart(
    frame: pd.DataFrame | Database, title: str = "Sales cycle: days from created to closed"
) -> go.Figure:
    """Cycle time per outcome: median, mean and 90th percentile days (lines of the median per period).

    Takes a cycle_time frame, or a database for `metrics.cycle_time(db)` as docs/metrics.md allows.
    """
    if isinstance(frame, Database):
        from . import metrics

        frame = metrics.cycle_time(frame)
    need = ["outcome", "count", "mean_days", "median_days", "p90_days"]
    frame = _check(frame, need, "cycle_time_chart")
    if frame.empty:
        return no_data(title)
    keys = _by(frame)
    if "period" in frame.columns:
        fig = _figure(title, "period (closed)", "median days", legend=True)
        for i, (name, rows) in enumerate(_groups(frame, [*keys, "outcome"])):
            outcome = str(rows["outcome"].iloc[0])
            fig.add_trace(
                go.Scatter(
                    name=name,
                    x=pd.to_datetime(rows["period"]).to_numpy(),
                    y=rows["median_days"].to_numpy(dtype=float),
                    mode="lines+markers",
                    line={"color": OUTCOME_COLORS.get(outcome, _color(i)) if not keys else _color(i), "width": 2},
                    customdata=_stat_hover(rows),
                    hovertemplate=f"<b>{name}</b> %{{x|%b %Y}}<br>" + STAT_HOVER + "<extra></extra>",
                )
            )
        fig.update_xaxes(type="date")
    elif keys:
        fig = _figure(title, " · ".join(keys), "median days", legend=True)
        for name, rows in _groups(frame, ["outcome"]):
            fig.add_trace(
                go.Bar(
                    name=name,
                    x=_labels(rows, keys),
                    y=rows["median_days"].to_numpy(dtype=float),
                    marker={"color": OUTCOME_COLORS.get(str(name), ACCENT)},
                    customdata=_stat_hover(rows),
                    hovertemplate=f"<b>%{{x}}</b> · {name}<br>" + STAT_HOVER + "<extra></extra>",
                )
            )
        fig.update_xaxes(type="category")
        fig.update_layout(barmode="group")
    else:
        fig = _figure(title, "outcome", "days", legend=True)
        outcomes = frame["outcome"].astype(str).tolist()
        hover = _stat_hover(frame)
        for column in ("median_days", "mean_days", "p90_days"):
            fig.add_trace(
                go.Bar(
                    name=STAT_NAMES[column],
                    x=outcomes,
                    y=frame[column].to_numpy(dtype=float),
                    text=[_num(v) for v in frame[column]],
                    textposition="outside",
                    textangle=0,
                    cliponaxis=False,
                    marker={"color": STAT_COLORS[column]},
                    customdata=hover,
                    hovertemplate="<b>%{x}</b>: %{customdata[0]} opportunities<br>" + STAT_HOVER + "<extra></extra>",
                )
            )
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=outcomes)
        fig.update_layout(barmode="group")
    fig.update_yaxes(**DAYS_AXIS)
    return fig


def time_in_stage_chart(frame: pd.DataFrame, title: str = "Time in stage") -> go.Figure:
    """Days spent in each state · status before leaving it: median and 90th percentile bars.

    An optional `entity` column (time_in_stage frames of several entities concatenated) prefixes
    the stage labels, so one chart can follow a deal from lead to invoice.
    """
    need = ["state", "status", "count", "mean_days", "median_days", "p90_days"]
    frame = _check(frame, need, "time_in_stage_chart")
    if frame.empty:
        return no_data(title)
    keys = _by(frame)
    stages = _stage_labels(frame)
    fig = _figure(
        title, "days in stage", "state · status", height=_height(len(set(stages)) * (2 if not keys else 1), per=24)
    )
    if keys:
        for i, (name, rows) in enumerate(_groups(frame, keys)):
            fig.add_trace(
                go.Bar(
                    name=name,
                    orientation="h",
                    y=_stage_labels(rows),
                    x=rows["median_days"].to_numpy(dtype=float),
                    marker={"color": _color(i)},
                    customdata=_stat_hover(rows),
                    hovertemplate=f"<b>%{{y}}</b> · {name}<br>" + STAT_HOVER + "<extra></extra>",
                )
            )
        fig.update_xaxes(title_text="median days in stage")
    else:
        hover = _stat_hover(frame)
        for column in ("median_days", "p90_days"):
            fig.add_trace(
                go.Bar(
                    name=STAT_NAMES[column],
                    orientation="h",
                    y=stages,
                    x=frame[column].to_numpy(dtype=float),
                    text=[_num(v) for v in frame[column]],
                    textposition="outside",
                    textangle=0,
                    cliponaxis=False,
                    marker={"color": STAT_COLORS[column]},
                    customdata=hover,
                    hovertemplate="<b>%{y}</b>: %{customdata[0]} times<br>" + STAT_HOVER + "<extra></extra>",
                )
            )
    fig.update_xaxes(**DAYS_AXIS)
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_layout(barmode="group")
    return fig


def _stage_labels(frame: pd.DataFrame) -> list[str]:
    """'state · status' per row ('won' when they agree), after 'entity:' when the frame has an entity column."""
    labels = [s if s == t else f"{s} · {t}" for s, t in zip(frame["state"].astype(str), frame["status"].astype(str))]
    if "entity" in frame.columns:
        labels = [f"{e}: {label}" for e, label in zip(frame["entity"].astype(str), labels)]
    return labels


def _value_chart(
    frame: pd.DataFrame,
    column: str,
    title: str,
    y_title: str,
    hover: Callable[[pd.DataFrame], list[list[str]]],
    template: str,
) -> go.Figure:
    """One value column per period (lines, one per by group) or per by value (bars)."""
    keys = _by(frame)
    if "period" in frame.columns:
        fig = _figure(title, "period", y_title, legend=bool(keys))
        for i, (name, rows) in enumerate(_groups(frame, keys)):
            fig.add_trace(
                go.Scatter(
                    name=name or y_title,
                    x=pd.to_datetime(rows["period"]).to_numpy(),
                    y=rows[column].to_numpy(dtype=float),
                    mode="lines+markers",
                    line={"color": _color(i) if keys else ACCENT, "width": 2},
                    marker={"size": 5},
                    customdata=hover(rows),
                    hovertemplate=("<b>" + name + "</b> " if name else "") + "%{x|%b %Y}<br>" + template,
                )
            )
        fig.update_xaxes(type="date")
    else:
        fig = _figure(title, " · ".join(keys) or "all", y_title, legend=False)
        fig.add_trace(
            go.Bar(
                name=y_title,
                x=_labels(frame, keys) if keys else ["all"] * len(frame),
                y=frame[column].to_numpy(dtype=float),
                text=[money(v) for v in frame[column]],
                textposition="outside",
                textangle=0,
                cliponaxis=False,
                marker={"color": ACCENT},
                customdata=hover(frame),
                hovertemplate="<b>%{x}</b><br>" + template,
            )
        )
        fig.update_xaxes(type="category", categoryorder="total descending")
    fig.update_yaxes(**MONEY_AXIS)
    return fig


def _velocity_hover(rows: pd.DataFrame) -> list[list[str]]:
    columns = [rows[c] for c in ("velocity", "opportunities", "avg_deal_size", "win_rate", "cycle_days")]
    return [[money(v), count(n), money(a), pct(w), days(c)] for v, n, a, w, c in zip(*columns)]


def velocity_chart(frame: pd.DataFrame, title: str = "Sales velocity: value per day") -> go.Figure:
    """Sales velocity (opportunities × deal size × win rate / cycle days) per period or by value."""
    need = ["opportunities", "avg_deal_size", "win_rate", "cycle_days", "velocity"]
    frame = _check(frame, need, "velocity_chart")
    if frame.empty:
        return no_data(title)
    template = (
        "velocity %{customdata[0]} per day<br>%{customdata[1]} opportunities × avg deal %{customdata[2]}"
        "<br>× win rate %{customdata[3]} / cycle %{customdata[4]}<extra></extra>"
    )
    return _value_chart(frame, "velocity", title, "value per day", _velocity_hover, template)


def _deal_hover(rows: pd.DataFrame) -> list[list[str]]:
    return [[money(a), count(w), money(v)] for a, w, v in zip(rows["avg_deal_size"], rows["won"], rows["won_value"])]


def deal_size_chart(frame: pd.DataFrame, title: str = "Average deal size (won)") -> go.Figure:
    """Average won deal size per period or by value."""
    need = ["won", "won_value", "avg_deal_size"]
    frame = _check(frame, need, "deal_size_chart")
    if frame.empty:
        return no_data(title)
    template = "average deal %{customdata[0]}<br>%{customdata[1]} won · value %{customdata[2]}<extra></extra>"
    return _value_chart(frame, "avg_deal_size", title, "average deal size", _deal_hover, template)
