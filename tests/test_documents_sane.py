"""Documents stay sane: no discount above the detail, no total past what DECIMAL(18,2) holds, no
invoice that can never be paid; and no view ever raises for data the API accepted."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import (
    EARLY,
    assert_refused,
    make_opportunity,
    make_product,
    make_quote,
    record,
    rows,
    value,
)

import salespipe as sp

D = Decimal
LIMIT = D("1000000000000000")  # every amount and total stays below 1e15


def _views(db) -> list[str]:
    return [
        r[0]
        for r in rows(
            db, "SELECT view_name FROM duckdb_views() WHERE NOT internal AND database_name = current_database()"
        )
    ]


def assert_every_view_answers(db) -> None:
    for view in _views(db):
        rows(db, f'SELECT * FROM "{view}"')


# -- discounts -------------------------------------------------------------------------------------


def test_a_quote_whose_discount_exceeds_its_detail_is_refused_at_create(db):
    opp, sku = make_opportunity(db), make_product(db, unit_price=D("100.00"))
    for pct, amount in ((D("0"), D("100.01")), (D("50"), D("50.01")), (D("100"), D("0.01"))):
        error = assert_refused(
            db,
            lambda pct=pct, amount=amount: sp.quotes.create(
                db, opp, lines=[(sku, 1)], discount_pct=pct, discount_amount=amount
            ),
            sp.ValidationError,
            match="more than the detail 100.00",
        )
        assert error.field == "discount_amount"
    quote = sp.quotes.create(db, opp, lines=[(sku, 1)], discount_pct=D("50"), discount_amount=D("50.00"), at=EARLY)
    assert sp.quotes.totals(db, quote).pre_freight == D("0.00")  # exactly the detail: allowed


def test_update_add_line_and_remove_line_keep_the_discount_within_the_detail(db):
    a, b = make_product(db, unit_price=D("60.00")), make_product(db, unit_price=D("40.00"))
    quote = make_quote(db, lines=[(a, 1), (b, 1)], discount_amount=D("80.00"))
    error = assert_refused(db, lambda: sp.quotes.update(db, quote, discount_pct=D("25")), sp.ValidationError)
    assert error.field == "discount_amount" and "lower discount_pct or discount_amount" in str(error)
    error = assert_refused(db, lambda: sp.quotes.remove_line(db, quote, 1), sp.ValidationError)
    assert error.field == "discount_amount" and str(error).startswith("removing line 1:")
    sp.quotes.add_line(db, quote, sku=b, quantity=1)  # the detail grows: more room
    sp.quotes.update(db, quote, discount_pct=D("20"))  # 20% of 140 + 80 = 108 <= 140
    assert sp.quotes.totals(db, quote).discount == D("108.00")


def test_activate_refuses_a_quote_whose_discount_exceeds_its_detail(db):
    """A draft written before the rule (planted here with raw SQL) cannot be activated and won."""
    quote = make_quote(db, lines=[(make_product(db, unit_price=D("10.00")), 1)])
    rows(db, "UPDATE quotes SET discount_amount = 25 WHERE quote_id = ?", [quote])
    error = assert_refused(db, lambda: sp.quotes.activate(db, quote), sp.ValidationError, match="activating")
    assert error.field == "discount_amount"


def test_create_many_lists_each_quote_whose_discount_exceeds_its_detail(db):
    import pandas as pd

    opps, sku = [make_opportunity(db) for _ in range(3)], make_product(db, unit_price=D("10.00"))
    header = pd.DataFrame({"opportunity_id": opps, "discount_amount": ["5", "11", "12"]})
    lines = pd.DataFrame({"quote": [0, 1, 2], "sku": sku, "quantity": 1})
    error = assert_refused(db, lambda: sp.quotes.create_many(db, header, lines), sp.ValidationError)
    assert error.field == "discount_amount" and len(error.failures) == 2


# -- totals that DECIMAL(18,2) holds ----------------------------------------------------------------


def test_a_quote_whose_detail_would_reach_the_limit_is_refused_and_the_views_keep_answering(db):
    big = make_product(db, unit_price=D("999999999.99"))
    line = D("999999999.99") * 999  # 998,999,999,990.01: just under one line's limit
    n = int(LIMIT // line)  # the most such lines one quote holds
    quote = make_quote(db, lines=[(big, 999)] * n)
    assert sp.quotes.totals(db, quote).detail == n * line
    error = assert_refused(db, lambda: sp.quotes.add_line(db, quote, sku=big, quantity=999), sp.ValidationError)
    assert error.field == "detail" and "limit" in str(error)
    assert_every_view_answers(db)
    assert value(db, "SELECT total FROM v_quote_totals WHERE quote_id = ?", [quote]) < LIMIT


def test_tax_and_freight_cannot_push_a_total_past_the_limit(db):
    sku = make_product(db, unit_price=D("1.00"))
    opp = make_opportunity(db)
    error = assert_refused(
        db,
        lambda: sp.quotes.create(
            db, opp, lines=[(sku, 1, 0, D("999999999999999.00"))], freight=D("999999999999999.00")
        ),
        sp.ValidationError,
    )
    assert error.field == "total"
    quote = sp.quotes.create(db, opp, lines=[(sku, 1, 0, D("500000000000000.00"))], at=EARLY)
    error = assert_refused(db, lambda: sp.quotes.update(db, quote, freight=D("500000000000000.00")), sp.ValidationError)
    assert error.field == "total"
    assert_every_view_answers(db)


# -- an invoice with nothing to pay ----------------------------------------------------------------


def test_a_zero_total_invoice_is_paid_when_it_is_created(db):
    quote = make_quote(db, lines=[(make_product(db, unit_price=D("50.00")), 2)], discount_pct=D("100"))
    sp.quotes.activate(db, quote, at=EARLY)
    order = sp.quotes.create_order(db, quote, at=EARLY)
    sp.orders.fulfill(db, order, at=EARLY)
    invoice = sp.orders.create_invoice(db, order, at=EARLY)
    row = record(db, "invoices", "invoice_id", invoice)
    assert (row["state"], row["status"], row["closed_at"]) == ("paid", "complete", EARLY)
    assert sp.invoices.totals(db, invoice).balance == D("0.00")
    lead = value(db, "SELECT lead_id FROM lead_stages WHERE opportunity_id = (SELECT opportunity_id FROM invoices)")
    assert record(db, "lead_stages", "lead_id", lead)["paid_at"] == EARLY  # the funnel counts it paid
    assert rows(db, "SELECT action, to_state, to_status FROM events WHERE entity = 'invoice'") == [
        ("create", "paid", "complete")
    ]
    assert sp.doctor.run(db).empty
    error = assert_refused(db, lambda: sp.invoices.record_payment(db, invoice, "0.00"), sp.InvalidTransition)
    assert "paid" in str(error)


def test_a_nonzero_invoice_is_still_created_active(db):
    quote = make_quote(db, lines=[(make_product(db, unit_price=D("50.00")), 1)], discount_pct=D("99"))
    sp.quotes.activate(db, quote, at=EARLY)
    order = sp.quotes.create_order(db, quote, at=EARLY)
    sp.orders.fulfill(db, order, at=EARLY)
    invoice = sp.orders.create_invoice(db, order, at=EARLY)
    assert (record(db, "invoices", "invoice_id", invoice)["state"]) == "active"
    assert sp.invoices.totals(db, invoice).total == D("0.50")


@pytest.mark.parametrize("amount", ["0", "0.00", 0])
def test_a_payment_of_nothing_is_refused(db, amount):
    from conftest import make_invoice

    invoice = make_invoice(db)
    assert_refused(db, lambda: sp.invoices.record_payment(db, invoice, amount), sp.ValidationError, match="greater")
