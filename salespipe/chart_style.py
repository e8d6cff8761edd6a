"""How the charts look and show numbers: the colors, the plotly template and figure frame, the
number formats, and the checks of a frame's columns that every chart of `salespipe.charts` and
`salespipe.dashboards` shares (display only: no metric is computed here).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence

import pandas as pd
import plotly.graph_objects as go

from .errors import ValidationError

BY_COLUMNS = ("owner", "source", "product", "account", "region")

# One meaning, one color, on every chart.
ACCENT = "#2563eb"
ACCENT_LIGHT = "#93c5fd"
OUTCOME_COLORS = {"won": "#16a34a", "lost": "#dc2626", "open": "#9ca3af", "all": "#475569"}
STAGE_COLORS = {
    "lead": "#1e3a8a",
    "qualified": "#1d4ed8",
    "quoted": "#3b82f6",
    "won": "#16a34a",
    "invoiced": "#0d9488",
    "paid": "#047857",
}
STAT_COLORS = {"median_days": ACCENT, "mean_days": "#f59e0b", "p90_days": ACCENT_LIGHT}
STAT_NAMES = {"median_days": "median", "mean_days": "mean", "p90_days": "90th percentile"}
PALETTE = ("#2563eb", "#f59e0b", "#16a34a", "#dc2626", "#7c3aed", "#0d9488", "#db2777", "#65a30d", "#ea580c", "#475569")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

# plotly config for showing these figures: no plotly logo, and no "Share chart" button (plotly.js 4
# would upload the chart, with its data, to Plotly Cloud). Use fig.show(config=CONFIG) in notebooks.
CONFIG = {
    "displaylogo": False,
    "showSendToCloud": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["sendChartToCloud", "select2d", "lasso2d"],
}

PERCENT_AXIS = {"tickformat": ".0%", "rangemode": "tozero"}
MONEY_AXIS = {"tickformat": ",.0f", "rangemode": "tozero"}
DAYS_AXIS = {"tickformat": ",.0f", "rangemode": "tozero"}


# -- formatting (display only) ----------------------------------------------------------------


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def pct(value: object) -> str:
    """0.4213 -> '42.1%'; missing -> 'n/a'."""
    return "n/a" if _missing(value) else f"{float(value):.1%}"


def money(value: object) -> str:
    """1234567.8 -> '1,234,568'; missing -> 'n/a'."""
    return "n/a" if _missing(value) else f"{float(value):,.0f}"


def days(value: object) -> str:
    """12.345 -> '12.3 days'; missing -> 'n/a'."""
    return "n/a" if _missing(value) else f"{float(value):,.1f} days"


def _num(value: object) -> str:
    """12.345 -> '12.3' (a bar label; the axis names the unit)."""
    return "" if _missing(value) else f"{float(value):,.1f}"


def count(value: object) -> str:
    """12345 -> '12,345'; missing -> 'n/a'."""
    return "n/a" if _missing(value) else f"{int(value):,}"


def _period_label(value: object) -> str:
    return "n/a" if _missing(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


# -- frame handling ---------------------------------------------------------------------------


def _check(frame: object, required: Sequence[str], chart: str) -> pd.DataFrame:
    """The frame, if it is a DataFrame with every required column; else ValidationError."""
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(
            f"{chart} takes a pandas DataFrame from salespipe.metrics, not {type(frame).__name__}",
            field="frame",
            value=type(frame).__name__,
        )
    for column in required:
        if column not in frame.columns:
            raise ValidationError(
                f"{chart}: the frame has no column {column!r} (it has {', '.join(map(str, frame.columns)) or 'none'}); "
                "pass the frame the matching salespipe.metrics function returns",
                field=column,
            )
    return frame


def _by(frame: pd.DataFrame, by: str | Sequence[str] | None = None) -> list[str]:
    """The group columns: `by` when given (checked), else the frame's known by columns."""
    if by is None:
        return [c for c in BY_COLUMNS if c in frame.columns]
    return [by] if isinstance(by, str) else list(by)


def _label(values: Sequence[object]) -> str:
    parts = [_period_label(v) if isinstance(v, pd.Timestamp) else ("n/a" if _missing(v) else str(v)) for v in values]
    return " · ".join(parts)


def _groups(frame: pd.DataFrame, keys: Sequence[str]) -> Iterator[tuple[str | None, pd.DataFrame]]:
    """(label, rows) per group of `keys`, in frame order; one unnamed group when there are no keys."""
    if not keys:
        yield None, frame
        return
    for values, rows in frame.groupby(list(keys), sort=False, dropna=False):
        yield _label(values if isinstance(values, tuple) else (values,)), rows


def _labels(frame: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """One category label per row from the key columns."""
    return [_label(row) for row in frame[list(keys)].itertuples(index=False, name=None)]


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


# -- figures ----------------------------------------------------------------------------------


@functools.cache
def _template() -> go.layout.Template:
    """A light white template (plotly_white's look without its per-trace defaults, which are slow to copy)."""
    axis = {
        "gridcolor": "#eef0f3",
        "linecolor": "#d1d5db",
        "zerolinecolor": "#d1d5db",
        "ticks": "",
        "title": {"standoff": 12},
    }
    return go.layout.Template(
        layout={
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "colorway": list(PALETTE),
            "xaxis": axis,
            "yaxis": axis,
            "hovermode": "closest",
            "hoverlabel": {"align": "left"},
        }
    )


def _figure(title: str, x_title: str, y_title: str, *, height: int = 440, legend: bool = True) -> go.Figure:
    fig = go.Figure(layout={"template": _template()})
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 17}},
        font={"family": FONT, "size": 13, "color": "#1f2937"},
        height=height,
        margin={"l": 70, "r": 30, "t": 70, "b": 60},
        hoverlabel={"font": {"family": FONT, "size": 13}},
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        separators=".,",
    )
    fig.update_xaxes(title_text=x_title, automargin=True)
    fig.update_yaxes(title_text=y_title, automargin=True)
    return fig


def no_data(title: str) -> go.Figure:
    """A figure that says "no data" (an empty frame)."""
    fig = _figure(title, "", "", height=300, legend=False)
    fig.add_annotation(
        text="no data", x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 20, "color": "#6b7280"}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _height(categories: int, per: int = 28) -> int:
    """Figure height for a horizontal bar chart of `categories` bars."""
    return max(440, min(1400, 110 + per * categories))
