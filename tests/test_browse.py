"""browse: the read functions behind the forms, on their own. Pages newest first with exact
money, filters and searches, pick lists, open deals, document headers and lines, and what
changed between the revisions of a quote number."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pandas as pd
import pytest
from conftest import make_lead, make_opportunity, make_product

import salespipe as sp
from salespipe import browse
from salespipe.documents import Totals


@pytest.fixture
def leads12(db):
    """12 leads, ids 1..12, of companies "Firm 1" .. "Firm 12"; odd ones from web (maria), even from partner."""
    return [
        make_lead(
            db,
            company=f"Firm {i}",
            first_name="Bob",
            last_name="Smith",
            email=None,
            source="web" if i % 2 else "partner",
            owner="maria" if i % 2 else "li.wei",
            estimated_value=Decimal(f"{i}000.05"),
        )
        for i in range(1, 13)
    ]


def ids(page: browse.LeadPage) -> list[int]:
    return page.rows["lead_id"].tolist()


def test_lead_page_is_newest_first_and_paged(db, leads12):
    first = browse.lead_page(db, page_size=5)
    assert ids(first) == [12, 11, 10, 9, 8]
    assert (first.total, first.pages, first.page, first.exact) == (12, 3, 1, True)
    assert (first.first_row, first.last_row) == (1, 5)
    last = browse.lead_page(db, page=3, page_size=5)
    assert ids(last) == [2, 1] and (last.first_row, last.last_row) == (11, 12)
    assert browse.lead_page(db, page=99, page_size=5).page == 3  # past the end: the last page
    assert list(first.rows.columns) == list(browse.LEAD_COLUMNS)


def test_lead_page_keeps_money_exact(db, leads12):
    values = browse.lead_page(db).rows["estimated_value"].tolist()
    assert values[0] == Decimal("12000.05") and all(isinstance(v, Decimal) for v in values)


def test_lead_page_filters(db, leads12):
    assert ids(browse.lead_page(db, source="partner")) == [12, 10, 8, 6, 4, 2]
    assert ids(browse.lead_page(db, owner="maria", source="partner")) == []
    sp.leads.disqualify(db, 5, reason="lost")
    sp.leads.qualify(db, 6)
    assert ids(browse.lead_page(db, state="disqualified")) == [5]
    assert ids(browse.lead_page(db, state="qualified")) == [6]
    assert browse.lead_page(db, state="open").total == 10
    empty = browse.lead_page(db, owner="nobody")
    assert empty.total == 0 and empty.pages == 1 and empty.first_row == 0 and empty.rows.empty


def test_lead_search_words_must_all_appear_in_name_company_or_email(db, leads12):
    make_lead(db, first_name="Ada", last_name="Lovelace", company="Contoso Ltd", email="ADA@contoso.com")
    assert ids(browse.lead_page(db, search="ada")) == [13]
    assert ids(browse.lead_page(db, search="LOVELACE contoso")) == [13]
    assert ids(browse.lead_page(db, search="ada fabrikam")) == []
    assert ids(browse.lead_page(db, search="firm 1")) == [12, 11, 10, 1]  # "1" in Firm 1, 10, 11, 12
    assert ids(browse.lead_page(db, search="7")) == [7]  # in Firm 7, and lead 7 by id
    assert ids(browse.lead_page(db, search="  ")) == ids(browse.lead_page(db))


def test_lead_search_takes_wildcards_literally(db):
    make_lead(db, company="50% Off Ltd")
    make_lead(db, company="A_B Corp")
    make_lead(db, company="AxB Corp")
    assert browse.lead_page(db, search="50%").rows["company"].tolist() == ["50% Off Ltd"]
    assert browse.lead_page(db, search="a_b").rows["company"].tolist() == ["A_B Corp"]
    assert browse.lead_page(db, search="%").rows["company"].tolist() == ["50% Off Ltd"]


def test_a_search_reaches_the_newest_matches_up_to_the_limit(db, leads12, monkeypatch):
    monkeypatch.setattr(browse, "SEARCH_LIMIT", 4)
    page = browse.lead_page(db, search="smith", page_size=3)
    assert (page.total, page.exact, page.pages) == (4, False, 2)
    assert ids(page) == [12, 11, 10]
    assert ids(browse.lead_page(db, search="smith", page=2, page_size=3)) == [9]
    narrow = browse.lead_page(db, search="firm 1", page_size=3)
    assert (narrow.total, narrow.exact) == (4, True)


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"state": "won"}, "state"), ({"page": 0}, "page"), ({"page_size": 501}, "page_size"), ({"owner": 5}, "owner")],
)
def test_lead_page_refuses_bad_arguments_naming_them(db, kw, field):
    with pytest.raises(sp.ValidationError) as info:
        browse.lead_page(db, **kw)
    assert info.value.field == field


def test_pick_lists(db, leads12):
    sp.team.add_owner(db, "zoe", "Europe")
    make_lead(db, source=None, owner=None)
    assert browse.lead_sources(db) == ["partner", "web"]
    assert browse.owners(db) == ["zoe"]  # the team
    choices = browse.lead_list_choices(db)
    assert (choices.owners, choices.sources) == (["li.wei", "maria", "zoe"], ["partner", "web"])  # team + on leads


def test_qualified_names_what_each_lead_produced(db):
    lead = make_lead(db, first_name="Ada", last_name="Lovelace", company="Contoso Ltd", topic="50 laptops")
    q = sp.leads.qualify(db, lead)
    only_contact = make_lead(db, first_name="Alan", last_name="Turing", company="Bletchley")
    sp.leads.qualify(db, only_contact, create_account=False, create_opportunity=False)
    found = browse.qualified(db, [only_contact, lead]).to_dict("records")
    assert found[0] == {
        "lead_id": lead,
        "account_id": q.account_id,
        "account": "Contoso Ltd",
        "contact_id": q.contact_id,
        "contact": "Ada Lovelace",
        "opportunity_id": q.opportunity_id,
        "topic": "50 laptops",
    }
    assert pd.isna(found[1]["account_id"]) and found[1]["contact"] == "Alan Turing"
    assert pd.isna(found[1]["opportunity_id"])


def test_open_opportunities_newest_first_by_account_topic_owner_or_id(db):
    a = make_opportunity(db, company="Contoso Ltd", topic="50 laptops", owner="maria")
    b = make_opportunity(db, company="Fabrikam Inc", topic="monitors", owner="li.wei")
    c = make_opportunity(db, company="Contoso Ltd", topic="docks", owner="li.wei")
    sp.opportunities.close_lost(db, c)
    found = browse.open_opportunities(db)
    assert found["opportunity_id"].tolist() == [b, a] and list(found.columns) == list(browse.OPPORTUNITY_COLUMNS)
    assert found["estimated_value"].tolist() == [Decimal("60000.00")] * 2
    assert browse.open_opportunities(db, search="contoso")["opportunity_id"].tolist() == [a]
    assert browse.open_opportunities(db, search="MONITORS")["opportunity_id"].tolist() == [b]
    assert browse.open_opportunities(db, search="contoso monitors").empty
    assert browse.open_opportunities(db, owner="li.wei")["opportunity_id"].tolist() == [b]
    assert browse.open_opportunities(db, search=str(a))["opportunity_id"].tolist() == [a]
    assert browse.open_opportunities(db, limit=1)["opportunity_id"].tolist() == [b]
    assert browse.opportunity(db, c)["state"] == "lost"  # one opportunity, whatever its state
    with pytest.raises(sp.NotFound):
        browse.opportunity(db, 999)


@pytest.fixture
def deal(db):
    """An opportunity with a revised quote (2 revisions), the order of revision 2 and its invoice."""
    laptop = make_product(db, unit_price=Decimal("11.00"))
    dock = make_product(db, unit_price=Decimal("189.00"))
    mouse = make_product(db, unit_price=Decimal("39.00"))
    opp = make_opportunity(db)
    first = sp.quotes.create(db, opp, lines=[(laptop, 10), (dock, 2)])
    sp.quotes.activate(db, first)
    second = sp.quotes.revise(db, first)
    sp.quotes.remove_line(db, second, 2)
    sp.quotes.add_line(db, second, sku=dock, quantity=5)  # line 2 again: the dock, 2 -> 5
    sp.quotes.add_line(db, second, sku=mouse, quantity=1, tax=Decimal("3.00"))
    sp.quotes.remove_line(db, second, 1)
    sp.quotes.update(db, second, discount_pct=Decimal("5"), freight=Decimal("25"))
    sp.quotes.activate(db, second)
    order = sp.quotes.create_order(db, second)
    sp.orders.fulfill(db, order)
    invoice = sp.orders.create_invoice(db, order)
    return {
        "opp": opp,
        "first": first,
        "second": second,
        "order": order,
        "invoice": invoice,
        "skus": (laptop, dock, mouse),
    }


def test_opportunity_documents_in_the_order_they_were_made(db, deal):
    docs = browse.opportunity_documents(db, deal["opp"])
    assert list(zip(docs["entity"], docs["id"], docs["state"], strict=True)) == [
        ("quote", deal["first"], "closed"),
        ("quote", deal["second"], "won"),
        ("order", deal["order"], "invoiced"),
        ("invoice", deal["invoice"], "active"),
    ]
    assert docs["revision"].tolist()[:2] == [1, 2]


def test_document_headers(db, deal):
    quote = browse.document(db, "quote", deal["second"])
    assert (quote.revision, quote.source_id, quote.price_list, quote.state) == (2, deal["first"], "Default", "won")
    assert (quote.discount_pct, quote.freight) == (Decimal("5.0000"), Decimal("25.00"))
    order = browse.document(db, "order", deal["order"])
    assert (order.quote_number, order.revision, order.source_id) == (quote.quote_number, 2, deal["second"])
    invoice = browse.document(db, "invoice", deal["invoice"])
    assert (invoice.source_id, invoice.price_list_id, invoice.opportunity_id) == (deal["order"], None, deal["opp"])
    with pytest.raises(sp.NotFound):
        browse.document(db, "quote", 999)


def test_document_lines_with_names_and_exact_amounts(db, deal):
    lines = browse.document_lines(db, "invoice", deal["invoice"])
    assert list(lines.columns) == list(browse.LINE_COLUMNS)
    _, dock, mouse = deal["skus"]
    assert lines[["line_no", "sku"]].values.tolist() == [[2, dock], [3, mouse]]
    assert lines["amount"].tolist() == [Decimal("945.00"), Decimal("39.00")]
    assert lines["extended"].tolist() == [Decimal("945.00"), Decimal("42.00")]
    assert lines["name"].tolist()[0].startswith("Product ")


def test_price_list_products(db):
    sku = make_product(db, unit_price=Decimal("1234.50"))
    found = browse.price_list_products(db, sp.catalog.default_price_list(db))
    assert found.to_dict("records") == [{"sku": sku, "name": found["name"][0], "unit_price": Decimal("1234.50")}]
    with pytest.raises(sp.NotFound):
        browse.price_list_products(db, 99)


def test_revision_history_says_what_changed_between_revisions(db, deal):
    laptop, dock, mouse = deal["skus"]
    history = browse.revision_history(db, deal["second"])
    assert history.revisions["revision"].tolist() == [1, 2]
    assert history.revisions["status"].tolist() == ["revised", "won"]
    assert history.revisions["total"].tolist() == [Decimal("488.00"), Decimal("962.80")]
    (change,) = history.changes
    assert (change.from_revision, change.to_revision) == (1, 2)
    assert (change.from_quote_id, change.to_quote_id) == (deal["first"], deal["second"])
    lines = change.lines.set_index("line_no")
    assert lines["change"].to_dict() == {1: "removed", 2: "changed", 3: "added"}
    assert lines.loc[1, ["sku", "quantity_before", "quantity_after", "amount_before"]].tolist() == [
        laptop,
        Decimal("10.0000"),
        None,
        Decimal("110.00"),
    ]
    assert lines.loc[2, ["sku", "quantity_before", "quantity_after"]].tolist() == [
        dock,
        Decimal("2.0000"),
        Decimal("5.0000"),
    ]
    assert lines.loc[2, ["amount_before", "amount_after"]].tolist() == [Decimal("378.00"), Decimal("945.00")]
    assert lines.loc[3, ["sku", "tax_before", "tax_after"]].tolist() == [mouse, None, Decimal("3.00")]
    assert change.header == {
        "discount_pct": (Decimal("0.0000"), Decimal("5.0000")),
        "freight": (Decimal("0.00"), Decimal("25.00")),
    }
    assert change.totals_before == Totals(*map(Decimal, ("488.00", "0.00", "488.00", "0.00", "0.00", "488.00")))
    assert change.totals_after == Totals(*map(Decimal, ("984.00", "49.20", "934.80", "25.00", "3.00", "962.80")))
    assert not change.unchanged
    by_number = browse.revision_history(db, history.quote_number)
    assert by_number.revisions.equals(history.revisions)


def test_a_revision_without_changes_is_unchanged(db):
    quote = sp.quotes.create(db, make_opportunity(db), lines=[(make_product(db), 3)])
    sp.quotes.activate(db, quote)
    sp.quotes.revise(db, quote)
    (change,) = browse.revision_history(db, quote).changes
    assert change.unchanged and change.lines.empty and change.header == {}
    with pytest.raises(sp.NotFound):
        browse.revision_history(db, "QUO-999999")


def test_reads_never_hold_the_file(tmp_path):
    db = sp.connect(tmp_path / "sales.duckdb")
    make_lead(db)
    db.close()  # the write's checkpoint now, not up to engine.LINGER later
    browse.lead_page(db, search="ada")
    browse.lead_list_choices(db)
    browse.open_opportunities(db)
    con = duckdb.connect(str(tmp_path / "sales.duckdb"))  # a writer: refused if anything held the file
    assert con.execute("SELECT count(*) FROM leads").fetchall() == [(1,)]
    con.close()
