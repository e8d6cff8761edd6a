"""Spec of what dashboards look up besides the metric frames (salespipe.lookups, via sp.metrics):
summary (the key numbers in one query), dimension_values (the filter choices) and opportunities
(the records behind a win rate), each against independent pandas over the raw tables.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from _metrics_reference import Reference

import salespipe as sp
from salespipe import metrics

OPTIONS = [
    {},
    {"owner": "aaron.barber"},
    {"start": "2025-01-01", "end": "2025-07-01", "source": ["web", "referral"]},
    {"product": "LAPTOP-15", "region": "Europe"},
    {"account": "no such account"},
]


@pytest.fixture(scope="module")
def generated():
    db = sp.connect(":memory:")
    sp.demo.generate(db, leads=3000, seed=1, progress=False)
    yield db, Reference(db)
    db.close()


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("options", OPTIONS, ids=[str(o) for o in OPTIONS])
def test_summary_is_the_metrics_it_stands_for(generated, options):
    db, ref = generated
    row = metrics.summary(db, **options).iloc[0]
    funnel = ref.funnel(**options)
    assert row["leads"] == (int(funnel["count"].iloc[0]) if len(funnel) else 0)
    win = ref.win_rate(**options)
    won, lost, open_ = (int(win[c].iloc[0]) if len(win) else 0 for c in ("won", "lost", "open"))
    assert (row["won"], row["lost"], row["open"]) == (won, lost, open_)
    assert _same(row["win_rate"], won / (won + lost) if won + lost else math.nan)
    assert _same(row["win_rate_all"], won / (won + lost + open_) if won + lost + open_ else math.nan)
    assert _same(row["won_value"], float(win["won_value"].iloc[0]) if len(win) else 0.0)
    pipe = ref.pipeline(**{k: v for k, v in options.items() if k not in ("start", "end")})
    assert row["pipeline_count"] == (int(pipe["count"].sum()) if len(pipe) else 0)
    assert _same(row["pipeline_value"], float(pipe["value"].sum()) if len(pipe) else 0.0)
    assert _same(row["pipeline_weighted_value"], float(pipe["weighted_value"].sum()) if len(pipe) else 0.0)
    cycle = ref.cycle_time(**options)
    won_cycle = cycle.loc[cycle["outcome"] == "won", "median_days"] if len(cycle) else pd.Series(dtype=float)
    assert _same(row["median_won_cycle_days"], float(won_cycle.iloc[0]) if len(won_cycle) else math.nan)


def test_the_dimension_values_are_every_value_the_records_carry(generated):
    db, ref = generated
    owners = set(db.sql("SELECT owner FROM owners")["owner"]) | set(ref.leads["owner"]) | set(ref.opps["owner"])
    assert metrics.dimension_values(db, "owner")["value"].tolist() == sorted(o for o in owners if o)
    sources = set(ref.leads["source"].dropna()) | set(ref.opps["source"].dropna())
    assert metrics.dimension_values(db, "source")["value"].tolist() == sorted(sources)
    catalog = db.sql("SELECT sku FROM products ORDER BY sku")["sku"].tolist()
    assert metrics.dimension_values(db, "product")["value"].tolist() == catalog
    regions = sorted(set(db.sql("SELECT region FROM owners")["region"]))
    assert metrics.dimension_values(db, "region")["value"].tolist() == regions
    names = sorted(set(ref.accounts["name"]))
    assert metrics.dimension_values(db, "account")["value"].tolist() == names


def test_a_limit_keeps_the_accounts_with_the_most_opportunities(generated):
    db, ref = generated
    counts = ref.opps.dropna(subset=["account"]).groupby("account").size().reset_index(name="n")
    top = counts.sort_values(["n", "account"], ascending=[False, True]).head(7)["account"]
    assert metrics.dimension_values(db, "account", limit=7)["value"].tolist() == sorted(top)


@pytest.mark.parametrize("options", OPTIONS[:4], ids=[str(o) for o in OPTIONS[:4]])
def test_the_opportunities_are_the_ones_win_rate_counts(generated, options):
    db, ref = generated
    found = metrics.opportunities(db, limit=None, **options)
    kept, _ = ref.scoped(ref.opps, "created_at", **options)
    expected = kept.sort_values(["created_at", "opportunity_id"], ascending=False)
    assert found["opportunity_id"].tolist() == expected["opportunity_id"].tolist()
    assert found["account"].fillna("").tolist() == expected["account"].fillna("").tolist()
    win = ref.win_rate(**options)
    assert len(found) == (int(win[["won", "lost", "open"]].sum(axis=1).iloc[0]) if len(win) else 0)
    assert list(found.columns) == [
        "opportunity_id", "topic", "account", "owner", "region", "source", "state", "status",
        "estimated_value", "probability", "actual_value", "created_at", "closed_at",
    ]  # fmt: skip


def test_opportunities_by_state_newest_first_and_limited(generated):
    db, _ = generated
    won = metrics.opportunities(db, state="won", limit=10)
    assert len(won) == 10 and set(won["state"]) == {"won"}
    assert won["created_at"].is_monotonic_decreasing
    closed = metrics.opportunities(db, state=["won", "lost"], limit=None)
    assert set(closed["state"]) == {"won", "lost"}


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda db: metrics.dimension_values(db, "colour"), "dimension"),
        (lambda db: metrics.dimension_values(db, "account", limit=0), "limit"),
        (lambda db: metrics.opportunities(db, state="pending"), "state"),
        (lambda db: metrics.opportunities(db, state=[]), "state"),
        (lambda db: metrics.opportunities(db, limit=True), "limit"),
        (lambda db: metrics.summary(db, start="2026-01-01", end="2025-01-01"), "end"),
    ],
)
def test_bad_options_name_themselves(generated, call, field):
    db, _ = generated
    with pytest.raises(sp.ValidationError) as info:
        call(db)
    assert info.value.field == field
