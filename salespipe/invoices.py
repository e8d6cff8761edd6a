"""Invoices: created by orders.create_invoice; payments move them from new to partial to paid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from . import check, documents, machine
from .db import Database
from .errors import NotFound, ValidationError
from .statements import first, new_id, registered

PAYMENT_COLUMNS = ("invoice_id", "amount", "paid_at")


@dataclass(frozen=True)
class InvoiceTotals:
    """An invoice's totals and what has been paid against it."""

    detail: Decimal
    discount: Decimal
    pre_freight: Decimal
    freight: Decimal
    tax: Decimal
    total: Decimal
    paid: Decimal
    balance: Decimal


def totals(db: Database, invoice: int) -> InvoiceTotals:
    """Totals, amount paid and balance of an invoice."""
    db = check.database(db)
    invoice = check.ident(invoice, "invoice")
    with db.connection(read_only=True) as con:
        row = first(
            con.execute(
                """SELECT detail, discount, pre_freight, freight, tax, total, paid, balance
               FROM v_invoice_totals WHERE invoice_id = ?""",
                [invoice],
            )
        )
    if row is None:
        raise NotFound("invoice", invoice)
    return InvoiceTotals(*row)


def record_payment(
    db: Database,
    invoice: int,
    amount: Decimal | int | str,
    *,
    at: object = None,
    actor: str | None = None,
    note: str | None = None,
) -> int:
    """Record a payment against an active invoice; it becomes partial, or paid when the balance is 0.

    Returns the payment id. A payment above the balance is refused.
    """
    db = check.database(db)
    invoice = check.ident(invoice, "invoice")
    money = check.money(amount, "amount")
    ts, actor, note = machine.at_column(at, 1), check.text(actor, "actor"), check.text(note, "note")
    with db.transaction() as con:
        payment = _record_payment_one(con, invoice, money, ts, actor, note)
        if payment is None:  # refused: the set-based path raises with its messages, before writing anything
            frame = pd.DataFrame({"_row": [0], "invoice_id": [invoice], "amount": pd.Series([money], dtype=object)})
            frame["ts"] = [ts]
            payment = int(_record_payments(con, frame, [invoice], [], actor, note)[0])
    return payment


def _record_payment_one(
    con: duckdb.DuckDBPyConnection, invoice: int, amount: Decimal, ts: object, actor: str | None, note: str | None
) -> int | None:
    """record_payments' rules for one payment, as point statements with bound values (~2x faster);
    None, having written nothing, when the payment is refused.

    tests/test_point_paths.py checks that both give the same records, ids, events and refusals.
    """
    row = first(
        con.execute(
            """SELECT i.state, i.status, coalesce(i.changed_at, i.created_at), t.balance
               FROM invoices i LEFT JOIN v_invoice_totals t ON t.invoice_id = i.invoice_id
               WHERE i.invoice_id = ?""",
            [invoice],
        )
    )
    if row is None or row[0] != "active" or amount == 0 or row[3] is None or amount > row[3]:
        return None
    paid = amount == row[3]
    payment = con.execute(
        """INSERT INTO payments (payment_id, invoice_id, amount, paid_at, note)
           VALUES ((SELECT coalesce(max(payment_id), 0) + 1 FROM payments), ?, ?::DECIMAL(18,2), ?, ?)
           RETURNING payment_id""",
        [invoice, amount, ts, note],
    ).fetchall()[0][0]
    machine.apply(
        con,
        "invoice",
        "record_payment",
        [invoice],
        to="complete" if paid else "partial",
        at=ts,
        actor=actor,
        note=note,
        values={"closed_at": ts if paid else None},
        current={invoice: (row[0], row[1], row[2])},
    )
    return int(payment)


def record_payments(
    db: Database, payments: pd.DataFrame, *, at: object = None, actor: str | None = None, note: str | None = None
) -> np.ndarray:
    """Record one payment each on many invoices (columns invoice_id, amount, optional paid_at).

    All or nothing: an unknown or inactive invoice, a non-positive amount or one above the
    balance fails the whole call, listing each failing row. Returns the payment ids in order.
    """
    db = check.database(db)
    if not isinstance(payments, pd.DataFrame) or not {"invoice_id", "amount"} <= set(payments.columns):
        raise ValidationError("payments must be a DataFrame with invoice_id and amount columns", field="payments")
    unknown = sorted(map(str, set(payments.columns) - set(PAYMENT_COLUMNS)))
    if unknown:
        raise ValidationError(
            f"unknown payment columns: {', '.join(unknown)}; allowed: {', '.join(PAYMENT_COLUMNS)}", field=unknown[0]
        )
    n = len(payments)
    if n == 0:
        return np.array([], dtype=np.int64)
    ids = check.idents(payments["invoice_id"].tolist(), "invoice_id")
    amounts, problems = check.each(payments["amount"].tolist(), "amount", check.money)  # as record_payment reads one
    unreadable = [(r, ids[r], f"invoice {ids[r]}: {m}") for r, _, m in problems]
    frame = pd.DataFrame(
        {
            "_row": np.arange(n),
            "invoice_id": np.asarray(ids, dtype=np.int64),
            "amount": pd.Series(amounts, dtype=object),
        }
    )
    stamps = machine.at_column(payments["paid_at"] if "paid_at" in payments.columns else at, n)
    frame["ts"] = stamps if np.ndim(stamps) else [stamps] * n
    actor, note = check.text(actor, "actor"), check.text(note, "note")
    with db.transaction() as con:
        return _record_payments(con, frame, ids, unreadable, actor, note)


def _record_payments(
    con: duckdb.DuckDBPyConnection,
    frame: pd.DataFrame,
    ids: list[int],
    unreadable: list[tuple],
    actor: str | None,
    note: str | None,
) -> np.ndarray:
    """record_payments' checks and writes in the caller's transaction; frame: _row, invoice_id, amount, ts."""
    with registered(con, "_pay_in", frame):
        machine.require(con, "invoice", "record_payment", ids)
        documents.load_totals(con, "invoice", ids, "_pay_totals")
        bad = con.execute(
            """SELECT p._row, p.invoice_id,
                      'invoice ' || p.invoice_id || ': ' || CASE WHEN p.amount = 0 THEN 'amount must be greater than 0'
                           ELSE 'amount ' || p.amount || ' exceeds the balance ' || t.balance END
               FROM _pay_in p JOIN _pay_totals t ON t.invoice_id = p.invoice_id
               WHERE p.amount = 0 OR p.amount > t.balance
               ORDER BY p._row LIMIT 1000"""
        ).fetchall()
        failures = sorted(unreadable + bad)
        if failures:
            more = f" ({len(failures)} problems; see .failures)" if len(failures) > 1 else ""
            raise ValidationError(f"{failures[0][2]}{more}", field="amount", failures=failures[:1000])
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _pay_new AS
               SELECT {new_id("payments", "payment_id", "p._row")} AS payment_id, p._row, p.invoice_id, p.amount::DECIMAL(18,2) AS amount, p.ts,
                      CASE WHEN p.amount = t.balance THEN 'complete' ELSE 'partial' END AS to_status
               FROM _pay_in p JOIN _pay_totals t ON t.invoice_id = p.invoice_id"""
        )
        con.execute(
            "INSERT INTO payments (payment_id, invoice_id, amount, paid_at, note) "
            "SELECT payment_id, invoice_id, amount, ts, ? FROM _pay_new",
            [note],
        )
        moves = con.execute("SELECT invoice_id, to_status, ts FROM _pay_new ORDER BY _row").df()
        paid = (moves["to_status"] == "complete").to_numpy()
        machine.apply(
            con,
            "invoice",
            "record_payment",
            moves["invoice_id"].to_numpy(),
            to=moves["to_status"].tolist(),
            at=moves["ts"],
            actor=actor,
            note=note,
            values={"closed_at": pd.array(np.where(paid, moves["ts"].to_numpy(), np.datetime64("NaT")))},
        )
        new_ids = con.execute("SELECT payment_id FROM _pay_new ORDER BY _row").fetchnumpy()["payment_id"]
        con.execute("DROP TABLE _pay_new")
    return np.asarray(new_ids, dtype=np.int64)


def cancel(db: Database, invoice: int, *, at: object = None, actor: str | None = None, note: str | None = None) -> None:
    """Cancel an active invoice that has no payments."""
    db = check.database(db)
    cancel_many(db, [check.ident(invoice, "invoice")], at=at, actor=actor, note=note)


def cancel_many(
    db: Database,
    ids: Sequence[int] | np.ndarray,
    *,
    at: object = None,
    actor: str | None = None,
    note: str | None = None,
) -> None:
    """Cancel many active invoices without payments."""
    db = check.database(db)
    ids = check.idents(ids, "ids")
    with db.transaction() as con:
        machine.apply(
            con, "invoice", "cancel", ids, at=at, actor=actor, note=check.text(note, "note"), stamp="closed_at"
        )
