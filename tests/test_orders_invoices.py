"""Orders (fulfill, cancel, create_invoice) and invoices (payments, cancel)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
from conftest import (
    EARLY,
    assert_refused,
    count,
    events,
    make_invoice,
    make_invoices,
    make_order,
    make_orders,
    make_product,
    new_events,
    record,
    rows,
    state,
)

import salespipe as sp

T1 = dt.datetime(2024, 6, 3, 8, 15)
T2 = dt.datetime(2024, 6, 20, 17, 0)
D = Decimal


def invoice_of_1090(db) -> int:
    """An invoice for 100 x 11.00 - 10.00 = 1,090.00."""
    sku = make_product(db, unit_price=D("11.00"))
    return make_invoice(db, lines=[(sku, 100, D("10.00"))])


# -- fulfill ---------------------------------------------------------------------------------


def test_fulfill_completes_an_active_order(db):
    order = make_order(db)
    before = len(events(db))
    sp.orders.fulfill(db, order, at=T1, actor="ops")
    assert state(db, "order", order) == ("fulfilled", "complete")
    assert record(db, "orders", "order_id", order)["closed_at"] == T1
    (event,) = new_events(db, before)
    assert (event["entity"], event["entity_id"], event["action"]) == ("order", order, "fulfill")
    assert (event["from_state"], event["from_status"], event["to_state"], event["to_status"]) == (
        "active",
        "new",
        "fulfilled",
        "complete",
    )
    assert (event["at"], event["actor"]) == (T1, "ops")


def test_fulfill_again_is_an_invalid_transition_that_changes_nothing(db):
    order = make_order(db)
    sp.orders.fulfill(db, order)
    error = assert_refused(db, lambda: sp.orders.fulfill(db, order), sp.InvalidTransition)
    assert f"order {order}" in str(error) and "fulfilled" in str(error) and "create_invoice" in str(error)


def test_fulfill_a_canceled_order_is_an_invalid_transition(db):
    order = make_order(db)
    sp.orders.cancel(db, order)
    assert_refused(db, lambda: sp.orders.fulfill(db, order), sp.InvalidTransition, match="canceled")


def test_fulfill_many_fulfills_every_order_or_none(db):
    a, b, c = make_orders(db, 3)
    sp.orders.cancel(db, c)
    error = assert_refused(db, lambda: sp.orders.fulfill_many(db, [a, b, c]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [c]
    sp.orders.fulfill_many(db, [a, b], at=[T1, T2])
    assert record(db, "orders", "order_id", a)["closed_at"] == T1
    assert record(db, "orders", "order_id", b)["closed_at"] == T2


# -- cancel ----------------------------------------------------------------------------------


def test_cancel_an_active_order_leaves_the_opportunity_won(db):
    order = make_order(db)
    before = len(events(db))
    sp.orders.cancel(db, order, at=T1, note="customer went bust")
    assert state(db, "order", order) == ("canceled", "no_money")
    assert record(db, "orders", "order_id", order)["closed_at"] == T1
    (event,) = new_events(db, before)
    assert (
        event["action"],
        event["from_state"],
        event["to_state"],
        event["to_status"],
        event["at"],
        event["note"],
    ) == (
        "cancel",
        "active",
        "canceled",
        "no_money",
        T1,
        "customer went bust",
    )
    opp = record(db, "orders", "order_id", order)["opportunity_id"]
    assert state(db, "opportunity", opp) == ("won", "won")


def test_cancel_again_is_an_invalid_transition_that_changes_nothing(db):
    order = make_order(db)
    sp.orders.cancel(db, order)
    assert_refused(db, lambda: sp.orders.cancel(db, order), sp.InvalidTransition, match="final")


def test_cancel_a_fulfilled_order_is_an_invalid_transition(db):
    order = make_order(db)
    sp.orders.fulfill(db, order)
    assert_refused(db, lambda: sp.orders.cancel(db, order), sp.InvalidTransition, match="fulfilled")


def test_cancel_many_cancels_every_order_or_none(db):
    a, b = make_orders(db, 2)
    sp.orders.fulfill(db, b)
    error = assert_refused(db, lambda: sp.orders.cancel_many(db, [a, b]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [b]
    sp.orders.cancel_many(db, [a])
    assert state(db, "order", a) == ("canceled", "no_money")


# -- create_invoice --------------------------------------------------------------------------


def test_create_invoice_copies_the_order_lines_and_marks_the_order_invoiced(db):
    p1, p2 = make_product(db, unit_price=D("11.00")), make_product(db, unit_price=D("3.00"))
    order = make_order(
        db, lines=[(p1, 100, D("10.00"), D("2.00")), (p2, D("3.335"))], discount_pct=D("5"), freight=D("9.00")
    )
    sp.orders.fulfill(db, order, at=EARLY)
    before = len(events(db))
    invoice = sp.orders.create_invoice(db, order, at=T1, actor="billing")
    row = record(db, "invoices", "invoice_id", invoice)
    assert (row["state"], row["status"], row["order_id"], row["created_at"]) == ("active", "new", order, T1)
    assert state(db, "order", order) == ("invoiced", "invoiced")
    cols = "line_no, sku, quantity, unit_price, discount, tax"
    assert rows(db, f"SELECT {cols} FROM invoice_lines WHERE invoice_id = ? ORDER BY 1", [invoice]) == rows(
        db, f"SELECT {cols} FROM order_lines WHERE order_id = ? ORDER BY 1", [order]
    )
    t, o = sp.invoices.totals(db, invoice), sp.orders.totals(db, order)
    assert (t.detail, t.discount, t.pre_freight, t.freight, t.tax, t.total) == (
        o.detail,
        o.discount,
        o.pre_freight,
        o.freight,
        o.tax,
        o.total,
    )
    # detail 1,090.00 + 10.01 = 1,100.01; discount 5% = 55.0005 -> 55.00; + 9.00 freight + 2.00 tax
    assert (t.total, t.paid, t.balance) == (D("1056.01"), D("0.00"), D("1056.01"))
    written = sorted((e["entity"], e["action"], e["to_state"], e["to_status"], e["at"]) for e in new_events(db, before))
    assert written == [
        ("invoice", "create", "active", "new", T1),
        ("order", "create_invoice", "invoiced", "invoiced", T1),
    ]


def test_create_invoice_again_is_an_invalid_transition_that_changes_nothing(db):
    order = make_order(db)
    sp.orders.fulfill(db, order)
    sp.orders.create_invoice(db, order)
    assert_refused(db, lambda: sp.orders.create_invoice(db, order), sp.InvalidTransition, match="invoiced")


def test_create_invoice_of_an_unfulfilled_order_is_an_invalid_transition(db):
    order = make_order(db)
    error = assert_refused(db, lambda: sp.orders.create_invoice(db, order), sp.InvalidTransition)
    assert "active" in str(error) and "fulfill" in str(error)
    assert count(db, "invoices") == 0


def test_create_invoice_many_returns_invoice_ids_in_the_order_given_or_makes_none(db):
    a, b, c = make_orders(db, 3)
    sp.orders.fulfill_many(db, [a, b], at=EARLY)
    error = assert_refused(db, lambda: sp.orders.create_invoice_many(db, [a, b, c]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [c]
    inv_b, inv_a = sp.orders.create_invoice_many(db, [b, a], at=T1)
    assert record(db, "invoices", "invoice_id", int(inv_a))["order_id"] == a
    assert record(db, "invoices", "invoice_id", int(inv_b))["order_id"] == b


# -- payments --------------------------------------------------------------------------------


def test_a_partial_payment_then_the_rest_makes_the_invoice_paid(db):
    invoice = invoice_of_1090(db)
    before = len(events(db))
    first = sp.invoices.record_payment(db, invoice, D("1000.00"), at=T1, actor="billing", note="wire 1")
    assert state(db, "invoice", invoice) == ("active", "partial")
    t = sp.invoices.totals(db, invoice)
    assert (t.total, t.paid, t.balance) == (D("1090.00"), D("1000.00"), D("90.00"))
    assert record(db, "invoices", "invoice_id", invoice)["closed_at"] is None

    second = sp.invoices.record_payment(db, invoice, "90.00", at=T2)
    assert state(db, "invoice", invoice) == ("paid", "complete")
    assert record(db, "invoices", "invoice_id", invoice)["closed_at"] == T2
    t = sp.invoices.totals(db, invoice)
    assert (t.paid, t.balance) == (D("1090.00"), D("0.00"))
    assert rows(db, "SELECT payment_id, amount, paid_at, note FROM payments ORDER BY payment_id") == [
        (first, D("1000.00"), T1, "wire 1"),
        (second, D("90.00"), T2, None),
    ]
    assert [(e["from_status"], e["to_state"], e["to_status"], e["at"]) for e in new_events(db, before)] == [
        ("new", "active", "partial", T1),
        ("partial", "paid", "complete", T2),
    ]


def test_a_payment_of_the_whole_total_pays_the_invoice_at_once(db):
    invoice = invoice_of_1090(db)
    sp.invoices.record_payment(db, invoice, D("1090.00"))
    assert state(db, "invoice", invoice) == ("paid", "complete")


def test_an_overpayment_is_refused_and_changes_nothing(db):
    invoice = invoice_of_1090(db)
    sp.invoices.record_payment(db, invoice, D("1000.00"))
    error = assert_refused(db, lambda: sp.invoices.record_payment(db, invoice, D("90.01")), sp.ValidationError)
    assert error.field == "amount" and "balance" in str(error) and "90.00" in str(error)


def test_a_payment_on_a_paid_invoice_is_an_invalid_transition(db):
    invoice = invoice_of_1090(db)
    sp.invoices.record_payment(db, invoice, D("1090.00"))
    assert_refused(db, lambda: sp.invoices.record_payment(db, invoice, D("1.00")), sp.InvalidTransition, match="paid")


def test_a_payment_must_be_a_positive_cent_amount(db, subtests):
    invoice = invoice_of_1090(db)
    for amount in [D("0"), D("-5.00"), D("1.005"), "ten", None]:
        with subtests.test(amount=amount):
            call = lambda amount=amount: sp.invoices.record_payment(db, invoice, amount)  # noqa: E731
            error = assert_refused(db, call, sp.ValidationError)
            assert error.field == "amount"


def test_record_payments_pays_many_invoices_in_one_call(db):
    a, b = make_invoices(db, 2)  # 11.00 each
    frame = pd.DataFrame({"invoice_id": [a, b], "amount": [D("11.00"), D("0.01")], "paid_at": [T1, T2]})
    ids = sp.invoices.record_payments(db, frame)
    assert len(ids) == 2
    assert state(db, "invoice", a) == ("paid", "complete") and state(db, "invoice", b) == ("active", "partial")
    assert rows(db, "SELECT invoice_id, amount, paid_at FROM payments ORDER BY payment_id") == [
        (a, D("11.00"), T1),
        (b, D("0.01"), T2),
    ]


def test_record_payments_with_one_bad_row_records_nothing_and_lists_the_failures(db):
    a, b, c = make_invoices(db, 3)  # 11.00 each
    frame = pd.DataFrame({"invoice_id": [a, b, c], "amount": ["10.00", "11.01", "-1"]})
    error = assert_refused(db, lambda: sp.invoices.record_payments(db, frame), sp.ValidationError)
    assert [(row, inv) for row, inv, _ in error.failures] == [(1, b), (2, c)]
    assert count(db, "payments") == 0


def test_record_payments_on_a_canceled_invoice_records_nothing(db):
    a, b = make_invoices(db, 2)
    sp.invoices.cancel(db, b)
    frame = pd.DataFrame({"invoice_id": [a, b], "amount": ["10.00", "10.00"]})
    error = assert_refused(db, lambda: sp.invoices.record_payments(db, frame), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [b]


# -- invoice cancel --------------------------------------------------------------------------


def test_cancel_an_invoice_without_payments(db):
    invoice = invoice_of_1090(db)
    before = len(events(db))
    sp.invoices.cancel(db, invoice, at=T1, note="wrong address")
    assert state(db, "invoice", invoice) == ("canceled", "canceled")
    assert record(db, "invoices", "invoice_id", invoice)["closed_at"] == T1
    (event,) = new_events(db, before)
    assert (event["action"], event["from_status"], event["to_state"], event["at"], event["note"]) == (
        "cancel",
        "new",
        "canceled",
        T1,
        "wrong address",
    )


def test_cancel_an_invoice_with_a_payment_is_an_invalid_transition_that_changes_nothing(db):
    invoice = invoice_of_1090(db)
    sp.invoices.record_payment(db, invoice, D("1.00"))
    error = assert_refused(db, lambda: sp.invoices.cancel(db, invoice), sp.InvalidTransition)
    assert "partial" in str(error) and "record_payment" in str(error)


def test_cancel_an_invoice_again_is_an_invalid_transition(db):
    invoice = invoice_of_1090(db)
    sp.invoices.cancel(db, invoice)
    assert_refused(db, lambda: sp.invoices.cancel(db, invoice), sp.InvalidTransition, match="canceled")


def test_cancel_many_invoices_cancels_all_or_none(db):
    a, b = make_invoices(db, 2)
    sp.invoices.record_payment(db, b, D("5.00"))
    error = assert_refused(db, lambda: sp.invoices.cancel_many(db, [a, b]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [b]
    sp.invoices.cancel_many(db, [a])
    assert state(db, "invoice", a) == ("canceled", "canceled")


def test_the_whole_process_from_lead_to_paid_invoice_leaves_an_event_trail(db):
    sku = make_product(db, unit_price=D("11.00"))
    lead = sp.leads.create(db, last_name="Lovelace", company="Contoso", estimated_value=D("1000"))
    opp = sp.leads.qualify(db, lead).opportunity_id
    quote = sp.quotes.create(db, opp, lines=[(sku, 100, D("10.00"))])
    sp.quotes.activate(db, quote)
    order = sp.quotes.create_order(db, quote)
    sp.orders.fulfill(db, order)
    invoice = sp.orders.create_invoice(db, order)
    sp.invoices.record_payment(db, invoice, D("1090.00"))
    trail = [(e["entity"], e["action"]) for e in events(db)]
    assert sorted(trail) == sorted(
        [
            ("lead", "create"),
            ("lead", "qualify"),
            ("opportunity", "create"),
            ("quote", "create"),
            ("quote", "activate"),
            ("order", "create"),
            ("quote", "create_order"),
            ("opportunity", "close_won"),
            ("order", "fulfill"),
            ("invoice", "create"),
            ("order", "create_invoice"),
            ("invoice", "record_payment"),
        ]
    )
    steps = [("lead", "qualify"), ("quote", "activate"), ("quote", "create_order"), ("order", "fulfill")]
    steps += [("order", "create_invoice"), ("invoice", "record_payment")]
    assert [trail.index(step) for step in steps] == sorted(trail.index(step) for step in steps)
    assert record(db, "opportunities", "opportunity_id", opp)["actual_value"] == D("1090.00")
