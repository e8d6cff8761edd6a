"""Quotes: versioned offers on an opportunity, from draft to active to won (an order) or closed.

Only drafts are edited. `revise` closes a quote as revised and opens the next revision as a new
draft with the same quote number and copied lines; earlier revisions are never deleted.
`create_order` wins the quote, cancels the opportunity's other open quotes, copies the lines to
a new order and closes the opportunity as won at the quote total, in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from . import check, documents, machine, opportunities
from .db import Database
from .documents import Totals as QuoteTotals
from .errors import InvalidTransition, NotFound, ValidationError
from .orders import create_order, create_order_many  # winning a quote makes an order: orders does it
from .statements import exact, first, new_id, registered

__all__ = ["QuoteTotals", "create_order", "create_order_many"]

CLOSE_STATUSES = ("lost", "canceled")
LineSpec = tuple | dict


def _line_frame(lines: Iterable[LineSpec]) -> pd.DataFrame:
    """Lines given as (sku, quantity[, discount[, tax]]) tuples or dicts, checked and typed."""
    if isinstance(lines, str | bytes | dict) or not isinstance(lines, Iterable):
        raise ValidationError("lines must be a list of (sku, quantity) tuples or dicts", field="lines")
    rows = []
    for i, spec in enumerate(lines):
        if isinstance(spec, dict):
            unknown = set(spec) - {"sku", "quantity", "discount", "tax"}
            if unknown:
                raise ValidationError(f"line {i}: unknown keys {sorted(unknown)}", field="lines")
            spec = (spec.get("sku"), spec.get("quantity"), spec.get("discount", 0), spec.get("tax", 0))
        if not isinstance(spec, tuple | list) or not 2 <= len(spec) <= 4:
            raise ValidationError(f"line {i} must be (sku, quantity[, discount[, tax]]), got {spec!r}", field="lines")
        sku, qty, disc, tax = (*spec, 0, 0)[:4]
        rows.append(
            (
                check.text(sku, "sku", required=True, max_len=64),
                check.quantity(qty),
                check.money(disc, "discount"),
                check.money(tax, "tax"),
            )
        )
    return pd.DataFrame(rows, columns=["sku", "quantity", "discount", "tax"]).astype(
        {"quantity": object, "discount": object, "tax": object}
    )


def create(
    db: Database,
    opportunity: int,
    lines: Iterable[LineSpec] = (),
    *,
    discount_pct: Decimal | int | str = 0,
    discount_amount: Decimal | int | str = 0,
    freight: Decimal | int | str = 0,
    price_list: int | None = None,
    at: object = None,
    actor: str | None = None,
) -> int:
    """Create a draft quote (revision 1) on an open opportunity, priced from its price list.

    lines: (sku, quantity[, discount[, tax]]) tuples or dicts. Returns the quote id.
    """
    db = check.database(db)
    opportunity = check.ident(opportunity, "opportunity")
    header = pd.DataFrame(
        {
            "opportunity_id": [opportunity],
            "discount_pct": pd.array([check.percent(discount_pct, "discount_pct")], dtype=object),
            "discount_amount": pd.array([check.money(discount_amount, "discount_amount")], dtype=object),
            "freight": pd.array([check.money(freight, "freight")], dtype=object),
            "price_list_id": pd.array(
                [None if price_list is None else check.ident(price_list, "price_list")], dtype="Int64"
            ),
        }
    )
    line_frame = _line_frame(lines)
    line_frame.insert(0, "quote", 0)
    return int(create_many(db, header, line_frame, at=at, actor=actor)[0])


QUOTE_COLUMNS = ("opportunity_id", "discount_pct", "discount_amount", "freight", "price_list_id", "created_at")
LINE_COLUMNS = ("quote", "sku", "quantity", "discount", "tax")


def create_many(
    db: Database,
    quotes: pd.DataFrame,
    lines: pd.DataFrame | None = None,
    *,
    at: object = None,
    actor: str | None = None,
) -> np.ndarray:
    """Create many draft quotes with their lines in one transaction; returns ids in row order.

    quotes: opportunity_id and optionally discount_pct, discount_amount, freight, price_list_id,
    created_at. lines: quote (the row position in `quotes`), sku, quantity, optionally discount, tax.
    Every value is checked as `create` checks it; if any is refused nothing is created and the
    ValidationError's `failures` lists (row, field, message) for each (line rows as "lines[i]").
    """
    db = check.database(db)
    head, body, problems = _prepare(quotes, lines, at)
    actor = check.text(actor, "actor")
    if problems:
        row, field, message = problems[0]
        more = f" ({len(problems)} problems; see .failures)" if len(problems) > 1 else ""
        where = f"{row}: " if isinstance(row, str) else f"quote row {row}: " if len(head) > 1 else ""
        raise ValidationError(f"{where}{message}{more}", field=field, failures=problems[:1000])
    if len(head) == 0:
        return np.array([], dtype=np.int64)
    with db.transaction() as con, registered(con, "_quote_in", head), registered(con, "_quote_lines_in", body):
        opportunities.require_open(con, "SELECT DISTINCT opportunity_id FROM _quote_in")
        bad_pl = first(
            con.execute(
                """SELECT price_list_id FROM _quote_in WHERE price_list_id IS NOT NULL
               AND price_list_id NOT IN (SELECT price_list_id FROM price_lists) LIMIT 1"""
            )
        )
        if bad_pl:
            raise NotFound("price list", bad_pl[0])
        machine.require_not_before(con, "opportunity", "SELECT opportunity_id AS id, created_at AS ts FROM _quote_in")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _quote_new AS
               SELECT {new_id("quotes", "quote_id", "i._row")} AS quote_id, i._row, i.opportunity_id,
                      coalesce(i.price_list_id, o.price_list_id) AS price_list_id,
                      i.discount_pct::DECIMAL(9,4) AS discount_pct, i.discount_amount::DECIMAL(18,2) AS discount_amount,
                      i.freight::DECIMAL(18,2) AS freight, i.created_at
               FROM _quote_in i JOIN opportunities o ON o.opportunity_id = i.opportunity_id"""
        )
        con.execute(
            """INSERT INTO quotes (quote_id, quote_number, revision, opportunity_id, price_list_id, discount_pct,
                                   discount_amount, freight, created_at, state, status)
               SELECT quote_id, 'QUO-' || lpad(quote_id::VARCHAR, greatest(6, length(quote_id::VARCHAR))::INTEGER, '0'), 1, opportunity_id,
                      price_list_id, discount_pct, discount_amount, freight, created_at, 'draft', 'in_progress'
               FROM _quote_new ORDER BY _row"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP VIEW _quote_lines_src AS
               SELECT n.quote_id, row_number() OVER (PARTITION BY l.quote ORDER BY l._pos)::INTEGER AS line_no, l.sku,
                      l.quantity::DECIMAL(18,4) AS quantity, l.discount::DECIMAL(18,2) AS discount,
                      l.tax::DECIMAL(18,2) AS tax
               FROM (SELECT *, row_number() OVER () AS _pos FROM _quote_lines_in) l
               JOIN _quote_new n ON n._row = l.quote"""
        )
        documents.insert_lines(con, "_quote_lines_src")
        documents.check_sane(con, "SELECT quote_id FROM _quote_new")
        machine.record_creation(
            con,
            "quote",
            "SELECT quote_id AS id, 'draft' AS state, 'in_progress' AS status, created_at AS ts FROM _quote_new",
            actor=actor,
        )
        ids = con.execute("SELECT quote_id FROM _quote_new ORDER BY _row").fetchnumpy()["quote_id"]
        con.execute("DROP VIEW _quote_lines_src; DROP TABLE _quote_new")
    return np.asarray(ids, dtype=np.int64)


def _prepare(
    quotes: pd.DataFrame, lines: pd.DataFrame | None, at: object
) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple]]:
    """The header and line frames checked value by value with `create`'s checks, and the failures."""
    if not isinstance(quotes, pd.DataFrame) or "opportunity_id" not in quotes.columns:
        raise ValidationError("quotes must be a DataFrame with an opportunity_id column", field="quotes")
    if lines is None:
        lines = pd.DataFrame({"quote": [], "sku": [], "quantity": []})
    if not isinstance(lines, pd.DataFrame):
        raise ValidationError("lines must be a DataFrame with quote, sku and quantity columns", field="lines")
    for frame, allowed, name in ((quotes, QUOTE_COLUMNS, "quote"), (lines, LINE_COLUMNS, "line")):
        unknown = sorted(map(str, set(frame.columns) - set(allowed)))
        if unknown:
            raise ValidationError(
                f"unknown {name} columns: {', '.join(unknown)}; allowed: {', '.join(allowed)}", field=unknown[0]
            )
    missing = {"quote", "sku", "quantity"} - set(lines.columns)
    if missing:
        raise ValidationError(f"lines needs columns quote, sku, quantity; missing {sorted(missing)}", field="lines")
    n = len(quotes)
    problems: list[tuple] = []

    def column(frame: pd.DataFrame, name: str, fn, default: object = None) -> list:
        if name not in frame.columns:
            return [default] * len(frame)
        values, bad = check.each(frame[name].tolist(), name, fn)
        problems.extend(bad if frame is quotes else [(f"lines[{r}]", f, m) for r, f, m in bad])
        return values

    def zero_if_missing(fn):
        return lambda v, f: Decimal(0) if check.missing(v) else fn(v, f)

    head = pd.DataFrame({"_row": np.arange(n, dtype=np.int64)})
    head["opportunity_id"] = pd.array(column(quotes, "opportunity_id", check.ident), dtype="Int64")
    head["discount_pct"] = pd.Series(
        column(quotes, "discount_pct", zero_if_missing(check.percent), Decimal(0)), dtype=object
    )
    for name in ("discount_amount", "freight"):
        head[name] = pd.Series(column(quotes, name, zero_if_missing(check.money), Decimal(0)), dtype=object)
    head["price_list_id"] = pd.array(
        column(quotes, "price_list_id", lambda v, f: None if check.missing(v) else check.ident(v, f)), dtype="Int64"
    )
    if "created_at" in quotes.columns:
        head["created_at"], bad = check.timestamp_column(quotes["created_at"], "created_at")
        problems.extend(bad)
    else:
        ts = machine.at_column(at, n)
        head["created_at"] = ts if np.ndim(ts) else [ts] * n

    def position(value: object, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value < n:
            raise ValidationError(
                f"{field} must be a row position in quotes (0 to {n - 1}), got {value!r}", field=field
            )
        return int(value)

    body = pd.DataFrame(
        {
            "quote": pd.array(column(lines, "quote", position), dtype="Int64"),
            "sku": pd.Series(
                column(lines, "sku", lambda v, f: check.text(v, f, required=True, max_len=64)), dtype=object
            ),
            "quantity": pd.Series(column(lines, "quantity", check.quantity), dtype=object),
            "discount": pd.Series(column(lines, "discount", zero_if_missing(check.money), Decimal(0)), dtype=object),
            "tax": pd.Series(column(lines, "tax", zero_if_missing(check.money), Decimal(0)), dtype=object),
        }
    )
    problems.sort(key=lambda p: (1, int(p[0][6:-1])) if isinstance(p[0], str) else (0, p[0]))  # quotes, then lines
    return head, body, problems


def _draft(con: duckdb.DuckDBPyConnection, quote: int) -> None:
    row = first(con.execute("SELECT state, status, quote_number, revision FROM quotes WHERE quote_id = ?", [quote]))
    if row is None:
        raise NotFound("quote", quote)
    state, status, number, revision = row
    if state != "draft":
        hint = "revise it (quotes.revise) to get an editable draft" if state in ("active", "closed") else "it is final"
        raise InvalidTransition(
            f"quote {quote} ({number} revision {revision}) is {state} ({status}): only drafts are edited; {hint}"
        )


def add_line(
    db: Database,
    quote: int,
    *,
    sku: str,
    quantity: Decimal | int | str,
    discount: Decimal | int | str = 0,
    tax: Decimal | int | str = 0,
) -> int:
    """Add a line to a draft quote at its price-list price; returns the line number."""
    db = check.database(db)
    quote = check.ident(quote, "quote")
    frame = _line_frame([(sku, quantity, discount, tax)])
    with db.transaction() as con:
        _draft(con, quote)
        line_no = con.execute(
            "SELECT coalesce(max(line_no), 0) + 1 FROM quote_lines WHERE quote_id = ?", [quote]
        ).fetchall()[0][0]
        frame.insert(0, "quote_id", quote)
        frame.insert(1, "line_no", line_no)
        with registered(con, "_line_in", frame):
            documents.insert_lines(con, "_line_in")
        documents.check_sane(con, "SELECT ?::BIGINT", [quote], doing=f"adding line {line_no}")
    return int(line_no)


def remove_line(db: Database, quote: int, line_no: int) -> None:
    """Remove a line from a draft quote."""
    db = check.database(db)
    quote, line_no = check.ident(quote, "quote"), check.ident(line_no, "line_no")
    with db.transaction() as con:
        _draft(con, quote)
        found = con.execute(
            "DELETE FROM quote_lines WHERE quote_id = ? AND line_no = ? RETURNING 1", [quote, line_no]
        ).fetchall()
        if not found:
            raise NotFound(f"line of quote {quote}", line_no)
        documents.check_sane(con, "SELECT ?::BIGINT", [quote], doing=f"removing line {line_no}")


def update(
    db: Database,
    quote: int,
    *,
    discount_pct: Decimal | int | str | None = None,
    discount_amount: Decimal | int | str | None = None,
    freight: Decimal | int | str | None = None,
) -> None:
    """Change the quote-level discount or freight of a draft quote (None leaves a value as it is)."""
    db = check.database(db)
    quote = check.ident(quote, "quote")
    values = {}
    if discount_pct is not None:
        values["discount_pct"] = check.percent(discount_pct, "discount_pct")
    if discount_amount is not None:
        values["discount_amount"] = check.money(discount_amount, "discount_amount")
    if freight is not None:
        values["freight"] = check.money(freight, "freight")
    with db.transaction() as con:
        _draft(con, quote)
        if values:
            sets = ", ".join(f"{k} = ?" for k in values)
            con.execute(f"UPDATE quotes SET {sets} WHERE quote_id = ?", [*values.values(), quote])
            documents.check_sane(con, "SELECT ?::BIGINT", [quote])


def lines(db: Database, quote: int) -> pd.DataFrame:
    """The lines of a quote with base, amount and extended per line (money as Decimal)."""
    db = check.database(db)
    quote = check.ident(quote, "quote")
    with db.connection(read_only=True) as con:
        return exact(
            con.execute(
                """SELECT l.line_no, l.sku, p.name, l.quantity, l.unit_price, l.base, l.discount, l.amount, l.tax,
                          l.extended
                   FROM v_quote_lines l JOIN products p USING (sku) WHERE l.quote_id = ? ORDER BY l.line_no""",
                [quote],
            )
        )


def totals(db: Database, quote: int) -> QuoteTotals:
    """detail, discount, pre_freight, freight, tax and total of a quote, as exact decimals."""
    db = check.database(db)
    quote = check.ident(quote, "quote")
    with db.connection(read_only=True) as con:
        return documents.totals(con, "quote", quote)


def activate(db: Database, quote: int, *, at: object = None, actor: str | None = None) -> None:
    """Activate a draft quote: its prices are locked and it can be ordered, closed or revised."""
    db = check.database(db)
    activate_many(db, [check.ident(quote, "quote")], at=at, actor=actor)


def activate_many(
    db: Database, ids: Sequence[int] | np.ndarray, *, at: object = None, actor: str | None = None
) -> None:
    """Activate many draft quotes; a quote without lines cannot be activated."""
    db = check.database(db)
    ids = check.idents(ids, "ids")
    with db.transaction() as con:
        machine.require(con, "quote", "activate", ids)
        empty = con.execute(
            """SELECT quote_id FROM quotes WHERE quote_id IN (SELECT unnest(?::BIGINT[]))
               AND quote_id NOT IN (SELECT quote_id FROM quote_lines) ORDER BY 1 LIMIT 100""",
            [ids],
        ).fetchall()
        if empty:
            raise ValidationError(
                f"quote {empty[0][0]} has no lines: add one (quotes.add_line) before activating it",
                field="lines",
                failures=[(q, "no lines") for (q,) in empty],
            )
        opportunities.require_open(
            con, "SELECT opportunity_id FROM quotes WHERE quote_id IN (SELECT unnest(?::BIGINT[]))", [ids]
        )
        documents.check_sane(con, "SELECT unnest(?::BIGINT[])", [ids], doing="activating")
        machine.apply(con, "quote", "activate", ids, at=at, actor=actor, stamp="activated_at")


def revise(db: Database, quote: int, *, at: object = None, actor: str | None = None) -> int:
    """Close an active (or lost/canceled) quote as revised; return the id of the new draft revision."""
    db = check.database(db)
    return int(revise_many(db, [check.ident(quote, "quote")], at=at, actor=actor)[0])


def revise_many(
    db: Database, ids: Sequence[int] | np.ndarray, *, at: object = None, actor: str | None = None
) -> np.ndarray:
    """Revise many quotes; returns the new draft ids in the order given."""
    db = check.database(db)
    ids = check.idents(ids, "ids")
    at = machine.at_column(at, len(ids))
    frame = pd.DataFrame({"source_id": np.asarray(ids, dtype=np.int64), "_row": np.arange(len(ids))})
    frame["ts"] = at if np.ndim(at) else [at] * len(ids)
    with db.transaction() as con, registered(con, "_revise_in", frame):
        machine.require(con, "quote", "revise", ids)
        opportunities.require_open(
            con, "SELECT q.opportunity_id FROM quotes q JOIN _revise_in r ON r.source_id = q.quote_id"
        )
        machine.apply(con, "quote", "revise", ids, to="revised", at=at, actor=actor, stamp="closed_at")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _revise_map AS
               SELECT r.source_id, {new_id("quotes", "quote_id", "r._row")} AS target_id, r._row, r.ts FROM _revise_in r"""
        )
        con.execute(
            """INSERT INTO quotes (quote_id, quote_number, revision, opportunity_id, price_list_id, discount_pct,
                                   discount_amount, freight, previous_quote_id, created_at, state, status)
               SELECT m.target_id, q.quote_number, q.revision + 1, q.opportunity_id, q.price_list_id, q.discount_pct,
                      q.discount_amount, q.freight, q.quote_id, m.ts, 'draft', 'in_progress'
               FROM _revise_map m JOIN quotes q ON q.quote_id = m.source_id"""
        )
        documents.copy_lines(con, "quote", "quote", "_revise_map")
        machine.record_creation(
            con,
            "quote",
            "SELECT target_id AS id, 'draft' AS state, 'in_progress' AS status, ts FROM _revise_map",
            actor=actor,
        )
        new_ids = con.execute("SELECT target_id FROM _revise_map ORDER BY _row").fetchnumpy()["target_id"]
        con.execute("DROP TABLE _revise_map")
    return np.asarray(new_ids, dtype=np.int64)


def close(
    db: Database,
    quote: int,
    *,
    status: str = "lost",
    at: object = None,
    actor: str | None = None,
    note: str | None = None,
) -> None:
    """Close an active (or draft) quote as lost or canceled. It can still be revised later."""
    db = check.database(db)
    close_many(db, [check.ident(quote, "quote")], status=status, at=at, actor=actor, note=note)


def close_many(
    db: Database,
    ids: Sequence[int] | np.ndarray,
    *,
    status: str | Sequence[str] = "lost",
    at: object = None,
    actor: str | None = None,
    note: str | None = None,
) -> None:
    """Close many quotes as lost or canceled (one status for all, or one per quote)."""
    db = check.database(db)
    ids = check.idents(ids, "ids")
    status = check.choices(status, "status", CLOSE_STATUSES, len(ids))
    with db.transaction() as con:
        machine.apply(
            con, "quote", "close", ids, to=status, at=at, actor=actor, note=check.text(note, "note"), stamp="closed_at"
        )
