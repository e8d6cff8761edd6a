"""Another process holds the database file: every form says that another user is saving and to
try again, shows no traceback, and nothing is half-done. Once the file is free the same click works."""

from __future__ import annotations

from decimal import Decimal

import pytest
from _forms import click, fill
from _helpers import Child
from conftest import assert_unchanged, make_lead, make_product, snapshot, state

import salespipe as sp
from salespipe.forms import LeadForm, LeadList, QuoteBuilder

BUSY = "another user is saving right now, so nothing was changed. Try again in a moment."


@pytest.fixture
def db(tmp_path):
    """A file database (a lock needs a file) that gives up after 0.3 s of waiting."""
    return sp.connect(tmp_path / "sales.duckdb", busy_timeout=0.3)


@pytest.fixture
def held(db):
    """hold(): another process holds the file (a plain duckdb connection) until it is killed."""
    children = []

    def hold(seconds: float = 30) -> Child:
        child = Child.worker("hold", db.path, seconds)
        children.append(child)
        child.expect("HELD", timeout=60)
        return child

    yield hold
    for child in children:
        child.kill()


def test_saving_a_lead_while_another_process_holds_the_file(db, held):
    form = LeadForm(db)
    fill(form, last_name="Lovelace", company="Contoso Ltd", estimated_value="1,000.00")
    before = snapshot(db)
    holder = held()
    assert click(form, "Save") == f"Lead not saved: {BUSY}"
    assert form.field_errors == {} and form.current is None
    assert form.fields["last_name"].value == "Lovelace"  # kept, to try again
    holder.kill()
    assert_unchanged(before, snapshot(db))


def test_qualifying_while_another_process_holds_the_file(db, held):
    lead = make_lead(db)
    form = LeadList(db)
    form.select(lead)
    before = snapshot(db)
    holder = held()
    assert click(form, "Qualify") == f"Not qualified: {BUSY}"
    assert form.offered == ["Refresh", "Qualify", "Disqualify"]  # still selected, to try again
    assert "Could not refresh: another user is saving right now" in click(form, "Refresh")
    holder.kill()
    assert_unchanged(before, snapshot(db))
    assert state(db, "lead", lead) == ("open", "new")


def test_adding_a_line_and_paying_while_another_process_holds_the_file(db, held):
    sku = make_product(db, unit_price=Decimal("11.00"))
    opp = sp.leads.qualify(db, make_lead(db)).opportunity_id
    quote = sp.quotes.create(db, opp, lines=[(sku, 1)])
    form = QuoteBuilder(db)
    assert form.current == ("quote", quote)
    before = snapshot(db)
    holder = held()
    fill(form, sku=sku, quantity="3")
    assert click(form, "Add line") == f"Line not added: {BUSY}"
    assert click(form, "Activate") == f"Not activated: {BUSY}"
    assert form.field_errors == {} and form.fields["quantity"].value == "3"
    holder.kill()
    assert_unchanged(before, snapshot(db))


def test_nothing_is_half_done_and_the_same_clicks_work_once_the_file_is_free(db):
    lead = make_lead(db)
    sku = make_product(db, unit_price=Decimal("11.00"))
    opp = sp.leads.qualify(db, make_lead(db)).opportunity_id
    quote = sp.quotes.create(db, opp, lines=[(sku, 1)])
    sp.quotes.activate(db, quote)
    order = sp.quotes.create_order(db, quote)
    sp.orders.fulfill(db, order)
    invoice = sp.orders.create_invoice(db, order)
    new, leads, builder = LeadForm(db), LeadList(db), QuoteBuilder(db)
    builder.open("invoice", invoice)
    fill(new, company="Fabrikam")
    leads.select(lead)
    before = snapshot(db)
    holder = Child.worker("hold", db.path, 1.5)
    try:
        holder.expect("HELD", timeout=60)
        messages = [click(new, "Save"), click(leads, "Qualify"), click(builder, "Record payment")]
        assert all(BUSY in m for m in messages), messages
        holder.expect("RELEASED", timeout=30)
        assert holder.wait() == 0
    finally:
        holder.kill()
    assert_unchanged(before, snapshot(db))  # not a row of any table was written by the refused clicks
    assert click(new, "Save").endswith("created")
    assert click(leads, "Qualify").startswith(f"Lead {lead} qualified")
    assert click(builder, "Record payment").endswith("it is paid")
    assert state(db, "invoice", invoice) == ("paid", "complete")
