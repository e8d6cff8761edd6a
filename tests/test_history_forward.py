"""`at=` runs forward: no transition is dated before the record's last change, and no record before
the creation of the record it came from. Equal times are allowed (a batch happens at one moment)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from conftest import EARLY, assert_refused, make_invoice, make_lead, make_opportunity, make_product, record

import salespipe as sp

LATER = EARLY + dt.timedelta(days=10)
BEFORE = EARLY - dt.timedelta(seconds=1)


def _refused_in_time(db, call):
    error = assert_refused(db, call, sp.ValidationError, match="runs forward")
    assert error.field == "at" and error.failures
    return error


def test_a_transition_dated_before_the_records_creation_is_refused(db):
    lead = make_lead(db)  # created at EARLY
    error = _refused_in_time(db, lambda: sp.leads.qualify(db, lead, at=BEFORE))
    assert f"lead {lead}" in str(error) and "before its last change" in str(error)
    _refused_in_time(db, lambda: sp.leads.disqualify(db, lead, at=BEFORE))
    sp.leads.qualify(db, lead, at=EARLY)  # the same moment is fine


def test_a_transition_dated_before_the_records_last_change_is_refused(db):
    lead = make_lead(db)
    sp.leads.disqualify(db, lead, at=LATER)
    _refused_in_time(db, lambda: sp.leads.reactivate(db, lead, at=LATER - dt.timedelta(hours=1)))
    sp.leads.reactivate(db, lead, at=LATER)
    assert record(db, "leads", "lead_id", lead)["changed_at"] == LATER


def test_reopen_before_the_loss_and_payments_out_of_order_are_refused(db):
    opp = make_opportunity(db)
    sp.opportunities.close_lost(db, opp, at=LATER)
    _refused_in_time(db, lambda: sp.opportunities.reopen(db, opp, at=LATER - dt.timedelta(days=1)))
    invoice = make_invoice(db)
    sp.invoices.record_payment(db, invoice, "1.00", at=LATER)
    _refused_in_time(db, lambda: sp.invoices.record_payment(db, invoice, "1.00", at=LATER - dt.timedelta(days=1)))


def test_create_order_before_the_quote_was_activated_is_refused_and_nothing_is_made(db):
    quote = sp.quotes.create(db, make_opportunity(db), lines=[(make_product(db), 1)], at=EARLY)
    sp.quotes.activate(db, quote, at=LATER)
    _refused_in_time(db, lambda: sp.quotes.create_order(db, quote, at=LATER - dt.timedelta(minutes=1)))
    _refused_in_time(db, lambda: sp.quotes.create_order_many(db, [quote], at=LATER - dt.timedelta(minutes=1)))


def test_a_quote_dated_before_its_opportunity_is_refused(db):
    opp, sku = make_opportunity(db), make_product(db)  # qualified at EARLY
    error = _refused_in_time(db, lambda: sp.quotes.create(db, opp, lines=[(sku, 1)], at=BEFORE))
    assert f"opportunity {opp}" in str(error) and "creation of opportunity" in str(error)
    frame = pd.DataFrame({"opportunity_id": [opp], "created_at": [BEFORE]})
    _refused_in_time(db, lambda: sp.quotes.create_many(db, frame))


def test_bulk_forms_list_every_record_dated_too_early_and_change_nothing(db):
    frame = pd.DataFrame({"company": ["A", "B", "C"], "created_at": [EARLY, LATER, EARLY]})
    a, b, c = (int(i) for i in sp.leads.create_many(db, frame))
    error = _refused_in_time(db, lambda: sp.leads.disqualify_many(db, [a, b, c], at=EARLY + dt.timedelta(days=1)))
    assert [rid for rid, _ in error.failures] == [b]
    many = [int(i) for i in sp.leads.create_many(db, pd.DataFrame({"company": [f"L{i}" for i in range(70)]}), at=LATER)]
    error = _refused_in_time(db, lambda: sp.leads.qualify_many(db, many, at=EARLY))  # past machine.FEW: set-based
    assert len(error.failures) == 70


@pytest.mark.parametrize("few", [True, False])
def test_both_shapes_of_apply_refuse_alike(db, few, monkeypatch):
    if not few:
        monkeypatch.setattr(sp.machine, "FEW", 0)
    lead = make_lead(db)
    error = _refused_in_time(db, lambda: sp.leads.disqualify(db, lead, at=BEFORE))
    assert str(error) == (
        f"lead {lead}: at {BEFORE:%Y-%m-%d %H:%M:%S} is before its last change ({EARLY:%Y-%m-%d %H:%M:%S}): "
        "a record's history runs forward; give an at on or after that time"
    )


def test_closing_sibling_quotes_respects_their_history_too(db):
    opp, sku = make_opportunity(db), make_product(db)
    first = sp.quotes.create(db, opp, lines=[(sku, 1)], at=EARLY)
    sp.quotes.activate(db, first, at=EARLY)
    sibling = sp.quotes.create(db, opp, lines=[(sku, 2)], at=EARLY)
    sp.quotes.close(db, sibling, status="canceled", at=LATER)
    sp.quotes.revise(db, sibling, at=LATER + dt.timedelta(hours=1))  # a new open draft, created then
    error = _refused_in_time(db, lambda: sp.quotes.create_order(db, first, at=LATER))
    assert "quote" in str(error)
    order = sp.quotes.create_order(db, first, at=LATER + dt.timedelta(hours=1))
    assert record(db, "orders", "order_id", order)["created_at"] == LATER + dt.timedelta(hours=1)
    assert sp.doctor.run(db).empty


def test_the_default_at_is_now_and_always_after_a_past_history(db):
    lead = make_lead(db)
    sp.leads.qualify(db, lead)
    assert record(db, "leads", "lead_id", lead)["changed_at"] > EARLY
    assert sp.doctor.run(db).empty


def test_payments_keep_the_amount_exact(db):
    invoice = make_invoice(db)
    sp.invoices.record_payment(db, invoice, Decimal("11.00"), at=LATER)
    assert record(db, "invoices", "invoice_id", invoice)["changed_at"] == LATER
