"""Fixtures, factories and helpers shared by the salespipe spec suite.

Every test gets a fresh in-memory database (`db`). Factories build records through the public
API with sensible defaults that keyword arguments override, and return ids. `snapshot(db)`
captures every base table so a test can prove that a refused call changed nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pandas as pd
import pytest

import salespipe as sp

T0 = dt.datetime(2024, 3, 1, 9, 0, 0)
# Factories date what they build at EARLY, before T0: a record's history runs forward, so a test
# may then move it at T0 (or now).
EARLY = dt.datetime(2024, 1, 1, 8, 0, 0)
_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


@pytest.fixture
def db():
    database = sp.connect(":memory:")
    yield database
    database.close()


# -- factories -------------------------------------------------------------------------------


def make_product(db, **kw) -> str:
    """A product on the default price list (or `price_list=`); returns its SKU."""
    n = _n()
    args = {"sku": f"SKU-{n}", "name": f"Product {n}", "unit_price": Decimal("11.00"), **kw}
    return sp.catalog.add_product(db, **args)


def make_lead(db, **kw) -> int:
    """An open lead with a unique person, email and company; returns its id."""
    n = _n()
    args = {
        "first_name": "Ada",
        "last_name": f"Lovelace{n}",
        "email": f"ada{n}@example.com",
        "company": f"Company{n} Ltd",
        "topic": "50 laptops",
        "source": "web",
        "owner": "maria",
        "estimated_value": Decimal("60000.00"),
        "at": EARLY,
        **kw,
    }
    return sp.leads.create(db, **args)


def make_opportunity(db, **kw) -> int:
    """An open opportunity made by creating and qualifying a lead (kw go to the lead)."""
    return sp.leads.qualify(db, make_lead(db, **kw), at=EARLY).opportunity_id


def make_quote(db, opp: int | None = None, lines: list | None = None, **kw) -> int:
    """A draft quote (revision 1) on `opp` (a new opportunity if None); one line of a new product by default."""
    if opp is None:
        opp = make_opportunity(db)
    if lines is None:
        lines = [(make_product(db), 1)]
    return sp.quotes.create(db, opp, lines=lines, **{"at": EARLY, **kw})


def make_active_quote(db, **kw) -> int:
    quote = make_quote(db, **kw)
    sp.quotes.activate(db, quote, at=EARLY)
    return quote


def make_order(db, **kw) -> int:
    """An active order, made by ordering a new active quote."""
    return sp.quotes.create_order(db, make_active_quote(db, **kw), at=EARLY)


def make_invoice(db, **kw) -> int:
    """An active invoice of a new fulfilled order."""
    order = make_order(db, **kw)
    sp.orders.fulfill(db, order, at=EARLY)
    return sp.orders.create_invoice(db, order, at=EARLY)


# Bulk factories: n records in a handful of set-based calls (the bulk actions), for tests that
# need many records. Each returns the ids in creation order.


def make_opportunities(db, n: int) -> list[int]:
    """n open opportunities, each from its own lead."""
    numbers = [_n() for _ in range(n)]
    frame = pd.DataFrame(
        {
            "last_name": [f"Hopper{i}" for i in numbers],
            "email": [f"grace{i}@example.com" for i in numbers],
            "company": [f"Firm{i} Inc" for i in numbers],
            "owner": "maria",
            "estimated_value": [Decimal("1000.00")] * n,
        }
    )
    leads = sp.leads.create_many(db, frame, at=EARLY)
    result = sp.leads.qualify_many(db, leads, at=EARLY).set_index("lead_id")
    return [int(result.loc[lead, "opportunity_id"]) for lead in leads]


def make_quotes(db, n: int, *, active: bool = False) -> list[int]:
    """n quotes, each on its own opportunity with one line of 1 x 11.00; drafts unless active=True."""
    sku = make_product(db, unit_price=Decimal("11.00"))
    header = pd.DataFrame({"opportunity_id": make_opportunities(db, n)})
    lines = pd.DataFrame({"quote": range(n), "sku": sku, "quantity": 1})
    quotes = [int(q) for q in sp.quotes.create_many(db, header, lines, at=EARLY)]
    if active:
        sp.quotes.activate_many(db, quotes, at=EARLY)
    return quotes


def make_orders(db, n: int) -> list[int]:
    """n active orders of 11.00 each."""
    return [int(o) for o in sp.quotes.create_order_many(db, make_quotes(db, n, active=True), at=EARLY)]


def make_invoices(db, n: int) -> list[int]:
    """n active invoices of 11.00 each."""
    orders = make_orders(db, n)
    sp.orders.fulfill_many(db, orders, at=EARLY)
    return [int(i) for i in sp.orders.create_invoice_many(db, orders, at=EARLY)]


# -- reading the database --------------------------------------------------------------------


def rows(db, query: str, params: list | None = None) -> list[tuple]:
    """Query results as tuples, with money as Decimal (db.sql frames carry floats for plotting)."""
    with db.connection() as con:
        return con.execute(query, params or []).fetchall()


def value(db, query: str, params: list | None = None):
    """The single value of a query."""
    result = rows(db, query, params)
    assert len(result) == 1 and len(result[0]) == 1, result
    return result[0][0]


def record(db, table: str, key: str, ident: object) -> dict:
    """One row of a table as a dict, values as DuckDB returns them (Decimal for money)."""
    with db.connection() as con:
        cur = con.execute(f"SELECT * FROM {table} WHERE {key} = ?", [ident])
        names = [d[0] for d in cur.description]
        found = cur.fetchall()
    assert len(found) == 1, f"{table} {ident}: {len(found)} rows"
    return dict(zip(names, found[0], strict=True))


def state(db, entity: str, ident: int) -> tuple[str, str]:
    table, key = sp.machine.TABLES[entity]
    return tuple(rows(db, f"SELECT state, status FROM {table} WHERE {key} = ?", [ident])[0])


def events(db, entity: str | None = None, ident: int | None = None) -> list[dict]:
    """Events (optionally of one record), in the order they were written."""
    query = "SELECT * FROM events WHERE (? IS NULL OR entity = ?) AND (? IS NULL OR entity_id = ?) ORDER BY event_id"
    with db.connection() as con:
        cur = con.execute(query, [entity, entity, ident, ident])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def new_events(db, before: int) -> list[dict]:
    """Events written after event count `before`."""
    return events(db)[before:]


def count(db, table: str) -> int:
    return value(db, f"SELECT count(*) FROM {table}")


# -- snapshots -------------------------------------------------------------------------------


def snapshot(db) -> dict[str, pd.DataFrame]:
    """Every base table as a DataFrame sorted by all its columns."""
    with db.connection() as con:
        names = [
            r[0]
            for r in con.execute(
                """SELECT table_name FROM information_schema.tables
                   WHERE table_type = 'BASE TABLE' AND table_catalog = current_database()
                   ORDER BY table_name"""
            ).fetchall()
        ]
        tables = {}
        for name in names:
            cur = con.execute(f'SELECT * FROM "{name}"')
            columns = [d[0] for d in cur.description]
            # fetchall, not .df(): money stays Decimal, so a change of a cent can never hide in a float
            found = sorted(cur.fetchall(), key=_sort_key)
            tables[name] = pd.DataFrame(found, columns=columns, dtype=object)
        return tables


def _sort_key(row: tuple) -> tuple:
    return tuple((v is None, v if v is not None else 0) for v in row)


def assert_unchanged(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    assert sorted(before) == sorted(after), "the set of tables changed"
    for name in before:
        if not before[name].equals(after[name]):  # the quick check; the assert below says what differs
            pd.testing.assert_frame_equal(before[name], after[name], obj=f"table {name}")


def assert_refused(db, call, error=sp.SalespipeError, match: str | None = None, *, before=None):
    """`call()` raises `error` (matching `match`) and leaves every table exactly as it was.

    before: a snapshot taken earlier, for a loop of refused calls that all start from it.
    """
    if before is None:
        before = snapshot(db)
    with pytest.raises(error, match=match) as info:
        call()
    assert_unchanged(before, snapshot(db))
    return info.value
