"""What quotes, orders and invoices share: line tables, line copies and totals.

A quote's lines are copied to the next revision, to the order and from the order to the invoice;
the totals of each document come from its `v_<kind>_totals` view (salespipe/sql), so Python and
SQL always agree to the cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from .db import first, new_id
from .errors import NotFound

# kind -> (header table, key, line table, line key, line sequence, source-line column)
KINDS = {
    "quote": ("quotes", "quote_id", "quote_lines", "quote_line_id", "quote_line_seq", None),
    "order": ("orders", "order_id", "order_lines", "order_line_id", "order_line_seq", "quote_line_id"),
    "invoice": ("invoices", "invoice_id", "invoice_lines", "invoice_line_id", "invoice_line_seq", "order_line_id"),
}


@dataclass(frozen=True)
class Totals:
    """A document's totals (DESIGN.md): exact decimals, rounded half-up per line."""

    detail: Decimal
    discount: Decimal
    pre_freight: Decimal
    freight: Decimal
    tax: Decimal
    total: Decimal


def totals(con: duckdb.DuckDBPyConnection, kind: str, doc_id: int) -> Totals:
    """The totals of one quote, order or invoice."""
    _, key, *_ = KINDS[kind]
    row = first(
        con.execute(
            f"SELECT detail, discount, pre_freight, freight, tax, total FROM v_{kind}_totals WHERE {key} = ?", [doc_id]
        )
    )
    if row is None:
        raise NotFound(kind, doc_id)
    return Totals(*row)


def copy_lines(con: duckdb.DuckDBPyConnection, source: str, target: str, mapping: str | tuple[int, int]) -> None:
    """Copy every line of the `source` documents to the `target` documents.

    mapping: a relation with columns (source_id, target_id), or one (source_id, target_id)
    pair, copied with a point lookup. Lines keep number, SKU, quantity,
    price, discount and tax; order and invoice lines also keep the id of the line they copy.
    """
    _, src_key, src_lines, src_line_key, _, _ = KINDS[source]
    _, dst_key, dst_lines, dst_line_key, dst_seq, dst_source_col = KINDS[target]
    cols = "line_no, sku, quantity, unit_price, discount, tax"
    link_col = f", {dst_source_col}" if dst_source_col else ""
    link_val = f", l.{src_line_key}" if dst_source_col else ""
    if isinstance(mapping, tuple):
        source_id, target_id = mapping
        con.execute(
            f"""INSERT INTO {dst_lines} ({dst_line_key}, {dst_key}{link_col}, {cols})
                SELECT {new_id(dst_lines, dst_line_key, "l.line_no")}, $2{link_val}, l.line_no, l.sku, l.quantity, l.unit_price, l.discount, l.tax
                FROM {src_lines} l WHERE l.{src_key} = $1""",
            [int(source_id), int(target_id)],
        )
        return
    con.execute(
        f"""INSERT INTO {dst_lines} ({dst_line_key}, {dst_key}{link_col}, {cols})
            SELECT {new_id(dst_lines, dst_line_key, "m.target_id, l.line_no")}, m.target_id{link_val}, l.line_no, l.sku, l.quantity, l.unit_price, l.discount, l.tax
            FROM {src_lines} l JOIN {mapping} m ON l.{src_key} = m.source_id
            ORDER BY m.target_id, l.line_no"""
    )


def load_totals(con: duckdb.DuckDBPyConnection, kind: str, ids: Sequence[int], into: str) -> None:
    """Copy the v_<kind>_totals rows of these documents into the temp table `into`.

    Joining the view would total every document in the database first (~200 ms at a million
    quotes); a filter on a bound list of ids is pushed into the view instead (~3 ms).
    """
    key = KINDS[kind][1]
    ids = [int(i) for i in ids]
    where = f"list_contains(?, {key})" if len(ids) <= 2048 else f"{key} IN (SELECT unnest(?::BIGINT[]))"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT * FROM v_{kind}_totals WHERE {where}", [ids])
