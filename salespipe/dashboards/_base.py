"""What every dashboard shares: the read-only database, the filters, the key-number tiles, the
Refresh button and auto-refresh, and drawing figures into `Output` widgets.

A dashboard is scriptable like the forms: `dash.filters["owner"].value = "maria"` redraws every
chart, `dash.buttons["Refresh"].click()` reloads the data, `dash.figures` holds the plotly
figures as drawn and `dash.widget` is what a notebook shows. Charts go out as plotly mime
bundles in `ipywidgets.Output` widgets (~20 kB a page), never as `FigureWidget`s (which ship
~5 MB of plotly.js per chart per visitor). Dashboards hold no business rules: every number
comes from `salespipe.metrics`.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as W
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from .. import charts, metrics, report
from ..db import Database
from ..errors import SalespipeError, ValidationError
from ..sqlnotebook import read_only_database
from . import stats

ALL = "(all)"  # the value of a filter that keeps everything: dash.filters["owner"].value = ALL
PERIODS = (("Week", "week"), ("Month", "month"), ("Quarter", "quarter"))
AUTO_REFRESH = (("off", 0), ("every 30 s", 30), ("every minute", 60), ("every 5 minutes", 300))
ACCOUNT_CHOICES = 500  # accounts offered in the account box (most opportunities first); any name can be typed
FILTERS = ("start", "end", "owner", "source", "product", "region", "account")

CSS = """<style>
.sp-dash { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #1f2937; }
.sp-dash h2 { margin: 4px 0 2px; font-size: 22px; }
.sp-dash .meta { color: #6b7280; font-size: 13px; }
.sp-kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; margin: 8px 0; }
.sp-kpi { background: #fff; border: 1px solid #e5e7eb; border-radius: 10px; padding: 10px 16px; }
.sp-kpi .label { color: #6b7280; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.sp-kpi .value { font-size: 24px; font-weight: 650; margin: 2px 0; font-variant-numeric: tabular-nums; }
.sp-kpi .note { color: #6b7280; font-size: 12px; }
.sp-msg-error { color: #b91c1c; font-weight: 600; }
.sp-dash .sp-row { gap: 4px 12px; }
.sp-table table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
.sp-table th, .sp-table td { border-bottom: 1px solid #e5e7eb; padding: 3px 10px; text-align: left; }
.sp-table td.num { text-align: right; }
</style>"""


def open_database(db: Database | str | os.PathLike[str] | None = None) -> Database:
    """The read-only handle a dashboard reads through (see `sqlnotebook.read_only_database`).

    None: SALESPIPE_DB, else data/salespipe.duckdb, as `sp.connect()` chooses, but never
    created, migrated or written. A read-write `Database` gets a read-only one on its file.
    """
    return read_only_database(db)


def wait_for_visitor() -> None:
    """Under voila with pre-heated kernels, wait here until a manager opens the page.

    A pre-heated kernel runs its notebook before anyone visits; a dashboard built then would
    show data as old as the kernel. Called between the imports and the dashboard, it lets the
    slow part (starting Python, importing pandas, plotly, ipywidgets) happen ahead while the data
    is read when the page is opened. Anywhere else (JupyterLab, nbval, plain voila) it returns at once.
    """
    if os.environ.get("VOILA_PREHEAT", "False") != "False":
        from voila.utils import wait_for_request

        _warm_up()
        wait_for_request()


def _warm_up() -> None:
    """What a first redraw pays once per process, paid ahead: DuckDB's first open, plotly's JSON."""
    pio.to_json(go.Figure({"data": [{"type": "bar", "x": [1]}]}), validate=False)
    try:
        open_database(None).schema_version()  # opens and releases the file: nothing is held
    except SalespipeError:
        pass  # the dashboard will say what is wrong when it is opened


def plotly_bundle(figure: go.Figure) -> dict[str, Any]:
    """The display data `fig.show()` sends with the plotly mime renderer, with salespipe's config."""
    spec = json.loads(pio.to_json(figure, validate=False))
    spec["config"] = charts.CONFIG
    title = figure.layout.title.text or "chart"
    return {"application/vnd.plotly.v1+json": spec, "text/plain": f"<chart: {title}>"}


def chart_height(figure: go.Figure) -> int:
    """The height a figure asks for, in pixels (plotly's default when it does not)."""
    return int(figure.layout.height or 450)


def show(output: W.Output, figure: go.Figure) -> None:
    """Replace what `output` shows with `figure`, in one update (no flicker, safe from a timer thread)."""
    output.outputs = ({"output_type": "display_data", "data": plotly_bundle(figure), "metadata": {}},)


class AutoRefresh:
    """Call `callback` every `seconds` on a daemon thread until stopped (or the dashboard closes)."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self.seconds = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, seconds: float) -> None:
        """(Re)start with a new interval; 0 stops."""
        self.stop()
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValidationError(f"auto-refresh takes a number of seconds >= 0, got {seconds!r}", field="auto_refresh")
        self.seconds = float(seconds)
        if not seconds:
            return
        stop = threading.Event()
        self._stop = stop
        self._thread = threading.Thread(target=self._run, args=(stop,), name="salespipe-auto-refresh", daemon=True)
        self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.seconds):
            self._callback()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._stop = self._thread = None
        self.seconds = 0.0


class DashboardBox(W.VBox):
    """The dashboard's top widget; closing it stops the dashboard's timer too."""

    def __init__(self, dashboard: Dashboard, **kw: Any) -> None:
        super().__init__(**kw)
        self._dashboard = dashboard

    def close(self) -> None:
        dashboard, self._dashboard = self._dashboard, None
        if dashboard is not None:
            dashboard.close()
        super().close()


def _dropdown(name: str, label: str) -> W.Dropdown:
    widget = W.Dropdown(options=[ALL], value=ALL, description=label, layout=W.Layout(width="240px"))
    widget.add_class(f"sp-filter-{name}")
    return widget


class Dashboard:
    """The shared part. Subclasses set `title`, `chart_names` and implement `compute` and `draw`."""

    title = "Dashboard"
    chart_names: tuple[str, ...] = ()

    def __init__(
        self,
        db: Database | str | os.PathLike[str] | None = None,
        *,
        period: str = "month",
        auto_refresh: float = 0,
        min_deals: int = stats.MIN_DEALS,
    ) -> None:
        stats.too_small(0, min_deals)  # checks min_deals
        self.min_deals = min_deals
        self._source = db
        self.db: Database | None = None
        self._lock = threading.RLock()
        self._holding = 0
        self.figures: dict[str, go.Figure] = {}
        self.frames: dict[str, pd.DataFrame] = {}
        self.numbers: list[report.KeyNumber] = []
        self._cache: dict[tuple, pd.DataFrame] = {}  # metric frames of the data as last read (see `frame`)
        self._stamp: tuple | None = None
        self.seconds: dict[str, float] = {}
        self.error: str | None = None
        self.filters: dict[str, W.ValueWidget] = {
            "start": W.DatePicker(description="From", layout=W.Layout(width="240px")),
            "end": W.DatePicker(description="To", layout=W.Layout(width="240px")),
            "owner": _dropdown("owner", "Owner"),
            "source": _dropdown("source", "Source"),
            "product": _dropdown("product", "Product"),
            "region": _dropdown("region", "Region"),
            "account": W.Combobox(
                placeholder="all accounts", description="Account", ensure_option=False, layout=W.Layout(width="240px")
            ),
            "period": W.Dropdown(options=PERIODS, value=period, description="Period", layout=W.Layout(width="240px")),
        }
        self.filters["start"].add_class("sp-filter-start")
        self.filters["end"].add_class("sp-filter-end")
        self.filters["account"].add_class("sp-filter-account")
        self.filters["period"].add_class("sp-filter-period")
        self.filters.update(self._extra_filters())
        refresh = W.Button(description="Refresh", icon="refresh", tooltip="Reload the data from the database")
        refresh.add_class("sp-refresh")
        refresh.on_click(lambda _: self.refresh())
        self.buttons: dict[str, W.Button] = {"Refresh": refresh}
        self.auto_refresh = W.Dropdown(
            options=AUTO_REFRESH, value=0, description="Auto-refresh", style={"description_width": "initial"}
        )
        self.auto_refresh.add_class("sp-auto-refresh")
        self._timer = AutoRefresh(self._tick)
        self.header = W.HTML()
        self.chart_css = W.HTML()  # each chart's height: plotly's resize drops a height given without a width
        self.message = W.HTML()
        self.message.add_class("sp-message")
        self.tiles = W.HTML()
        self.tiles.add_class("sp-tiles")
        self.outputs: dict[str, W.Output] = {}
        for name in self.chart_names:
            out = W.Output(layout=W.Layout(min_width="420px", flex="1 1 560px"))
            out.add_class(f"sp-chart-{name}")
            self.outputs[name] = out
        self.updated_at: dt.datetime | None = None
        try:
            with self.hold():
                self._open()
                self.load_choices()
        except SalespipeError as exc:  # no database yet, or not readable: say so; Refresh tries again
            self._fail(exc)
        for widget in self.filters.values():
            widget.observe(self._changed, "value")
        self.auto_refresh.observe(lambda change: self._timer.start(change["new"]), "value")
        self.widget = DashboardBox(self, children=self._layout())
        self.widget.add_class("sp-dash")
        self.redraw()
        if auto_refresh:
            self.start_auto_refresh(auto_refresh)

    # -- to implement ---------------------------------------------------------------------------

    def _extra_filters(self) -> dict[str, W.ValueWidget]:
        return {}

    def compute(self, options: dict[str, Any]) -> dict[str, pd.DataFrame]:
        """The metric frames for the current filters (`options` are metric keyword arguments)."""
        raise NotImplementedError

    def draw(self, frames: dict[str, pd.DataFrame]) -> dict[str, go.Figure]:
        """The figures of the frames, one per name in `chart_names`."""
        raise NotImplementedError

    def _below(self) -> list[W.Widget]:
        """Widgets under the charts (the drill-down of the win-rate dashboard)."""
        return []

    # -- layout ---------------------------------------------------------------------------------

    def _layout(self) -> list[W.Widget]:
        filters = W.Box([self.filters[n] for n in self.filters], layout=W.Layout(flex_flow="row wrap"))
        actions = W.Box([self.buttons["Refresh"], self.auto_refresh], layout=W.Layout(flex_flow="row wrap"))
        charts_box = W.Box(list(self.outputs.values()), layout=W.Layout(flex_flow="row wrap"))
        for box in (filters, actions, charts_box):
            box.add_class("sp-row")
        return [
            W.HTML(CSS),
            self.chart_css,
            self.header,
            filters,
            actions,
            self.message,
            self.tiles,
            charts_box,
            *self._below(),
        ]

    # -- filters --------------------------------------------------------------------------------

    def _open(self) -> Database:
        if self.db is None:
            self.db = open_database(self._source)
        return self.db

    def load_choices(self) -> None:
        """Fill the owner, source, product, region and account choices (keeping what is selected)."""
        db = self._open()
        for name in ("owner", "source", "product", "region"):
            values = metrics.dimension_values(db, name)["value"].tolist()
            widget = self.filters[name]
            current = widget.value
            options = [ALL, *(str(v) for v in values)]
            if current not in options:  # chosen before it disappeared: keep showing what was asked for
                options.append(current)
            widget.options = options
            widget.value = current
        accounts = metrics.dimension_values(db, "account", limit=ACCOUNT_CHOICES)["value"].tolist()
        self.filters["account"].options = [str(a) for a in accounts]

    def options(self) -> dict[str, Any]:
        """The metric keyword arguments the filters stand for (`end` is the day after "To")."""
        f = self.filters
        out: dict[str, Any] = {}
        if f["start"].value is not None:
            out["start"] = f["start"].value
        if f["end"].value is not None:
            out["end"] = f["end"].value + dt.timedelta(days=1)
        for name in ("owner", "source", "product", "region"):
            if f[name].value != ALL:
                out[name] = f[name].value
        if f["account"].value.strip():
            out["account"] = f["account"].value.strip()
        return out

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Change several filters, then redraw once when the block ends."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1

    def _changed(self, change: dict) -> None:
        if not self._holding:
            self.redraw()

    # -- drawing --------------------------------------------------------------------------------

    def frame(self, metric: str, **options: Any) -> Any:
        """`metrics.<metric>(db, **options)` (a frame, or a dict of them), once per state of the database file.

        Going back to a filter already shown, or changing only the period or the measure, needs
        no query for what did not change. The frames are dropped as soon as the file changes
        (its size or modification time: every committed write changes them) and on Refresh.
        """
        key = (metric, tuple(sorted(options.items())))
        if key not in self._cache:
            self._cache[key] = getattr(metrics, metric)(self._open(), **options)
        return self._cache[key]

    def _file_stamp(self) -> tuple | None:
        if self.db is None or self.db.memory:
            return None
        stamp = []
        for path in (self.db.path, f"{self.db.path}.wal"):
            try:
                st = os.stat(path)
                stamp.append((st.st_size, st.st_mtime_ns, st.st_ctime_ns))
            except OSError:
                stamp.append(None)
        return tuple(stamp)

    def _check_cache(self) -> None:
        stamp = self._file_stamp()
        if stamp is None or stamp != self._stamp:
            self._cache.clear()
            self._stamp = stamp

    def refresh(self) -> None:
        """Re-read the choices and every chart from the database (new leads show up)."""
        try:
            with self._lock, self.hold():
                self._cache.clear()
                self._stamp = self._file_stamp()
                self.load_choices()
        except SalespipeError as exc:
            self._fail(exc)
            return
        self.redraw()

    def redraw(self) -> None:
        """Recompute the frames for the current filters and draw every chart and tile."""
        with self._lock:
            started = time.perf_counter()
            try:
                db = self._open()
                options = self.options()
                self._check_cache()
                with metrics.together(db):
                    frames = self.compute(options)
                    numbers = report.summary_numbers(self.frame("summary", **options))
                figures = self.draw(frames)
            except SalespipeError as exc:
                self._fail(exc)
                return
            self.seconds["compute_and_draw"] = time.perf_counter() - started
            self.frames, self.figures, self.numbers = frames, figures, numbers
            self.chart_css.value = (
                "<style>"
                + "".join(
                    f".sp-chart-{name} .jp-RenderedPlotly {{ height: {chart_height(fig)}px; }}"
                    for name, fig in figures.items()
                )
                + "</style>"
            )
            for name, figure in figures.items():
                show(self.outputs[name], figure)
            self.tiles.value = _tiles(numbers)
            self.error = None
            self.message.value = ""
            self.updated_at = dt.datetime.now()
            self.header.value = self._header(options)
            self._after_redraw()
            self.seconds["total"] = time.perf_counter() - started

    def _after_redraw(self) -> None:
        """Hook: what follows the charts (the drill-down table)."""

    def _fail(self, exc: SalespipeError) -> None:
        self.error = str(exc)
        self.message.value = f'<span class="sp-msg-error">{html.escape(str(exc))}</span>'

    def _header(self, options: dict[str, Any]) -> str:
        shown = ", ".join(f"{k} {v}" for k, v in options.items()) or "no filters"
        when = self.updated_at.strftime("%H:%M:%S") if self.updated_at else "-"
        where = os.path.basename(self.db.path) if self.db is not None else "no database"
        return (
            f"<div class='meta'>{html.escape(self.title)} · {html.escape(where)} (read-only) · "
            f"{html.escape(shown)} · updated {when}</div>"
        )

    def summary(self) -> str:
        """One line on what the data covers (the key numbers in words), or the error shown."""
        if self.error is not None or not self.numbers:
            return f"{self.title}: {self.error or 'no data'}"
        k = {n.key: n for n in self.numbers}
        return (
            f"{self.title}, read-only: {k['leads'].text} leads · win rate {k['win_rate'].text} "
            f"({k['win_rate'].note}) · open pipeline {k['open_pipeline'].text} ({k['open_pipeline'].note})"
        )

    # -- auto-refresh and closing ---------------------------------------------------------------

    def start_auto_refresh(self, seconds: float) -> None:
        """Refresh every `seconds` until stopped or closed (the dropdown offers 30 s to 5 minutes)."""
        self._timer.start(seconds)

    def stop_auto_refresh(self) -> None:
        self._timer.stop()

    @property
    def auto_refreshing(self) -> bool:
        return self._timer.running

    def _tick(self) -> None:
        """One auto-refresh: re-read only when the database file changed (else nothing is sent)."""
        try:
            if self.db is None or self._file_stamp() != self._stamp:
                self.refresh()
        except Exception as exc:  # a timer thread must not die silently: say it on the dashboard
            self._fail(SalespipeError(f"auto-refresh failed: {type(exc).__name__}: {exc}"))

    def close(self) -> None:
        """Stop the timer and close every widget."""
        self._timer.stop()
        widget = getattr(self, "widget", None)
        if isinstance(widget, DashboardBox) and widget._dashboard is not None:
            widget._dashboard = None
            widget.close()
        for w in [*self.filters.values(), *self.buttons.values(), *self.outputs.values(), self.auto_refresh]:
            w.close()

    def _repr_mimebundle_(self, **kw: Any) -> dict | None:
        return self.widget._repr_mimebundle_(**kw)


def _tiles(numbers: list[report.KeyNumber]) -> str:
    cards = "".join(
        f'<div class="sp-kpi" data-key="{html.escape(k.key)}"><div class="label">{html.escape(k.label)}</div>'
        f'<div class="value">{html.escape(k.text)}</div><div class="note">{html.escape(k.note)}</div></div>'
        for k in numbers
    )
    return f'<div class="sp-kpis">{cards}</div>'
