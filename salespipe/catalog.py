"""Products and price lists. A quote takes its prices from its price list."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pandas as pd

from . import check
from .db import Database
from .errors import NotFound, ValidationError
from .statements import exact


def default_price_list(db: Database) -> int:
    """The id of the default price list (one exists in every database)."""
    db = check.database(db)
    with db.connection(read_only=True) as con:
        return _default_price_list(con)


def _default_price_list(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT price_list_id FROM price_lists WHERE is_default").fetchall()[0][0]


def add_price_list(db: Database, name: str, *, currency: str = "USD", default: bool = False) -> int:
    """Create a price list and return its id; default=True makes it the default for new opportunities."""
    db = check.database(db)
    name = check.text(name, "name", required=True)
    currency = check.text(currency, "currency", required=True)
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationError(
            f"currency must be a 3-letter ISO code, got {currency!r}", field="currency", value=currency
        )
    default = check.flag(default, "default")
    with db.transaction() as con:
        if con.execute("SELECT count(*) FROM price_lists WHERE lower(name) = lower(?)", [name]).fetchall()[0][0]:
            raise ValidationError(
                f"a price list named {name!r} exists already; pick another name", field="name", value=name
            )
        if default:
            con.execute("UPDATE price_lists SET is_default = false WHERE is_default")
        return con.execute(
            """INSERT INTO price_lists (price_list_id, name, currency, is_default)
               VALUES ((SELECT coalesce(max(price_list_id), 0) + 1 FROM price_lists), ?, ?, ?) RETURNING price_list_id""",
            [name, currency.upper(), default],
        ).fetchall()[0][0]


def add_product(
    db: Database,
    *,
    sku: str,
    name: str,
    unit_price: Decimal | int | str,
    price_list: int | None = None,
    at: object = None,
) -> str:
    """Add a product and its price on a price list (the default one unless given). Returns the SKU."""
    db = check.database(db)
    sku = check.text(sku, "sku", required=True, max_len=64)
    name = check.text(name, "name", required=True)
    unit_price = check.money(unit_price, "unit_price")
    at = check.timestamp(at)
    with db.transaction() as con:
        pl = _price_list(con, price_list)
        if con.execute("SELECT count(*) FROM products WHERE sku = ?", [sku]).fetchall()[0][0]:
            raise ValidationError(
                f"product {sku!r} exists already; use catalog.set_price to change its price", field="sku", value=sku
            )
        con.execute("INSERT INTO products (sku, name, created_at) VALUES (?, ?, ?)", [sku, name, at])
        con.execute(
            "INSERT INTO price_list_items (price_list_id, sku, unit_price) VALUES (?, ?, ?)", [pl, sku, unit_price]
        )
    return sku


def set_price(db: Database, price_list: int, sku: str, unit_price: Decimal | int | str) -> None:
    """Put a product on a price list, or change its price there (quotes already priced keep theirs)."""
    db = check.database(db)
    sku = check.text(sku, "sku", required=True, max_len=64)
    unit_price = check.money(unit_price, "unit_price")
    with db.transaction() as con:
        pl = _price_list(con, price_list)
        if not con.execute("SELECT count(*) FROM products WHERE sku = ?", [sku]).fetchall()[0][0]:
            raise NotFound("product", sku, hint="add it first with catalog.add_product")
        con.execute(
            """INSERT INTO price_list_items (price_list_id, sku, unit_price) VALUES (?, ?, ?)
               ON CONFLICT (price_list_id, sku) DO UPDATE SET unit_price = excluded.unit_price""",
            [pl, sku, unit_price],
        )


def _price_list(con: duckdb.DuckDBPyConnection, price_list: int | None) -> int:
    if price_list is None:
        return _default_price_list(con)
    price_list = check.ident(price_list, "price_list")
    if not con.execute("SELECT count(*) FROM price_lists WHERE price_list_id = ?", [price_list]).fetchall()[0][0]:
        raise NotFound("price list", price_list, hint="catalog.price_lists(db) lists them")
    return price_list


def price_lists(db: Database) -> pd.DataFrame:
    """Every price list with its number of products."""
    db = check.database(db)
    return db.sql(
        """SELECT p.price_list_id, p.name, p.currency, p.is_default, count(i.sku) AS products
           FROM price_lists p LEFT JOIN price_list_items i USING (price_list_id)
           GROUP BY ALL ORDER BY p.price_list_id"""
    )


def products(db: Database, price_list: int | None = None) -> pd.DataFrame:
    """Products with their price on a price list (the default one unless given), prices as Decimal."""
    db = check.database(db)
    with db.connection(read_only=True) as con:
        pl = _price_list(con, price_list)
        return exact(
            con.execute(
                """SELECT p.sku, p.name, i.unit_price FROM products p
                   JOIN price_list_items i ON i.sku = p.sku AND i.price_list_id = ? ORDER BY p.sku""",
                [pl],
            )
        )
