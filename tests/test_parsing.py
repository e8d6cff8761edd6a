"""Money, quantities, text and times as users type them, read exactly alike by single and bulk calls.

A comma is a thousands separator only between groups of exactly three digits, and a decimal comma
only where no thousands reading exists; anything ambiguous is a ValidationError naming the field.
Single calls and their bulk forms go through the same checks: same values stored, same refusals.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from conftest import EARLY, assert_refused, make_invoice, make_opportunity, make_product, record, rows

import salespipe as sp
from salespipe import check

D = Decimal

READ = {
    "12,00": D("12.00"),
    "12,50": D("12.50"),
    "1,5": D("1.5"),
    "0,500": D("0.500"),
    "1,200.50": D("1200.50"),
    "1,200,000": D("1200000"),
    "1 200,50": D("1200.50"),
    "1\u00a0200,50": D("1200.50"),  # a non-breaking space between the groups
    "1.200,50": D("1200.50"),
    "1'200.50": D("1200.50"),
    " 1200.5 ": D("1200.5"),
    "\u00a01200.50\u2003": D("1200.50"),  # Unicode whitespace around it
    "-12,50": D("-12.50"),
    "1.200": D("1.200"),  # a dot alone is always the decimal point
}
AMBIGUOUS_OR_NOT_A_NUMBER = [
    "1,200",
    "12,345",
    "1,20.50",
    "1,2,3",
    "1.200.5",
    ",5",
    "12,",
    "1 20",
    "abc",
    "",
    "   ",
    "$12",
]


@pytest.mark.parametrize(("typed", "number"), READ.items())
def test_a_number_typed_with_separators_is_read_as_people_mean_it(typed, number):
    assert check.parse_number(typed, "amount") == number


@pytest.mark.parametrize("typed", AMBIGUOUS_OR_NOT_A_NUMBER)
def test_an_ambiguous_or_broken_number_is_refused_naming_the_field(typed):
    with pytest.raises(sp.ValidationError) as info:
        check.parse_number(typed, "amount")
    assert info.value.field == "amount" and "amount" in str(info.value)
    if typed == "1,200":
        assert "ambiguous" in str(info.value) and "1200" in str(info.value) and "1.200" in str(info.value)


def test_a_payment_of_12_comma_00_is_twelve_not_twelve_hundred(db):
    invoice = make_invoice(db, lines=[(make_product(db, unit_price=D("1200.00")), 1)])
    sp.invoices.record_payment(db, invoice, "12,00")
    totals = sp.invoices.totals(db, invoice)
    assert (totals.paid, totals.balance) == (D("12.00"), D("1188.00"))
    assert record(db, "invoices", "invoice_id", invoice)["state"] == "active"
    assert_refused(db, lambda: sp.invoices.record_payment(db, invoice, "1,200"), sp.ValidationError, match="ambiguous")


def test_one_comma_five_units_is_one_and_a_half(db):
    quote = sp.quotes.create(db, make_opportunity(db), lines=[(make_product(db), "1,5")])
    assert rows(db, "SELECT quantity FROM quote_lines WHERE quote_id = ?", [quote]) == [(D("1.5000"),)]


# -- single and bulk read alike ----------------------------------------------------------------

MONEY_CASES = [*READ, *AMBIGUOUS_OR_NOT_A_NUMBER, "1199.9999999", "0.005", "1e3", "1e15", "999999999999999.99", 5, 5.25]


def _outcome(call):
    try:
        return ("ok", call())
    except sp.SalespipeError as exc:
        return (type(exc).__name__, getattr(exc, "field", None))


@pytest.mark.parametrize("typed", MONEY_CASES)
def test_leads_create_and_create_many_read_an_estimated_value_alike(typed):
    one, many = sp.connect(":memory:"), sp.connect(":memory:")
    single = _outcome(lambda: sp.leads.create(one, last_name="X", estimated_value=typed, at=EARLY))
    bulk = _outcome(
        lambda: sp.leads.create_many(many, pd.DataFrame({"last_name": ["X"], "estimated_value": [typed]}), at=EARLY)
    )
    assert single[0] == bulk[0] and (single[0] == "ok" or single[1] == bulk[1] == "estimated_value"), (single, bulk)
    stored = [rows(db, "SELECT estimated_value FROM leads") for db in (one, many)]
    assert stored[0] == stored[1]


def test_the_bulk_path_refuses_past_two_decimals_as_the_single_path_does(db):
    frame = pd.DataFrame({"last_name": ["A", "B"], "estimated_value": ["100.00", "1199.9999999"]})
    error = assert_refused(db, lambda: sp.leads.create_many(db, frame), sp.ValidationError, match="2 decimal places")
    assert [(row, field) for row, field, _ in error.failures] == [(1, "estimated_value")]


def _quote_with_quantity(typed: object, *, bulk: bool) -> tuple:
    db = sp.connect(":memory:")
    opp, sku = make_opportunity(db), make_product(db)
    if bulk:
        result = _outcome(
            lambda: sp.quotes.create_many(
                db,
                pd.DataFrame({"opportunity_id": [opp]}),
                pd.DataFrame({"quote": [0], "sku": [sku], "quantity": [typed]}),
                at=EARLY,
            )
        )
    else:
        result = _outcome(lambda: sp.quotes.create(db, opp, lines=[(sku, typed)], at=EARLY))
    return result[0], rows(db, "SELECT quantity FROM quote_lines")


@pytest.mark.parametrize("typed", ["2", "1,5", "0,0001", "1,000", "0", "-1", "1.00005", "1e12", "x"])
def test_quote_lines_read_a_quantity_alike_in_create_and_create_many(typed):
    assert _quote_with_quantity(typed, bulk=False) == _quote_with_quantity(typed, bulk=True)


def test_record_payments_reads_amounts_as_record_payment_does(db):
    a, b = make_invoice(db), make_invoice(db)
    sp.invoices.record_payments(db, pd.DataFrame({"invoice_id": [a, b], "amount": ["1,50", " 2.00 "]}))
    assert rows(db, "SELECT invoice_id, amount FROM payments ORDER BY 1") == [(a, D("1.50")), (b, D("2.00"))]
    error = assert_refused(
        db,
        lambda: sp.invoices.record_payments(db, pd.DataFrame({"invoice_id": [a, b], "amount": ["1,000", "0.001"]})),
        sp.ValidationError,
    )
    assert [(row, invoice) for row, invoice, _ in error.failures] == [(0, a), (1, b)]


def test_bulk_money_beyond_decimal_18_2_is_a_validation_error(db):
    for frame in (
        pd.DataFrame({"last_name": ["X"], "estimated_value": [10**17]}),
        pd.DataFrame({"last_name": ["X"], "estimated_value": ["1e20"]}),
        pd.DataFrame({"last_name": ["X"], "estimated_value": [D("99999999999999999.99")]}),
    ):
        error = assert_refused(db, lambda frame=frame: sp.leads.create_many(db, frame), sp.ValidationError)
        assert error.field == "estimated_value" and "too large" in str(error)


# -- text and times ------------------------------------------------------------------------------


def test_bulk_text_is_trimmed_of_every_unicode_space_as_single_text_is():
    one, many = sp.connect(":memory:"), sp.connect(":memory:")
    values = dict(last_name="\u00a0Lovelace\u2003", company="\u3000Contoso Ltd\t", email=" ada@contoso.com\u00a0")
    sp.leads.create(one, **values, at=EARLY)
    sp.leads.create_many(many, pd.DataFrame([values]), at=EARLY)
    query = "SELECT last_name, company, email FROM leads"
    assert rows(one, query) == rows(many, query) == [("Lovelace", "Contoso Ltd", "ada@contoso.com")]


def test_a_lone_surrogate_in_text_is_refused_by_both_paths(db):
    bad = "Love\udcfflace"
    assert_refused(db, lambda: sp.leads.create(db, last_name=bad), sp.ValidationError, match="cannot be stored")
    frame = pd.DataFrame({"last_name": pd.Series(["Ok", bad], dtype=object)})  # (pandas' own strings refuse it)
    error = assert_refused(db, lambda: sp.leads.create_many(db, frame), sp.ValidationError)
    assert [(row, field) for row, field, _ in error.failures] == [(1, "last_name")]
    assert_refused(db, lambda: db.sql("SELECT ?", [bad]), sp.ValidationError)


def test_create_many_takes_every_iso_8601_shape_in_one_column(db):
    shapes = [
        "2024-03-01",
        "2024-03-01 09:30",
        "2024-03-01T09:30:15",
        "2024-03-01T09:30:15.250",
        "2024-03-01T10:30+01:00",
    ]
    ids = sp.leads.create_many(db, pd.DataFrame({"last_name": list("ABCDE"), "created_at": shapes}))
    got = [record(db, "leads", "lead_id", int(i))["created_at"] for i in ids]
    assert got == [
        dt.datetime(2024, 3, 1),
        dt.datetime(2024, 3, 1, 9, 30),
        dt.datetime(2024, 3, 1, 9, 30, 15),
        dt.datetime(2024, 3, 1, 9, 30, 15, 250000),
        dt.datetime(2024, 3, 1, 9, 30),  # +01:00 is stored as UTC
    ]
    error = assert_refused(
        db,
        lambda: sp.leads.create_many(
            db, pd.DataFrame({"last_name": ["A", "B"], "created_at": ["2024-03-01", "1/3/24"]})
        ),
        sp.ValidationError,
    )
    assert [(row, field) for row, field, _ in error.failures] == [(1, "created_at")]


def test_at_per_record_takes_mixed_iso_shapes_too(db):
    a, b = (sp.leads.create(db, last_name=n, at=EARLY) for n in "AB")
    sp.leads.disqualify_many(db, [a, b], at=["2024-02-01", "2024-02-01T10:00:00Z"])
    assert [record(db, "leads", "lead_id", i)["closed_at"] for i in (a, b)] == [
        dt.datetime(2024, 2, 1),
        dt.datetime(2024, 2, 1, 10),
    ]


@pytest.mark.parametrize("at", [pd.NaT, float("nan"), "soon", 5, [pd.NaT]])
def test_an_at_that_is_not_a_time_is_a_validation_error(db, at):
    lead = sp.leads.create(db, last_name="X", at=EARLY)
    error = assert_refused(db, lambda: sp.leads.disqualify(db, lead, at=at), sp.ValidationError)
    assert error.field == "at"


@pytest.mark.parametrize("ident", [2**63, 2**64, -(2**63) - 1])
def test_an_id_beyond_64_bits_is_a_validation_error(db, ident):
    for call in (lambda: sp.leads.qualify(db, ident), lambda: sp.leads.disqualify_many(db, [ident])):
        error = assert_refused(db, call, sp.ValidationError)
        assert error.field in ("lead", "ids")


# -- unknown columns -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda db: sp.leads.create_many(db, pd.DataFrame({"last_name": ["X"], "surname": ["Y"]})),
        lambda db: sp.quotes.create_many(db, pd.DataFrame({"opportunity_id": [1], "discount": [5]})),
        lambda db: sp.quotes.create_many(
            db,
            pd.DataFrame({"opportunity_id": [1]}),
            pd.DataFrame({"quote": [0], "sku": ["A"], "quantity": [1], "qty": [1]}),
        ),
        lambda db: sp.invoices.record_payments(db, pd.DataFrame({"invoice_id": [1], "amount": [1], "paid_on": [1]})),
        lambda db: sp.team.add_owners(db, pd.DataFrame({"owner": ["x"], "region": ["y"], "team": ["z"]})),
    ],
    ids=["leads", "quotes", "quote lines", "payments", "owners"],
)
def test_every_bulk_function_refuses_unknown_columns(db, call):
    error = assert_refused(db, lambda: call(db), sp.ValidationError, match="unknown")
    assert error.field in ("surname", "discount", "qty", "paid_on", "team")
