"""Spec of the analyst views (salespipe/sql/migrations/0003_analyst_views.sql, docs/metrics.md).

Every view and every column carries a comment; v_lead_stages and v_opportunity_facts hold what
the raw tables say (checked with pandas on a generated database and on one deal built by hand);
v_funnel, v_win_rate and v_pipeline equal the metric functions they stand for.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from importlib import resources

import pandas as pd
import pytest
from _metrics_reference import Reference

import salespipe as sp

ANALYST_VIEWS = [
    "v_opportunity_products",
    "v_opportunity_quotes",
    "v_opportunity_open_quotes",
    "v_opportunity_invoices",
    "v_opportunity_stages",
    "v_opportunity_facts",
    "v_lead_stages",
    "v_funnel",
    "v_win_rate",
    "v_pipeline",
]
MIGRATION = resources.files("salespipe") / "sql" / "migrations" / "0003_analyst_views.sql"


@pytest.fixture(scope="module")
def generated():
    db = sp.connect(":memory:")
    sp.demo.generate(db, leads=3000, seed=1, progress=False)
    yield db, Reference(db)
    db.close()


def day(month: int, d: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2024, month, d, hour)


# -- documentation -----------------------------------------------------------------------------


@pytest.mark.parametrize("view", ANALYST_VIEWS)
def test_every_view_and_every_column_has_a_comment(db, view):
    comment = db.sql("SELECT comment FROM duckdb_views() WHERE view_name = ?", [view])
    assert len(comment) == 1, f"{view} does not exist"
    assert len(comment["comment"].iloc[0] or "") > 20
    columns = db.sql("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?", [view])
    assert len(columns) > 1
    undocumented = columns.loc[columns["comment"].fillna("").str.len() < 5, "column_name"].tolist()
    assert undocumented == [], f"{view}: columns without a comment: {undocumented}"


def test_the_views_are_plain_sql():
    sql = re.sub(r"'[^']*'", "''", MIGRATION.read_text())  # ignore the comment texts
    for dialect in ("::", "GROUP BY ALL", "ORDER BY ALL", "QUALIFY", "arg_max", "epoch(", "list_", "struct_"):
        assert dialect.lower() not in sql.lower(), f"DuckDB-only {dialect!r} in {MIGRATION.name}"


# -- the fact views on one deal, by hand ---------------------------------------------------------


def test_lead_stages_and_opportunity_facts_of_one_deal(db):
    sp.team.add_owner(db, "ana", "East")
    sp.catalog.add_product(db, sku="A", name="Product A", unit_price=Decimal("100.00"))
    person = {"last_name": "Lovelace", "company": "Contoso Ltd", "source": "web", "owner": "ana"}
    lead = sp.leads.create(db, **person, estimated_value=Decimal("1200"), at=day(1, 5))
    opp = sp.leads.qualify(db, lead, at=day(1, 10)).opportunity_id
    quote = sp.quotes.create(db, opp, lines=[("A", 10)], at=day(1, 12))
    sp.quotes.activate(db, quote, at=day(1, 13))
    order = sp.quotes.create_order(db, quote, at=day(2, 1, 21))
    sp.orders.fulfill(db, order, at=day(2, 5))
    invoice = sp.orders.create_invoice(db, order, at=day(2, 6))
    sp.invoices.record_payment(db, invoice, Decimal("400.00"), at=day(2, 10))
    sp.invoices.record_payment(db, invoice, Decimal("600.00"), at=day(2, 20))

    stages = db.sql("SELECT * FROM v_lead_stages WHERE lead_id = ?", [lead]).iloc[0]
    account = db.sql("SELECT account_id FROM accounts WHERE name = 'Contoso Ltd'")["account_id"].iloc[0]
    assert stages[["owner", "region", "source", "account_id"]].tolist() == ["ana", "East", "web", account]
    assert (stages["state"], stages["opportunity_id"]) == ("qualified", opp)
    assert stages["created_at"] == day(1, 5)
    assert stages["qualified_at"] == day(1, 10)
    assert stages["quoted_at"] == day(1, 12)
    assert stages["won_at"] == day(2, 1, 21)
    assert stages["invoiced_at"] == day(2, 6)
    assert stages["paid_at"] == day(2, 20)  # the second payment paid it in full
    assert pd.isna(stages["disqualified_at"]) and pd.isna(stages["lost_at"])

    facts = db.sql("SELECT * FROM v_opportunity_facts WHERE opportunity_id = ?", [opp]).iloc[0]
    assert facts[["outcome", "region", "account_id", "lead_id"]].tolist() == ["won", "East", account, lead]
    assert pd.isna(facts["phase"])  # closed: not in the pipeline
    assert facts["cycle_days"] == pytest.approx(22.5)  # Jan 10 09:00 -> Feb 1 21:00
    assert (facts["estimated_value"], facts["actual_value"]) == (1200.0, 1000.0)  # 10 x 100.00
    assert facts["probability"] == 100 and facts["weighted_value"] == 1200.0


def test_open_opportunities_get_their_phase_from_their_open_quotes(db):
    sp.catalog.add_product(db, sku="A", name="Product A", unit_price=Decimal("100.00"))

    def opportunity(n):
        lead = sp.leads.create(db, last_name=f"P{n}", company=f"C{n}", estimated_value=Decimal("1000"))
        return sp.leads.qualify(db, lead).opportunity_id

    qualify, develop, propose, lost = (opportunity(n) for n in range(4))
    sp.quotes.create(db, develop, lines=[("A", 1)])
    sp.quotes.activate(db, sp.quotes.create(db, propose, lines=[("A", 1)]))
    sp.quotes.create(db, propose, lines=[("A", 2)])  # a second, draft quote: the active one decides
    sp.quotes.create(db, lost, lines=[("A", 1)])
    sp.opportunities.close_lost(db, lost)
    facts = db.sql("SELECT opportunity_id, phase, draft_quotes, active_quotes FROM v_opportunity_facts ORDER BY 1")
    assert facts.astype(object).where(facts.notna(), None).values.tolist() == [
        [qualify, "qualify", 0, 0],
        [develop, "develop", 1, 0],
        [propose, "propose", 1, 1],
        [lost, None, 0, 0],  # closed: no phase; its draft was closed with it
    ]


# -- the fact views against pandas over the raw tables ------------------------------------------


def test_lead_stages_match_the_raw_tables(generated):
    db, reference = generated
    view = db.sql("SELECT * FROM v_lead_stages ORDER BY lead_id")
    expected = reference.leads.sort_values("lead_id").reset_index(drop=True)[list(view.columns)]
    pd.testing.assert_frame_equal(view, expected, check_dtype=False)
    assert view["paid_at"].notna().sum() > 100  # the generated history reaches every stage


def test_opportunity_facts_match_the_raw_tables(generated):
    db, reference = generated
    view = db.sql("SELECT * FROM v_opportunity_facts ORDER BY opportunity_id")
    expected = reference.opps.sort_values("opportunity_id").reset_index(drop=True)
    expected["phase"] = expected["phase"].where(expected["state"] == "open")
    expected["weighted_value"] = expected["estimated_value"] * expected["probability"] / 100
    checked = [c for c in view.columns if c not in ("draft_quotes", "active_quotes")]
    pd.testing.assert_frame_equal(view[checked], expected[checked], check_dtype=False, rtol=1e-9)
    assert set(view["phase"].dropna()) == {"qualify", "develop", "propose"}


def test_opportunity_stages_match_the_raw_tables(generated):
    db, reference = generated
    view = db.sql("SELECT * FROM v_opportunity_stages ORDER BY opportunity_id")
    expected = reference.opps.sort_values("opportunity_id").reset_index(drop=True)[list(view.columns)]
    pd.testing.assert_frame_equal(view, expected, check_dtype=False)


def test_opportunity_products_are_the_skus_on_any_quote_revision(generated):
    db, reference = generated
    view = db.sql("SELECT opportunity_id, sku FROM v_opportunity_products ORDER BY 1, 2")
    expected = reference.products.sort_values(["opportunity_id", "sku"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(view, expected, check_dtype=False)


# -- the metric views equal their functions ----------------------------------------------------


@pytest.mark.parametrize(
    ("view", "metric"),
    [
        ("v_funnel", lambda db: sp.metrics.funnel(db, period="month")),
        ("v_win_rate", lambda db: sp.metrics.win_rate(db, by="owner")),
        ("v_pipeline", lambda db: sp.metrics.pipeline(db)),
    ],
)
def test_metric_views_equal_their_functions(generated, view, metric):
    db, _ = generated
    frame = db.sql(f"SELECT * FROM {view}")
    assert len(frame) > 0
    pd.testing.assert_frame_equal(frame, metric(db))


@pytest.mark.parametrize(
    ("view", "metric"),
    [
        ("v_funnel", lambda db: sp.metrics.funnel(db, period="month")),
        ("v_win_rate", lambda db: sp.metrics.win_rate(db, by="owner")),
        ("v_pipeline", lambda db: sp.metrics.pipeline(db)),
    ],
)
def test_metric_views_equal_their_functions_on_an_empty_database(db, view, metric):
    pd.testing.assert_frame_equal(db.sql(f"SELECT * FROM {view}"), metric(db), check_dtype=False)
