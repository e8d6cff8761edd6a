"""Sales orders: created by quotes.create_order, then fulfilled (or canceled), then invoiced."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import check, documents, machine
from .db import Database, new_id, registered
from .documents import Totals


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
    """The lines of an order with base, amount and extended per line."""
    db = check.database(db)
    order = check.ident(order, "order")
    return db.sql("SELECT * FROM v_order_lines WHERE order_id = ? ORDER BY line_no", [order])
