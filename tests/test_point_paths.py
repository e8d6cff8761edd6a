"""The single-record actions that take a faster point-statement path give what the bulk ones give.

`leads.create`, `leads.qualify`, `quotes.create_order` and `invoices.record_payment` run one
record as a few indexed lookups and inserts with bound values; `machine.apply` does the same for
up to `machine.FEW` records.
Each test here builds the same history twice, once through each path, and requires every table
(ids, timestamps, money, events) to come out identical, and refusals to say the same thing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from conftest import snapshot, state

import salespipe as sp

T = dt.datetime(2025, 5, 5, 10, 0)


def _identical(a, b) -> None:
    left, right = snapshot(a), snapshot(b)
    assert left.keys() == right.keys()
    for name in left.keys() - {"schema_version"}:  # (when each database was created)
        pd.testing.assert_frame_equal(left[name], right[name], obj=f"{name} by the two paths")


def _outcome(call):
    """What a call returned, or the type and message of what it raised."""
    try:
        return call()
    except sp.SalespipeError as exc:
        return (type(exc).__name__, str(exc))


# leads that exercise every matching rule: new and repeated companies written differently,
# repeated emails in another case, no company, no person, an existing contact's account
LEADS = [
    dict(first_name="Ada", last_name="Lovelace", email="ada@contoso.com", company="Contoso Ltd"),
    dict(first_name="Alan", last_name="Turing", email="alan@contoso.com", company="contoso, inc."),
    dict(last_name="Lovelace", email=" ADA@Contoso.com ", company="Fabrikam GmbH"),
    dict(company="Northwind Traders"),
    dict(first_name="Grace", last_name="Hopper", email="grace@navy.mil"),
    dict(last_name="Hopper", email="grace@navy.mil", company="Navy Corp"),
    dict(first_name="Edsger", last_name="Dijkstra", company="Northwind Traders LLC", estimated_value="9000.50"),
    dict(last_name="Knuth", email="don@stanford.edu", company="Stanford", source="web", owner="maria"),
    dict(
        first_name="Ada", last_name="Byron", email="ada@contoso.com"
    ),  # no company: her contact's account takes the deal
    dict(company="Contoso S.A."),  # a dotted legal suffix: Contoso again
]

FLAGS = [
    {},
    {"create_account": False},
    {"create_contact": False},
    {"create_opportunity": False},
    {"create_contact": False, "create_opportunity": False},  # refused for the leads with no company
    {"create_account": False, "create_opportunity": False},  # refused for the leads with no person
    {"create_account": False, "create_contact": False, "create_opportunity": False},  # refused for every lead
]


def _leads(db) -> list[int]:
    return [int(sp.leads.create_many(db, pd.DataFrame([lead]), at=T)[0]) for lead in LEADS]


@pytest.mark.parametrize("flags", FLAGS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "defaults")
def test_qualify_and_qualify_many_of_one_lead_build_the_same_records(flags):
    one, many = sp.connect(":memory:"), sp.connect(":memory:")
    ids = _leads(one)
    assert _leads(many) == ids
    for i, lead in enumerate(ids):
        at = T + dt.timedelta(hours=i + 1)
        got = _outcome(lambda lead=lead, at=at: sp.leads.qualify(one, lead, at=at, actor="maria", **flags))
        row = _outcome(
            lambda lead=lead, at=at: sp.leads.qualify_many(many, [lead], at=at, actor="maria", **flags).iloc[0]
        )
        if isinstance(got, tuple) or isinstance(row, tuple):  # refused: by both, in the same words
            assert got == row and got[0] == "ValidationError", (got, row)
            continue
        as_int = [None if pd.isna(v) else int(v) for v in row[["account_id", "contact_id", "opportunity_id"]]]
        assert [got.account_id, got.contact_id, got.opportunity_id] == as_int
        assert (got.account_matched, got.contact_matched) == (
            bool(row["account_matched"]),
            bool(row["contact_matched"]),
        )
    _identical(one, many)


def test_qualify_refuses_what_qualify_many_refuses_with_the_same_message():
    one, many = sp.connect(":memory:"), sp.connect(":memory:")
    lead = _leads(one)[0]
    _leads(many)
    sp.leads.qualify(one, lead, at=T)
    sp.leads.qualify_many(many, [lead], at=T)
    for bad in (lead, 999):
        single = _outcome(lambda bad=bad: sp.leads.qualify(one, bad, at=T))
        bulk = _outcome(lambda bad=bad: sp.leads.qualify_many(many, [bad], at=T))
        assert single == bulk and single[0] in ("InvalidTransition", "NotFound")
    _identical(one, many)


def test_create_and_create_many_of_one_lead_build_the_same_records():
    one, many = sp.connect(":memory:"), sp.connect(":memory:")
    for i, lead in enumerate(LEADS):
        at = T + dt.timedelta(minutes=i)
        a = sp.leads.create(one, **lead, status="contacted" if i % 2 else "new", at=at, actor="ops")
        frame = pd.DataFrame([{**lead, "status": "contacted" if i % 2 else "new"}])
        b = sp.leads.create_many(many, frame, at=at, actor="ops")[0]
        assert a == b
    _identical(one, many)


def _deals(db) -> dict[str, int]:
    """Opportunities with quotes in every situation create_order meets."""
    sp.catalog.add_product(db, sku="A", name="A", unit_price=Decimal("11.00"), at=T)
    sp.catalog.add_product(db, sku="B", name="B", unit_price=Decimal("1234.56"), at=T)
    ids = {}
    for name in ("alone", "siblings", "closed"):
        ids[name] = sp.opportunities.create(db, topic=name, estimated_value="5000", at=T)
    q = sp.quotes.create(db, ids["alone"], lines=[("A", 100)], at=T)
    sp.quotes.add_line(db, q, sku="B", quantity=3, discount="10.00", tax="7.50")
    sp.quotes.update(db, q, discount_pct="5", discount_amount="12.34", freight="40.00")
    sp.quotes.activate(db, q, at=T)
    ids["q_alone"] = q
    ids["q_draft_sibling"] = sp.quotes.create(db, ids["siblings"], lines=[("A", 1)], at=T)
    ids["q_active_sibling"] = sp.quotes.create(db, ids["siblings"], lines=[("B", 2)], at=T)
    sp.quotes.activate(db, ids["q_active_sibling"], at=T)
    ids["q_won"] = sp.quotes.create(db, ids["siblings"], lines=[("A", 7), ("B", 1)], at=T)
    sp.quotes.activate(db, ids["q_won"], at=T)
    ids["q_closed_opp"] = sp.quotes.create(db, ids["closed"], lines=[("A", 2)], at=T)
    sp.quotes.activate(db, ids["q_closed_opp"], at=T)
    sp.opportunities.close_lost(db, ids["closed"], at=T)
    ids["q_draft"] = sp.quotes.create(db, sp.opportunities.create(db, topic="draft", at=T), at=T)
    return ids


def test_create_order_and_create_order_many_of_one_quote_build_the_same_records():
    one, many = sp.connect(":memory:"), sp.connect(":memory:")
    ids = _deals(one)
    assert _deals(many) == ids
    for i, quote in enumerate(("q_alone", "q_won")):
        at = T + dt.timedelta(days=i + 1)
        a = sp.quotes.create_order(one, ids[quote], at=at, actor="sam")
        b = int(sp.quotes.create_order_many(many, [ids[quote]], at=at, actor="sam")[0])
        assert a == b
    _identical(one, many)
    assert state(one, "opportunity", ids["siblings"]) == ("won", "won")
    assert state(one, "quote", ids["q_active_sibling"]) == ("closed", "canceled")
    assert state(one, "quote", ids["q_draft_sibling"]) == ("closed", "canceled")


def test_create_order_refuses_what_create_order_many_refuses_with_the_same_message():
    one, many = sp.connect(":memory:"), sp.connect(":memory:")
    ids = _deals(one)
    _deals(many)
    for bad in (ids["q_draft"], ids["q_closed_opp"], ids["q_draft_sibling"], 999):
        single = _outcome(lambda bad=bad: sp.quotes.create_order(one, bad, at=T))
        bulk = _outcome(lambda bad=bad: sp.quotes.create_order_many(many, [bad], at=T))
        assert single == bulk and single[0] in ("InvalidTransition", "NotFound"), single
    _identical(one, many)


def test_apply_writes_the_same_history_with_point_statements_as_set_based(monkeypatch):
    """A demo history (every action, batches of every size) with and without the few-record path."""
    end = dt.datetime(2025, 6, 30)
    few = sp.connect(":memory:")
    sp.demo.generate(few, leads=400, seed=5, end=end, progress=False)
    monkeypatch.setattr(sp.machine, "FEW", 0)
    set_based = sp.connect(":memory:")
    sp.demo.generate(set_based, leads=400, seed=5, end=end, progress=False)
    _identical(few, set_based)


def _invoices(db) -> dict[str, int]:
    """Two invoices of 1,000.00 and one canceled, from won quotes."""
    sp.catalog.add_product(db, sku="P", name="P", unit_price=Decimal("100.00"), at=T)
    ids = {}
    for name in ("first", "second", "canceled"):
        opportunity = sp.opportunities.create(db, topic=name, estimated_value="1000", at=T)
        quote = sp.quotes.create(db, opportunity, lines=[("P", 10)], at=T)
        sp.quotes.activate(db, quote, at=T)
        order = sp.quotes.create_order(db, quote, at=T)
        sp.orders.fulfill(db, order, at=T)
        ids[name] = sp.orders.create_invoice(db, order, at=T)
    sp.invoices.cancel(db, ids["canceled"], at=T)
    return ids


def test_record_payment_and_record_payments_of_one_build_the_same_records():
    one, many = sp.connect(":memory:"), sp.connect(":memory:")
    ids = _invoices(one)
    assert _invoices(many) == ids
    payments = [("first", "250.00"), ("first", "750.00"), ("second", Decimal("0.01")), ("second", 999.99)]
    for i, (invoice, amount) in enumerate(payments):
        at = T + dt.timedelta(days=i + 1)
        a = sp.invoices.record_payment(one, ids[invoice], amount, at=at, actor="ana", note=f"payment {i}")
        frame = pd.DataFrame({"invoice_id": [ids[invoice]], "amount": [amount]})
        b = int(sp.invoices.record_payments(many, frame, at=at, actor="ana", note=f"payment {i}")[0])
        assert a == b
    _identical(one, many)
    assert state(one, "invoice", ids["first"]) == ("paid", "complete")
    assert state(one, "invoice", ids["second"]) == ("paid", "complete")


def test_record_payment_refuses_what_record_payments_refuses_with_the_same_message():
    one, many = sp.connect(":memory:"), sp.connect(":memory:")
    ids = _invoices(one)
    _invoices(many)
    sp.invoices.record_payment(one, ids["second"], "1000.00", at=T)
    sp.invoices.record_payment(many, ids["second"], "1000.00", at=T)
    later = T + dt.timedelta(days=1)
    refused = [
        (ids["first"], "0"),  # nothing
        (ids["first"], "1000.01"),  # above the balance
        (ids["second"], "1.00"),  # paid already
        (ids["canceled"], "1.00"),  # canceled
        (999, "1.00"),  # no such invoice
    ]
    for invoice, amount in refused:
        single = _outcome(lambda i=invoice, a=amount: sp.invoices.record_payment(one, i, a, at=later))
        frame = pd.DataFrame({"invoice_id": [invoice], "amount": [amount]})
        bulk = _outcome(lambda f=frame: sp.invoices.record_payments(many, f, at=later))
        assert single == bulk and single[0] in ("ValidationError", "InvalidTransition", "NotFound"), single
    early = _outcome(lambda: sp.invoices.record_payment(one, ids["first"], "1.00", at=T - dt.timedelta(days=1)))
    frame = pd.DataFrame({"invoice_id": [ids["first"]], "amount": ["1.00"]})
    assert early == _outcome(lambda: sp.invoices.record_payments(many, frame, at=T - dt.timedelta(days=1)))
    assert early[0] == "ValidationError"  # before the invoice's last change: transitions run forward
    _identical(one, many)
