"""Spec of the dashboards' fact tables (migration 0007, salespipe.facts).

fact_stays and fact_opportunity_products make time in stage and the product breakdown cheap, and
they are never wrong: whatever their watermark (never refreshed, just refreshed, refreshed and then
followed by new leads, edited drafts, activated drafts, closed and reopened deals, events dated in
the past), every metric that reads them equals the independent pandas computation over the raw
tables, and doctor finds nothing. refresh() moves them on with work proportional to what changed.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from decimal import Decimal
from importlib import resources

import pandas as pd
import pytest
from _metrics_reference import Reference

import salespipe as sp
from salespipe import doctor, facts

MIGRATION = resources.files("salespipe") / "sql" / "migrations" / "0007_dashboard_facts.sql"
CASES = [
    ("time_in_stage", {}),
    ("time_in_stage", {"entity": "lead", "by": "owner"}),
    ("time_in_stage", {"entity": "quote", "by": "source", "start": "2025-01-01"}),
    ("time_in_stage", {"entity": "invoice"}),
    ("time_in_stage", {"entity": "opportunity", "product": "LAPTOP-15"}),
    ("win_rate", {"by": "product"}),
    ("win_rate", {"by": "product", "period": "month", "start": "2025-03-01", "end": "2026-06-01"}),
    ("win_rate", {"by": ["product", "region"], "period": "quarter"}),
    ("funnel", {"product": ["MONITOR-27", "DOCK-TB4"]}),
    ("win_rate", {"by": "owner", "product": "LAPTOP-15"}),
    ("win_rate", {"by": "product", "product": ["LAPTOP-15", "DOCK-TB4"]}),
    ("pipeline", {"by": "product"}),
]


def assert_metrics_match(db: sp.Database) -> None:
    reference = Reference(db)
    for metric, options in CASES:
        frame = getattr(sp.metrics, metric)(db, **options)
        expected = getattr(reference, metric)(**options)
        assert len(frame) and len(frame) == len(expected), (metric, options)
        pd.testing.assert_frame_equal(frame, expected, check_dtype=False, rtol=1e-9, obj=f"{metric}({options})")
    # the product filter's view lists the same pairs, some of them twice
    pairs = db.sql("SELECT opportunity_id, sku FROM v_opportunity_products ORDER BY 1, 2")
    any_pairs = db.sql("SELECT DISTINCT opportunity_id, sku FROM v_opportunity_products_any ORDER BY 1, 2")
    pd.testing.assert_frame_equal(pairs, any_pairs)
    outcomes = "SELECT * FROM {} ORDER BY opportunity_id, sku NULLS FIRST"
    pd.testing.assert_frame_equal(
        db.sql(outcomes.format("v_product_outcomes")), db.sql(outcomes.format("v_product_outcomes_rebuilt"))
    )
    assert doctor.run(db).empty, doctor.run(db).to_string()


@pytest.fixture
def generated(tmp_path):
    db = sp.connect(tmp_path / "facts.duckdb")
    sp.demo.generate(db, leads=2000, seed=3, progress=False)
    return db


def test_before_any_refresh_the_views_rebuild_everything_and_agree(generated):
    assert facts.lag(generated)["stays"] > 0  # the migration ran on an empty file: nothing is covered yet
    assert_metrics_match(generated)


def test_after_a_refresh_the_facts_cover_everything_and_agree(generated):
    done = facts.refresh(generated)
    assert done.events_to == generated.sql("SELECT max(event_id) AS m FROM events")["m"].iloc[0]
    assert done.stays == generated.sql("SELECT count(*) AS n FROM fact_stays")["n"].iloc[0] > 0
    assert facts.lag(generated) == {
        "stays": 0,
        "products": int(generated.sql("SELECT count(*) AS n FROM quotes WHERE state = 'draft'")["n"].iloc[0]),
    }
    assert_metrics_match(generated)
    again = facts.refresh(generated)
    assert (again.records, again.stays, again.events_from) == (0, 0, done.events_to), "nothing new, nothing done"


def test_changes_after_a_refresh_are_seen_at_once_and_a_refresh_folds_them_in(generated):
    db = generated
    facts.refresh(db)
    later = dt.datetime(2026, 11, 2, 9)
    sku = "LAPTOP-15"
    # a draft that was pending at the refresh: a line added and one removed, then activated
    draft = int(db.sql("SELECT min(quote_id) AS q FROM quotes WHERE state = 'draft'")["q"].iloc[0])
    sp.quotes.add_line(db, draft, sku="TRAINING-DAY", quantity=2)
    first_line = int(db.sql("SELECT min(line_no) AS n FROM quote_lines WHERE quote_id = ?", [draft])["n"].iloc[0])
    sp.quotes.remove_line(db, draft, first_line)
    sp.quotes.activate(db, draft, at=later)
    # new leads, one qualified and quoted; an open opportunity lost, a lost one reopened and won
    lead = sp.leads.create(db, last_name="After", company="After Refresh GmbH", owner="newcomer", at=later)
    opp = sp.leads.qualify(db, lead, at=later + dt.timedelta(hours=1)).opportunity_id
    sp.quotes.create(db, opp, lines=[(sku, 3)], at=later + dt.timedelta(hours=2))
    open_opp = int(db.sql("SELECT min(opportunity_id) AS o FROM opportunities WHERE state = 'open'")["o"].iloc[0])
    sp.opportunities.close_lost(db, open_opp, reason="out_sold", at=later + dt.timedelta(hours=3))
    lost = int(db.sql("SELECT max(opportunity_id) AS o FROM opportunities WHERE state = 'lost'")["o"].iloc[0])
    sp.opportunities.reopen(db, lost, at=later + dt.timedelta(hours=4))
    sp.opportunities.close_won(db, lost, actual_value=Decimal("1234.50"), at=later + dt.timedelta(hours=5))
    assert facts.lag(db)["stays"] > 0
    assert_metrics_match(db)  # stale facts, exact answers

    live = db.sql("SELECT count(*) AS n FROM v_product_outcomes")["n"].iloc[0]
    done = facts.refresh(db)
    touched = db.sql(f"SELECT count(DISTINCT (entity, entity_id)) AS n FROM events WHERE event_id > {done.events_from}")
    assert done.records == touched["n"].iloc[0] < 20, "only the records with new events are rebuilt"
    assert done.quotes_final == 1  # the activated draft; the new quote is still a draft, so pending
    pending = db.sql("SELECT count(DISTINCT opportunity_id) AS n FROM quotes WHERE state = 'draft'")["n"].iloc[0]
    assert pending < done.outcomes < pending + 20, "the opportunities read live before, and only those, read again"
    assert db.sql("SELECT count(*) AS n FROM v_product_outcomes")["n"].iloc[0] == live
    assert_metrics_match(db)


def test_the_win_rate_by_product_reads_the_stored_outcomes_and_a_filter_the_join(generated, monkeypatch):
    db = generated
    facts.refresh(db)
    queries = []
    real = sp.metrics._run
    monkeypatch.setattr(sp.metrics, "_run", lambda db, sql, params: (queries.append(sql), real(db, sql, params))[1])
    owner = db.sql("SELECT min(owner) AS o FROM opportunities")["o"].iloc[0]
    queries.clear()
    whole = sp.metrics.win_rate(db, by="product", period="quarter")
    one_owner = sp.metrics.win_rate(db, by="product", owner=owner)
    assert "v_product_outcomes" in queries[0] and "v_opportunity_products" not in queries[0]
    assert "v_opportunity_products" in queries[1] and "v_product_outcomes" not in queries[1]
    assert len(whole) > len(one_owner) > 0
    # a write after the refresh is counted at once: an open deal with quoted products lost
    deal = int(
        db.sql(
            """SELECT min(opportunity_id) AS o FROM opportunities WHERE state = 'open'
               AND opportunity_id IN (SELECT opportunity_id FROM fact_opportunity_products)"""
        )["o"].iloc[0]
    )
    lost_before = int(sp.metrics.win_rate(db, by="product")["lost"].sum())
    sp.opportunities.close_lost(db, deal, reason="out_sold", at=dt.datetime(2026, 11, 3, 9))
    skus = int(db.sql("SELECT count(*) AS n FROM v_opportunity_products WHERE opportunity_id = ?", [deal])["n"].iloc[0])
    assert skus > 0 and int(sp.metrics.win_rate(db, by="product")["lost"].sum()) == lost_before + skus
    # and a deal won through an order of its active quote (the quote's transition wins the opportunity)
    quote, deal = db.sql(
        """SELECT q.quote_id, q.opportunity_id FROM quotes q JOIN opportunities o USING (opportunity_id)
           WHERE q.state = 'active' AND o.state = 'open' ORDER BY q.quote_id LIMIT 1"""
    ).iloc[0]
    won_before = int(sp.metrics.win_rate(db, by="product")["won"].sum())
    sp.orders.create_order(db, int(quote), at=dt.datetime(2026, 11, 3, 10))
    skus = int(
        db.sql("SELECT count(*) AS n FROM v_opportunity_products WHERE opportunity_id = ?", [int(deal)])["n"].iloc[0]
    )
    assert skus > 0 and int(sp.metrics.win_rate(db, by="product")["won"].sum()) == won_before + skus
    assert_metrics_match(db)
    # a stored outcome that differs from its opportunity (a change with no event) is what doctor reports
    won = int(
        db.sql(
            """SELECT min(opportunity_id) AS o FROM opportunities WHERE state = 'won' AND opportunity_id NOT IN
               (SELECT opportunity_id FROM quotes WHERE state = 'draft')"""
        )["o"].iloc[0]
    )
    with db.transaction() as con:
        con.execute("UPDATE fact_product_outcomes SET state = 'open' WHERE opportunity_id = ?", [won])
    found = doctor.run(db)
    assert set(found["check"]) == {"product_outcomes_current"} and set(found["id"]) == {won}


def test_a_pair_both_in_the_fact_table_and_on_a_live_quote_is_listed_once(generated):
    db = generated
    facts.refresh(db)
    # an active quote's pairs are in the fact table; its new draft revision lists the same SKUs live
    active = int(db.sql("SELECT min(quote_id) AS q FROM quotes WHERE state = 'active'")["q"].iloc[0])
    opportunity = int(
        db.sql("SELECT opportunity_id FROM quotes WHERE quote_id = ?", [active])["opportunity_id"].iloc[0]
    )
    before = db.sql("SELECT sku FROM v_opportunity_products WHERE opportunity_id = ? ORDER BY 1", [opportunity])
    draft = sp.quotes.revise(db, active)
    new_sku = db.sql(
        "SELECT min(sku) AS s FROM products WHERE sku NOT IN (SELECT sku FROM quote_lines WHERE quote_id = ?)", [draft]
    )["s"].iloc[0]
    sp.quotes.add_line(db, draft, sku=new_sku, quantity=1)
    after = db.sql("SELECT sku FROM v_opportunity_products WHERE opportunity_id = ? ORDER BY 1", [opportunity])
    assert sorted(after["sku"]) == sorted([*before["sku"], new_sku])  # each SKU once, the new one added
    rebuilt = db.sql("SELECT opportunity_id, sku FROM v_opportunity_products_rebuilt ORDER BY 1, 2")
    pd.testing.assert_frame_equal(
        db.sql("SELECT opportunity_id, sku FROM v_opportunity_products ORDER BY 1, 2"), rebuilt
    )
    assert_metrics_match(db)


def test_an_event_dated_before_the_watermarks_events_is_still_counted(generated):
    db = generated
    facts.refresh(db)
    opp = int(  # one never changed since it opened, without quotes: its history allows a day-old close
        db.sql(
            """SELECT min(opportunity_id) AS o FROM opportunities
               WHERE state = 'open' AND changed_at IS NULL AND opportunity_id NOT IN (SELECT opportunity_id FROM quotes)"""
        )["o"].iloc[0]
    )
    created = db.sql("SELECT created_at FROM opportunities WHERE opportunity_id = ?", [opp])["created_at"].iloc[0]
    # an import that closes an old opportunity a day after it was created: the event is new, its time is old
    sp.opportunities.close_lost(db, opp, reason="canceled", at=pd.Timestamp(created).to_pydatetime() + dt.timedelta(1))
    assert_metrics_match(db)


def test_refresh_from_the_command_line(generated, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "salespipe.facts", "--db", generated.path], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"stays: events 0 -> [\d,]+ \([\d,]+ records", done.stdout)
    missing = subprocess.run(
        [sys.executable, "-m", "salespipe.facts", "--db", tmp_path / "none.duckdb"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "no database at" in missing.stderr and not (tmp_path / "none.duckdb").exists()


@pytest.mark.parametrize(
    "view",
    [
        "v_stays",
        "v_stays_rebuilt",
        "v_opportunity_products",
        "v_opportunity_products_rebuilt",
        "v_opportunity_products_any",
        "v_product_outcomes",
        "v_product_outcomes_rebuilt",
        "v_product_outcomes_touched",
    ],
)
def test_every_new_view_and_column_has_a_comment(db, view):
    comment = db.sql("SELECT comment FROM duckdb_views() WHERE view_name = ?", [view])["comment"].iloc[0]
    assert len(comment or "") > 20
    columns = db.sql("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?", [view])
    assert len(columns) > 1 and columns["comment"].fillna("").str.len().min() >= 5


def test_the_migration_is_plain_sql():
    sql = re.sub(r"'[^']*'", "''", MIGRATION.read_text())
    for dialect in ("::", "GROUP BY ALL", "ORDER BY ALL", "QUALIFY", "arg_max", "epoch(", "list_", "struct_"):
        assert dialect.lower() not in sql.lower(), f"DuckDB-only {dialect!r} in {MIGRATION.name}"
