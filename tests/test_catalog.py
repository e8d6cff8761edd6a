"""Catalog: products and price lists; a quote takes its prices from its price list."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import (
    T0,
    assert_refused,
    make_opportunity,
    make_product,
    make_quote,
    record,
    rows,
)

import salespipe as sp

D = Decimal


def test_every_database_has_one_default_price_list(db):
    default = sp.catalog.default_price_list(db)
    assert rows(db, "SELECT price_list_id, name, currency, is_default FROM price_lists") == [
        (default, "Default", "USD", True)
    ]


def test_add_product_puts_it_on_the_default_price_list(db):
    sku = sp.catalog.add_product(db, sku="LAPTOP-15", name="15-inch laptop", unit_price=D("1200.00"), at=T0)
    assert sku == "LAPTOP-15"
    assert record(db, "products", "sku", sku) == {"sku": "LAPTOP-15", "name": "15-inch laptop", "created_at": T0}
    assert rows(db, "SELECT price_list_id, sku, unit_price FROM price_list_items") == [
        (sp.catalog.default_price_list(db), "LAPTOP-15", D("1200.00"))
    ]
    listed = sp.catalog.products(db)
    assert listed["sku"].tolist() == ["LAPTOP-15"]


def test_add_product_refuses_a_sku_that_exists(db):
    sku = make_product(db)
    error = assert_refused(
        db, lambda: sp.catalog.add_product(db, sku=sku, name="again", unit_price=D("1.00")), sp.ValidationError
    )
    assert error.field == "sku" and error.value == sku and "set_price" in str(error)


def test_add_product_on_an_unknown_price_list_is_not_found(db):
    assert_refused(
        db,
        lambda: sp.catalog.add_product(db, sku="X", name="X", unit_price=D("1.00"), price_list=99),
        sp.NotFound,
        match="99",
    )


def test_a_second_price_list_prices_the_quotes_of_its_opportunities(db):
    eur = sp.catalog.add_price_list(db, "Europe", currency="eur")
    assert record(db, "price_lists", "price_list_id", eur)["currency"] == "EUR"
    sku = make_product(db, unit_price=D("100.00"))
    sp.catalog.set_price(db, eur, sku, D("92.50"))
    opp = sp.opportunities.create(db, topic="EU deal", price_list=eur)
    quote = sp.quotes.create(db, opp, lines=[(sku, 2)])
    assert record(db, "quotes", "quote_id", quote)["price_list_id"] == eur
    assert rows(db, "SELECT unit_price FROM quote_lines WHERE quote_id = ?", [quote]) == [(D("92.50"),)]
    assert sp.quotes.totals(db, quote).total == D("185.00")
    by_list = sp.catalog.price_lists(db).set_index("name")["products"].to_dict()
    assert by_list == {"Default": 1, "Europe": 1}


def test_a_quote_can_name_its_price_list(db):
    eur = sp.catalog.add_price_list(db, "Europe")
    sku = make_product(db, unit_price=D("100.00"))
    sp.catalog.set_price(db, eur, sku, D("80.00"))
    quote = make_quote(db, lines=[(sku, 1)], price_list=eur)
    assert sp.quotes.totals(db, quote).total == D("80.00")


def test_a_product_not_on_the_quotes_price_list_is_refused_naming_the_sku(db):
    eur = sp.catalog.add_price_list(db, "Europe")
    sku = make_product(db)  # on the default list only
    opp = sp.opportunities.create(db, topic="EU deal", price_list=eur)
    error = assert_refused(db, lambda: sp.quotes.create(db, opp, lines=[(sku, 1)]), sp.ValidationError)
    assert error.field == "sku" and error.value == sku and "price list" in str(error)


def test_a_product_not_on_the_price_list_cannot_be_added_to_a_draft(db):
    eur = sp.catalog.add_price_list(db, "Europe")
    on_list, off_list = make_product(db), make_product(db)
    sp.catalog.set_price(db, eur, on_list, D("1.00"))
    quote = make_quote(db, lines=[(on_list, 1)], price_list=eur)
    error = assert_refused(db, lambda: sp.quotes.add_line(db, quote, sku=off_list, quantity=1), sp.ValidationError)
    assert error.field == "sku"


def test_set_price_changes_the_price_for_new_quotes_only(db):
    sku = make_product(db, unit_price=D("10.00"))
    old = make_quote(db, lines=[(sku, 1)])
    sp.catalog.set_price(db, sp.catalog.default_price_list(db), sku, D("12.00"))
    new = make_quote(db, lines=[(sku, 1)])
    assert sp.quotes.totals(db, old).total == D("10.00")
    assert sp.quotes.totals(db, new).total == D("12.00")


def test_set_price_of_an_unknown_product_is_not_found(db):
    error = assert_refused(
        db, lambda: sp.catalog.set_price(db, sp.catalog.default_price_list(db), "GHOST", D("1.00")), sp.NotFound
    )
    assert "GHOST" in str(error) and "add_product" in str(error)


def test_set_price_on_an_unknown_price_list_is_not_found(db):
    sku = make_product(db)
    assert_refused(db, lambda: sp.catalog.set_price(db, 42, sku, D("1.00")), sp.NotFound, match="42")


def test_add_price_list_can_make_it_the_default_for_new_opportunities(db):
    old_default = sp.catalog.default_price_list(db)
    eur = sp.catalog.add_price_list(db, "Europe", default=True)
    assert sp.catalog.default_price_list(db) == eur
    assert rows(db, "SELECT count(*) FROM price_lists WHERE is_default") == [(1,)]
    assert record(db, "price_lists", "price_list_id", old_default)["is_default"] is False
    opp = make_opportunity(db)
    assert record(db, "opportunities", "opportunity_id", opp)["price_list_id"] == eur


def test_add_price_list_refuses_a_name_in_use_ignoring_case(db, subtests):
    for name in ["Default", "default", " DEFAULT "]:
        with subtests.test(name=name):
            call = lambda name=name: sp.catalog.add_price_list(db, name)  # noqa: E731
            error = assert_refused(db, call, sp.ValidationError, match="exists")
            assert error.field == "name"


def test_add_price_list_refuses_a_currency_that_is_not_a_3_letter_code(db, subtests):
    for currency in ["EURO", "E1R", "", 5]:
        with subtests.test(currency=currency):
            call = lambda currency=currency: sp.catalog.add_price_list(db, "Other", currency=currency)  # noqa: E731
            error = assert_refused(db, call, sp.ValidationError)
            assert error.field == "currency"


def test_products_lists_a_named_price_list(db):
    eur = sp.catalog.add_price_list(db, "Europe")
    a, b = make_product(db, sku="A-1"), make_product(db, sku="B-1")
    sp.catalog.set_price(db, eur, b, D("7.00"))
    assert sp.catalog.products(db)["sku"].tolist() == [a, b]
    assert sp.catalog.products(db, eur)["sku"].tolist() == [b]
    with pytest.raises(sp.NotFound):
        sp.catalog.products(db, 99)
