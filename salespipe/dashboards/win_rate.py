"""The win-rate dashboard: win rate by owner, source, product and region and by period, each bar
and point with its Wilson interval and a flag on groups too small to judge; and the
opportunities behind any bar.

    dash = WinRateDashboard()                       # read-only on SALESPIPE_DB / data/salespipe.duckdb
    dash.filters["measure"].value = "win_rate_all"  # won / all instead of won / (won + lost)
    dash.controls["behind"].value = ("owner", "maria")
    dash.table                                      # the opportunities behind that bar (a DataFrame)
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import ipywidgets as W
import pandas as pd
import plotly.graph_objects as go

from .. import charts
from ..errors import SalespipeError
from . import figures
from ._base import Dashboard

BREAKDOWNS = ("owner", "source", "product", "region")
_SHARED = tuple(b for b in BREAKDOWNS if b != "product")
MEASURE_CHOICES = (("Won / (won + lost)", "win_rate"), ("Won / all (open count as not won)", "win_rate_all"))
TABLE_ROWS = 200
NOTHING = "choose a bar…"
PERIOD_LENGTH = {"week": pd.DateOffset(weeks=1), "month": pd.DateOffset(months=1), "quarter": pd.DateOffset(months=3)}


class WinRateDashboard(Dashboard):
    """Win rate by owner, source, product, region and period, with uncertainty; the deals behind a bar."""

    title = "Win rate"
    chart_names = tuple(f"by_{b}" for b in BREAKDOWNS) + ("trend",)

    def __init__(self, db: Any = None, *, measure: str = "win_rate", **kw: Any) -> None:
        self._measure = measure
        self.table = pd.DataFrame()
        behind = W.Dropdown(options=[(NOTHING, ())], value=(), description="Show the opportunities behind")
        behind.style.description_width = "initial"
        behind.layout.width = "520px"
        behind.add_class("sp-behind")
        self.controls: dict[str, W.Widget] = {"behind": behind}
        self.table_view = W.HTML()
        self.table_view.add_class("sp-table")
        super().__init__(db, **kw)
        behind.observe(lambda _: self._show_behind(), "value")

    def _extra_filters(self) -> dict[str, W.ValueWidget]:
        measure = W.Dropdown(
            options=MEASURE_CHOICES, value=self._measure, description="Win rate", layout=W.Layout(width="360px")
        )
        measure.add_class("sp-filter-measure")
        return {"measure": measure}

    def compute(self, options: dict[str, Any]) -> dict[str, pd.DataFrame]:
        period = self.filters["period"].value
        # owner, source, region and the trend in one pass; product (a join) on its own, so a period
        # change leaves it cached
        shared = self.frame("win_rates", by=_SHARED, period=period, **options)
        product = self.frame("win_rate", by="product", **options)
        frames = {f"by_{b}": product if b == "product" else shared[b] for b in BREAKDOWNS}
        frames["trend"] = shared["period"]
        return frames

    def draw(self, frames: dict[str, pd.DataFrame]) -> dict[str, go.Figure]:
        measure, period = self.filters["measure"].value, self.filters["period"].value
        out = {
            f"by_{b}": figures.win_rate_bars(
                frames[f"by_{b}"], b, measure, title=f"Win rate by {b}", min_deals=self.min_deals
            )
            for b in BREAKDOWNS
        }
        out["trend"] = figures.win_rate_trend(
            frames["trend"], measure, title=f"Win rate by {period} of opportunity creation", min_deals=self.min_deals
        )
        return out

    def _below(self) -> list[W.Widget]:
        return [self.controls["behind"], self.table_view]

    # -- the opportunities behind a bar ---------------------------------------------------------

    def _after_redraw(self) -> None:
        """Offer every bar and point just drawn; keep the chosen one if it is still there."""
        measure = self.filters["measure"].value
        choices: list[tuple[str, Any]] = [(NOTHING, ())]
        for b in BREAKDOWNS:
            frame = self.frames[f"by_{b}"]
            n = figures.trials(frame, measure)
            for label, value, deals in zip(figures.group_labels(frame, b), frame[b], n):
                if not charts._missing(value):
                    choices.append((f"{b} · {label} ({charts.count(deals)} deals)", (b, value)))
        trend = self.frames["trend"]
        for period, deals in zip(trend["period"], figures.trials(trend, measure)):
            start = pd.Timestamp(period)
            choices.append(
                (f"{self.filters['period'].value} of {start:%d %b %Y} ({charts.count(deals)} deals)", ("period", start))
            )
        behind = self.controls["behind"]
        current = behind.value
        behind.options = choices
        behind.value = current if current in [c[1] for c in choices] else ()
        self._show_behind()

    def behind_options(self, choice: tuple[str, Any]) -> dict[str, Any]:
        """The metric options for the opportunities behind `choice` (a (dimension, value) or ("period", start))."""
        options = self.options()
        kind, value = choice
        if kind != "period":
            options[kind] = value
            return options
        start = pd.Timestamp(value)
        end = start + PERIOD_LENGTH[self.filters["period"].value]
        lower = max(start, pd.Timestamp(options["start"])) if "start" in options else start
        upper = min(end, pd.Timestamp(options["end"])) if "end" in options else end
        options["start"], options["end"] = lower.to_pydatetime(), upper.to_pydatetime()
        return options

    def _show_behind(self) -> None:
        choice = self.controls["behind"].value
        if not choice:
            self.table = pd.DataFrame()
            self.table_view.value = ""
            return
        try:
            self.table = self.frame("opportunities", limit=TABLE_ROWS, **self.behind_options(choice))
        except SalespipeError as exc:
            self._fail(exc)
            return
        label = dict((v, k) for k, v in self.controls["behind"].options).get(choice, "")
        self.table_view.value = _table_html(self.table, label)


def _table_html(frame: pd.DataFrame, label: str) -> str:
    """The opportunities as an HTML table: money as money, dates as dates."""
    if frame.empty:
        return "<p>No opportunities.</p>"
    head = (
        f"<p><b>{html.escape(label)}</b>: the {len(frame):,} most recent opportunities"
        + (" (the first 200)" if len(frame) == TABLE_ROWS else "")
        + "</p>"
    )
    columns = [
        ("opportunity_id", "#", str, True),
        ("topic", "topic", str, False),
        ("account", "account", str, False),
        ("owner", "owner", str, False),
        ("source", "source", str, False),
        ("state", "state", str, False),
        ("estimated_value", "estimated", charts.money, True),
        ("actual_value", "actual", charts.money, True),
        ("created_at", "created", _day, False),
        ("closed_at", "closed", _day, False),
    ]
    header = "".join(f"<th>{html.escape(title)}</th>" for _, title, _, _ in columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for name, _, fmt, numeric in columns:
            value = getattr(row, name)
            text = "" if charts._missing(value) else fmt(value)
            cells.append(f'<td class="num">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"{head}<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _day(value: object) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d") if isinstance(value, pd.Timestamp | dt.datetime) else str(value)


__all__ = ["BREAKDOWNS", "MEASURE_CHOICES", "WinRateDashboard"]
