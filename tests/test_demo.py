"""Demo data: a realistic sales history built through the bulk actions, the same for the same seed."""

import pandas as pd
import pytest

import salespipe as sp
from salespipe import cli

END = "2026-11-01"


@pytest.fixture(scope="module")
def demo_db():
    db = sp.connect(":memory:")
    summary = sp.demo.generate(db, leads=4000, seed=7, end=END, progress=False)
    return db, summary


def counts(db, sql):
    return dict(db.sql(sql).itertuples(index=False, name=None))


def test_the_generated_history_passes_every_doctor_check(demo_db):
    db, _ = demo_db
    assert sp.doctor.run(db).empty


def test_the_summary_counts_what_is_in_the_database(demo_db):
    db, s = demo_db
    row = db.sql(
        """SELECT (SELECT count(*) FROM leads) leads,
                  (SELECT count(*) FROM leads WHERE state = 'qualified') qualified,
                  (SELECT count(*) FROM opportunities WHERE state = 'won') won,
                  (SELECT count(*) FROM opportunities WHERE state = 'lost') lost,
                  (SELECT count(*) FROM quotes) quotes, (SELECT count(*) FROM orders) orders,
                  (SELECT count(*) FROM invoices) invoices, (SELECT count(*) FROM payments) payments"""
    ).iloc[0]
    assert (row.leads, row.qualified, row.won, row.lost) == (
        4000,
        s.qualified,
        s.opportunities_won,
        s.opportunities_lost,
    )
    assert (row.quotes, row.orders, row.invoices, row.payments) == (s.quotes, s.orders, s.invoices, s.payments)


def test_leads_span_two_years_or_more_with_growth_and_seasonality(demo_db):
    db, _ = demo_db
    span = db.sql("SELECT min(created_at) AS a, max(created_at) AS b FROM leads").iloc[0]
    assert (span.b - span.a).days >= 2 * 365
    assert span.b < pd.Timestamp(END)
    yearly = db.sql(
        "SELECT year(created_at) AS y, count(*) AS n FROM leads WHERE created_at >= '2024-11-01' GROUP BY 1 ORDER BY 1"
    )
    first_year = db.sql(
        "SELECT count(*) AS n FROM leads WHERE created_at >= '2024-11-01' AND created_at < '2025-11-01'"
    ).n[0]
    last_year = db.sql("SELECT count(*) AS n FROM leads WHERE created_at >= '2025-11-01'").n[0]
    assert last_year > first_year * 1.15, yearly  # growth
    november = db.sql("SELECT count(*) AS n FROM leads WHERE created_at >= '2025-11-01' AND created_at < '2025-12-01'")
    july = db.sql("SELECT count(*) AS n FROM leads WHERE created_at >= '2025-07-01' AND created_at < '2025-08-01'")
    assert november.n[0] > july.n[0] * 1.3  # busy November, quiet July


def test_sources_owners_regions_and_products_have_the_promised_variety(demo_db):
    db, _ = demo_db
    quality = db.sql("SELECT source, avg((state = 'qualified')::INT) AS rate FROM leads GROUP BY 1 ORDER BY rate")
    assert len(quality) >= 6
    assert quality.rate.iloc[-1] - quality.rate.iloc[0] > 0.2  # sources of different quality
    owners = db.sql("SELECT count(*) AS n, count(DISTINCT region) AS r FROM owners").iloc[0]
    assert 10 <= owners.n <= 30 and owners.r >= 3
    products = db.sql("SELECT count(*) AS n FROM products").n[0]
    lists = db.sql("SELECT count(DISTINCT price_list_id) AS n FROM price_list_items").n[0]
    assert 15 <= products <= 40 and lists >= 2
    win = db.sql(
        """SELECT owner, avg((state = 'won')::INT) AS rate FROM opportunities WHERE state <> 'open'
           GROUP BY 1 HAVING count(*) >= 30 ORDER BY rate"""
    )
    assert win.rate.iloc[-1] - win.rate.iloc[0] > 0.1  # owners of different skill


def test_qualification_reuses_accounts_and_contacts_of_repeat_companies(demo_db):
    db, _ = demo_db
    rate = db.sql("SELECT avg((state = 'qualified')::INT) AS r FROM leads WHERE state <> 'open'").r[0]
    assert 0.30 <= rate <= 0.50
    shared = db.sql(
        "SELECT count(*) AS n FROM (SELECT account_id FROM opportunities GROUP BY 1 HAVING count(*) > 1)"
    ).n[0]
    assert shared > 20
    matched_contacts = db.sql(
        "SELECT count(*) AS n FROM leads l JOIN contacts c ON c.contact_id = l.contact_id WHERE c.lead_id <> l.lead_id"
    ).n[0]
    assert matched_contacts > 0


def test_every_kind_of_ending_occurs_and_the_newest_records_are_still_open(demo_db):
    db, _ = demo_db
    leads = counts(db, "SELECT status, count(*) FROM leads GROUP BY 1")
    assert {"lost", "cannot_contact", "no_longer_interested", "canceled", "new", "qualified"} <= set(leads)
    opps = counts(db, "SELECT status, count(*) FROM opportunities GROUP BY 1")
    assert {"won", "out_sold", "canceled", "in_progress"} <= set(opps)
    assert db.sql("SELECT count(DISTINCT competitor) AS n FROM opportunities").n[0] >= 3
    revisions = db.sql("SELECT max(revision) AS r, min(revision) AS m FROM quotes").iloc[0]
    assert revisions.m == 1 and revisions.r == 4
    quotes = counts(db, "SELECT state, count(*) FROM quotes GROUP BY 1")
    assert {"draft", "active", "won", "closed"} <= set(quotes)
    orders = counts(db, "SELECT state, count(*) FROM orders GROUP BY 1")
    assert {"fulfilled", "invoiced", "canceled"} <= set(orders)
    invoices = counts(db, "SELECT status, count(*) FROM invoices GROUP BY 1")
    assert {"new", "partial", "complete"} <= set(invoices)


def test_the_same_seed_builds_the_same_database():
    def build():
        db = sp.connect(":memory:")
        sp.demo.generate(db, leads=600, seed=3, end=END, progress=False)
        return db

    a, b = build(), build()
    tables = [t for t in a.tables() if not t.startswith("v_") and t != "schema_version"]
    for table in tables:
        left = a.sql(f"SELECT * FROM {table} ORDER BY ALL")
        right = b.sql(f"SELECT * FROM {table} ORDER BY ALL")
        pd.testing.assert_frame_equal(left, right, obj=table)


def test_a_different_seed_builds_a_different_history():
    a, b = sp.connect(":memory:"), sp.connect(":memory:")
    sp.demo.generate(a, leads=300, seed=1, end=END, progress=False)
    sp.demo.generate(b, leads=300, seed=2, end=END, progress=False)
    assert not a.sql("SELECT company FROM leads ORDER BY lead_id").equals(
        b.sql("SELECT company FROM leads ORDER BY lead_id")
    )


def test_bad_arguments_are_refused_before_anything_is_written():
    db = sp.connect(":memory:")
    with pytest.raises(sp.ValidationError, match="leads"):
        sp.demo.generate(db, leads=-5, progress=False)
    with pytest.raises(sp.ValidationError, match="seed"):
        sp.demo.generate(db, leads=100, seed="x", progress=False)
    assert db.sql("SELECT count(*) AS n FROM leads").n[0] == 0


def test_the_cli_generates_into_a_file_and_keeps_existing_data_with_if_empty(tmp_path, capsys):
    path = str(tmp_path / "demo.duckdb")
    assert cli.main(["--db", path, "demo", "--leads", "300", "--seed", "5"]) == 0
    assert cli.main(["--db", path, "demo", "--leads", "300", "--if-empty"]) == 0
    assert "keeping it" in capsys.readouterr().out
    assert sp.connect(path).sql("SELECT count(*) AS n FROM leads").n[0] == 300
