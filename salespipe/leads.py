"""Leads: create, qualify (into contact + account + opportunity), disqualify, reactivate.

The bulk actions are set-based SQL. `create` and `qualify` of one lead run the same rules as
a few point statements with bound values, two to three times faster than a batch of one;
tests/test_point_paths.py holds each pair to identical records, ids and events.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pandas as pd

from . import check, history, machine
from .db import Database
from .errors import NotFound, ValidationError
from .qualification import Qualification, qualify, qualify_many  # noqa: F401  (sp.leads.qualify, the contract)
from .statements import SMALL_FRAME, new_id, registered

TEXT_FIELDS = ("first_name", "last_name", "email", "phone", "job_title", "company", "topic", "source", "owner")
FIELDS = (*TEXT_FIELDS, "estimated_value", "status", "created_at")
DISQUALIFY_REASONS = machine.STATES["lead"]["disqualified"]
DEFAULT_PROBABILITY = machine.DEFAULT_PROBABILITY  # kept here too: code that imported it from leads goes on working


def create(
    db: Database,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    job_title: str | None = None,
    company: str | None = None,
    topic: str | None = None,
    source: str | None = None,
    owner: str | None = None,
    estimated_value: Decimal | int | str | None = None,
    status: str = "new",
    at: object = None,
    actor: str | None = None,
) -> int:
    """Create an open lead and return its id. It needs a last name or a company."""
    db = check.database(db)
    given = dict(
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        job_title=job_title,
        company=company,
        topic=topic,
        source=source,
        owner=owner,
    )
    row = {f: check.text(v, f) for f, v in given.items()}
    row["email"] = check.email(email)
    row["estimated_value"] = check.money(estimated_value, "estimated_value", optional=True)
    row["status"] = check.choice(status, "status", machine.STATES["lead"]["open"])
    if not row["last_name"] and not row["company"]:
        raise ValidationError("a lead needs a last_name or a company", field="last_name")
    row["created_at"] = check.timestamp(at)
    actor = check.text(actor, "actor")
    columns = [*TEXT_FIELDS, "estimated_value", "created_at", "status"]
    with db.transaction() as con:  # create_many's insert for one checked row, as point statements
        lead = con.execute(
            f"""INSERT INTO leads (lead_id, {", ".join(columns)}, state)
                SELECT coalesce(max(lead_id), 0) + 1, {", ".join("?" for _ in columns)}, 'open' FROM leads
                RETURNING lead_id""",
            [row[c] for c in columns],
        ).fetchall()[0][0]
        journal = machine.Journal()
        machine.created(con, journal, "lead", lead, "open", row["status"], row["created_at"], actor)
        journal.write(con)
    return int(lead)


def _prepare(frame: pd.DataFrame, at: object) -> tuple[pd.DataFrame, list[check.Failure]]:
    """Check every row with the single path's checks: the rows typed for the insert, and the failures.

    Text is trimmed of any Unicode whitespace, emails, money, statuses and times are read by the
    same functions `create` uses, so a value one path accepts the other accepts identically.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError("leads must be a pandas DataFrame", field="frame")
    unknown = sorted(map(str, set(frame.columns) - set(FIELDS)))
    if unknown:
        raise ValidationError(
            f"unknown lead columns: {', '.join(unknown)}; allowed: {', '.join(FIELDS)}", field=unknown[0]
        )
    n = len(frame)
    out = pd.DataFrame({"_row": np.arange(n, dtype=np.int64)})
    problems: list[check.Failure] = []

    def column(name: str) -> pd.Series:
        return frame[name] if name in frame.columns else pd.Series([None] * n, dtype=object)

    for f in TEXT_FIELDS:
        values, bad = check.each(column(f).tolist(), f, check.email if f == "email" else check.text)
        out[f] = pd.Series(values, dtype=object)
        problems += bad
    value, bad = check.money_column(column("estimated_value"), "estimated_value", optional=True)
    out["estimated_value"] = value if isinstance(value, np.ndarray) else pd.Series(value, dtype=object)
    problems += bad
    open_statuses = machine.STATES["lead"]["open"]
    statuses, bad = check.each(  # a blank status is the default, new
        column("status").tolist(),
        "status",
        lambda v, f: "new" if check.missing(v) else check.choice(v, f, open_statuses),
    )
    out["status"] = pd.Series(statuses, dtype=object)
    problems += bad
    if "created_at" in frame.columns:
        out["created_at"], bad = check.timestamp_column(frame["created_at"], "created_at")
        problems += bad
    else:
        out["created_at"] = machine.at_column(at, n)
    refused = {row for row, field, _ in problems if field in ("last_name", "company")}
    nameless = np.flatnonzero(out["last_name"].isna() & out["company"].isna())
    problems += [(int(r), "last_name", "a lead needs a last_name or a company") for r in nameless if r not in refused]
    problems.sort(key=lambda p: (p[0], FIELDS.index(p[1]) if p[1] in FIELDS else 0))
    return out, problems


def create_many(db: Database, frame: pd.DataFrame, *, at: object = None, actor: str | None = None) -> np.ndarray:
    """Create many open leads from a DataFrame (columns as `create`'s keywords) in one transaction.

    Returns the new ids in row order. If any row is invalid nothing is created and the
    ValidationError's `failures` lists (row, field, message) for each problem.
    """
    db = check.database(db)
    src, problems = _prepare(frame, at)
    actor = check.text(actor, "actor")
    if problems:
        first = problems[0]
        more = f" ({len(problems)} problems; see .failures)" if len(problems) > 1 else ""
        prefix = f"row {first[0]}: " if len(src) > 1 else ""
        raise ValidationError(f"{prefix}{first[2]}{more}", field=first[1], failures=problems[:1000])
    return _create(db, src, actor=actor)


def _create(db: Database, src: pd.DataFrame, *, actor: str | None) -> np.ndarray:
    """Insert checked lead rows, set-based."""
    if len(src) == 0:
        return np.array([], dtype=np.int64)
    with db.transaction() as con, registered(con, "_lead_in", src):
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _lead_new AS
               SELECT {new_id("leads", "lead_id", "_row")} AS lead_id, * FROM _lead_in"""
        )
        con.execute(
            f"""INSERT INTO leads (lead_id, {", ".join(TEXT_FIELDS)}, estimated_value, created_at, state, status)
                SELECT lead_id, {", ".join(TEXT_FIELDS)}, estimated_value::DECIMAL(18,2), created_at, 'open', status
                FROM _lead_new"""
        )
        machine.record_creation(
            con, "lead", "SELECT lead_id AS id, 'open' AS state, status, created_at AS ts FROM _lead_new", actor=actor
        )
        ids = con.execute("SELECT lead_id FROM _lead_new ORDER BY _row").fetchnumpy()["lead_id"]
        if len(src) > SMALL_FRAME:
            con.execute("DROP TABLE _lead_new")
    return np.asarray(ids, dtype=np.int64)


def disqualify(
    db: Database,
    lead: int,
    *,
    reason: str = "lost",
    at: object = None,
    actor: str | None = None,
    note: str | None = None,
) -> None:
    """Close an open lead as disqualified: lost, cannot_contact, no_longer_interested or canceled."""
    db = check.database(db)
    disqualify_many(db, [check.ident(lead, "lead")], reason=reason, at=at, actor=actor, note=note)


def disqualify_many(
    db: Database,
    ids: Sequence[int] | np.ndarray,
    *,
    reason: str | Sequence[str] = "lost",
    at: object = None,
    actor: str | None = None,
    note: str | None = None,
) -> None:
    """Disqualify many open leads; `reason` is one for all or one per lead."""
    db = check.database(db)
    ids = check.idents(ids, "ids")
    reason = check.choices(reason, "reason", DISQUALIFY_REASONS, len(ids))
    with db.transaction() as con:
        machine.apply(
            con,
            "lead",
            "disqualify",
            ids,
            to=reason,
            at=at,
            actor=actor,
            note=check.text(note, "note"),
            stamp="closed_at",
        )


def reactivate(db: Database, lead: int, *, at: object = None, actor: str | None = None) -> None:
    """Reopen a disqualified lead (status new)."""
    db = check.database(db)
    reactivate_many(db, [check.ident(lead, "lead")], at=at, actor=actor)


def reactivate_many(
    db: Database, ids: Sequence[int] | np.ndarray, *, at: object = None, actor: str | None = None
) -> None:
    """Reopen many disqualified leads."""
    db = check.database(db)
    ids = check.idents(ids, "ids")
    with db.transaction() as con:
        machine.apply(con, "lead", "reactivate", ids, at=at, actor=actor, values={"closed_at": None})


def update(
    db: Database,
    lead: int,
    *,
    owner: object = history.UNSET,
    source: object = history.UNSET,
    estimated_value: object = history.UNSET,
    at: object = None,
    actor: str | None = None,
) -> None:
    """Edit an open lead's owner, source or estimated value (fields not given stay as they are).

    Each change is kept in field_changes, dated `at` (default now); the funnel follows the new
    owner and source at once.
    """
    db = check.database(db)
    lead = check.ident(lead, "lead")
    values = history.changes(
        {"owner": owner, "source": source, "estimated_value": estimated_value},
        {
            "owner": lambda v: check.text(v, "owner"),
            "source": lambda v: check.text(v, "source"),
            "estimated_value": lambda v: check.money(v, "estimated_value", optional=True),
        },
    )
    actor = check.text(actor, "actor")
    with db.transaction() as con:
        history.edit(con, "lead", [lead], {k: [v] for k, v in values.items()}, at=at, actor=actor)


def get(db: Database, lead: int) -> dict:
    """One lead as a dict (NotFound if it does not exist)."""
    db = check.database(db)
    lead = check.ident(lead, "lead")
    df = db.sql("SELECT * FROM leads WHERE lead_id = ?", [lead])
    if df.empty:
        raise NotFound("lead", lead)
    return df.iloc[0].to_dict()
