"""salespipe.charts draws metric frames as they are: trace data equals the frame's columns.

Frames are built by hand in the shapes of docs/metrics.md, so these tests pin the charts to the
contract rather than to today's metric values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import salespipe as sp
from salespipe import charts

NAN = float("nan")
STAGES = ["lead", "qualified", "quoted", "won", "invoiced", "paid"]


def funnel_frame(scale: int = 1000) -> pd.DataFrame:
    counts = np.array([scale, scale * 4 // 10, scale * 3 // 10, scale // 8, scale // 10, scale // 12], dtype="int64")
    previous = np.concatenate([[counts[0]], counts[:-1]])
    return pd.DataFrame(
        {
            "stage": STAGES,
            "stage_order": np.arange(1, 7, dtype="int64"),
            "count": counts,
            "conversion_from_previous": counts / previous,
            "conversion_from_first": counts / counts[0],
        }
    )


def win_rate_frame() -> pd.DataFrame:
    won = np.array([40, 12, 0], dtype="int64")
    lost = np.array([60, 6, 0], dtype="int64")
    open_ = np.array([5, 2, 3], dtype="int64")
    with np.errstate(invalid="ignore"):
        rate = won / (won + lost)
    return pd.DataFrame(
        {
            "owner": ["ana", "bo", "cy"],
            "won": won,
            "lost": lost,
            "open": open_,
            "win_rate": rate,
            "won_value": [812345.5, 99000.0, 0.0],
            "win_rate_all": won / (won + lost + open_),
        }
    )


def trend_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]),
            "won": np.array([10, 12, 3], dtype="int64"),
            "lost": np.array([15, 10, 2], dtype="int64"),
            "open": np.array([0, 1, 20], dtype="int64"),
            "win_rate": [0.4, 12 / 22, 0.6],
            "won_value": [1e5, 1.2e5, 3e4],
            "win_rate_all": [0.4, 12 / 23, 0.12],
        }
    )


def pipeline_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "phase": ["qualify", "develop", "propose"],
            "phase_order": np.array([1, 2, 3], dtype="int64"),
            "count": np.array([30, 5, 12], dtype="int64"),
            "value": [1_234_567.0, 250_000.0, 3_000_000.5],
            "weighted_value": [123_456.7, 50_000.0, 1_500_000.25],
        }
    )


def cycle_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "outcome": ["won", "lost", "all"],
            "count": np.array([40, 60, 100], dtype="int64"),
            "mean_days": [30.5, 25.25, 27.4],
            "median_days": [28.0, 22.0, 25.0],
            "p90_days": [55.0, 50.0, 52.5],
        }
    )


def time_in_stage_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "state": ["draft", "active", "closed"],
            "status": ["in_progress", "open", "lost"],
            "count": np.array([100, 90, 3], dtype="int64"),
            "mean_days": [2.5, 11.0, 4.0],
            "median_days": [1.75, 7.25, 3.0],
            "p90_days": [3.9, 23.5, NAN],
        }
    )


def velocity_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": pd.to_datetime(["2025-01-01", "2025-04-01"]),
            "opportunities": np.array([100, 120], dtype="int64"),
            "avg_deal_size": [20000.0, 21000.0],
            "win_rate": [0.4, 0.42],
            "cycle_days": [30.0, 32.0],
            "velocity": [26666.67, 33075.0],
        }
    )


def deal_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["web", "referral"],
            "won": np.array([10, 4], dtype="int64"),
            "won_value": [200000.0, 120000.0],
            "avg_deal_size": [20000.0, 30000.0],
        }
    )


# chart, frame factory, extra args, the columns the chart must have
CASES = {
    "funnel": (
        charts.funnel_chart,
        funnel_frame,
        (),
        ["stage", "count", "conversion_from_previous", "conversion_from_first"],
    ),
    "win_rate": (
        charts.win_rate_chart,
        win_rate_frame,
        ("owner",),
        ["owner", "won", "lost", "open", "win_rate", "won_value", "win_rate_all"],
    ),
    "trend": (
        charts.win_rate_trend_chart,
        trend_frame,
        (),
        ["period", "won", "lost", "open", "win_rate", "win_rate_all"],
    ),
    "pipeline": (charts.pipeline_chart, pipeline_frame, (), ["phase", "count", "value", "weighted_value"]),
    "cycle_time": (
        charts.cycle_time_chart,
        cycle_frame,
        (),
        ["outcome", "count", "mean_days", "median_days", "p90_days"],
    ),
    "time_in_stage": (
        charts.time_in_stage_chart,
        time_in_stage_frame,
        (),
        ["state", "status", "count", "mean_days", "median_days", "p90_days"],
    ),
    "velocity": (
        charts.velocity_chart,
        velocity_frame,
        (),
        ["opportunities", "avg_deal_size", "win_rate", "cycle_days", "velocity"],
    ),
    "deal_size": (charts.deal_size_chart, deal_frame, (), ["won", "won_value", "avg_deal_size"]),
}


def same(values, column: pd.Series) -> None:
    """Trace values equal the frame column, element by element (NaN equals NaN)."""
    expected = column.to_numpy()
    got = np.asarray(values)
    assert len(got) == len(expected)
    if np.issubdtype(expected.dtype, np.datetime64):
        assert list(pd.to_datetime(got)) == list(pd.to_datetime(expected))
    elif np.issubdtype(expected.dtype, np.number):
        np.testing.assert_array_equal(got.astype(float), expected.astype(float))
    else:
        assert [str(v) for v in got] == [str(v) for v in expected]


# -- every chart ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_returns_a_titled_figure_with_axis_labels(name):
    chart, make, args, _ = CASES[name]
    fig = chart(make(), *args)
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    assert len(fig.data) >= 1
    for trace in fig.data:
        assert trace.hovertemplate and "<extra></extra>" in trace.hovertemplate


@pytest.mark.parametrize("name", CASES)
def test_each_required_column_missing_raises_validation_error_naming_it(name):
    chart, make, args, required = CASES[name]
    for column in required:
        with pytest.raises(sp.ValidationError, match=repr(column)) as err:
            chart(make().drop(columns=[column]), *args)
        assert err.value.field == column


@pytest.mark.parametrize("name", CASES)
def test_not_a_frame_raises_validation_error(name):
    chart, _, args, _ = CASES[name]
    with pytest.raises(sp.ValidationError) as err:
        chart({"stage": ["lead"]}, *args)
    assert err.value.field == "frame"


@pytest.mark.parametrize("name", CASES)
def test_empty_frame_gives_a_no_data_figure(name):
    chart, make, args, _ = CASES[name]
    fig = chart(make().iloc[0:0], *args)
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 0
    assert [a.text for a in fig.layout.annotations] == ["no data"]
    assert fig.layout.title.text


@pytest.mark.parametrize("name", CASES)
def test_the_frame_is_not_modified(name):
    chart, make, args, _ = CASES[name]
    frame = make()
    before = frame.copy()
    chart(frame, *args)
    pd.testing.assert_frame_equal(frame, before)


# -- each chart's numbers ---------------------------------------------------------------------


def test_funnel_traces_carry_counts_and_the_frames_conversions():
    frame = funnel_frame()
    fig = charts.funnel_chart(frame)
    (trace,) = fig.data
    assert trace.type == "funnel"
    same(trace.y, frame["stage"])
    same(trace.x, frame["count"])
    assert trace.text[1] == f"{frame['count'][1]:,} · {frame['conversion_from_first'][1]:.1%}"
    assert [c[0] for c in trace.customdata] == [f"{v:.1%}" for v in frame["conversion_from_previous"]]
    assert trace.textinfo == "text"  # plotly's own percentages (a recomputation) are not shown


def test_funnel_one_trace_per_group():
    a, b = funnel_frame(1000).assign(owner="ana"), funnel_frame(400).assign(owner="bo")
    frame = pd.concat([a, b], ignore_index=True)[["owner", *a.columns[:-1]]]
    fig = charts.funnel_chart(frame)
    assert [t.name for t in fig.data] == ["ana", "bo"]
    for trace, (_, rows) in zip(fig.data, frame.groupby("owner")):
        same(trace.x, rows["count"])
        same(trace.y, rows["stage"])


def test_win_rate_bars_are_the_frames_win_rates_in_frame_order():
    frame = win_rate_frame()
    fig = charts.win_rate_chart(frame, "owner")
    (trace,) = fig.data
    assert trace.orientation == "h"
    same(trace.y, frame["owner"])
    same(trace.x, frame["win_rate"])
    assert list(trace.text) == ["40.0%", "66.7%", "n/a"]
    assert fig.layout.xaxis.tickformat == ".0%"
    assert fig.layout.yaxis.categoryorder == "total ascending"  # highest on top, by layout only
    assert trace.customdata[0][4] == "812,346"  # won value with thousands separators
    assert "Win rate by owner" in fig.layout.title.text


def test_win_rate_by_a_list_of_dimensions_and_by_period():
    frame = win_rate_frame().assign(region=["EU", "EU", "US"])[["region", *win_rate_frame().columns]]
    fig = charts.win_rate_chart(frame, ["region", "owner"])
    same(fig.data[0].y, pd.Series(["EU · ana", "EU · bo", "US · cy"]))
    monthly = pd.concat(
        [
            win_rate_frame().assign(period=pd.Timestamp("2025-01-01")),
            win_rate_frame().assign(period=pd.Timestamp("2025-02-01")),
        ],
        ignore_index=True,
    )
    fig = charts.win_rate_chart(monthly, "owner")
    assert [t.name for t in fig.data] == ["2025-01-01", "2025-02-01"]
    same(fig.data[1].x, monthly["win_rate"][3:])


def test_win_rate_chart_needs_its_by_column():
    with pytest.raises(sp.ValidationError, match="'source'") as err:
        charts.win_rate_chart(win_rate_frame(), "source")
    assert err.value.field == "source"


def test_trend_lines_are_win_rate_and_win_rate_all_per_period():
    frame = trend_frame()
    fig = charts.win_rate_trend_chart(frame)
    rate, rate_all = fig.data
    same(rate.x, frame["period"])
    same(rate.y, frame["win_rate"])
    same(rate_all.x, frame["period"])
    same(rate_all.y, frame["win_rate_all"])
    assert fig.layout.yaxis.tickformat == ".0%"
    assert rate.customdata[1][4] == f"{12 / 22:.1%}"


def test_trend_one_line_per_by_group():
    frame = pd.concat([trend_frame().assign(source="web"), trend_frame().assign(source="ads")], ignore_index=True)
    frame = frame.sort_values(["period", "source"], ignore_index=True)
    fig = charts.win_rate_trend_chart(frame)
    assert sorted(t.name for t in fig.data) == ["ads", "web"]
    for trace in fig.data:
        rows = frame[frame["source"] == trace.name]
        same(trace.x, rows["period"])
        same(trace.y, rows["win_rate"])


def test_pipeline_bars_are_value_and_weighted_value_per_phase():
    frame = pipeline_frame()
    fig = charts.pipeline_chart(frame)
    value, weighted = fig.data
    same(value.x, frame["phase"])
    same(value.y, frame["value"])
    same(weighted.x, frame["phase"])
    same(weighted.y, frame["weighted_value"])
    assert fig.layout.yaxis.tickformat == ",.0f"
    assert list(value.text) == ["1,234,567", "250,000", "3,000,000"]
    assert value.customdata[0] == ["30", "1,234,567", "123,457"]


def test_pipeline_by_owner_one_value_and_one_weighted_trace_per_owner():
    frame = pd.concat([pipeline_frame().assign(owner="ana"), pipeline_frame().assign(owner="bo")], ignore_index=True)
    fig = charts.pipeline_chart(frame)
    assert [t.name for t in fig.data] == ["ana · value", "ana · weighted", "bo · value", "bo · weighted"]
    same(fig.data[2].y, frame["value"][3:])
    same(fig.data[3].y, frame["weighted_value"][3:])


def test_cycle_time_bars_are_median_mean_and_p90_per_outcome():
    frame = cycle_frame()
    fig = charts.cycle_time_chart(frame)
    assert [t.name for t in fig.data] == ["median", "mean", "90th percentile"]
    for trace, column in zip(fig.data, ["median_days", "mean_days", "p90_days"]):
        same(trace.x, frame["outcome"])
        same(trace.y, frame[column])


def test_cycle_time_by_period_one_median_line_per_outcome():
    frame = pd.concat(
        [cycle_frame().assign(period=pd.Timestamp(p)) for p in ("2025-01-01", "2025-02-01")], ignore_index=True
    )[["period", *cycle_frame().columns]]
    fig = charts.cycle_time_chart(frame)
    assert [t.name for t in fig.data] == ["won", "lost", "all"]
    for trace in fig.data:
        rows = frame[frame["outcome"] == trace.name]
        same(trace.x, rows["period"])
        same(trace.y, rows["median_days"])


def test_cycle_time_by_owner_bars_of_the_median_per_outcome():
    frame = pd.concat([cycle_frame().assign(owner=o) for o in ("ana", "bo")], ignore_index=True)
    fig = charts.cycle_time_chart(frame)
    assert [t.name for t in fig.data] == ["won", "lost", "all"]
    for trace in fig.data:
        rows = frame[frame["outcome"] == trace.name]
        same(trace.x, rows["owner"])
        same(trace.y, rows["median_days"])


def test_time_in_stage_bars_are_median_and_p90_per_state_and_status():
    frame = time_in_stage_frame()
    fig = charts.time_in_stage_chart(frame)
    median, p90 = fig.data
    assert list(median.y) == ["draft · in_progress", "active · open", "closed · lost"]
    same(median.x, frame["median_days"])
    same(p90.x, frame["p90_days"])
    assert median.customdata[2][3] == "n/a"
    assert fig.layout.yaxis.autorange == "reversed"  # the frame's (process) order from the top


def test_time_in_stage_with_an_entity_column_prefixes_the_labels():
    frame = time_in_stage_frame().assign(entity="quote")
    fig = charts.time_in_stage_chart(frame)
    assert list(fig.data[0].y) == ["quote: draft · in_progress", "quote: active · open", "quote: closed · lost"]


def test_velocity_and_deal_size():
    frame = velocity_frame()
    (trace,) = charts.velocity_chart(frame).data
    same(trace.x, frame["period"])
    same(trace.y, frame["velocity"])
    frame = deal_frame()
    fig = charts.deal_size_chart(frame)
    (trace,) = fig.data
    same(trace.x, frame["source"])
    same(trace.y, frame["avg_deal_size"])
    assert fig.layout.yaxis.tickformat == ",.0f"


def test_formatters():
    assert charts.pct(0.4213) == "42.1%" and charts.pct(NAN) == "n/a" and charts.pct(None) == "n/a"
    assert charts.money(1234567.8) == "1,234,568" and charts.money(NAN) == "n/a"
    assert charts.count(12345) == "12,345"
    assert charts.days(12.345) == "12.3 days"


def test_charts_draw_real_metric_frames(db):
    sp.demo.generate(db, leads=300, seed=3, progress=False)
    m = sp.metrics
    figures = [
        charts.funnel_chart(m.funnel(db)),
        charts.funnel_chart(m.funnel(db, view="activity", by="source")),
        charts.win_rate_chart(m.win_rate(db, by="owner"), "owner"),
        charts.win_rate_chart(m.win_rate(db, by=["region", "source"]), ["region", "source"]),
        charts.win_rate_trend_chart(m.win_rate(db, period="month")),
        charts.pipeline_chart(m.pipeline(db)),
        charts.cycle_time_chart(m.cycle_time(db)),
        charts.cycle_time_chart(m.cycle_time(db, period="quarter")),
        charts.time_in_stage_chart(m.time_in_stage(db, entity="quote")),
        charts.velocity_chart(m.sales_velocity(db, period="quarter")),
        charts.deal_size_chart(m.avg_deal_size(db, by="source")),
    ]
    for fig in figures:
        assert len(fig.data) >= 1
    frame = m.win_rate(db, by="owner")
    same(figures[2].data[0].x, frame["win_rate"])


def test_cycle_time_chart_also_takes_a_database(db):
    sp.demo.generate(db, leads=300, seed=3, progress=False)
    frame = sp.metrics.cycle_time(db)
    fig = charts.cycle_time_chart(db)
    for trace, column in zip(fig.data, ["median_days", "mean_days", "p90_days"]):
        same(trace.x, frame["outcome"])
        same(trace.y, frame[column])
