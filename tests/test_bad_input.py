"""Bad input: every public function checks its arguments, names the field, and changes nothing.

And every user value reaches SQL as a bound parameter: text that looks like SQL is stored
verbatim and every table is still there afterwards.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from conftest import (
    assert_refused,
    make_invoice,
    make_lead,
    make_opportunity,
    make_product,
    make_quote,
    record,
    rows,
    snapshot,
)

import salespipe as sp

D = Decimal


# -- setups: the records a case needs, built before the snapshot ------------------------------


def nothing(db):
    return {}


def a_lead(db):
    return {"lead": make_lead(db)}


def an_opportunity(db):
    return {"opp": make_opportunity(db), "sku": make_product(db)}


def a_costly_product(db):
    return {"opp": make_opportunity(db), "sku": make_product(db, unit_price=D("10000000.00"))}


def a_draft(db):
    return {"quote": make_quote(db), "sku": make_product(db)}


def an_invoice(db):
    return {"invoice": make_invoice(db)}


def case(setup, call, error, field, shows=None, *, id):
    return (id, setup, call, error, field, shows)


V, N = sp.ValidationError, sp.NotFound
LONG = "x" * 1001

CASES = {
    "leads": [
        # leads.create
        case(
            nothing, lambda db, c: sp.leads.create(db, last_name=5), V, "last_name", "5", id="lead last_name not text"
        ),
        case(
            nothing,
            lambda db, c: sp.leads.create(db, last_name="X", first_name=["Ada"]),
            V,
            "first_name",
            id="lead first_name a list",
        ),
        case(nothing, lambda db, c: sp.leads.create(db, company=LONG), V, "company", id="lead company too long"),
        case(
            nothing,
            lambda db, c: sp.leads.create(db, email="ada@x.com"),
            V,
            "last_name",
            id="lead without name or company",
        ),
        case(
            nothing,
            lambda db, c: sp.leads.create(db, last_name="X", email="ada.x.com"),
            V,
            "email",
            "ada.x.com",
            id="lead email shape",
        ),
        case(nothing, lambda db, c: sp.leads.create(db, last_name="X", email=42), V, "email", id="lead email not text"),
        case(
            nothing,
            lambda db, c: sp.leads.create(db, last_name="X", estimated_value=-1),
            V,
            "estimated_value",
            "-1",
            id="lead negative value",
        ),
        case(
            nothing,
            lambda db, c: sp.leads.create(db, last_name="X", estimated_value=1.001),
            V,
            "estimated_value",
            id="lead value past cents",
        ),
        case(
            nothing,
            lambda db, c: sp.leads.create(db, last_name="X", estimated_value=True),
            V,
            "estimated_value",
            id="lead value a bool",
        ),
        case(
            nothing,
            lambda db, c: sp.leads.create(db, last_name="X", status="won"),
            V,
            "status",
            "won",
            id="lead status",
        ),
        case(
            nothing,
            lambda db, c: sp.leads.create(db, last_name="X", at="yesterday"),
            V,
            "at",
            "yesterday",
            id="lead at not a time",
        ),
        case(
            nothing,
            lambda db, c: sp.leads.create(db, last_name="X", actor=7),
            V,
            "actor",
            "7",
            id="lead actor not text",
        ),
        # leads.create_many
        case(
            nothing,
            lambda db, c: sp.leads.create_many(db, [{"last_name": "X"}]),
            V,
            "frame",
            id="create_many not a frame",
        ),
        case(
            nothing,
            lambda db, c: sp.leads.create_many(db, pd.DataFrame({"last_name": [1, 2]})),
            V,
            "last_name",
            id="create_many numbers as names",
        ),
        case(
            nothing,
            lambda db, c: sp.leads.create_many(db, pd.DataFrame({"last_name": ["X"], "status": [3]})),
            V,
            "status",
            id="create_many status not text",
        ),
        case(
            nothing,
            lambda db, c: sp.leads.create_many(db, pd.DataFrame({"last_name": ["X"], "created_at": ["soon"]})),
            V,
            "created_at",
            id="create_many created_at",
        ),
        # leads: qualify, disqualify, reactivate, get
        case(nothing, lambda db, c: sp.leads.qualify(db, "1"), V, "lead", "'1'", id="qualify id as text"),
        case(nothing, lambda db, c: sp.leads.qualify(db, 0), V, "lead", "0", id="qualify id zero"),
        case(nothing, lambda db, c: sp.leads.qualify(db, True), V, "lead", id="qualify id a bool"),
        case(nothing, lambda db, c: sp.leads.qualify(db, 999), N, None, "999", id="qualify unknown lead"),
        case(a_lead, lambda db, c: sp.leads.qualify(db, c["lead"], at=5), V, "at", id="qualify at a number"),
        case(a_lead, lambda db, c: sp.leads.qualify(db, c["lead"], actor=["x"]), V, "actor", id="qualify actor a list"),
        case(nothing, lambda db, c: sp.leads.qualify_many(db, "12"), V, "ids", id="qualify_many ids a string"),
        case(
            nothing, lambda db, c: sp.leads.qualify_many(db, [1, "x"]), V, "ids", "'x'", id="qualify_many an id as text"
        ),
        case(
            a_lead,
            lambda db, c: sp.leads.disqualify(db, c["lead"], reason="meh"),
            V,
            "reason",
            "meh",
            id="disqualify reason",
        ),
        case(
            a_lead,
            lambda db, c: sp.leads.disqualify(db, c["lead"], reason=None),
            V,
            "reason",
            id="disqualify reason none",
        ),
        case(
            a_lead, lambda db, c: sp.leads.disqualify(db, c["lead"], note=5), V, "note", id="disqualify note a number"
        ),
        case(nothing, lambda db, c: sp.leads.disqualify(db, 931), N, None, "931", id="disqualify unknown lead"),
        case(nothing, lambda db, c: sp.leads.reactivate(db, -3), V, "lead", "-3", id="reactivate negative id"),
        case(nothing, lambda db, c: sp.leads.get(db, 1.0), V, "lead", id="get a float id"),
    ],
    "opportunities": [
        # opportunities
        case(
            nothing, lambda db, c: sp.opportunities.create(db, topic=None), V, "topic", id="opportunity topic required"
        ),
        case(
            nothing, lambda db, c: sp.opportunities.create(db, topic="t", owner=5), V, "owner", id="opportunity owner"
        ),
        case(
            nothing,
            lambda db, c: sp.opportunities.create(db, topic="t", probability=-1),
            V,
            "probability",
            id="opportunity probability",
        ),
        case(
            nothing,
            lambda db, c: sp.opportunities.create(db, topic="t", contact_id=77),
            N,
            None,
            "77",
            id="opportunity unknown contact",
        ),
        case(
            nothing,
            lambda db, c: sp.opportunities.create(db, topic="t", price_list="1"),
            V,
            "price_list",
            id="opportunity price list id text",
        ),
        case(nothing, lambda db, c: sp.opportunities.close_won(db, None), V, "opportunity", id="close_won no id"),
        case(nothing, lambda db, c: sp.opportunities.close_won(db, 955), N, None, "955", id="close_won unknown"),
        case(
            an_opportunity,
            lambda db, c: sp.opportunities.close_won(db, c["opp"], "1.234"),
            V,
            "actual_value",
            "1.234",
            id="close_won value past cents",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.opportunities.close_won_many(db, [c["opp"]], actual_value=D("5")),
            V,
            "actual_value",
            id="close_won_many value not a list",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.opportunities.close_lost(db, c["opp"], reason="won"),
            V,
            "reason",
            "won",
            id="close_lost reason",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.opportunities.close_lost(db, c["opp"], competitor=5),
            V,
            "competitor",
            id="close_lost competitor",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.opportunities.close_lost(db, c["opp"], competitor=LONG),
            V,
            "competitor",
            id="close_lost competitor too long",
        ),
        case(an_opportunity, lambda db, c: sp.opportunities.reopen(db, c["opp"], note=1), V, "note", id="reopen note"),
        case(nothing, lambda db, c: sp.opportunities.reopen(db, "x"), V, "opportunity", id="reopen id text"),
    ],
    "quotes": [
        # quotes.create
        case(nothing, lambda db, c: sp.quotes.create(db, "1"), V, "opportunity", id="quote opportunity text"),
        case(nothing, lambda db, c: sp.quotes.create(db, 404), N, None, "404", id="quote unknown opportunity"),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], lines="LAPTOP"),
            V,
            "lines",
            id="quote lines a string",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], lines=[(c["sku"],)]),
            V,
            "lines",
            id="quote line without quantity",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], lines=[{"sku": c["sku"], "qty": 1}]),
            V,
            "lines",
            "qty",
            id="quote line unknown key",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], lines=[(c["sku"], 0)]),
            V,
            "quantity",
            "0",
            id="quote quantity zero",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], lines=[(c["sku"], -2)]),
            V,
            "quantity",
            "-2",
            id="quote quantity negative",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], lines=[(c["sku"], "a few")]),
            V,
            "quantity",
            "a few",
            id="quote quantity text",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], lines=[(c["sku"], 1, D("-1"))]),
            V,
            "discount",
            id="quote line discount negative",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], lines=[(c["sku"], 1, 0, D("-0.01"))]),
            V,
            "tax",
            id="quote line tax negative",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], lines=[("NO-SUCH-SKU", 1)]),
            V,
            "sku",
            "NO-SUCH-SKU",
            id="quote unknown sku",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], lines=[(None, 1)]),
            V,
            "sku",
            id="quote sku missing",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], discount_pct=101),
            V,
            "discount_pct",
            "101",
            id="quote discount pct over 100",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], discount_pct=-1),
            V,
            "discount_pct",
            id="quote discount pct negative",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], discount_amount=D("-0.01")),
            V,
            "discount_amount",
            id="quote discount amount negative",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], freight="free"),
            V,
            "freight",
            "free",
            id="quote freight text",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], price_list=99),
            N,
            None,
            "99",
            id="quote unknown price list",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create(db, c["opp"], discount_pct=D("12.34567")),
            V,
            "discount_pct",
            "12.34567",
            id="quote discount pct past 4 places",
        ),
        case(
            a_costly_product,
            lambda db, c: sp.quotes.create(db, c["opp"], lines=[(c["sku"], 1_000_000)]),  # 10^13
            V,
            "quantity",
            "too large",
            id="quote line beyond a trillion",
        ),
        # quotes: drafts and transitions
        case(
            nothing,
            lambda db, c: sp.quotes.add_line(db, 404, sku="X", quantity=1),
            N,
            None,
            "404",
            id="add_line unknown quote",
        ),
        case(
            a_draft,
            lambda db, c: sp.quotes.add_line(db, c["quote"], sku="GHOST", quantity=1),
            V,
            "sku",
            "GHOST",
            id="add_line unknown sku",
        ),
        case(
            a_draft,
            lambda db, c: sp.quotes.add_line(db, c["quote"], sku=c["sku"], quantity=D("0.00001")),
            V,
            "quantity",
            id="add_line quantity past 4 places",
        ),
        case(a_draft, lambda db, c: sp.quotes.remove_line(db, c["quote"], 0), V, "line_no", id="remove_line line zero"),
        case(
            a_draft,
            lambda db, c: sp.quotes.update(db, c["quote"], discount_pct=200),
            V,
            "discount_pct",
            "200",
            id="update discount pct",
        ),
        case(
            a_draft,
            lambda db, c: sp.quotes.update(db, c["quote"], freight=-1),
            V,
            "freight",
            id="update freight negative",
        ),
        case(nothing, lambda db, c: sp.quotes.activate(db, "q1"), V, "quote", "q1", id="activate id text"),
        case(nothing, lambda db, c: sp.quotes.revise(db, 909), N, None, "909", id="revise unknown quote"),
        case(
            a_draft, lambda db, c: sp.quotes.close(db, c["quote"], status="won"), V, "status", "won", id="close status"
        ),
        case(nothing, lambda db, c: sp.quotes.create_order(db, 912), N, None, "912", id="create_order unknown quote"),
        case(nothing, lambda db, c: sp.quotes.totals(db, "1"), V, "quote", id="totals id text"),
        case(nothing, lambda db, c: sp.quotes.activate_many(db, [3, 3]), V, "ids", id="activate_many same id twice"),
        # quotes.create_many
        case(
            nothing,
            lambda db, c: sp.quotes.create_many(db, pd.DataFrame({"opp": [1]})),
            V,
            "quotes",
            id="create_many no opportunity column",
        ),
        case(
            nothing,
            lambda db, c: sp.quotes.create_many(db, pd.DataFrame({"opportunity_id": [None]})),
            V,
            "opportunity_id",
            id="create_many blank opportunity",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create_many(
                db, pd.DataFrame({"opportunity_id": [c["opp"]]}), pd.DataFrame({"quote": [0], "sku": [c["sku"]]})
            ),
            V,
            "lines",
            "quantity",
            id="create_many lines without quantity",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create_many(
                db,
                pd.DataFrame({"opportunity_id": [c["opp"]]}),
                pd.DataFrame({"quote": [1], "sku": [c["sku"]], "quantity": [1]}),
            ),
            V,
            "quote",
            id="create_many line of no quote",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create_many(db, pd.DataFrame({"opportunity_id": [c["opp"]], "freight": ["lots"]})),
            V,
            "freight",
            "lots",
            id="create_many freight text",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create_many(
                db,
                pd.DataFrame({"opportunity_id": [c["opp"]]}),
                pd.DataFrame({"quote": [0], "sku": [None], "quantity": [1]}),
            ),
            V,
            "sku",
            id="create_many blank sku",
        ),
        case(
            an_opportunity,
            lambda db, c: sp.quotes.create_many(
                db,
                pd.DataFrame({"opportunity_id": [c["opp"]]}),
                pd.DataFrame({"quote": [0], "sku": [c["sku"]], "quantity": ["1.00005"]}),
            ),
            V,
            "quantity",
            "1.00005",
            id="create_many quantity past 4 places",
        ),
    ],
    "orders and invoices": [
        # orders and invoices
        case(nothing, lambda db, c: sp.orders.fulfill(db, "o1"), V, "order", "o1", id="fulfill id text"),
        case(nothing, lambda db, c: sp.orders.fulfill(db, 908), N, None, "908", id="fulfill unknown order"),
        case(nothing, lambda db, c: sp.orders.cancel(db, 1, note=3), V, "note", id="cancel order note"),
        case(
            nothing, lambda db, c: sp.orders.create_invoice(db, 908), N, None, "908", id="create_invoice unknown order"
        ),
        case(nothing, lambda db, c: sp.orders.create_invoice_many(db, None), V, "ids", id="create_invoice_many no ids"),
        case(
            nothing,
            lambda db, c: sp.invoices.record_payment(db, 906, D("1.00")),
            N,
            None,
            "906",
            id="payment unknown invoice",
        ),
        case(
            an_invoice,
            lambda db, c: sp.invoices.record_payment(db, c["invoice"], D("-1.00")),
            V,
            "amount",
            "-1",
            id="payment negative",
        ),
        case(
            an_invoice,
            lambda db, c: sp.invoices.record_payment(db, c["invoice"], None),
            V,
            "amount",
            id="payment missing",
        ),
        case(
            an_invoice,
            lambda db, c: sp.invoices.record_payment(db, c["invoice"], D("11.01")),
            V,
            "amount",
            "11.01",
            id="payment above balance",
        ),
        case(
            nothing,
            lambda db, c: sp.invoices.record_payments(db, pd.DataFrame({"invoice_id": [1]})),
            V,
            "payments",
            id="payments without amount",
        ),
        case(
            nothing,
            lambda db, c: sp.invoices.record_payments(db, pd.DataFrame({"invoice_id": [1, 1], "amount": [1, 2]})),
            V,
            "invoice_id",
            id="payments same invoice twice",
        ),
        case(nothing, lambda db, c: sp.invoices.cancel(db, 906), N, None, "906", id="cancel unknown invoice"),
        case(nothing, lambda db, c: sp.invoices.totals(db, 906), N, None, "906", id="totals unknown invoice"),
    ],
    "catalog": [
        # catalog
        case(
            nothing,
            lambda db, c: sp.catalog.add_product(db, sku=None, name="n", unit_price=1),
            V,
            "sku",
            id="product sku missing",
        ),
        case(
            nothing,
            lambda db, c: sp.catalog.add_product(db, sku=5, name="n", unit_price=1),
            V,
            "sku",
            id="product sku a number",
        ),
        case(
            nothing,
            lambda db, c: sp.catalog.add_product(db, sku="S" * 65, name="n", unit_price=1),
            V,
            "sku",
            id="product sku too long",
        ),
        case(
            nothing,
            lambda db, c: sp.catalog.add_product(db, sku="S", name=" ", unit_price=1),
            V,
            "name",
            id="product name blank",
        ),
        case(
            nothing,
            lambda db, c: sp.catalog.add_product(db, sku="S", name="n", unit_price=D("-0.01")),
            V,
            "unit_price",
            "-0.01",
            id="product price negative",
        ),
        case(
            nothing,
            lambda db, c: sp.catalog.add_product(db, sku="S", name="n", unit_price="1.005"),
            V,
            "unit_price",
            "1.005",
            id="product price past cents",
        ),
        case(
            nothing,
            lambda db, c: sp.catalog.add_product(db, sku="S", name="n", unit_price=float("inf")),
            V,
            "unit_price",
            id="product price infinite",
        ),
        case(
            nothing, lambda db, c: sp.catalog.set_price(db, 1, "GHOST", 1), N, None, "GHOST", id="set_price unknown sku"
        ),
        case(
            a_draft, lambda db, c: sp.catalog.set_price(db, 1, c["sku"], -5), V, "unit_price", id="set_price negative"
        ),
        case(nothing, lambda db, c: sp.catalog.add_price_list(db, None), V, "name", id="price list name missing"),
        case(
            nothing,
            lambda db, c: sp.catalog.add_price_list(db, "EU", default="yes"),
            V,
            "default",
            id="price list default not a bool",
        ),
        case(nothing, lambda db, c: sp.catalog.products(db, "1"), V, "price_list", id="products price list text"),
    ],
    "sql": [
        # the analyst's surface
        case(nothing, lambda db, c: db.sql(""), V, "query", id="sql empty"),
        case(nothing, lambda db, c: db.sql("SELEC 1"), V, "query", id="sql does not parse"),
        case(nothing, lambda db, c: db.sql("SELECT * FROM no_such_table"), V, "query", id="sql fails"),
    ],
}


@pytest.mark.parametrize("group", list(CASES))
def test_a_bad_argument_raises_a_typed_error_naming_the_field_and_changes_nothing(db, subtests, group):
    # One database per group: each refused call is checked to change nothing, so the cases share it,
    # and the records they need are built once, up front.
    contexts = {}
    for _, setup, *_ in CASES[group]:
        if setup not in contexts:
            contexts[setup] = setup(db)
    before = snapshot(db)
    for name, setup, call, error, field, shows in CASES[group]:
        with subtests.test(name):
            context = contexts[setup]
            raised = assert_refused(db, lambda call=call, context=context: call(db, context), error, before=before)
            if field is not None:
                assert raised.field == field
            if shows is not None:
                assert shows in str(raised), str(raised)


def test_every_case_has_its_own_name():
    names = [case[0] for cases in CASES.values() for case in cases]
    assert len(names) == len(set(names)) > 100


# -- SQL-looking text is data ----------------------------------------------------------------

EVIL = ["x'); DROP TABLE leads; --", 'Robert"; --']
MORE_EVIL = ["'; DELETE FROM events WHERE 'a'='a", "$1 ? ?; --", "\\'; SELECT 1; --", 'O\'Brien & "Sons" GmbH']


@pytest.mark.parametrize("evil", EVIL)
def test_text_that_looks_like_sql_is_stored_verbatim_through_every_text_field(db, evil):
    tables = set(snapshot(db))
    email = evil.replace(" ", "_") + "@evil.example"
    sku = evil[:64]

    sp.catalog.add_product(db, sku=sku, name=evil, unit_price=D("11.00"))
    price_list = sp.catalog.add_price_list(db, evil)
    sp.catalog.set_price(db, price_list, sku, D("10.00"))
    fields = ("first_name", "last_name", "phone", "job_title", "company", "topic", "source", "owner")
    lead = sp.leads.create(db, email=email, actor=evil, **dict.fromkeys(fields, evil))
    q = sp.leads.qualify(db, lead, actor=evil)
    other = sp.leads.create(db, company=evil, actor=evil)
    sp.leads.disqualify(db, other, note=evil, actor=evil)
    sp.leads.reactivate(db, other, actor=evil)

    lost = make_opportunity(db)
    sp.opportunities.close_lost(db, lost, competitor=evil, note=evil, actor=evil)
    sp.opportunities.reopen(db, lost, note=evil, actor=evil)
    sp.opportunities.close_lost_many(db, [lost], competitor=[evil], note=evil, actor=evil)
    sp.opportunities.close_won(db, make_opportunity(db), note=evil, actor=evil)

    draft = sp.quotes.create(db, q.opportunity_id, lines=[(sku, 1)], actor=evil)
    sp.quotes.close(db, draft, note=evil, actor=evil)
    quote = sp.quotes.create(db, q.opportunity_id, lines=[(sku, 100, D("10.00"))], price_list=price_list, actor=evil)
    sp.quotes.add_line(db, quote, sku=sku, quantity=1)
    sp.quotes.activate(db, quote, actor=evil)
    order = sp.quotes.create_order(db, quote, actor=evil)
    sp.orders.fulfill(db, order, actor=evil)
    invoice = sp.orders.create_invoice(db, order, actor=evil)
    sp.invoices.record_payment(db, invoice, D("1.00"), note=evil, actor=evil)
    cancelable = make_invoice(db, lines=[(sku, 1)])
    sp.invoices.cancel(db, cancelable, note=evil, actor=evil)
    cancelable_order = sp.quotes.create_order(db, _active_quote(db, sku))
    sp.orders.cancel(db, cancelable_order, note=evil, actor=evil)

    assert set(snapshot(db)) == tables  # every table is still there
    row = record(db, "leads", "lead_id", lead)
    assert all(row[f] == evil for f in fields) and row["email"] == email
    assert record(db, "accounts", "account_id", q.account_id)["name"] == evil
    assert record(db, "contacts", "contact_id", q.contact_id)["last_name"] == evil
    assert record(db, "opportunities", "opportunity_id", q.opportunity_id)["owner"] == evil
    assert record(db, "opportunities", "opportunity_id", lost)["competitor"] == evil
    assert record(db, "products", "sku", sku)["name"] == evil
    assert record(db, "price_lists", "price_list_id", price_list)["name"] == evil
    assert rows(db, "SELECT DISTINCT sku FROM order_lines WHERE order_id = ?", [order]) == [(sku,)]
    assert rows(db, "SELECT note FROM payments") == [(evil,)]
    assert sp.quotes.totals(db, quote).total == D("1000.00")  # 100 x 10.00 - 10.00 + 1 x 10.00 on the second list
    notes = rows(db, "SELECT DISTINCT note FROM events WHERE note IS NOT NULL")
    assert notes == [(evil,)]
    assert rows(db, "SELECT count(*) FROM events WHERE actor = ?", [evil])[0][0] >= 15
    assert len(db.sql("SELECT * FROM leads WHERE company = ?", [evil])) == 2


def _active_quote(db, sku: str) -> int:
    quote = make_quote(db, lines=[(sku, 1)])
    sp.quotes.activate(db, quote)
    return quote


def test_quotes_placeholders_and_backslashes_in_text_are_stored_verbatim(db):
    tables = set(snapshot(db))
    ids = {text: sp.leads.create(db, last_name=text, company=text, topic=text, actor=text) for text in MORE_EVIL}
    sp.leads.qualify_many(db, list(ids.values()), actor=MORE_EVIL[0])
    for text, lead in ids.items():
        row = sp.leads.get(db, lead)
        assert (row["last_name"], row["company"], row["topic"]) == (text, text, text)
    assert sorted(name for (name,) in rows(db, "SELECT name FROM accounts")) == sorted(MORE_EVIL)
    assert sorted(actor for (actor,) in rows(db, "SELECT DISTINCT actor FROM events")) == sorted(MORE_EVIL)
    assert set(snapshot(db)) == tables
    assert rows(db, "SELECT count(*) FROM events") == [(3 * len(MORE_EVIL),)]  # create, qualify, new opportunity


@pytest.mark.parametrize("evil", EVIL)
def test_text_that_looks_like_sql_is_stored_verbatim_through_create_many(db, evil):
    frame = pd.DataFrame({"last_name": [evil, "plain"], "company": [evil, evil], "owner": [evil, None]})
    ids = sp.leads.create_many(db, frame, actor=evil)
    assert [record(db, "leads", "lead_id", int(i))["last_name"] for i in ids] == [evil, "plain"]
    result = sp.leads.qualify_many(db, ids)
    assert result["account_matched"].tolist() == [False, True]
    assert rows(db, "SELECT name FROM accounts") == [(evil,)]
