"""QuoteBuilder: an open opportunity's quote, built line by line with the package's totals, then
activated, revised, closed or ordered; the order fulfilled, canceled or invoiced; the invoice
paid or canceled. Every step shows the resulting state and offers exactly what the state
machine allows from there; every refusal shows why and leaves every table as it was."""

from __future__ import annotations

from decimal import Decimal

import pytest
from _forms import actions_offered, assert_offers_exactly_what_the_machine_allows, click, fill
from conftest import assert_unchanged, make_opportunity, record, rows, snapshot, state

import salespipe as sp
from salespipe.forms import QuoteBuilder

DRAFT = ["Refresh", "New quote", "Add line", "Remove line", "Save", "Activate", "Close"]


@pytest.fixture
def opp(db):
    """An open opportunity of Contoso (owner maria) and three products on the default price list."""
    sp.team.add_owner(db, "maria", "Europe")
    sp.catalog.add_product(db, sku="LAPTOP", name="Laptop", unit_price=Decimal("11.00"))
    sp.catalog.add_product(db, sku="DOCK", name="Dock", unit_price=Decimal("189.00"))
    sp.catalog.add_product(db, sku="MOUSE", name="Mouse", unit_price=Decimal("1234.50"))
    make_opportunity(db, company="Fabrikam Inc", topic="monitors", owner="li.wei")
    return make_opportunity(db, company="Contoso Ltd", topic="50 laptops", owner="maria")


@pytest.fixture
def form(db, opp):
    return QuoteBuilder(db)


def add(form, sku: str, quantity: str, **more) -> str:
    fill(form, sku=sku, quantity=quantity, **more)
    return click(form, "Add line")


def draft(form, *lines: tuple[str, str]) -> int:
    """A new quote on the form's opportunity with these (sku, quantity) lines; returns its id."""
    click(form, "New quote")
    for sku, quantity in lines:
        add(form, sku, quantity)
    return form.current[1]


def totals_shown(form) -> dict[str, str]:
    """The totals table as {field: text}."""
    found = {}
    for part in form._totals.value.split("sp-total-")[1:]:
        field, rest = part.split("'>", 1)
        found[field] = rest.split("<", 1)[0]
    return found


def test_it_opens_on_the_newest_open_opportunity_and_offers_a_new_quote(db, form, opp):
    assert form.current == ("opportunity", opp)
    before = snapshot(db)  # the buttons not offered, clicked anyway: nothing to act on
    for label, words in (
        ("Add line", "Line not added: open a quote first"),
        ("Fulfill", "Not fulfilled: open an order first"),
    ):
        assert click(form, label) == words
    assert click(form, "Record payment") == "Payment not recorded: open an invoice first"
    assert_unchanged(before, snapshot(db))
    assert form.fields["opportunity"].value == opp
    assert form.offered == ["Refresh", "New quote"]
    label = dict((v, k) for k, v in form.fields["opportunity"].options)[opp]
    assert label == f"#{opp} · Contoso Ltd · 50 laptops · maria · est. 60,000.00"
    assert repr(form) == f"<QuoteBuilder: opportunity {opp}, no quote yet>"


def test_find_an_open_opportunity_by_account_topic_owner_or_id(form, opp):
    other = opp - 1
    for values, found in (
        ({"search": "contoso"}, [opp]),
        ({"search": "MONITORS"}, [other]),
        ({"search": ""}, [opp, other]),
        ({"search": str(other)}, [other]),
        ({"search": "", "owner": "maria"}, [opp]),
    ):
        fill(form, **values)
        assert [v for _, v in form.fields["opportunity"].options] == found, values
        assert form.current == ("opportunity", found[0])
        assert form.message == (
            "1 open opportunity found" if len(found) == 1 else "2 open opportunities found (newest first)"
        )
    sp.opportunities.close_lost(form.db, opp)
    fill(form, owner="", search="")
    click(form, "Refresh")
    assert [v for _, v in form.fields["opportunity"].options] == [other]


def test_new_quote_starts_a_draft_on_the_chosen_price_list(db, form, opp):
    partner = sp.catalog.add_price_list(db, "Partner")
    sp.catalog.set_price(db, partner, "LAPTOP", Decimal("9.90"))
    click(form, "Refresh")
    fill(form, price_list=partner)
    message = click(form, "New quote")
    quote = form.current[1]
    assert form.current == ("quote", quote)
    saved = record(db, "quotes", "quote_id", quote)
    assert (saved["opportunity_id"], saved["price_list_id"], saved["revision"]) == (opp, partner, 1)
    assert (saved["state"], saved["status"]) == ("draft", "in_progress")
    assert message == f"Quote {saved['quote_number']} revision 1 created as a draft: add its lines"
    assert form.offered == DRAFT
    assert_offers_exactly_what_the_machine_allows(form, db)
    assert form.fields["sku"].options == (("LAPTOP · Laptop · 9.90", "LAPTOP"),)  # that list's products and prices
    assert "No lines yet" in form._lines.value


def test_add_line_takes_the_values_as_typed_and_shows_the_package_totals_as_money(db, form):
    quote = draft(form)
    assert ("MOUSE · Mouse · 1,234.50", "MOUSE") in form.fields["sku"].options
    message = add(form, "LAPTOP", "100", discount="10.00", tax="8.80")
    assert message == "Line 1 added: 100 × LAPTOP"
    assert rows(
        db, "SELECT line_no, sku, quantity, unit_price, discount, tax FROM quote_lines WHERE quote_id = ?", [quote]
    ) == [(1, "LAPTOP", Decimal("100.0000"), Decimal("11.00"), Decimal("10.00"), Decimal("8.80"))]
    assert totals_shown(form) == {  # 100 x 11.00 - 10.00 = 1,090.00 (DESIGN.md)
        "detail": "1,090.00",
        "discount": "0.00",
        "pre_freight": "1,090.00",
        "freight": "0.00",
        "tax": "8.80",
        "total": "1,098.80",
    }
    assert (form.fields["quantity"].value, form.fields["discount"].value, form.fields["tax"].value) == ("", "", "")
    add(form, "MOUSE", "1000")
    assert totals_shown(form)["total"] == f"{sp.quotes.totals(db, quote).total:,.2f}" == "1,235,598.80"
    assert "1,234,500.00" in form._lines.value
    assert [v for _, v in form.fields["line_no"].options] == [1, 2]


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"quantity": "0"}, "quantity", "must be greater than 0"),
        ({"quantity": ""}, "quantity", "is empty: give a number"),
        ({"quantity": "2", "discount": "23.00"}, "discount", "is more than the line base 22.00"),
        ({"quantity": "2", "tax": "-1"}, "tax", "must not be negative"),
    ],
)
def test_a_refused_line_shows_beside_its_field_and_changes_nothing(db, form, values, field, words):
    draft(form, ("DOCK", "1"))
    before, totals = snapshot(db), form._totals.value
    message = add(form, "LAPTOP", **values)
    assert_unchanged(before, snapshot(db))
    assert message.startswith("Line not added: ") and words in message
    assert list(form.field_errors) == [field] and words in form.field_errors[field]
    assert form._totals.value == totals


def test_text_boxes_reach_the_package_as_typed(db, form, monkeypatch):
    """The form never parses numbers: "1,5" goes to quotes.add_line as "1,5", and the engine's answer
    (a line, or an error naming the quantity) is what the form shows."""
    seen = []
    real = sp.quotes.add_line

    def spy(db, quote, **kw):
        seen.append(kw)
        return real(db, quote, **kw)

    monkeypatch.setattr(sp.quotes, "add_line", spy)
    quote = draft(form)
    message = add(form, "LAPTOP", "1,5", discount="0,50", tax=" 1.10 ")
    assert seen == [{"sku": "LAPTOP", "quantity": "1,5", "discount": "0,50", "tax": " 1.10 "}]
    assert message == "Line 1 added: 1,5 × LAPTOP"  # a decimal comma: one and a half
    assert rows(db, "SELECT quantity, discount, tax FROM quote_lines WHERE quote_id = ?", [quote]) == [
        (Decimal("1.5000"), Decimal("0.50"), Decimal("1.10"))
    ]
    before = snapshot(db)
    message = add(form, "LAPTOP", "1,200")  # 1200 or 1.2? The engine refuses to guess
    assert_unchanged(before, snapshot(db))
    assert message.startswith("Line not added: ") and "ambiguous" in message
    assert list(form.field_errors) == ["quantity"]


def test_remove_line(db, form):
    quote = draft(form, ("LAPTOP", "1"), ("DOCK", "2"))
    fill(form, line_no=1)
    assert click(form, "Remove line") == "Line 1 removed"
    assert rows(db, "SELECT line_no, sku FROM quote_lines WHERE quote_id = ?", [quote]) == [(2, "DOCK")]
    assert totals_shown(form)["total"] == "378.00"
    assert [v for _, v in form.fields["line_no"].options] == [2]
    assert form.fields["line_no"].value == 2  # the dropdown shows the line Remove line would remove


def test_the_line_dropdown_keeps_its_choice_and_otherwise_shows_the_first_line(db, form):
    draft(form, ("LAPTOP", "1"), ("DOCK", "2"))
    assert form.fields["line_no"].value == 1
    fill(form, line_no=2)
    click(form, "Activate")
    click(form, "Revise")
    assert form.fields["line_no"].value == 2  # the choice made before survives the new revision
    assert click(form, "Remove line") == "Line 2 removed"
    assert form.fields["line_no"].value == 1


def test_save_sets_the_quote_discount_and_freight_as_typed(db, form):
    quote = draft(form, ("LAPTOP", "100"))
    fill(form, discount_pct="5", discount_amount="10", freight="1,000.00")
    assert click(form, "Save") == "Quote discount and freight saved"
    saved = record(db, "quotes", "quote_id", quote)
    assert (saved["discount_pct"], saved["discount_amount"], saved["freight"]) == (
        Decimal("5.0000"),
        Decimal("10.00"),
        Decimal("1000.00"),
    )
    assert totals_shown(form) == {
        "detail": "1,100.00",
        "discount": "65.00",
        "pre_freight": "1,035.00",
        "freight": "1,000.00",
        "tax": "0.00",
        "total": "2,035.00",
    }
    assert "Discount (5% + 10.00)" in form._totals.value
    fill(form, discount_pct="101")
    before = snapshot(db)
    assert click(form, "Save").startswith("Quote not saved: discount_pct must be between 0 and 100")
    assert list(form.field_errors) == ["discount_pct"]
    assert_unchanged(before, snapshot(db))


def test_activate_locks_the_quote_and_offers_revise_close_and_create_order(db, form):
    quote = draft(form, ("LAPTOP", "1"))
    message = click(form, "Activate")
    assert state(db, "quote", quote) == ("active", "open")
    assert message.endswith("revision 1 activated: its prices are locked")
    assert form.offered == ["Refresh", "New quote", "Revise", "Close", "Create order"]
    assert_offers_exactly_what_the_machine_allows(form, db)
    assert form._edit_box.layout.display == "none"
    assert "active (open)" in form._title.value
    before = snapshot(db)  # the hidden buttons are refused by the engine all the same
    assert "only drafts are edited" in add(form, "DOCK", "1")
    assert click(form, "Activate").startswith(f"Not activated: quote {quote} is active (open)")
    assert_unchanged(before, snapshot(db))


def test_a_quote_without_lines_is_not_activated(db, form):
    quote = draft(form)
    before = snapshot(db)
    assert click(form, "Activate") == (
        f"Not activated: quote {quote} has no lines: add one (quotes.add_line) before activating it"
    )
    assert_unchanged(before, snapshot(db))
    assert state(db, "quote", quote) == ("draft", "in_progress") and form.offered == DRAFT


def test_revise_opens_the_next_revision_and_the_history_says_what_changed(db, form):
    first = draft(form, ("LAPTOP", "10"), ("DOCK", "2"))
    click(form, "Activate")
    message = click(form, "Revise")
    second = form.current[1]
    number = record(db, "quotes", "quote_id", first)["quote_number"]
    assert message == f"Revision 2 of {number} created as a draft (revision 1 is closed as revised)"
    assert state(db, "quote", first) == ("closed", "revised") and state(db, "quote", second) == ("draft", "in_progress")
    assert form.offered == DRAFT
    fill(form, line_no=2)
    click(form, "Remove line")
    add(form, "DOCK", "5")  # line 2 again: DOCK, 2 -> 5
    add(form, "MOUSE", "1")
    fill(form, line_no=1)
    click(form, "Remove line")
    fill(form, freight="25")
    click(form, "Save")
    history = form._history.value
    assert f"Revisions of {number}" in history and "closed (revised)" in history
    assert "Revision 1 → 2" in history
    assert "− line 1 LAPTOP: 10 × 11.00, amount 110.00 removed" in history
    assert "~ line 2 DOCK: quantity 2 → 5, amount 378.00 → 945.00" in history
    assert "+ line 3 MOUSE: 1 × 1,234.50, amount 1,234.50 added" in history
    assert "~ freight 0.00 → 25.00" in history
    assert "total 488.00 → 2,204.50 (+1,716.50)" in history
    fill(form, document=("quote", first))  # the picker opens an earlier revision
    assert form.current == ("quote", first)
    assert actions_offered(form) == set()  # revised is final
    assert_offers_exactly_what_the_machine_allows(form, db)


@pytest.mark.parametrize("status", ["lost", "canceled"])
def test_close_then_only_revise_is_offered(db, form, status):
    quote = draft(form, ("LAPTOP", "1"))
    click(form, "Activate")
    fill(form, close_status=status)
    assert click(form, "Close").endswith(f"revision 1 closed as {status}")
    assert state(db, "quote", quote) == ("closed", status)
    assert actions_offered(form) == {"revise"}
    assert_offers_exactly_what_the_machine_allows(form, db)


def test_create_order_wins_the_opportunity_and_shows_the_order(db, form, opp):
    quote = draft(form, ("LAPTOP", "100"))
    click(form, "Activate")
    message = click(form, "Create order")
    order = form.current[1]
    assert form.current == ("order", order)
    assert record(db, "orders", "order_id", order)["quote_id"] == quote
    assert state(db, "opportunity", opp) == ("won", "won") and state(db, "quote", quote) == ("won", "won")
    assert message.endswith(f"; opportunity {opp} is won at 1,100.00")
    assert message.startswith(f"Order {order} created from quote QUO-")
    assert form.offered == ["Refresh", "Fulfill", "Cancel"]  # no New quote on a won opportunity
    assert_offers_exactly_what_the_machine_allows(form, db)
    assert totals_shown(form)["total"] == "1,100.00" and "LAPTOP" in form._lines.value
    assert [v for _, v in form.fields["document"].options] == [("quote", quote), ("order", order)]
    assert repr(form) == f"<QuoteBuilder: Order {order}, active (new)>"
    sp.orders.fulfill(db, order)  # meanwhile, elsewhere
    assert click(form, "Refresh") == f"Refreshed: Order {order}, fulfilled (complete)"
    assert form.offered == ["Refresh", "Create invoice"]


def test_removing_a_line_from_a_quote_without_lines_is_refused(db, form):
    draft(form)
    before = snapshot(db)
    assert click(form, "Remove line").startswith("Line not removed: line_no must be an integer id")
    assert list(form.field_errors) == ["line_no"]
    assert_unchanged(before, snapshot(db))


def test_ordering_a_quote_whose_deal_was_lost_meanwhile_is_refused(db, form, opp):
    quote = draft(form, ("LAPTOP", "1"))
    click(form, "Activate")
    sp.opportunities.close_lost(db, opp, reason="out_sold", competitor="Fabrikam")  # another user
    before = snapshot(db)
    message = click(form, "Create order")
    assert_unchanged(before, snapshot(db))
    assert message.startswith(
        f"No order created: quote {quote} is closed (lost): create_order is allowed only from active"
    )
    assert form.current == ("quote", quote)


def test_cancel_an_order(db, form):
    draft(form, ("LAPTOP", "1"))
    click(form, "Activate")
    click(form, "Create order")
    order = form.current[1]
    assert click(form, "Cancel") == f"Order {order} canceled"
    assert state(db, "order", order) == ("canceled", "no_money")
    assert actions_offered(form) == set()


def test_fulfill_invoice_and_pay_in_two_payments_until_paid(db, form):
    draft(form, ("LAPTOP", "100"))
    fill(form, freight="0.80")
    click(form, "Save")
    click(form, "Activate")
    click(form, "Create order")
    order = form.current[1]
    assert click(form, "Fulfill") == f"Order {order} fulfilled: it can be invoiced"
    assert state(db, "order", order) == ("fulfilled", "complete") and form.offered == ["Refresh", "Create invoice"]
    message = click(form, "Create invoice")
    invoice = form.current[1]
    assert form.current == ("invoice", invoice) and message == f"Invoice {invoice} created from order {order}"
    assert form.offered == ["Refresh", "Record payment", "Cancel"]
    assert_offers_exactly_what_the_machine_allows(form, db)
    assert form.fields["amount"].value == "1100.80"  # the balance
    assert totals_shown(form)["balance"] == "1,100.80"
    fill(form, amount="1,000.50")
    message = click(form, "Record payment")
    assert message == f"Payment recorded on invoice {invoice}: 1,000.50 paid of 1,100.80; balance 100.30"
    assert state(db, "invoice", invoice) == ("active", "partial")
    assert form.offered == ["Refresh", "Record payment"]  # a partly paid invoice cannot be canceled
    assert_offers_exactly_what_the_machine_allows(form, db)
    assert form.fields["amount"].value == "100.30"
    assert totals_shown(form)["paid"] == "1,000.50"
    assert click(form, "Record payment").endswith("1,100.80 paid of 1,100.80; it is paid")
    assert state(db, "invoice", invoice) == ("paid", "complete")
    assert form.offered == ["Refresh"]
    assert "paid (complete)" in form._title.value and totals_shown(form)["balance"] == "0.00"
    assert rows(db, "SELECT amount FROM payments WHERE invoice_id = ? ORDER BY payment_id", [invoice]) == [
        (Decimal("1000.50"),),
        (Decimal("100.30"),),
    ]


def invoice_of(form, quantity: str = "10") -> int:
    draft(form, ("LAPTOP", quantity))
    click(form, "Activate")
    click(form, "Create order")
    click(form, "Fulfill")
    click(form, "Create invoice")
    return form.current[1]


def test_paying_more_than_the_balance_is_refused_beside_the_amount(db, form):
    invoice = invoice_of(form)
    fill(form, amount="110.01")
    before = snapshot(db)
    message = click(form, "Record payment")
    assert_unchanged(before, snapshot(db))
    assert message == f"Payment not recorded: invoice {invoice}: amount 110.01 exceeds the balance 110.00"
    assert list(form.field_errors) == ["amount"] and "exceeds the balance" in form.field_errors["amount"]
    assert state(db, "invoice", invoice) == ("active", "new")


def test_cancel_an_invoice_without_payments(db, form):
    invoice = invoice_of(form)
    assert click(form, "Cancel") == f"Invoice {invoice} canceled"
    assert state(db, "invoice", invoice) == ("canceled", "canceled")
    assert actions_offered(form) == set()


def test_opening_a_document_of_a_won_deal_shows_its_opportunity(db, opp):
    form = QuoteBuilder(db)
    invoice = invoice_of(form)
    again = QuoteBuilder(db)  # a new session: the won opportunity is not among the open ones
    assert opp not in [v for _, v in again.fields["opportunity"].options]
    again.open("invoice", invoice)
    assert again.current == ("invoice", invoice)
    assert again.fields["opportunity"].value == opp
    assert again.fields["opportunity"].options[0][0].endswith(" · won")
    assert again.offered == ["Refresh", "Record payment", "Cancel"]


def test_a_new_session_on_an_opportunity_opens_its_newest_document(db, form, opp):
    quote = draft(form, ("DOCK", "1"))
    again = QuoteBuilder(db, opportunity=opp)
    assert again.current == ("quote", quote)
    assert again.offered == DRAFT
