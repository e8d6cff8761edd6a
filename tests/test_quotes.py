"""Quotes: drafts, totals to the cent, activation, revisions, closing and create_order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from conftest import (
    T0,
    assert_refused,
    assert_unchanged,
    count,
    events,
    make_active_quote,
    make_opportunity,
    make_product,
    make_quote,
    make_quotes,
    new_events,
    record,
    rows,
    snapshot,
    state,
)

import salespipe as sp

T1 = dt.datetime(2024, 5, 2, 16, 45)
D = Decimal


def opportunity_of(db, quote: int) -> int:
    return record(db, "quotes", "quote_id", quote)["opportunity_id"]


# -- create and edit drafts ------------------------------------------------------------------


def test_create_makes_a_draft_revision_1_priced_from_the_price_list(db):
    opp = make_opportunity(db)
    laptop = make_product(db, unit_price=D("1200.00"))
    dock = make_product(db, unit_price=D("99.90"))
    quote = sp.quotes.create(
        db, opp, lines=[(laptop, 50), {"sku": dock, "quantity": 50, "discount": D("10.00"), "tax": D("5.00")}], at=T0
    )
    row = record(db, "quotes", "quote_id", quote)
    assert (row["state"], row["status"], row["revision"], row["opportunity_id"]) == ("draft", "in_progress", 1, opp)
    assert row["quote_number"].startswith("QUO-") and row["created_at"] == T0
    assert rows(db, "SELECT line_no, sku, quantity, unit_price, discount, tax FROM quote_lines ORDER BY line_no") == [
        (1, laptop, D("50.0000"), D("1200.00"), D("0.00"), D("0.00")),
        (2, dock, D("50.0000"), D("99.90"), D("10.00"), D("5.00")),
    ]
    (event,) = events(db, "quote", quote)
    assert (event["action"], event["to_state"], event["to_status"], event["at"]) == (
        "create",
        "draft",
        "in_progress",
        T0,
    )


def test_every_new_quote_gets_its_own_quote_number(db):
    opp = make_opportunity(db)
    sku = make_product(db)
    a, b = sp.quotes.create(db, opp, [(sku, 1)]), sp.quotes.create(db, opp, [(sku, 1)])
    assert record(db, "quotes", "quote_id", a)["quote_number"] != record(db, "quotes", "quote_id", b)["quote_number"]


def test_add_line_update_and_remove_line_edit_a_draft(db):
    quote = make_quote(db)
    sku = make_product(db, unit_price=D("2.50"))
    assert sp.quotes.add_line(db, quote, sku=sku, quantity=4, discount=D("1.00"), tax=D("0.90")) == 2
    sp.quotes.update(db, quote, discount_pct=D("10"), discount_amount=D("1.00"), freight=D("3.00"))
    row = record(db, "quotes", "quote_id", quote)
    assert (row["discount_pct"], row["discount_amount"], row["freight"]) == (D("10.0000"), D("1.00"), D("3.00"))
    sp.quotes.remove_line(db, quote, 1)
    assert rows(db, "SELECT line_no, sku FROM quote_lines WHERE quote_id = ?", [quote]) == [(2, sku)]


def test_remove_line_of_an_unknown_line_is_not_found(db):
    quote = make_quote(db)
    assert_refused(db, lambda: sp.quotes.remove_line(db, quote, 9), sp.NotFound, match="9")


def test_only_drafts_are_edited(db, subtests):
    quote = make_active_quote(db)
    sku = make_product(db)
    edits = {
        "add_line": lambda: sp.quotes.add_line(db, quote, sku=sku, quantity=1),
        "remove_line": lambda: sp.quotes.remove_line(db, quote, 1),
        "update": lambda: sp.quotes.update(db, quote, freight=D("1.00")),
    }
    for name, edit in edits.items():
        with subtests.test(name):
            error = assert_refused(db, edit, sp.InvalidTransition, match="only drafts")
            assert "revise" in str(error)


def test_add_line_refuses_an_unknown_sku_naming_it(db):
    quote = make_quote(db)
    error = assert_refused(db, lambda: sp.quotes.add_line(db, quote, sku="NOPE-1", quantity=1), sp.ValidationError)
    assert error.field == "sku" and error.value == "NOPE-1" and "NOPE-1" in str(error)


def test_add_line_refuses_a_discount_above_the_line_base(db):
    quote = make_quote(db)
    sku = make_product(db, unit_price=D("5.00"))
    error = assert_refused(
        db, lambda: sp.quotes.add_line(db, quote, sku=sku, quantity=2, discount=D("10.01")), sp.ValidationError
    )
    assert error.field == "discount"


# -- totals ----------------------------------------------------------------------------------


def test_totals_of_the_design_check_100_x_11_minus_10_is_1090(db):
    sku = make_product(db, unit_price=D("11.00"))
    quote = make_quote(db, lines=[(sku, 100, D("10.00"))])
    t = sp.quotes.totals(db, quote)
    # base 100 x 11.00 = 1,100.00; amount = 1,100.00 - 10.00 = 1,090.00; nothing else.
    assert (t.detail, t.discount, t.pre_freight, t.freight, t.tax, t.total) == (
        D("1090.00"),
        D("0.00"),
        D("1090.00"),
        D("0.00"),
        D("0.00"),
        D("1090.00"),
    )
    assert all(isinstance(v, Decimal) for v in (t.detail, t.discount, t.pre_freight, t.freight, t.tax, t.total))


def test_totals_with_a_percent_discount_a_discount_amount_freight_and_tax_to_the_cent(db):
    p1 = make_product(db, unit_price=D("3.00"))
    p2 = make_product(db, unit_price=D("4.05"))
    p3 = make_product(db, unit_price=D("19.99"))
    quote = make_quote(
        db,
        lines=[
            (p1, D("3.335"), D("0"), D("0.80")),
            (p2, D("2.5"), D("0.13"), D("1.25")),
            (p3, 7, D("9.84"), D("10.40")),
        ],
        discount_pct=D("5"),
        discount_amount=D("2.50"),
        freight=D("12.34"),
    )
    # Worked by hand, each line rounded half-up to cents:
    #   line 1: base 3.335 x 3.00 = 10.005  -> 10.01 (half-even would say 10.00); amount 10.01;        tax 0.80
    #   line 2: base 2.5 x 4.05   = 10.125  -> 10.13 (half-even: 10.12);        amount 10.13 - 0.13 = 10.00; tax 1.25
    #   line 3: base 7 x 19.99    = 139.93;                                     amount 139.93 - 9.84 = 130.09; tax 10.40
    #   detail      = 10.01 + 10.00 + 130.09                 = 150.10
    #   discount    = 150.10 x 5 / 100 = 7.505 -> 7.51, + 2.50 = 10.01   (a float would make it 7.50)
    #   pre_freight = 150.10 - 10.01                         = 140.09
    #   tax         = 0.80 + 1.25 + 10.40                    = 12.45
    #   total       = 140.09 + 12.34 freight + 12.45 tax     = 164.88
    t = sp.quotes.totals(db, quote)
    assert t.detail == D("150.10")
    assert t.discount == D("10.01")
    assert t.pre_freight == D("140.09")
    assert t.freight == D("12.34")
    assert t.tax == D("12.45")
    assert t.total == D("164.88")
    per_line = rows(db, "SELECT base, amount, extended FROM v_quote_lines WHERE quote_id = ? ORDER BY line_no", [quote])
    assert per_line == [
        (D("10.01"), D("10.01"), D("10.81")),
        (D("10.13"), D("10.00"), D("11.25")),
        (D("139.93"), D("130.09"), D("140.49")),
    ]


def test_each_line_base_is_rounded_half_up_to_the_cent(db, subtests):
    opp = make_opportunity(db)
    for quantity, unit_price, base in [
        ("3.335", "3.00", "10.01"),  # 10.005 -> up
        ("2.5", "4.05", "10.13"),  # 10.125 -> up
        ("12.5", "0.01", "0.13"),  # 0.125 -> up
        ("1.5", "3.33", "5.00"),  # 4.995 -> up
        ("0.3333", "3.00", "1.00"),  # 0.9999 -> up
        ("3", "3.33", "9.99"),  # exact
        ("0.0001", "0.01", "0.00"),  # 0.000001 -> down
    ]:
        with subtests.test(quantity=quantity, unit_price=unit_price):
            sku = make_product(db, unit_price=D(unit_price))
            quote = make_quote(db, opp=opp, lines=[(sku, D(quantity))])
            assert sp.quotes.totals(db, quote).detail == D(base)


def test_the_percent_discount_is_rounded_half_up_to_the_cent(db, subtests):
    opp = make_opportunity(db)
    # 20.10 x 5% = 1.005; 1.00 x 12.5% = 0.125; 40.20 x 2.5% = 1.005; 100.10 x 0.5% = 0.5005
    for price, pct, discount in [
        ("20.10", "5", "1.01"),
        ("1.00", "12.5", "0.13"),
        ("40.20", "2.5", "1.01"),
        ("100.10", "0.5", "0.50"),
    ]:
        with subtests.test(price=price, pct=pct):
            sku = make_product(db, unit_price=D(price))
            quote = make_quote(db, opp=opp, lines=[(sku, 1)], discount_pct=D(pct))
            t = sp.quotes.totals(db, quote)
            assert t.discount == D(discount) and t.total == D(price) - D(discount)


def test_totals_of_a_quote_without_lines_are_zero_plus_freight(db):
    quote = make_quote(db, lines=[], freight=D("7.00"))
    t = sp.quotes.totals(db, quote)
    assert (t.detail, t.total) == (D("0.00"), D("7.00"))


def test_totals_of_an_unknown_quote_is_not_found(db):
    with pytest.raises(sp.NotFound, match="quote 5"):
        sp.quotes.totals(db, 5)


# -- activate --------------------------------------------------------------------------------


def test_activate_makes_a_draft_active(db):
    quote = make_quote(db)
    before = len(events(db))
    sp.quotes.activate(db, quote, at=T1, actor="maria")
    assert state(db, "quote", quote) == ("active", "open")
    assert record(db, "quotes", "quote_id", quote)["activated_at"] == T1
    (event,) = new_events(db, before)
    assert (event["action"], event["from_state"], event["from_status"], event["to_state"], event["to_status"]) == (
        "activate",
        "draft",
        "in_progress",
        "active",
        "open",
    )
    assert (event["at"], event["actor"]) == (T1, "maria")


def test_activate_again_is_an_invalid_transition_that_changes_nothing(db):
    quote = make_active_quote(db)
    error = assert_refused(db, lambda: sp.quotes.activate(db, quote), sp.InvalidTransition)
    assert f"quote {quote}" in str(error) and "active" in str(error) and "activate" in str(error)


def test_activate_a_quote_without_lines_is_refused(db):
    quote = make_quote(db, lines=[])
    error = assert_refused(db, lambda: sp.quotes.activate(db, quote), sp.ValidationError, match="no lines")
    assert error.field == "lines"


def test_activate_many_activates_every_draft_or_none(db):
    a, b = make_quotes(db, 2)
    c = make_active_quote(db)
    error = assert_refused(db, lambda: sp.quotes.activate_many(db, [a, b, c]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [c]
    sp.quotes.activate_many(db, [a, b], at=T1)
    assert state(db, "quote", a) == state(db, "quote", b) == ("active", "open")


# -- revise ----------------------------------------------------------------------------------


def test_revise_closes_the_quote_as_revised_and_opens_the_next_revision_with_copied_lines(db):
    p1, p2 = make_product(db, unit_price=D("10.00")), make_product(db, unit_price=D("2.00"))
    quote = make_active_quote(
        db,
        lines=[(p1, 3, D("1.00"), D("0.50")), (p2, 1)],
        discount_pct=D("2"),
        discount_amount=D("1.00"),
        freight=D("4.00"),
    )
    before = len(events(db))
    rev2 = sp.quotes.revise(db, quote, at=T1)
    old, new = record(db, "quotes", "quote_id", quote), record(db, "quotes", "quote_id", rev2)
    assert (old["state"], old["status"], old["closed_at"]) == ("closed", "revised", T1)
    assert (new["state"], new["status"]) == ("draft", "in_progress")
    assert new["quote_number"] == old["quote_number"] and new["revision"] == 2 and new["previous_quote_id"] == quote
    assert (new["discount_pct"], new["discount_amount"], new["freight"]) == (D("2.0000"), D("1.00"), D("4.00"))
    lines = "SELECT line_no, sku, quantity, unit_price, discount, tax FROM quote_lines WHERE quote_id = ? ORDER BY 1"
    assert rows(db, lines, [rev2]) == rows(db, lines, [quote])
    assert sp.quotes.totals(db, rev2) == sp.quotes.totals(db, quote)
    written = sorted(
        (e["entity_id"], e["action"], e["from_state"], e["to_state"], e["to_status"]) for e in new_events(db, before)
    )
    assert written == [(quote, "revise", "active", "closed", "revised"), (rev2, "create", None, "draft", "in_progress")]
    assert all(e["at"] == T1 for e in new_events(db, before))


def test_revisions_keep_every_earlier_revision(db):
    quote = make_active_quote(db)
    rev2 = sp.quotes.revise(db, quote)
    sp.quotes.add_line(db, rev2, sku=make_product(db), quantity=2)
    sp.quotes.activate(db, rev2)
    rev3 = sp.quotes.revise(db, rev2)
    number = record(db, "quotes", "quote_id", quote)["quote_number"]
    assert rows(
        db, "SELECT quote_id, revision, state, status FROM quotes WHERE quote_number = ? ORDER BY 2", [number]
    ) == [
        (quote, 1, "closed", "revised"),
        (rev2, 2, "closed", "revised"),
        (rev3, 3, "draft", "in_progress"),
    ]
    assert [count_lines(db, q) for q in (quote, rev2, rev3)] == [1, 2, 2]


def count_lines(db, quote: int) -> int:
    return rows(db, "SELECT count(*) FROM quote_lines WHERE quote_id = ?", [quote])[0][0]


def test_the_new_revision_can_be_edited_without_touching_the_old_one(db):
    quote = make_active_quote(db)
    rev2 = sp.quotes.revise(db, quote)
    sp.quotes.remove_line(db, rev2, 1)
    assert count_lines(db, quote) == 1 and count_lines(db, rev2) == 0


@pytest.mark.parametrize("status", ["lost", "canceled"])
def test_a_closed_lost_or_canceled_quote_can_be_revised(db, status):
    quote = make_active_quote(db)
    sp.quotes.close(db, quote, status=status)
    rev2 = sp.quotes.revise(db, quote)
    assert state(db, "quote", quote) == ("closed", "revised")
    assert record(db, "quotes", "quote_id", rev2)["revision"] == 2


def test_revise_again_is_an_invalid_transition_that_changes_nothing(db):
    quote = make_active_quote(db)
    sp.quotes.revise(db, quote)
    assert_refused(db, lambda: sp.quotes.revise(db, quote), sp.InvalidTransition, match="revised")


def test_revise_a_draft_is_an_invalid_transition(db):
    quote = make_quote(db)
    assert_refused(db, lambda: sp.quotes.revise(db, quote), sp.InvalidTransition, match="draft")


def test_revise_many_returns_the_new_drafts_in_the_order_given(db):
    a, b = make_quotes(db, 2, active=True)
    new_b, new_a = sp.quotes.revise_many(db, [b, a], at=T1)
    assert record(db, "quotes", "quote_id", int(new_a))["previous_quote_id"] == a
    assert record(db, "quotes", "quote_id", int(new_b))["previous_quote_id"] == b


def test_revise_many_with_one_draft_changes_nothing_and_lists_it(db):
    a, b = make_active_quote(db), make_quote(db)
    error = assert_refused(db, lambda: sp.quotes.revise_many(db, [a, b]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [b]


# -- close -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["lost", "canceled"])
def test_close_closes_an_active_quote_as_lost_or_canceled(db, status):
    quote = make_active_quote(db)
    before = len(events(db))
    sp.quotes.close(db, quote, status=status, at=T1, note="too dear")
    assert state(db, "quote", quote) == ("closed", status)
    assert record(db, "quotes", "quote_id", quote)["closed_at"] == T1
    (event,) = new_events(db, before)
    assert (
        event["action"],
        event["from_state"],
        event["to_state"],
        event["to_status"],
        event["at"],
        event["note"],
    ) == (
        "close",
        "active",
        "closed",
        status,
        T1,
        "too dear",
    )


def test_close_also_closes_a_draft(db):
    quote = make_quote(db)
    sp.quotes.close(db, quote)
    assert state(db, "quote", quote) == ("closed", "lost")


def test_close_again_is_an_invalid_transition_that_changes_nothing(db):
    quote = make_active_quote(db)
    sp.quotes.close(db, quote)
    assert_refused(db, lambda: sp.quotes.close(db, quote), sp.InvalidTransition, match="closed")


def test_close_refuses_a_status_that_is_not_lost_or_canceled(db):
    quote = make_active_quote(db)
    error = assert_refused(db, lambda: sp.quotes.close(db, quote, status="revised"), sp.ValidationError)
    assert error.field == "status"


def test_close_many_takes_one_status_per_quote(db):
    a, b = make_active_quote(db), make_quote(db)
    sp.quotes.close_many(db, [a, b], status=["canceled", "lost"], at=T1)
    assert state(db, "quote", a) == ("closed", "canceled") and state(db, "quote", b) == ("closed", "lost")


def test_close_many_with_one_closed_quote_changes_nothing_and_lists_it(db):
    a, b = make_quotes(db, 2, active=True)
    sp.quotes.close(db, b)
    error = assert_refused(db, lambda: sp.quotes.close_many(db, [a, b]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [b]


# -- create_order ----------------------------------------------------------------------------


def test_create_order_wins_the_quote_copies_its_lines_cancels_the_other_open_quotes_and_wins_the_opportunity(db):
    opp = make_opportunity(db, estimated_value=D("99999.00"))
    sku = make_product(db, unit_price=D("11.00"))
    other_active = make_active_quote(db, opp=opp, lines=[(sku, 1)])
    other_draft = make_quote(db, opp=opp, lines=[(sku, 2)])
    already_lost = make_active_quote(db, opp=opp, lines=[(sku, 3)])
    sp.quotes.close(db, already_lost)
    quote = make_active_quote(db, opp=opp, lines=[(sku, 100, D("10.00"), D("5.00"))], freight=D("20.00"))
    before = len(events(db))

    order = sp.quotes.create_order(db, quote, at=T1, actor="maria")

    assert state(db, "quote", quote) == ("won", "won")
    assert record(db, "quotes", "quote_id", quote)["closed_at"] == T1
    assert state(db, "quote", other_active) == state(db, "quote", other_draft) == ("closed", "canceled")
    assert state(db, "quote", already_lost) == ("closed", "lost")
    row = record(db, "orders", "order_id", order)
    assert (row["state"], row["status"], row["quote_id"], row["opportunity_id"]) == ("active", "new", quote, opp)
    assert row["freight"] == D("20.00") and row["created_at"] == T1
    cols = "line_no, sku, quantity, unit_price, discount, tax"
    assert rows(db, f"SELECT {cols} FROM order_lines WHERE order_id = ?", [order]) == rows(
        db, f"SELECT {cols} FROM quote_lines WHERE quote_id = ?", [quote]
    )
    total = sp.quotes.totals(db, quote).total
    assert total == D("1115.00")  # 1,100.00 - 10.00 + 20.00 freight + 5.00 tax
    assert sp.orders.totals(db, order).total == total
    won = record(db, "opportunities", "opportunity_id", opp)
    assert (won["state"], won["status"], won["actual_value"], won["closed_at"]) == ("won", "won", total, T1)

    written = sorted(
        (e["entity"], e["entity_id"], e["action"], e["to_state"], e["to_status"]) for e in new_events(db, before)
    )
    assert written == sorted(
        [
            ("order", order, "create", "active", "new"),
            ("quote", quote, "create_order", "won", "won"),
            ("quote", other_active, "close", "closed", "canceled"),
            ("quote", other_draft, "close", "closed", "canceled"),
            ("opportunity", opp, "close_won", "won", "won"),
        ]
    )
    assert all(e["at"] == T1 and e["actor"] == "maria" for e in new_events(db, before))


def test_create_order_again_is_an_invalid_transition_that_changes_nothing(db):
    quote = make_active_quote(db)
    sp.quotes.create_order(db, quote)
    error = assert_refused(db, lambda: sp.quotes.create_order(db, quote), sp.InvalidTransition)
    assert "won" in str(error) and "create_order" in str(error)


@pytest.mark.parametrize("closed", ["draft", "closed"])
def test_create_order_from_a_draft_or_closed_quote_is_an_invalid_transition(db, closed):
    quote = make_quote(db)
    if closed == "closed":
        sp.quotes.close(db, quote)
    assert_refused(db, lambda: sp.quotes.create_order(db, quote), sp.InvalidTransition, match=closed)


def test_create_order_of_a_canceled_sibling_is_an_invalid_transition(db):
    opp = make_opportunity(db)
    a, b = make_active_quote(db, opp=opp), make_active_quote(db, opp=opp)
    sp.quotes.create_order(db, a)
    assert_refused(db, lambda: sp.quotes.create_order(db, b), sp.InvalidTransition, match="canceled")


@pytest.mark.parametrize("when", ["after", "instead", "in_sql"])
@pytest.mark.parametrize("path", ["one", "many"])
def test_a_fault_in_the_middle_of_create_order_leaves_the_database_exactly_as_before(db, monkeypatch, when, path):
    opp = make_opportunity(db)
    sibling = make_quote(db, opp=opp)
    quote = make_active_quote(db, opp=opp)
    original = sp.orders._write_order_lines
    create_order = sp.quotes.create_order if path == "one" else lambda d, q: int(sp.quotes.create_order_many(d, [q])[0])

    def broken(con, *mapping):
        if when == "in_sql":  # a failing statement aborts the DuckDB transaction itself
            con.execute("SELECT error('disk on fire')")
        if when == "after":
            original(con, *mapping)
            assert con.execute("SELECT count(*) FROM order_lines").fetchall()[0][0] == 1  # written, not committed
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("salespipe.orders._write_order_lines", broken)
    before = snapshot(db)
    with pytest.raises(Exception, match="disk on fire"):  # the fault itself, not a follow-up error
        create_order(db, quote)
    assert_unchanged(before, snapshot(db))
    assert state(db, "quote", sibling) == ("draft", "in_progress")

    monkeypatch.undo()
    order = create_order(db, quote)  # and the same call works once the fault is gone
    assert state(db, "order", order) == ("active", "new")


def test_create_order_many_orders_quotes_of_different_opportunities(db):
    a, b = make_quotes(db, 2, active=True)
    orders = sp.quotes.create_order_many(db, [b, a], at=T1)
    assert [record(db, "orders", "order_id", int(o))["quote_id"] for o in orders] == [b, a]
    assert (
        state(db, "opportunity", opportunity_of(db, a))
        == state(db, "opportunity", opportunity_of(db, b))
        == (
            "won",
            "won",
        )
    )


def test_create_order_many_with_one_draft_changes_nothing_and_lists_it(db):
    a, b = make_active_quote(db), make_quote(db)
    error = assert_refused(db, lambda: sp.quotes.create_order_many(db, [a, b]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [b]


def test_create_order_many_refuses_two_quotes_of_the_same_opportunity(db):
    opp = make_opportunity(db)
    a, b = make_active_quote(db, opp=opp), make_active_quote(db, opp=opp)
    error = assert_refused(db, lambda: sp.quotes.create_order_many(db, [a, b]), sp.ValidationError, match="only one")
    assert error.field == "ids"


# -- create_many -----------------------------------------------------------------------------


def test_create_many_returns_quote_ids_in_row_order_with_their_lines(db):
    o1, o2 = make_opportunity(db), make_opportunity(db)
    sku = make_product(db, unit_price=D("10.00"))
    quotes = pd.DataFrame({"opportunity_id": [o2, o1], "freight": [D("1.00"), D("0.00")]})
    lines = pd.DataFrame({"quote": [0, 1, 1], "sku": [sku, sku, sku], "quantity": [1, 2, 3]})
    q2, q1 = sp.quotes.create_many(db, quotes, lines, at=T0)
    assert opportunity_of(db, int(q2)) == o2 and opportunity_of(db, int(q1)) == o1
    assert sp.quotes.totals(db, int(q2)).total == D("11.00")
    assert rows(db, "SELECT line_no, quantity FROM quote_lines WHERE quote_id = ? ORDER BY 1", [int(q1)]) == [
        (1, D("2.0000")),
        (2, D("3.0000")),
    ]


def test_create_many_with_an_unknown_sku_on_one_line_creates_nothing(db):
    opp = make_opportunity(db)
    sku = make_product(db)
    quotes = pd.DataFrame({"opportunity_id": [opp, opp]})
    lines = pd.DataFrame({"quote": [0, 1], "sku": [sku, "GHOST"], "quantity": [1, 1]})
    error = assert_refused(db, lambda: sp.quotes.create_many(db, quotes, lines), sp.ValidationError, match="GHOST")
    assert error.field == "sku" and len(error.failures) == 1
    assert count(db, "quotes") == 0
