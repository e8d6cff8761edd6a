"""Spec of salespipe.metrics (docs/metrics.md).

1. A small history built by hand through the public API with explicit `at=` timestamps; every
   expected number is worked out in a comment next to it.
2. A generated database (sp.demo.generate) against an independent pandas computation over the
   raw tables (tests/_metrics_reference.py), for many combinations of by / period / filters.
3. Options: validation naming the option, bound parameters, and the dtypes of the frames.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from types import SimpleNamespace

import pandas as pd
import pytest
from _metrics_reference import Reference

import salespipe as sp
from salespipe import metric_sets

NAN = math.nan


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    """A time in 2024 (a leap year: February has 29 days)."""
    return dt.datetime(2024, month, day, hour)


def expect(frame: pd.DataFrame, columns: list[str], rows: list[tuple]) -> None:
    """The metric frame holds exactly these rows, in this order (floats to 1e-9, NaN == NaN)."""
    expected = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col == "period":
            expected[col] = pd.to_datetime(expected[col])
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), expected, check_dtype=False, rtol=1e-9)


# -- 1. the hand-built history ------------------------------------------------------------------
#
# Owners: ana (East), bo (West). Products: A at 100.00, B at 50.00. Everything happens at 09:00.
#
# lead  owner source company         created  then
# L1    ana   web    Contoso Ltd     Jan 5    qualified Jan 10 -> O1; quote Q1 (A x10) Jan 12, active Jan 13,
#                                             revised Jan 20 -> Q1r2 draft Jan 20, active Jan 21; ordered Feb 1
#                                             (O1 won, 1000.00); fulfilled Feb 5; invoice I1 Feb 6;
#                                             paid 400 Feb 10 (partial) + 600 Feb 20 (paid)
# L2    ana   web    CONTOSO Inc.    Jan 8    qualified Jan 15 -> O2 (account Contoso Ltd reused); Q2 (B x20)
#                                             Jan 16, active Jan 17; O2 lost Feb 10
# L3    bo    event  Fabrikam        Jan 20   disqualified Jan 25
# L4    bo    web    Fabrikam GmbH   Feb 2    qualified Feb 3 -> O4; Q4 (A x3 + B x4 = 500) Feb 5, active Feb 6;
#                                             ordered Mar 1 (O4 won, 500.00); fulfilled Mar 3; invoice I4
#                                             Mar 4; paid 200 Mar 10 + 100 Mar 12 (still partial)
# L5    bo    event  Litware         Feb 10   qualified Feb 12 -> O5, never quoted (open)
# L6    ana   event  Northwind       Feb 14   qualified Feb 20 -> O6; Q6 (B x10) draft Feb 22 (open)
# L7    ana   web    Adatum          Mar 1    still open
# L8    bo    web    Tailspin        Mar 3    qualified Mar 5 -> O8; Q8 (A x8) Mar 6, active Mar 7 (open)
# L9    ana   event  Contoso LLC     Jan 25   qualified Jan 28 -> O9 (Contoso Ltd reused); Q9 (A x25) Jan 30,
#                                             active Jan 31; O9 lost Mar 15
# L10   bo    event  Proseware       Mar 10   disqualified Mar 12, reactivated Mar 14 (open again)
# O11   ana   web    (no account)    Feb 1    created directly, estimated 10000 at probability 50 (open)
#
# Every opportunity from a lead has the lead's estimated value (1000, 2000, -, 500, 4000, 6000, -,
# 800, 2500) and probability 10 while open.


def build_history(db: sp.Database) -> SimpleNamespace:
    """The story above, through the public API; returns the ids."""
    sp.team.add_owner(db, "ana", "East", at=at(1, 1))
    sp.team.add_owner(db, "bo", "West", at=at(1, 1))
    sp.catalog.add_product(db, sku="A", name="Product A", unit_price=Decimal("100.00"), at=at(1, 1))
    sp.catalog.add_product(db, sku="B", name="Product B", unit_price=Decimal("50.00"), at=at(1, 1))

    def lead(n, owner, source, company, value, created):
        person = {"last_name": f"Person{n}", "email": f"p{n}@example.com", "company": company}
        return sp.leads.create(db, **person, source=source, owner=owner, estimated_value=Decimal(value), at=created)

    h = SimpleNamespace(db=db)
    h.l1 = lead(1, "ana", "web", "Contoso Ltd", 1000, at(1, 5))
    h.l2 = lead(2, "ana", "web", "CONTOSO Inc.", 2000, at(1, 8))
    h.l3 = lead(3, "bo", "event", "Fabrikam", 3000, at(1, 20))
    h.l9 = lead(9, "ana", "event", "Contoso LLC", 2500, at(1, 25))
    h.l4 = lead(4, "bo", "web", "Fabrikam GmbH", 500, at(2, 2))
    h.l5 = lead(5, "bo", "event", "Litware", 4000, at(2, 10))
    h.l6 = lead(6, "ana", "event", "Northwind", 6000, at(2, 14))
    h.l7 = lead(7, "ana", "web", "Adatum", 1500, at(3, 1))
    h.l8 = lead(8, "bo", "web", "Tailspin", 800, at(3, 3))
    h.l10 = lead(10, "bo", "event", "Proseware", 700, at(3, 10))

    h.o1 = sp.leads.qualify(db, h.l1, at=at(1, 10)).opportunity_id
    q1 = sp.quotes.create(db, h.o1, lines=[("A", 10)], at=at(1, 12))
    sp.quotes.activate(db, q1, at=at(1, 13))
    q1r2 = sp.quotes.revise(db, q1, at=at(1, 20))
    sp.quotes.activate(db, q1r2, at=at(1, 21))

    h.o2 = sp.leads.qualify(db, h.l2, at=at(1, 15)).opportunity_id
    q2 = sp.quotes.create(db, h.o2, lines=[("B", 20)], at=at(1, 16))
    sp.quotes.activate(db, q2, at=at(1, 17))

    sp.leads.disqualify(db, h.l3, at=at(1, 25))

    h.o9 = sp.leads.qualify(db, h.l9, at=at(1, 28)).opportunity_id
    q9 = sp.quotes.create(db, h.o9, lines=[("A", 25)], at=at(1, 30))
    sp.quotes.activate(db, q9, at=at(1, 31))

    order1 = sp.quotes.create_order(db, q1r2, at=at(2, 1))
    direct = {"topic": "Direct deal", "owner": "ana", "source": "web", "estimated_value": Decimal("10000")}
    h.o11 = sp.opportunities.create(db, **direct, probability=50, at=at(2, 1))
    h.o4 = sp.leads.qualify(db, h.l4, at=at(2, 3)).opportunity_id
    sp.orders.fulfill(db, order1, at=at(2, 5))
    q4 = sp.quotes.create(db, h.o4, lines=[("A", 3), ("B", 4)], at=at(2, 5))
    i1 = sp.orders.create_invoice(db, order1, at=at(2, 6))
    sp.quotes.activate(db, q4, at=at(2, 6))
    sp.opportunities.close_lost(db, h.o2, at=at(2, 10))
    sp.invoices.record_payment(db, i1, Decimal("400.00"), at=at(2, 10))
    h.o5 = sp.leads.qualify(db, h.l5, at=at(2, 12)).opportunity_id
    h.o6 = sp.leads.qualify(db, h.l6, at=at(2, 20)).opportunity_id
    sp.invoices.record_payment(db, i1, Decimal("600.00"), at=at(2, 20))
    sp.quotes.create(db, h.o6, lines=[("B", 10)], at=at(2, 22))

    order4 = sp.quotes.create_order(db, q4, at=at(3, 1))
    sp.orders.fulfill(db, order4, at=at(3, 3))
    i4 = sp.orders.create_invoice(db, order4, at=at(3, 4))
    h.o8 = sp.leads.qualify(db, h.l8, at=at(3, 5)).opportunity_id
    q8 = sp.quotes.create(db, h.o8, lines=[("A", 8)], at=at(3, 6))
    sp.quotes.activate(db, q8, at=at(3, 7))
    sp.invoices.record_payment(db, i4, Decimal("200.00"), at=at(3, 10))
    sp.leads.disqualify(db, h.l10, at=at(3, 12))
    sp.invoices.record_payment(db, i4, Decimal("100.00"), at=at(3, 12))
    sp.leads.reactivate(db, h.l10, at=at(3, 14))
    sp.opportunities.close_lost(db, h.o9, at=at(3, 15))
    h.fabrikam = sp.leads.get(db, h.l4)["account_id"]
    return h


@pytest.fixture(scope="module")
def history_template():
    """The history built once per module; its tables, copied into a fresh database for each test."""
    source = sp.connect(":memory:")
    ids = build_history(source)
    with source.connection() as con:
        names = con.execute("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'")
        tables = {n: con.sql(f'SELECT * FROM "{n}"').to_arrow_table() for (n,) in names.fetchall()}
    source.close()
    return ids, tables


@pytest.fixture
def history(db, history_template):
    """A fresh in-memory database (conftest's `db`) holding the hand-built history."""
    ids, tables = history_template
    with db.transaction() as con:
        for name, table in tables.items():
            con.execute(f'DELETE FROM "{name}"')
            con.register("_copy", table)
            con.execute(f'INSERT INTO "{name}" SELECT * FROM _copy')
            con.unregister("_copy")
    return SimpleNamespace(**{**vars(ids), "db": db})


FUNNEL = ["stage", "stage_order", "count", "conversion_from_previous", "conversion_from_first"]


def funnel_rows(counts: list[int]) -> list[tuple]:
    """The six stage rows of one group from its counts (conversions: count / previous, count / first)."""
    stages = ["lead", "qualified", "quoted", "won", "invoiced", "paid"]
    rows = []
    for i, (stage, n) in enumerate(zip(stages, counts, strict=True)):
        previous = counts[max(i - 1, 0)]
        rows.append((stage, i + 1, n, n / previous if previous else NAN, n / counts[0] if counts[0] else NAN))
    return rows


def funnel_groups(groups: dict) -> list[tuple]:
    """funnel_rows of several groups, each row prefixed with its group key."""
    return [(key, *row) for key, counts in groups.items() for row in funnel_rows(counts)]


class TestFunnel:
    def test_cohort_counts_every_lead_that_ever_reached_each_stage(self, history):
        # 10 leads; qualified L1 L2 L4 L5 L6 L8 L9 = 7; quoted L1 L2 L4 L6 L8 L9 = 6 (not L5);
        # won L1 L4 = 2; invoiced L1 L4 = 2; paid L1 = 1 (L4 is only partly paid)
        expect(sp.metrics.funnel(history.db), FUNNEL, funnel_rows([10, 7, 6, 2, 2, 1]))

    def test_cohort_by_month_groups_leads_by_creation_month(self, history):
        # Jan: L1 L2 L3 L9 -> qualified L1 L2 L9, quoted the same 3, won/invoiced/paid L1 (in February)
        # Feb: L4 L5 L6 -> qualified all 3, quoted L4 L6, won/invoiced L4 (in March), paid none
        # Mar: L7 L8 L10 -> qualified/quoted L8 only
        frame = sp.metrics.funnel(history.db, period="month")
        months = {"2024-01-01": [4, 3, 3, 1, 1, 1], "2024-02-01": [3, 3, 2, 1, 1, 0], "2024-03-01": [3, 1, 1, 0, 0, 0]}
        expect(frame, ["period", *FUNNEL], funnel_groups(months))
        # e.g. January: qualified 3/4 = 0.75; won 1/3 of quoted, 1/4 of leads
        jan = frame[frame["period"] == "2024-01-01"].set_index("stage")
        assert jan.loc["qualified", "conversion_from_previous"] == pytest.approx(0.75)
        assert jan.loc["won", "conversion_from_previous"] == pytest.approx(1 / 3)
        assert jan.loc["won", "conversion_from_first"] == pytest.approx(0.25)

    def test_activity_counts_each_stage_in_the_month_it_happened(self, history):
        # lead:      Jan L1 L2 L3 L9 (4) | Feb L4 L5 L6 (3)          | Mar L7 L8 L10 (3)
        # qualified: Jan L1 L2 L9 (3)    | Feb L4 L5 L6 (3)          | Mar L8 (1)
        # quoted:    Jan Q1 Q2 Q9 (3)    | Feb Q4 Q6 (2)             | Mar Q8 (1)
        # won:       -                   | Feb O1 (1)                | Mar O4 (1)
        # invoiced:  -                   | Feb I1 (1)                | Mar I4 (1)
        # paid:      -                   | Feb I1 (1)                | -
        frame = sp.metrics.funnel(history.db, view="activity", period="month")
        months = {"2024-01-01": [4, 3, 3, 0, 0, 0], "2024-02-01": [3, 3, 2, 1, 1, 1], "2024-03-01": [3, 1, 1, 1, 1, 0]}
        expect(frame, ["period", *FUNNEL], funnel_groups(months))

    def test_activity_window_keeps_stages_reached_inside_it(self, history):
        # [Feb 1, Mar 1): the February column above
        frame = sp.metrics.funnel(history.db, view="activity", start=dt.date(2024, 2, 1), end=dt.date(2024, 3, 1))
        expect(frame, FUNNEL, funnel_rows([3, 3, 2, 1, 1, 1]))

    def test_cohort_window_keeps_leads_created_inside_it(self, history):
        # created from Feb 1: L4 L5 L6 L7 L8 L10 -> qualified L4 L5 L6 L8, quoted L4 L6 L8, won/invoiced L4
        frame = sp.metrics.funnel(history.db, start="2024-02-01")
        expect(frame, FUNNEL, funnel_rows([6, 4, 3, 1, 1, 0]))

    def test_by_product_follows_the_quote_lines_of_each_leads_opportunity(self, history):
        # A: L1 (Q1) L4 (Q4) L8 (Q8) L9 (Q9) -> 4 4 4, won L1 L4, invoiced L1 L4, paid L1
        # B: L2 (Q2) L4 (Q4) L6 (Q6)         -> 3 3 3, won L4, invoiced L4, paid none
        # no product: L3 L5 L7 L10            -> 4, qualified L5, then none
        frame = sp.metrics.funnel(history.db, by="product")
        products = {"A": [4, 4, 4, 2, 2, 1], "B": [3, 3, 3, 1, 1, 0], None: [4, 1, 0, 0, 0, 0]}
        expect(frame, ["product", *FUNNEL], funnel_groups(products))

    def test_by_region_uses_the_lead_owners_region(self, history):
        # East (ana): L1 L2 L6 L7 L9 -> qualified L1 L2 L6 L9, quoted Q1 Q2 Q6 Q9, won/invoiced/paid L1
        # West (bo):  L3 L4 L5 L8 L10 -> qualified L4 L5 L8, quoted Q4 Q8, won/invoiced L4
        frame = sp.metrics.funnel(history.db, by="region")
        expect(frame, ["region", *FUNNEL], funnel_groups({"East": [5, 4, 4, 1, 1, 1], "West": [5, 3, 2, 1, 1, 0]}))

    def test_filters_on_source(self, history):
        # event: L3 L5 L6 L9 L10 -> qualified L5 L6 L9, quoted Q6 Q9, nothing won
        expect(sp.metrics.funnel(history.db, source="event"), FUNNEL, funnel_rows([5, 3, 2, 0, 0, 0]))


WIN_RATE = ["won", "lost", "open", "win_rate", "won_value", "win_rate_all"]


class TestWinRate:
    def test_overall(self, history):
        # won O1 O4 (1000 + 500), lost O2 O9, open O5 O6 O8 O11: 2 / 4 = 0.5, 2 / 8 = 0.25
        expect(sp.metrics.win_rate(history.db), WIN_RATE, [(2, 2, 4, 0.5, 1500.0, 0.25)])

    def test_by_owner(self, history):
        # ana: O1 won, O2 O9 lost, O6 O11 open -> 1/3, 1000, 1/5; bo: O4 won, O5 O8 open -> 1/1, 500, 1/3
        expect(
            sp.metrics.win_rate(history.db, by="owner"),
            ["owner", *WIN_RATE],
            [("ana", 1, 2, 2, 1 / 3, 1000.0, 1 / 5), ("bo", 1, 0, 2, 1.0, 500.0, 1 / 3)],
        )

    def test_by_creation_month(self, history):
        # Jan: O1 O2 O9 (1 won, 2 lost); Feb: O4 O5 O6 O11 (1 won, 3 open); Mar: O8 (open; nothing closed: NaN)
        expect(
            sp.metrics.win_rate(history.db, period="month"),
            ["period", *WIN_RATE],
            [
                ("2024-01-01", 1, 2, 0, 1 / 3, 1000.0, 1 / 3),
                ("2024-02-01", 1, 0, 3, 1.0, 500.0, 1 / 4),
                ("2024-03-01", 0, 0, 1, NAN, 0.0, 0.0),
            ],
        )

    def test_by_product_counts_an_opportunity_under_each_of_its_products(self, history):
        # A: O1 won, O4 won, O9 lost, O8 open -> 2/3, 1000 + 500, 2/4
        # B: O4 won, O2 lost, O6 open        -> 1/2, 500, 1/3
        # none: O5 O11 open                  -> NaN, 0, 0
        expect(
            sp.metrics.win_rate(history.db, by="product"),
            ["product", *WIN_RATE],
            [("A", 2, 1, 1, 2 / 3, 1500.0, 0.5), ("B", 1, 1, 1, 0.5, 500.0, 1 / 3), (None, 0, 0, 2, NAN, 0.0, 0.0)],
        )

    def test_by_account_names_the_account(self, history):
        # L2 and L9 matched the account L1 created (CONTOSO Inc., Contoso LLC ~ Contoso Ltd)
        expect(
            sp.metrics.win_rate(history.db, by="account"),
            ["account", *WIN_RATE],
            [
                ("Contoso Ltd", 1, 2, 0, 1 / 3, 1000.0, 1 / 3),
                ("Fabrikam GmbH", 1, 0, 0, 1.0, 500.0, 1.0),
                ("Litware", 0, 0, 1, NAN, 0.0, 0.0),
                ("Northwind", 0, 0, 1, NAN, 0.0, 0.0),
                ("Tailspin", 0, 0, 1, NAN, 0.0, 0.0),
                (None, 0, 0, 1, NAN, 0.0, 0.0),  # O11 has no account
            ],
        )

    def test_account_filter_takes_an_id_or_a_name_matched_like_qualification(self, history):
        contoso = [(1, 2, 0, 1 / 3, 1000.0, 1 / 3)]  # O1 won, O2 O9 lost
        expect(sp.metrics.win_rate(history.db, account="contoso"), WIN_RATE, contoso)
        expect(sp.metrics.win_rate(history.db, account="Contoso Ltd"), WIN_RATE, contoso)
        expect(sp.metrics.win_rate(history.db, account=history.fabrikam), WIN_RATE, [(1, 0, 0, 1.0, 500.0, 1.0)])
        both = [(2, 2, 0, 0.5, 1500.0, 0.5)]
        expect(sp.metrics.win_rate(history.db, account=["CONTOSO INC", history.fabrikam]), WIN_RATE, both)

    def test_filters_combine(self, history):
        # West = bo: O4 won, O5 O8 open; with source event only O5 remains
        expect(sp.metrics.win_rate(history.db, region="West"), WIN_RATE, [(1, 0, 2, 1.0, 500.0, 1 / 3)])
        expect(sp.metrics.win_rate(history.db, region="West", source="event"), WIN_RATE, [(0, 0, 1, NAN, 0.0, 0.0)])
        # product B: O2 lost, O4 won, O6 open
        expect(sp.metrics.win_rate(history.db, product=["B"]), WIN_RATE, [(1, 1, 1, 0.5, 500.0, 1 / 3)])

    def test_window_anchors_on_creation(self, history):
        # created in February: O4 won, O5 O6 O11 open
        frame = sp.metrics.win_rate(history.db, start=at(2, 1, 0), end=at(3, 1, 0))
        expect(frame, WIN_RATE, [(1, 0, 3, 1.0, 500.0, 0.25)])

    def test_window_includes_start_and_excludes_end(self, history):
        # [Feb 1 09:00, Feb 3 09:00): O11 (created Feb 1 09:00) in, O4 (created Feb 3 09:00) out
        expect(sp.metrics.win_rate(history.db, start=at(2, 1), end=at(2, 3)), WIN_RATE, [(0, 0, 1, NAN, 0.0, 0.0)])


PIPELINE = ["phase", "phase_order", "count", "value", "weighted_value"]


class TestPipeline:
    def test_now(self, history):
        # qualify: O5 (4000 x 10%) + O11 (10000 x 50%) = 2, 14000, 400 + 5000
        # develop: O6 (a draft quote) 6000 x 10%; propose: O8 (an active quote) 800 x 10%
        expect(
            sp.metrics.pipeline(history.db),
            PIPELINE,
            [("qualify", 1, 2, 14000.0, 5400.0), ("develop", 2, 1, 6000.0, 600.0), ("propose", 3, 1, 800.0, 80.0)],
        )

    def test_by_owner_lists_every_phase_of_every_owner(self, history):
        expect(
            sp.metrics.pipeline(history.db, by="owner"),
            ["owner", *PIPELINE],
            [
                ("ana", "qualify", 1, 1, 10000.0, 5000.0),  # O11
                ("ana", "develop", 2, 1, 6000.0, 600.0),  # O6
                ("ana", "propose", 3, 0, 0.0, 0.0),
                ("bo", "qualify", 1, 1, 4000.0, 400.0),  # O5
                ("bo", "develop", 2, 0, 0.0, 0.0),
                ("bo", "propose", 3, 1, 800.0, 80.0),  # O8
            ],
        )

    def test_as_of_rebuilds_a_past_pipeline_from_events(self, history):
        # On Feb 15 (00:00): O1 already won (Feb 1), O2 already lost (Feb 10), O6 and O8 not yet created.
        # Open: O5 (qualify), O11 (qualify), O4 (propose: Q4 active since Feb 6, won later on Mar 1),
        # O9 (propose: Q9 active since Jan 31, lost later on Mar 15).
        # Weights: O5 10%, O11 50%; O4 and O9 are closed now (100% / 0%), so they weigh the open default 10%:
        # qualify 4000 x 0.1 + 10000 x 0.5 = 5400; propose 500 x 0.1 + 2500 x 0.1 = 300
        expect(
            sp.metrics.pipeline(history.db, as_of=dt.date(2024, 2, 15)),
            PIPELINE,
            [("qualify", 1, 2, 14000.0, 5400.0), ("develop", 2, 0, 0.0, 0.0), ("propose", 3, 2, 3000.0, 300.0)],
        )

    def test_as_of_sees_a_revision_in_progress(self, history):
        # Jan 20 12:00: Q1 was revised at 09:00 and its revision 2 is a draft until Jan 21 -> O1 develops;
        # O2 proposes (Q2 active since Jan 17); O9 and O11 do not exist yet
        expect(
            sp.metrics.pipeline(history.db, as_of=at(1, 20, 12), by="owner"),
            ["owner", *PIPELINE],
            [
                ("ana", "qualify", 1, 0, 0.0, 0.0),
                ("ana", "develop", 2, 1, 1000.0, 100.0),
                ("ana", "propose", 3, 1, 2000.0, 200.0),
            ],
        )

    def test_as_of_includes_events_at_that_instant(self, history):
        # at Jan 20 09:00 sharp Q1 was revised and its draft revision 2 created: O1 develops already
        frame = sp.metrics.pipeline(history.db, as_of=at(1, 20))
        assert frame.set_index("phase")["count"].to_dict() == {"qualify": 0, "develop": 1, "propose": 1}

    def test_as_of_now_equals_the_current_pipeline(self, history):
        pd.testing.assert_frame_equal(
            sp.metrics.pipeline(history.db, as_of=dt.datetime(2030, 1, 1), by=["region", "source"]),
            sp.metrics.pipeline(history.db, by=["region", "source"]),
        )


class TestDealsAndCycles:
    def test_avg_deal_size_by_month_won(self, history):
        # O1 won Feb 1 for 1000.00 (10 x A); O4 won Mar 1 for 500.00 (3 x A + 4 x B)
        expect(
            sp.metrics.avg_deal_size(history.db, period="month"),
            ["period", "won", "won_value", "avg_deal_size"],
            [("2024-02-01", 1, 1000.0, 1000.0), ("2024-03-01", 1, 500.0, 500.0)],
        )
        expect(sp.metrics.avg_deal_size(history.db), ["won", "won_value", "avg_deal_size"], [(2, 1500.0, 750.0)])

    def test_cycle_time(self, history):
        # won:  O1 Jan 10 -> Feb 1 = 22 days, O4 Feb 3 -> Mar 1 = 27 days (26 + 1, leap February)
        # lost: O2 Jan 15 -> Feb 10 = 26 days, O9 Jan 28 -> Mar 15 = 3 + 29 + 15 = 47 days
        # p90 interpolates: won 22 + 0.9 x 5 = 26.5; lost 26 + 0.9 x 21 = 44.9;
        # all [22, 26, 27, 47]: position 0.9 x 3 = 2.7 -> 27 + 0.7 x 20 = 41; median (26 + 27) / 2
        expect(
            sp.metrics.cycle_time(history.db),
            ["outcome", "count", "mean_days", "median_days", "p90_days"],
            [("won", 2, 24.5, 24.5, 26.5), ("lost", 2, 36.5, 36.5, 44.9), ("all", 4, 30.5, 26.5, 41.0)],
        )

    def test_cycle_time_by_owner_lists_empty_outcomes_as_nan(self, history):
        # bo closed only O4 (won, 27 days)
        frame = sp.metrics.cycle_time(history.db, owner="bo")
        expect(
            frame,
            ["outcome", "count", "mean_days", "median_days", "p90_days"],
            [("won", 1, 27.0, 27.0, 27.0), ("lost", 0, NAN, NAN, NAN), ("all", 1, 27.0, 27.0, 27.0)],
        )

    def test_sales_velocity_by_month(self, history):
        # Jan: created O1 O2 O9 (3), nothing closed -> NaN
        # Feb: created O4 O5 O6 O11 (4); closed O1 won (1000, 22 days), O2 lost -> 4 x 1000 x 0.5 / 22
        # Mar: created O8 (1); closed O4 won (500, 27 days), O9 lost -> 1 x 500 x 0.5 / 27
        expect(
            sp.metrics.sales_velocity(history.db, period="month"),
            ["period", "opportunities", "avg_deal_size", "win_rate", "cycle_days", "velocity"],
            [
                ("2024-01-01", 3, NAN, NAN, NAN, NAN),
                ("2024-02-01", 4, 1000.0, 0.5, 22.0, 4 * 1000 * 0.5 / 22),
                ("2024-03-01", 1, 500.0, 0.5, 27.0, 1 * 500 * 0.5 / 27),
            ],
        )

    def test_sales_velocity_overall(self, history):
        # 8 opportunities x 750 average x 2/4 won / 24.5 days (mean of 22 and 27) = 122.45 a day
        expect(
            sp.metrics.sales_velocity(history.db),
            ["opportunities", "avg_deal_size", "win_rate", "cycle_days", "velocity"],
            [(8, 750.0, 0.5, 24.5, 8 * 750 * 0.5 / 24.5)],
        )


TIME = ["state", "status", "count", "mean_days", "median_days", "p90_days"]


class TestTimeInStage:
    def test_opportunities_leave_open_when_they_close(self, history):
        # open -> closed: O1 22, O2 26, O4 27, O9 47 days; the others are still open, and won/lost are final
        expect(sp.metrics.time_in_stage(history.db), TIME, [("open", "in_progress", 4, 30.5, 26.5, 41.0)])

    def test_quotes(self, history):
        # draft -> active after 1 day for Q1 Q1r2 Q2 Q4 Q8 Q9 (Q6 is still a draft)
        # active: Q1 7 (revised Jan 20), Q1r2 11 (won Feb 1), Q2 24 (lost Feb 10), Q4 24 (won Mar 1),
        #         Q9 44 (lost Mar 15); Q8 is still active -> [7, 11, 24, 24, 44]: mean 22, median 24,
        #         p90 at position 3.6: 24 + 0.6 x 20 = 36
        expect(
            sp.metrics.time_in_stage(history.db, entity="quote"),
            TIME,
            [("draft", "in_progress", 6, 1.0, 1.0, 1.0), ("active", "open", 5, 22.0, 24.0, 36.0)],
        )

    def test_invoices_count_repeated_partial_payments_as_one_stay(self, history):
        # I1: new Feb 6 -> partial Feb 10 (4) -> paid Feb 20 (partial for 10); I4: new Mar 4 -> partial Mar 10 (6),
        # partial again Mar 12, still partial now (left out)
        expect(
            sp.metrics.time_in_stage(history.db, entity="invoice"),
            TIME,
            [("active", "new", 2, 5.0, 5.0, 5.8), ("active", "partial", 1, 10.0, 10.0, 10.0)],
        )

    def test_leads_by_owner(self, history):
        # ana new: L1 5, L2 7, L6 6, L9 3 (L7 still new) -> mean 5.25, median 5.5, p90 6 + 0.7 x 1 = 6.7
        # bo new:  L3 5, L4 1, L5 2, L8 2, L10 2 -> [1, 2, 2, 2, 5]: mean 2.4, median 2, p90 2 + 0.6 x 3 = 3.8
        # bo disqualified: L10 Mar 12 -> reactivated Mar 14 = 2 (L3 is still disqualified); then L10 is new again
        expect(
            sp.metrics.time_in_stage(history.db, entity="lead", by="owner"),
            ["owner", *TIME],
            [
                ("ana", "open", "new", 4, 5.25, 5.5, 6.7),
                ("bo", "open", "new", 5, 2.4, 2.0, 3.8),
                ("bo", "disqualified", "lost", 1, 2.0, 2.0, 2.0),
            ],
        )

    def test_window_anchors_on_entering_the_stage(self, history):
        # entered from Feb 1: new L4 1, L5 2, L6 6, L8 2, L10 2 -> mean 13 / 5; disqualified L10 2
        expect(
            sp.metrics.time_in_stage(history.db, entity="lead", start="2024-02-01"),
            TIME,
            [("open", "new", 5, 2.6, 2.0, 4.4), ("disqualified", "lost", 1, 2.0, 2.0, 2.0)],
        )


# -- 2. a generated database against pandas over the raw tables ---------------------------------


@pytest.fixture(scope="module")
def generated():
    db = sp.connect(":memory:")
    sp.demo.generate(db, leads=3000, seed=1, progress=False)
    yield db, Reference(db)
    db.close()


def assert_matches(generated, metric: str, **options) -> pd.DataFrame:
    db, reference = generated
    frame = getattr(sp.metrics, metric)(db, **options)
    expected = reference.__getattribute__(metric)(**options)
    assert len(frame) == len(expected), f"{metric}({options}): {len(frame)} rows, pandas says {len(expected)}"
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False, rtol=1e-9, obj=f"{metric}({options})")
    return frame


CASES = [
    ("funnel", {}),
    ("funnel", {"period": "month", "by": "source"}),
    ("funnel", {"period": "quarter", "by": ["region", "product"], "start": "2025-01-01"}),
    ("funnel", {"view": "activity"}),
    ("funnel", {"view": "activity", "period": "week", "by": "owner", "source": ["web", "referral"]}),
    ("funnel", {"view": "activity", "period": "month", "by": "account", "end": "2025-06-01"}),
    ("win_rate", {}),
    ("win_rate", {"by": "owner"}),
    ("win_rate", {"period": "quarter", "by": "product", "region": "Europe"}),
    ("win_rate", {"period": "month", "by": ["region", "source"], "product": ["LAPTOP-15", "MONITOR-27"]}),
    ("win_rate", {"by": "product", "product": ["LAPTOP-15", "MONITOR-27"]}),
    ("pipeline", {}),
    ("pipeline", {"by": ["region", "product"]}),
    ("pipeline", {"as_of": "2025-06-01", "by": "source"}),
    ("pipeline", {"as_of": dt.datetime(2026, 3, 15, 12), "owner": ["aaron.barber", "anthony.mayer"]}),
    ("avg_deal_size", {"period": "month"}),
    ("avg_deal_size", {"by": ["owner", "product"], "start": "2025-01-01", "end": "2026-01-01"}),
    ("cycle_time", {}),
    ("cycle_time", {"period": "quarter", "by": "region"}),
    ("cycle_time", {"by": "source", "product": "SERVER-1U"}),
    ("sales_velocity", {"period": "month"}),
    ("sales_velocity", {"by": "region", "source": "web", "start": "2025-03-01"}),
    ("time_in_stage", {}),
    ("time_in_stage", {"entity": "lead", "by": "source"}),
    ("time_in_stage", {"entity": "quote", "by": "product", "region": ["Europe", "Asia Pacific"]}),
    ("time_in_stage", {"entity": "opportunity", "product": ["LAPTOP-15", "DOCK-TB4"]}),
    ("time_in_stage", {"entity": "lead", "product": "LAPTOP-15"}),
    ("time_in_stage", {"entity": "order", "start": "2025-01-01", "end": "2026-01-01"}),
    ("time_in_stage", {"entity": "invoice", "by": "owner"}),
    ("time_in_stage", {"entity": "opportunity", "owner": "aaron.barber"}),
    ("time_in_stage", {"entity": "quote", "source": "web", "by": "region"}),
]


@pytest.mark.parametrize(("metric", "options"), CASES, ids=[f"{m}-{i}" for i, (m, _) in enumerate(CASES)])
def test_generated_history_matches_pandas_over_the_raw_tables(generated, metric, options):
    frame = assert_matches(generated, metric, **options)
    assert len(frame) > 0


def test_generated_account_filter_by_id_and_name(generated):
    db, _ = generated
    top = db.sql("SELECT account_id, name FROM accounts ORDER BY account_id LIMIT 3")
    ids, names = [int(i) for i in top["account_id"]], list(top["name"])
    by_id = assert_matches(generated, "win_rate", account=ids, by="account")
    by_name = assert_matches(generated, "win_rate", account=names, by="account")
    pd.testing.assert_frame_equal(by_id, by_name)
    assert set(by_id["account"]) == set(names)


@pytest.mark.parametrize("metric", ["funnel", "win_rate", "time_in_stage", "summary"])
def test_one_filter_value_reads_the_same_as_a_list_of_it(generated, metric):
    # one value is a constant in the SQL, a list an IN over its values: the same frames
    db, _ = generated
    account = int(db.sql("SELECT min(account_id) AS a FROM opportunities")["a"].iloc[0])
    values = {"owner": "aaron.barber", "source": "web", "region": "Europe", "account": account}
    everyone = getattr(sp.metrics, metric)(db)
    for name, value in values.items():
        one = getattr(sp.metrics, metric)(db, **{name: value})
        twice = getattr(sp.metrics, metric)(db, **{name: [value, value]})
        pd.testing.assert_frame_equal(one, twice, obj=f"{metric}({name}=...)")
        assert len(one) > 0 and not one.equals(everyone), f"{metric}({name}=...) filtered nothing"


def test_generated_grand_totals_add_up(generated):
    db, _ = generated
    # every lead lands in exactly one creation month; every opportunity in one owner
    by_month = sp.metrics.funnel(db, period="month")
    total = sp.metrics.funnel(db)
    assert by_month.groupby("stage_order")["count"].sum().tolist() == total["count"].tolist()
    assert total["count"].iloc[0] == 3000
    by_owner = sp.metrics.win_rate(db, by="owner")
    assert (
        by_owner[["won", "lost", "open"]].sum().tolist()
        == sp.metrics.win_rate(db)[["won", "lost", "open"]].iloc[0].tolist()
    )


WIN_RATES_CASES = [
    {},
    {"period": "month"},
    {"period": "week", "owner": ["aaron.barber", "anthony.mayer"]},
    {"period": "quarter", "product": ["LAPTOP-15", "MONITOR-27"], "start": "2025-01-01"},
    {"region": "Europe", "end": "2026-01-01"},
    {"period": "month", "source": "web", "by": ["region", "owner"]},
    {"period": "month", "by": "product"},
    {"by": ["account", "source"], "account": "missing company"},
]


@pytest.mark.parametrize("options", WIN_RATES_CASES, ids=[str(i) for i in range(len(WIN_RATES_CASES))])
def test_win_rates_equals_win_rate_for_each_dimension_and_the_period(generated, options):
    db, _ = generated
    options = dict(options)
    by = options.pop("by", ("owner", "source", "product", "region"))
    period = options.pop("period", None)
    frames = sp.metrics.win_rates(db, by, period=period, **options)
    dims = [by] if isinstance(by, str) else list(by)
    assert list(frames) == dims + (["period"] if period else [])
    for dim in dims:
        pd.testing.assert_frame_equal(frames[dim], sp.metrics.win_rate(db, by=dim, **options), obj=dim)
    if period:
        pd.testing.assert_frame_equal(frames["period"], sp.metrics.win_rate(db, period=period, **options))
    assert sum(len(f) for f in frames.values()) > 0 or "account" in dims


def record_queries(monkeypatch) -> list[str]:
    """The SQL of every metric query from here on (metrics and metric_sets each bind `_run`)."""
    queries: list[str] = []
    real = sp.metrics._run
    spy = lambda db, sql, params: (queries.append(sql), real(db, sql, params))[1]  # noqa: E731
    monkeypatch.setattr(sp.metrics, "_run", spy)
    monkeypatch.setattr(metric_sets, "_run", spy)
    return queries


def test_win_rates_reads_the_shared_dimensions_in_one_query(generated, monkeypatch):
    db, _ = generated
    queries = record_queries(monkeypatch)
    sp.metrics.win_rates(db, ("owner", "source", "region", "product"), period="month")
    assert len(queries) == 2 and "GROUPING SETS" in queries[0]  # the product breakdown joins on its own


FUNNELS_CASES = [
    ("cohort", {"period": "month"}),
    ("activity", {"period": "month"}),
    ("cohort", {"period": "week", "owner": "aaron.barber", "start": "2025-03-01"}),
    ("activity", {"period": "quarter", "product": ["LAPTOP-15", "DOCK-TB4"], "end": "2026-01-01"}),
    ("cohort", {"period": "month", "source": "web", "region": "Europe"}),
    ("activity", {"period": "month", "account": "missing company"}),  # nothing: six zero stages, no periods
]


@pytest.mark.parametrize(("view", "options"), FUNNELS_CASES, ids=[str(i) for i in range(len(FUNNELS_CASES))])
def test_funnels_equals_the_funnel_and_its_trend_in_one_query(generated, monkeypatch, view, options):
    db, _ = generated
    options = dict(options)
    period = options.pop("period")
    queries = record_queries(monkeypatch)
    frames = sp.metrics.funnels(db, view, period=period, **options)
    assert len(queries) == 1 and "GROUPING SETS" in queries[0]
    assert list(frames) == ["total", "period"]
    pd.testing.assert_frame_equal(frames["total"], sp.metrics.funnel(db, view, **options), obj="total")
    pd.testing.assert_frame_equal(frames["period"], sp.metrics.funnel(db, view, period=period, **options), obj="period")
    assert frames["total"]["stage_order"].tolist() == [1, 2, 3, 4, 5, 6]
    if "account" in options:
        assert frames["period"].empty and frames["total"]["count"].eq(0).all()
    else:
        assert frames["total"]["count"].iloc[0] == frames["period"].query("stage_order == 1")["count"].sum() > 0


@pytest.mark.parametrize(
    ("options", "field"),
    [({"period": None}, "period"), ({"period": "year"}, "period"), ({"period": "month", "view": "flow"}, "view")],
)
def test_funnels_refuses_a_missing_or_unknown_period_or_view(generated, options, field):
    db, _ = generated
    with pytest.raises(sp.ValidationError) as caught:
        sp.metrics.funnels(db, **options)
    assert caught.value.field == field


# -- 3. options, parameters and dtypes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda db: sp.metrics.funnel(db, by="color"), "by"),
        (lambda db: sp.metrics.funnel(db, by=["owner", "owner"]), "by"),
        (lambda db: sp.metrics.win_rate(db, by=3), "by"),
        (lambda db: sp.metrics.win_rate(db, period="year"), "period"),
        (lambda db: sp.metrics.funnel(db, view="weekly"), "view"),
        (lambda db: sp.metrics.time_in_stage(db, entity="contact"), "entity"),
        (lambda db: sp.metrics.win_rate(db, owner=[]), "owner"),
        (lambda db: sp.metrics.win_rate(db, source=5), "source"),
        (lambda db: sp.metrics.win_rate(db, region=[None]), "region"),
        (lambda db: sp.metrics.win_rate(db, account=True), "account"),
        (lambda db: sp.metrics.win_rate(db, account=-1), "account"),
        (lambda db: sp.metrics.win_rate(db, start="last tuesday"), "start"),
        (lambda db: sp.metrics.win_rate(db, end=12), "end"),
        (lambda db: sp.metrics.win_rate(db, start="2024-02-01", end="2024-01-01"), "end"),
        (lambda db: sp.metrics.pipeline(db, as_of="soon"), "as_of"),
        (lambda db: sp.metrics.win_rate("data/salespipe.duckdb"), "db"),
        (lambda db: sp.metrics.win_rates(db, by="color"), "by"),
        (lambda db: sp.metrics.win_rates(db, by=["owner", "owner"]), "by"),
        (lambda db: sp.metrics.win_rates(db, period="year"), "period"),
        (lambda db: sp.metrics.win_rates(db, owner=[]), "owner"),
    ],
)
def test_bad_options_raise_validation_errors_naming_the_option(db, call, field):
    with pytest.raises(sp.ValidationError) as info:
        call(db)
    assert info.value.field == field


def test_values_are_bound_parameters_not_sql(history):
    hostile = "ana' OR '1'='1"
    expect(sp.metrics.win_rate(history.db, owner=hostile), WIN_RATE, [(0, 0, 0, NAN, 0.0, NAN)])
    owners = sp.metrics.funnel(history.db, by="owner", source=[hostile, "web"])["owner"]
    assert owners.unique().tolist() == ["ana", "bo"]  # the owners of web leads: the hostile text matched nothing


def test_an_empty_database_gives_zero_rows_or_zeros(db):
    expect(sp.metrics.funnel(db), FUNNEL, funnel_rows([0] * 6))
    zeros = [(phase, i, 0, 0.0, 0.0) for i, phase in enumerate(["qualify", "develop", "propose"], 1)]
    expect(sp.metrics.pipeline(db), PIPELINE, zeros)
    assert sp.metrics.win_rate(db, by="owner").empty
    assert sp.metrics.time_in_stage(db).empty


INT, FLOAT, TIME_ = "int64", "float64", "datetime64[us]"
RATES = {"win_rate": FLOAT, "won_value": FLOAT, "win_rate_all": FLOAT}
DAYS = {"count": INT, "mean_days": FLOAT, "median_days": FLOAT, "p90_days": FLOAT}
DTYPES = {
    "funnel": {"stage_order": INT, "count": INT, "conversion_from_previous": FLOAT, "conversion_from_first": FLOAT},
    "win_rate": {"won": INT, "lost": INT, "open": INT, **RATES},
    "pipeline": {"phase_order": INT, "count": INT, "value": FLOAT, "weighted_value": FLOAT},
    "avg_deal_size": {"won": INT, "won_value": FLOAT, "avg_deal_size": FLOAT},
    "cycle_time": DAYS,
    "sales_velocity": {
        "opportunities": INT,
        **dict.fromkeys(["avg_deal_size", "win_rate", "cycle_days", "velocity"], FLOAT),
    },
    "time_in_stage": DAYS,
}


@pytest.mark.parametrize("metric", sorted(DTYPES))
def test_frames_have_the_documented_columns_and_dtypes(history, metric):
    periodic = metric not in ("pipeline", "time_in_stage")
    options = {"by": ["region", "owner"], **({"period": "week"} if periodic else {})}
    frame = getattr(sp.metrics, metric)(history.db, **options)
    keys = ["period", "region", "owner"] if periodic else ["region", "owner"]
    assert list(frame.columns[: len(keys)]) == keys
    assert len(frame) > 0
    if periodic:
        assert str(frame["period"].dtype) == TIME_
    assert {c: str(frame[c].dtype) for c in DTYPES[metric]} == DTYPES[metric]
