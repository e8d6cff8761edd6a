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

from .check import MAX_MONEY
from .errors import NotFound, ValidationError
from .statements import first, new_id

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


def insert_lines(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """Price and insert lines from `relation` (quote_id, line_no, sku, quantity, discount, tax).

    Prices come from each quote's price list; a SKU not on it, a quantity <= 0, a negative
    discount or tax, or a discount above the line's base is a ValidationError naming the line.
    """
    src = f"""SELECT r.*, i.unit_price, p.sku IS NOT NULL AS known,
                     round(r.quantity::DECIMAL(38,4) * i.unit_price, 2) AS base
              FROM {relation} r JOIN quotes q ON q.quote_id = r.quote_id
              LEFT JOIN products p ON p.sku = r.sku
              LEFT JOIN price_list_items i ON i.price_list_id = q.price_list_id AND i.sku = r.sku"""
    bad = con.execute(
        f"""SELECT quote_id, line_no, sku,
                   CASE WHEN NOT known THEN 'sku ' || sku || ' is not in the catalog (catalog.add_product)'
                        WHEN unit_price IS NULL THEN 'sku ' || sku || ' is not on the quote''s price list (catalog.set_price)'
                        WHEN quantity IS NULL OR quantity <= 0 THEN 'quantity must be greater than 0'
                        WHEN discount < 0 THEN 'discount must not be negative'
                        WHEN tax < 0 THEN 'tax must not be negative'
                        WHEN base >= 1000000000000 THEN 'quantity ' || quantity || ' x unit price ' || unit_price
                             || ' is too large for one line (the limit is 1,000,000,000,000.00)'
                        ELSE 'discount ' || discount || ' is more than the line base ' || base END AS problem
            FROM ({src})
            WHERE NOT known OR unit_price IS NULL OR quantity IS NULL OR quantity <= 0
               OR discount < 0 OR tax < 0 OR discount > base OR base >= 1000000000000
            ORDER BY quote_id, line_no LIMIT 100"""
    ).fetchall()
    if bad:
        q, no, sku, problem = bad[0]
        field = "sku" if "sku " in problem else problem.split()[0]
        raise ValidationError(
            f"quote {q} line {no}: {problem}", field=field, value=sku, failures=[(q, no, p) for q, no, _, p in bad]
        )
    con.execute(
        f"""INSERT INTO quote_lines (quote_line_id, quote_id, line_no, sku, quantity, unit_price, discount, tax)
            SELECT {new_id("quote_lines", "quote_line_id", "quote_id, line_no")}, quote_id, line_no, sku, quantity, unit_price, discount, tax
            FROM ({src}) ORDER BY quote_id, line_no"""
    )


def check_sane(con: duckdb.DuckDBPyConnection, ids_sql: str, params: Sequence[object] = (), *, doing: str = "") -> None:
    """Refuse quotes (selected by `ids_sql`) whose totals a sale cannot have.

    The discount (percent of the detail plus amount) may not exceed the detail, so a total is
    never below freight plus tax and an opportunity is never won at a negative value; the detail,
    the tax and the total stay below 1,000,000,000,000,000.00, so DECIMAL(18,2) and every view
    over it always hold them. Computed on the raw lines in DECIMAL(38), so the check itself can
    never overflow. doing: what the caller was doing, for the message ("removing line 2").
    """
    limit = int(MAX_MONEY)
    rows = con.execute(
        f"""WITH ids AS ({ids_sql}),
            l AS (SELECT quote_id, sum(round(quantity::DECIMAL(38,4) * unit_price, 2) - discount) AS detail,
                         sum(tax::DECIMAL(38,2)) AS tax
                  FROM quote_lines WHERE quote_id IN (SELECT * FROM ids) GROUP BY quote_id),
            t AS (SELECT q.quote_id, q.quote_number, q.revision, q.discount_pct, q.discount_amount, q.freight,
                         coalesce(l.detail, 0) AS detail, coalesce(l.tax, 0) AS tax,
                         round(coalesce(l.detail, 0) * q.discount_pct * 0.01, 2) + q.discount_amount AS discount
                  FROM quotes q LEFT JOIN l ON l.quote_id = q.quote_id WHERE q.quote_id IN (SELECT * FROM ids))
            SELECT quote_id, quote_number, revision, discount_pct, discount_amount, detail, discount, tax,
                   detail - discount + freight + tax AS total
            FROM t
            WHERE discount > detail OR detail >= {limit} OR tax >= {limit} OR detail - discount + freight + tax >= {limit}
            ORDER BY quote_id LIMIT 100""",
        list(params),
    ).fetchall()
    if not rows:
        return
    failures = []
    for quote, number, revision, pct, amount, detail, discount, tax, total in rows:
        name = f"quote {quote} ({number} revision {revision})"
        if discount > detail:
            failures.append(
                (
                    quote,
                    "discount_amount",
                    f"{name}: the discount {discount:,.2f} ({pct.normalize():f}% of the detail plus {amount:,.2f}) "
                    f"would be more than the detail {detail:,.2f}: lower discount_pct or discount_amount",
                )
            )
        else:
            which = "detail" if detail >= limit else "tax" if tax >= limit else "total"
            value = {"detail": detail, "tax": tax, "total": total}[which]
            failures.append(
                (
                    quote,
                    which,
                    f"{name}: the {which} {value:,.2f} would reach the limit of 1,000,000,000,000,000.00: "
                    "split the sale into several quotes",
                )
            )
    quote, field, message = failures[0]
    prefix = f"{doing}: " if doing else ""
    more = f" ({len(failures)} quotes; see .failures)" if len(failures) > 1 else ""
    raise ValidationError(f"{prefix}{message}{more}", field=field, value=quote, failures=failures)
