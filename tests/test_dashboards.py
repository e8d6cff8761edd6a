"""Spec of the manager dashboards (salespipe.dashboards), without a browser.

Each dashboard is driven the way a manager drives it (setting a filter's value, clicking
Refresh) and what it drew (`dash.figures`, the tiles, the table behind a bar) is read back and
compared with `salespipe.metrics` called with the same options. The dashboards open the database
read-only: they cannot write, and a writer in another process saves while one is open.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
import time

import ipywidgets as W
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from _dashboard_helpers import bars, lines, points
from _demo_db import demo_db_path
from _helpers import Child

import salespipe as sp
from salespipe import metrics, report
from salespipe.dashboards import ALL, FunnelDashboard, WinRateDashboard, stats
from salespipe.dashboards.figures import MISSING

PERIOD = {"week": "W-SUN", "month": "M", "quarter": "Q"}


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    return demo_db_path(tmp_path_factory)


@pytest.fixture(scope="module")
def db(path):
    return sp.connect(path, read_only=True)


@pytest.fixture(scope="module")
def win(path):
    dash = WinRateDashboard(path)
    yield dash
    dash.close()


@pytest.fixture(scope="module")
def funnel(path):
    dash = FunnelDashboard(path)
    yield dash
    dash.close()


@pytest.fixture
def copy(path, tmp_path):
    """A copy of the demo database that a test may write to."""
    target = tmp_path / "copy.duckdb"
    shutil.copy(path, target)
    return target


def settings(db) -> list[tuple[str, object, dict]]:
    """(filter, value, the metric options it stands for): one of every filter, and back to all."""
    owner = metrics.dimension_values(db, "owner")["value"].iloc[3]
    source = metrics.dimension_values(db, "source")["value"].iloc[1]
    product = metrics.dimension_values(db, "product")["value"].iloc[2]
    region = metrics.dimension_values(db, "region")["value"].iloc[0]
    account = metrics.dimension_values(db, "account", limit=5)["value"].iloc[0]
    return [
        ("owner", owner, {"owner": owner}),
        ("source", source, {"owner": owner, "source": source}),
        ("owner", ALL, {"source": source}),
        ("source", ALL, {}),
        ("product", product, {"product": product}),
        ("product", ALL, {}),
        ("region", region, {"region": region}),
        ("region", ALL, {}),
        ("account", account, {"account": account}),
        ("account", "", {}),
        ("start", dt.date(2025, 3, 1), {"start": dt.date(2025, 3, 1)}),
        ("end", dt.date(2025, 12, 31), {"start": dt.date(2025, 3, 1), "end": dt.date(2026, 1, 1)}),
        ("start", None, {"end": dt.date(2026, 1, 1)}),
        ("end", None, {}),
    ]


def expect_rates(figure: go.Figure, frame: pd.DataFrame, by: str, measure: str, min_deals: int) -> None:
    """The bars are the frame's rates, with the frame's Wilson intervals and small-group flags."""
    drawn = bars(figure).set_index("label")
    labels = [MISSING[by] if pd.isna(v) else str(v) for v in frame[by]]
    assert sorted(drawn.index) == sorted(labels)
    n = frame["won"] + frame["lost"] + (frame["open"] if measure == "win_rate_all" else 0)
    low, high = stats.wilson_interval(frame["won"], n)
    for label, rate, lo, hi, deals in zip(labels, frame[measure], low, high, n):
        bar = drawn.loc[label]
        assert bar["value"] == pytest.approx(0.0 if math.isnan(rate) else rate, abs=1e-12)
        if deals:
            assert (bar["low"], bar["high"]) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
        assert bar["flagged"] == (deals < min_deals)
    ranked = [r for r in drawn.sort_values("value", ascending=False, kind="mergesort").index]
    assert figure.layout.yaxis.categoryarray[-1] == ranked[0], "the highest rate is on top"


def expect_trend(figure: go.Figure, frame: pd.DataFrame, measure: str, min_deals: int) -> None:
    drawn = points(figure)
    assert drawn["period"].tolist() == pd.to_datetime(frame["period"]).tolist()
    np.testing.assert_allclose(drawn["value"], frame[measure], rtol=1e-12, equal_nan=True)
    n = frame["won"] + frame["lost"] + (frame["open"] if measure == "win_rate_all" else 0)
    low, high = stats.wilson_interval(frame["won"], n)
    closed = n.to_numpy() > 0
    np.testing.assert_allclose(drawn["low"][closed], low[closed], atol=1e-12)
    np.testing.assert_allclose(drawn["high"][closed], high[closed], atol=1e-12)
    assert drawn["flagged"].tolist() == (n < min_deals).tolist()


def expect_win_rate_dashboard(dash: WinRateDashboard, db, options: dict) -> None:
    measure, period = dash.filters["measure"].value, dash.filters["period"].value
    assert dash.error is None
    for by in ("owner", "source", "product", "region"):
        expect_rates(dash.figures[f"by_{by}"], metrics.win_rate(db, by=by, **options), by, measure, dash.min_deals)
    expect_trend(dash.figures["trend"], metrics.win_rate(db, period=period, **options), measure, dash.min_deals)
    assert period in dash.figures["trend"].layout.title.text
    expect_tiles(dash, db, options)


def expect_tiles(dash, db, options: dict) -> None:
    """The tiles are the report's key numbers for the same filters, and they are what the page shows."""
    shown = {k.key: (k.text, k.note) for k in dash.numbers}
    wanted = {k.key: (k.text, k.note) for k in report.key_numbers(report._Frames(db, options))}
    assert shown == wanted
    for text, note in shown.values():
        assert text in dash.tiles.value and note.replace(">", "&gt;") in dash.tiles.value


def expect_funnel_dashboard(dash: FunnelDashboard, db, options: dict) -> None:
    view, period = dash.filters["view"].value, dash.filters["period"].value
    assert dash.error is None
    frame = metrics.funnel(db, view, **options)
    drawn = dash.figures["funnel"].data[0]
    assert list(drawn.y) == frame["stage"].tolist()
    assert list(drawn.x) == frame["count"].tolist()
    for text, prev, first in zip(
        drawn.text[1:], frame["conversion_from_previous"][1:], frame["conversion_from_first"][1:]
    ):
        assert f"{sp.charts.pct(prev)} of previous" in text and f"{sp.charts.pct(first)} of leads" in text
    trend = metrics.funnel(db, view, period=period, **options)
    drawn_lines = lines(dash.figures["conversion_trend"])
    assert len(drawn_lines) == 5
    for i, stage in enumerate(metrics.FUNNEL_STAGES[1:], 1):
        rows = trend[trend["stage"] == stage]
        line = drawn_lines[f"{metrics.FUNNEL_STAGES[i - 1]} → {stage}"]
        assert line["period"].tolist() == pd.to_datetime(rows["period"]).tolist()
        np.testing.assert_allclose(line["value"], rows["conversion_from_previous"], rtol=1e-12, equal_nan=True)
    stays = metrics.time_in_stage(db, "opportunity", **options)
    median = dash.figures["time_in_stage"].data[0] if len(stays) else None
    if median is not None:
        np.testing.assert_allclose(median.x, stays["median_days"], rtol=1e-12)
        np.testing.assert_allclose(dash.figures["time_in_stage"].data[1].x, stays["p90_days"], rtol=1e-12)
    expect_tiles(dash, db, options)


# -- what is drawn is what the metrics say ------------------------------------------------------


def test_the_win_rate_dashboard_draws_the_metrics_for_every_filter(win, db):
    expect_win_rate_dashboard(win, db, {})
    for name, value, options in settings(db):
        win.filters[name].value = value
        expect_win_rate_dashboard(win, db, options)


@pytest.mark.parametrize("period", ["week", "quarter", "month"])
def test_the_win_rate_trend_follows_the_period(win, db, period):
    win.filters["period"].value = period
    expect_win_rate_dashboard(win, db, {})
    first = pd.Timestamp(points(win.figures["trend"])["period"].iloc[0])
    assert first == first.to_period(PERIOD[period]).start_time, "each point is the first day of its period"


def test_won_of_all_is_the_other_measure_with_its_own_intervals(win, db):
    win.filters["measure"].value = "win_rate_all"
    try:
        expect_win_rate_dashboard(win, db, {})
        assert "won / all" in win.figures["by_owner"].layout.xaxis.title.text
    finally:
        win.filters["measure"].value = "win_rate"


def test_the_funnel_dashboard_draws_the_metrics_for_every_filter_and_view(funnel, db):
    expect_funnel_dashboard(funnel, db, {})
    for name, value, options in settings(db):
        funnel.filters[name].value = value
        expect_funnel_dashboard(funnel, db, options)
    funnel.filters["view"].value = "activity"
    try:
        expect_funnel_dashboard(funnel, db, {})
        funnel.filters["owner"].value = settings(db)[0][1]
        expect_funnel_dashboard(funnel, db, settings(db)[0][2])
        funnel.filters["owner"].value = ALL
    finally:
        funnel.filters["view"].value = "cohort"


@pytest.mark.parametrize("period", ["week", "month", "quarter"])
def test_the_conversion_trend_follows_the_period(funnel, db, period):
    funnel.filters["period"].value = period
    expect_funnel_dashboard(funnel, db, {})


def test_several_filters_changed_at_once_redraw_once(win, db):
    owner, source = settings(db)[1][2]["owner"], settings(db)[1][2]["source"]
    drawn = []
    original = win.redraw
    win.redraw = lambda: (drawn.append(1), original())[1]
    try:
        with win.hold():
            win.filters["owner"].value = owner
            win.filters["source"].value = source
        win.redraw()
    finally:
        win.redraw = original
    assert drawn == [1]
    expect_win_rate_dashboard(win, db, {"owner": owner, "source": source})
    with win.hold():
        win.filters["owner"].value = win.filters["source"].value = ALL
    win.redraw()


# -- how it reads -------------------------------------------------------------------------------


def test_titles_say_what_is_shown_and_the_rule_for_small_groups_is_stated(win, funnel):
    assert win.figures["by_owner"].layout.title.text == "Win rate by owner"
    note = win.figures["by_owner"].layout.title.subtitle.text
    assert "95% Wilson interval" in note and f"fewer than {stats.MIN_DEALS} closed deals, too few to judge" in note
    assert "Hollow grey points" in win.figures["trend"].layout.title.subtitle.text
    assert win.figures["by_owner"].layout.xaxis.tickformat == ".0%"
    assert funnel.figures["funnel"].layout.title.text.startswith("Funnel: leads created in the range")
    text = bars(win.figures["by_source"])["text"]
    assert text.str.fullmatch(r"\d+\.\d% · n=[\d,]+( · too few)?").all(), "numbers on the bars: rate and deals"


def test_a_group_too_small_to_judge_is_flagged_grey_and_hatched(path):
    dash = WinRateDashboard(path, min_deals=60)
    try:
        drawn = bars(dash.figures["by_owner"])
        frame = metrics.win_rate(dash.db, by="owner")
        small = set(frame.loc[frame["won"] + frame["lost"] < 60, "owner"])
        assert small and set(drawn.loc[drawn["flagged"], "label"]) == small
        flagged = next(t for t in dash.figures["by_owner"].data if t.name.startswith("too few"))
        assert flagged.marker.pattern.shape == "/" and flagged.marker.color == "#9ca3af"
        assert all(t.endswith("too few") for t in flagged.text)
        assert "fewer than 60 closed deals" in dash.figures["by_owner"].layout.title.subtitle.text
    finally:
        dash.close()


def test_charts_go_out_as_plotly_mime_bundles_in_output_widgets_never_as_figure_widgets(win):
    def walk(widget):
        yield widget
        for child in getattr(widget, "children", ()):
            yield from walk(child)

    every = list(walk(win.widget))
    assert not [w for w in every if isinstance(w, go.FigureWidget) or "anywidget" in type(w).__module__]
    outputs = [w for w in every if isinstance(w, W.Output)]
    assert len(outputs) == 5
    for name, out in win.outputs.items():
        (shown,) = out.outputs
        bundle = shown["data"]["application/vnd.plotly.v1+json"]
        assert bundle["layout"]["title"]["text"] == win.figures[name].layout.title.text
        assert bundle["config"]["displaylogo"] is False and bundle["config"]["showSendToCloud"] is False
        assert f".sp-chart-{name} .jp-RenderedPlotly" in win.chart_css.value


# -- the opportunities behind a bar -------------------------------------------------------------


def test_choosing_a_bar_shows_the_opportunities_behind_it(win, db):
    owner = settings(db)[0][1]
    labels = dict((value, label) for label, value in win.controls["behind"].options)
    assert ("owner", owner) in labels and labels[("owner", owner)].startswith(f"owner · {owner} (")
    win.controls["behind"].value = ("owner", owner)
    expected = metrics.opportunities(db, owner=owner, limit=200)
    pd.testing.assert_frame_equal(win.table, expected)
    assert f"<td>{owner}</td>" in win.table_view.value and "<table>" in win.table_view.value
    frame = metrics.win_rate(db, by="owner", owner=owner)
    assert len(metrics.opportunities(db, owner=owner, limit=None)) == int(
        frame[["won", "lost", "open"]].sum(axis=1).iloc[0]
    )

    source = settings(db)[1][1]
    win.filters["source"].value = source  # the choice stays, narrowed by the new filter
    assert win.controls["behind"].value == ("owner", owner)
    pd.testing.assert_frame_equal(win.table, metrics.opportunities(db, owner=owner, source=source, limit=200))
    win.filters["source"].value = ALL
    win.controls["behind"].value = ()
    assert win.table.empty and win.table_view.value == ""


def test_choosing_a_period_point_shows_that_periods_opportunities(win, db):
    win.filters["period"].value = "quarter"
    quarter = pd.Timestamp("2025-04-01")
    win.controls["behind"].value = ("period", quarter)
    expected = metrics.opportunities(db, start=quarter, end=pd.Timestamp("2025-07-01"), limit=200)
    pd.testing.assert_frame_equal(win.table, expected)
    assert win.table["created_at"].between(quarter, pd.Timestamp("2025-07-01")).all()
    win.controls["behind"].value = ()
    win.filters["period"].value = "month"


def test_a_filter_shown_before_needs_no_query_until_the_file_changes(copy, db):
    dash = WinRateDashboard(copy)
    try:
        owner = settings(db)[0][1]
        asked = []
        real = {name: getattr(metrics, name) for name in ("win_rate", "win_rates")}
        for name, fn in real.items():
            setattr(metrics, name, lambda *a, _name=name, _fn=fn, **kw: (asked.append((_name, kw)), _fn(*a, **kw))[1])
        try:
            dash.filters["owner"].value = owner
            # owner, source, region and the trend in one pass; product on its own
            assert [name for name, _ in asked] == ["win_rates", "win_rate"]
            assert asked[1][1]["by"] == "product"
            dash.filters["owner"].value = ALL  # shown when the dashboard opened
            dash.filters["measure"].value = "win_rate_all"  # the same frames, drawn the other way
            assert len(asked) == 2
            dash.filters["period"].value = "quarter"  # the pass with the trend is new, the product frame is not
            assert len(asked) == 3 and asked[2][0] == "win_rates" and asked[2][1]["period"] == "quarter"
            _new_lead(copy, "somebody")  # the file changes: nothing cached is trusted any more
            dash.filters["owner"].value = owner
            assert len(asked) == 5
        finally:
            for name, fn in real.items():
                setattr(metrics, name, fn)
        expect_win_rate_dashboard(dash, sp.connect(copy, read_only=True), {"owner": owner})
    finally:
        dash.close()


# -- refresh, auto-refresh, errors --------------------------------------------------------------


def _new_lead(path, owner: str) -> int:
    return sp.leads.create(sp.connect(path), last_name="Refresh", company="Refresh Ltd", owner=owner, source="web")


def test_refresh_shows_a_lead_saved_since_and_a_new_owner(copy):
    dash = FunnelDashboard(copy)
    try:
        before = next(k for k in dash.numbers if k.key == "leads").value
        _new_lead(copy, "newcomer")
        assert next(k for k in dash.numbers if k.key == "leads").value == before  # drawn from the data as it was
        dash.buttons["Refresh"].click()
        assert next(k for k in dash.numbers if k.key == "leads").value == before + 1
        assert "newcomer" in dash.filters["owner"].options
        dash.filters["owner"].value = "newcomer"
        assert list(dash.figures["funnel"].data[0].x)[0] == 1
    finally:
        dash.close()


def test_auto_refresh_redraws_on_its_own_and_stops_when_the_widget_closes(copy):
    dash = WinRateDashboard(copy, auto_refresh=0.2)
    try:
        assert dash.auto_refreshing
        before = next(k for k in dash.numbers if k.key == "leads").value
        _new_lead(copy, "timer")
        deadline = time.monotonic() + 20
        while next(k for k in dash.numbers if k.key == "leads").value == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert next(k for k in dash.numbers if k.key == "leads").value == before + 1
        dash.auto_refresh.value = 30  # the dropdown restarts the timer with its interval
        assert dash.auto_refreshing and dash._timer.seconds == 30
        dash.auto_refresh.value = 0
        assert not dash.auto_refreshing
        dash.start_auto_refresh(0.2)
        thread = dash._timer._thread
    finally:
        dash.widget.close()
    assert not dash.auto_refreshing and not thread.is_alive()


def test_a_missing_database_is_a_short_message_and_refresh_tries_again(tmp_path, path):
    missing = tmp_path / "later.duckdb"
    dash = FunnelDashboard(missing)
    try:
        assert dash.error and "does not exist" in dash.error and "Traceback" not in dash.message.value
        assert "sp-msg-error" in dash.message.value and dash.figures == {}
        shutil.copy(path, missing)
        dash.buttons["Refresh"].click()
        assert dash.error is None and dash.message.value == "" and set(dash.figures) == set(dash.chart_names)
    finally:
        dash.close()


def test_a_date_range_that_ends_before_it_starts_says_so_and_keeps_the_charts(win):
    drawn = dict(win.figures)
    with win.hold():
        win.filters["start"].value = dt.date(2025, 6, 1)
    win.filters["end"].value = dt.date(2025, 1, 1)
    try:
        assert "start" in win.error and "must be before end" in win.message.value
        assert win.figures == drawn
    finally:
        with win.hold():
            win.filters["end"].value = None
        win.filters["start"].value = None
    assert win.error is None


# -- read-only ----------------------------------------------------------------------------------


def test_a_dashboard_reads_through_a_read_only_handle_and_cannot_write(copy):
    writer = sp.connect(copy)
    dash = WinRateDashboard(writer)  # given a read-write handle, it opens its own read-only one
    try:
        assert dash.db is not writer and dash.db.read_only and dash.db.path == writer.path
        with pytest.raises(sp.ReadOnly):
            sp.leads.create(dash.db, last_name="Nope", company="Nope Ltd")
        with pytest.raises(sp.ReadOnly):
            dash.db.sql("DELETE FROM leads")
        assert writer.sql("SELECT count(*) AS n FROM leads WHERE last_name = 'Nope'")["n"].iloc[0] == 0
    finally:
        dash.close()


@pytest.mark.slow
def test_while_a_dashboard_is_open_and_refreshing_a_writer_elsewhere_saves_without_waiting(copy, tmp_path):
    dash = WinRateDashboard(copy, auto_refresh=0.05)  # refreshing as fast as it can, on a thread
    start = tmp_path / "go"
    writer = Child.worker("writer", copy, start, "Writer", 60)
    try:
        writer.expect("READY", timeout=60)
        start.touch()
        for owner in list(dash.filters["owner"].options)[1:6]:
            dash.filters["owner"].value = owner  # and a manager clicking around meanwhile
        done = writer.expect_json("DONE", timeout=120)
        assert writer.wait(timeout=30) == 0, writer.output()
    finally:
        writer.kill()
        dash.close()
    assert len(done["created"]) == 60
    assert done["slowest"] < 2.0, f"a save waited {done['slowest']:.2f} s for the dashboard"
    assert dash.error is None
