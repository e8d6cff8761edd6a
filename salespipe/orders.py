"""Sales orders: created by winning a quote (quotes.create_order), then fulfilled (or canceled), then invoiced.

`create_order` wins the quote, cancels the opportunity's other open quotes, copies the lines to a
new order and closes the opportunity as won at the quote total, in one transaction. It lives
here, with the rest of an order's life; `sp.quotes.create_order` is the same function.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from . import check, documents, machine, opportunities
from .db import Database
from .documents import Totals
from .errors import ValidationError
from .statements import exact, first, new_id, registered


def fulfill(db: Database, order: int, *, at: object = None, actor: str | None = None) -> None:
    """Mark an active order as fulfilled (complete): the goods are delivered."""
    db = check.database(db)
    fulfill_many(db, [check.ident(order, "order")], at=at, actor=actor)


def fulfill_many(db: Database, ids: Sequence[int] | np.ndarray, *, at: object = None, actor: str | None = None) -> None:
    """Fulfill many active orders."""
    db = check.database(db)
    ids = check.idents(ids, "ids")
    with db.transaction() as con:
        machine.apply(con, "order", "fulfill", ids, at=at, actor=actor, stamp="closed_at")


def cancel(db: Database, order: int, *, at: object = None, actor: str | None = None, note: str | None = None) -> None:
    """Cancel an active order (no_money). The opportunity stays won: the deal was made."""
    db = check.database(db)
    cancel_many(db, [check.ident(order, "order")], at=at, actor=actor, note=note)


def cancel_many(
    db: Database,
    ids: Sequence[int] | np.ndarray,
    *,
    at: object = None,
    actor: str | None = None,
    note: str | None = None,
) -> None:
    """Cancel many active orders."""
    db = check.database(db)
    ids = check.idents(ids, "ids")
    with db.transaction() as con:
        machine.apply(con, "order", "cancel", ids, at=at, actor=actor, note=check.text(note, "note"), stamp="closed_at")


def create_invoice(db: Database, order: int, *, at: object = None, actor: str | None = None) -> int:
    """Invoice a fulfilled order: a new active invoice with copies of the order lines. Returns its id."""
    db = check.database(db)
    return int(create_invoice_many(db, [check.ident(order, "order")], at=at, actor=actor)[0])


def create_invoice_many(
    db: Database, ids: Sequence[int] | np.ndarray, *, at: object = None, actor: str | None = None
) -> np.ndarray:
    """Invoice many fulfilled orders; returns the invoice ids in the order given.

    An order whose total is 0.00 gets an invoice that is paid (complete) as it is created: there
    is nothing to pay, and an invoice nobody can pay would stay open for ever.
    """
    db = check.database(db)
    ids = check.idents(ids, "ids")
    at = machine.at_column(at, len(ids))
    frame = pd.DataFrame({"source_id": np.asarray(ids, dtype=np.int64), "_row": np.arange(len(ids))})
    frame["ts"] = at if np.ndim(at) else [at] * len(ids)
    with db.transaction() as con, registered(con, "_invoice_in", frame):
        machine.require(con, "order", "create_invoice", ids)
        documents.load_totals(con, "order", ids, "_invoice_order_totals")
        # an invoice with nothing to pay (a total of 0.00) is paid the moment it is issued
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _invoice_map AS
               SELECT i.source_id, {new_id("invoices", "invoice_id", "i._row")} AS target_id, i._row, i.ts,
                      CASE WHEN t.total = 0 THEN 'paid' ELSE 'active' END AS state,
                      CASE WHEN t.total = 0 THEN 'complete' ELSE 'new' END AS status
               FROM _invoice_in i JOIN _invoice_order_totals t ON t.order_id = i.source_id"""
        )
        con.execute(
            """INSERT INTO invoices (invoice_id, order_id, opportunity_id, discount_pct, discount_amount, freight,
                                     created_at, closed_at, state, status)
               SELECT m.target_id, o.order_id, o.opportunity_id, o.discount_pct, o.discount_amount, o.freight,
                      m.ts, CASE WHEN m.state = 'paid' THEN m.ts END, m.state, m.status
               FROM _invoice_map m JOIN orders o ON o.order_id = m.source_id"""
        )
        documents.copy_lines(con, "order", "invoice", "_invoice_map")
        machine.record_creation(
            con, "invoice", "SELECT target_id AS id, state, status, ts FROM _invoice_map", actor=actor
        )
        machine.apply(con, "order", "create_invoice", ids, at=at, actor=actor)
        new_ids = con.execute("SELECT target_id FROM _invoice_map ORDER BY _row").fetchnumpy()["target_id"]
        con.execute("DROP TABLE _invoice_map")
    return np.asarray(new_ids, dtype=np.int64)


def totals(db: Database, order: int) -> Totals:
    """detail, discount, pre_freight, freight, tax and total of an order."""
    db = check.database(db)
    order = check.ident(order, "order")
    with db.connection(read_only=True) as con:
        return documents.totals(con, "order", order)


def lines(db: Database, order: int) -> pd.DataFrame:
    """The lines of an order with base, amount and extended per line (money as Decimal)."""
    db = check.database(db)
    order = check.ident(order, "order")
    with db.connection(read_only=True) as con:
        return exact(con.execute("SELECT * FROM v_order_lines WHERE order_id = ? ORDER BY line_no", [order]))


def create_order(db: Database, quote: int, *, at: object = None, actor: str | None = None) -> int:
    """Win an active quote: create its order, cancel the other open quotes, win the opportunity.

    The opportunity's actual value becomes the quote total. Returns the order id.
    """
    db = check.database(db)
    quote = check.ident(quote, "quote")
    ts, actor = check.timestamp(at), check.text(actor, "actor")
    with db.transaction() as con:
        return _create_order_one(con, quote, ts, actor)


def _create_order_one(con: duckdb.DuckDBPyConnection, quote: int, ts: object, actor: str | None) -> int:
    """create_order_many's rules for one quote, as point statements with bound values (~2x faster).

    tests/test_point_paths.py checks that both give the same records, ids and events.
    """
    row = first(
        con.execute(
            """SELECT q.state, q.status, q.opportunity_id, o.state, o.status, t.total,
                      q.price_list_id, q.discount_pct, q.discount_amount, q.freight,
                      coalesce(q.changed_at, q.created_at), coalesce(o.changed_at, o.created_at), o.probability
               FROM quotes q
               LEFT JOIN opportunities o ON o.opportunity_id = q.opportunity_id
               LEFT JOIN v_quote_totals t ON t.quote_id = q.quote_id WHERE q.quote_id = ?""",
            [quote],
        )
    )
    if row is None or row[0] != "active":
        machine.require(con, "quote", "create_order", [quote])  # raises NotFound or InvalidTransition
    quote_state, quote_status, opportunity, opportunity_state, opportunity_status, total = row[:6]
    if opportunity_state != "open":
        opportunities.require_open(con, "SELECT ?::BIGINT AS opportunity_id", [opportunity])
    order = con.execute(
        """INSERT INTO orders (order_id, quote_id, opportunity_id, price_list_id, discount_pct, discount_amount,
                               freight, created_at, state, status)
           VALUES ((SELECT coalesce(max(order_id), 0) + 1 FROM orders), ?, ?, ?, ?, ?, ?, ?, 'active', 'new')
           RETURNING order_id""",
        [quote, opportunity, *row[6:10], ts],
    ).fetchall()[0][0]
    _write_order_lines(con, (quote, order))
    journal = machine.Journal()
    machine.created(con, journal, "order", order, "active", "new", ts, actor)
    machine.apply(
        con,
        "quote",
        "create_order",
        [quote],
        at=ts,
        actor=actor,
        stamp="closed_at",
        journal=journal,
        current={quote: (quote_state, quote_status, row[10])},
    )
    opportunities.close_open_quotes(
        con, [opportunity], ts, status="canceled", actor=actor, keep=[quote], journal=journal
    )
    opportunities._close_won(
        con,
        [opportunity],
        [total],
        at=ts,
        actor=actor,
        journal=journal,
        current={opportunity: (opportunity_state, opportunity_status, row[11])},
        probabilities=[row[12]],
    )
    journal.write(con)
    return int(order)


def create_order_many(
    db: Database, ids: Sequence[int] | np.ndarray, *, at: object = None, actor: str | None = None
) -> np.ndarray:
    """create_order for many active quotes (of different opportunities); returns order ids in order."""
    db = check.database(db)
    ids = check.idents(ids, "ids")
    at = machine.at_column(at, len(ids))
    frame = pd.DataFrame({"source_id": np.asarray(ids, dtype=np.int64), "_row": np.arange(len(ids))})
    frame["ts"] = at if np.ndim(at) else [at] * len(ids)
    with db.transaction() as con, registered(con, "_order_in", frame):
        documents.load_totals(con, "quote", ids, "_order_totals")
        # Happy path in one statement: active quotes of open opportunities, with their totals.
        made = con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _order_map AS
               SELECT r.source_id, {new_id("orders", "order_id", "r._row")} AS target_id, r._row, r.ts, q.opportunity_id, t.total,
                      count(*) OVER (PARTITION BY q.opportunity_id) AS same_opportunity
               FROM _order_in r
               JOIN quotes q ON q.quote_id = r.source_id AND q.state = 'active'
               JOIN opportunities o ON o.opportunity_id = q.opportunity_id AND o.state = 'open'
               JOIN _order_totals t ON t.quote_id = r.source_id"""
        ).fetchall()[0][0]
        if made != len(ids):  # say precisely what is wrong
            machine.require(con, "quote", "create_order", ids)
            opportunities.require_open(
                con, "SELECT q.opportunity_id FROM quotes q JOIN _order_in r ON r.source_id = q.quote_id"
            )
        columns = ["source_id", "target_id", "opportunity_id", "total", "ts", "same_opportunity"]
        won = pd.DataFrame(  # fetchall keeps the totals exact (Decimal); .df() would make them floats
            con.execute(f"SELECT {', '.join(columns)} FROM _order_map ORDER BY _row").fetchall(), columns=columns
        )
        if (won["same_opportunity"] > 1).any():
            opp = int(won.loc[won["same_opportunity"] > 1, "opportunity_id"].iloc[0])
            raise ValidationError(f"two of the quotes belong to opportunity {opp}: order only one of them", field="ids")
        con.execute(
            """INSERT INTO orders (order_id, quote_id, opportunity_id, price_list_id, discount_pct, discount_amount,
                                   freight, created_at, state, status)
               SELECT m.target_id, q.quote_id, q.opportunity_id, q.price_list_id, q.discount_pct, q.discount_amount,
                      q.freight, m.ts, 'active', 'new'
               FROM _order_map m JOIN quotes q ON q.quote_id = m.source_id"""
        )
        _write_order_lines(con)
        machine.record_creation(
            con, "order", "SELECT target_id AS id, 'active' AS state, 'new' AS status, ts FROM _order_map", actor=actor
        )
        machine.apply(
            con,
            "quote",
            "create_order",
            won["source_id"].to_numpy(),
            at=won["ts"],
            actor=actor,
            stamp="closed_at",
            checked=True,
        )
        opportunities.close_open_quotes(
            con, won["opportunity_id"].to_numpy(), won["ts"], status="canceled", actor=actor, keep=ids
        )
        opportunities._close_won(con, won["opportunity_id"].tolist(), won["total"].tolist(), at=won["ts"], actor=actor)
    return won["target_id"].to_numpy(dtype=np.int64)


def _write_order_lines(con: duckdb.DuckDBPyConnection, mapping: str | tuple[int, int] = "_order_map") -> None:
    """Copy the won quotes' lines to their new orders (the step a fault test breaks)."""
    documents.copy_lines(con, "quote", "order", mapping)
