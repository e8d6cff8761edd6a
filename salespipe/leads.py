"""Leads: create, qualify (into contact + account + opportunity), disqualify, reactivate.

The bulk actions are set-based SQL. `create` and `qualify` of one lead run the same rules as
a few point statements with bound values, two to three times faster than a batch of one;
tests/test_point_paths.py holds each pair to identical records, ids and events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from . import check, machine
from .db import SMALL_FRAME, Database, first, new_id, registered
from .errors import NotFound, ValidationError

TEXT_FIELDS = ("first_name", "last_name", "email", "phone", "job_title", "company", "topic", "source", "owner")
FIELDS = (*TEXT_FIELDS, "estimated_value", "status", "created_at")
DISQUALIFY_REASONS = machine.STATES["lead"]["disqualified"]
DEFAULT_PROBABILITY = machine.DEFAULT_PROBABILITY  # kept here too: code that imported it from leads goes on working


@dataclass(frozen=True)
class Qualification:
    """What qualifying a lead produced; *_matched says an existing record was reused."""

    lead_id: int
    account_id: int | None
    contact_id: int | None
    opportunity_id: int | None
    account_matched: bool
    contact_matched: bool


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


def _validate_frame(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, str]]:
    """Per-row problems of the `_lead_in` rows, in one scan: (row, field, message)."""
    checks = [
        (
            "last_name",
            "coalesce(trim(last_name), '') = '' AND coalesce(trim(company), '') = ''",
            "a lead needs a last_name or a company",
        ),
        (
            "email",
            f"trim(email) <> '' AND NOT regexp_full_match(trim(email), '{check.EMAIL_SQL_RE}')",
            "email {email!r} does not look like an email address (name@domain.tld)",
        ),
        (
            "estimated_value",
            "(ev_raw IS NOT NULL AND ev IS NULL) OR ev < 0 OR ev <> round(ev, 2)",
            "estimated_value {ev_raw!r} must be a non-negative amount with at most 2 decimals",
        ),
        ("status", "status NOT IN ('new', 'contacted')", "status must be new or contacted, got {status!r}"),
        ("created_at", "created_at IS NULL", "created_at is missing or not a datetime"),
    ]
    checks += [
        (f, f"length({f}) > {check.MAX_TEXT}", f"{f} is longer than {check.MAX_TEXT} characters") for f in TEXT_FIELDS
    ]
    flags = ", ".join(f"coalesce({cond}, false)" for _, cond, _ in checks)
    any_bad = " OR ".join(f"coalesce({cond}, false)" for _, cond, _ in checks)
    rows = con.execute(
        f"SELECT _row, email, ev_raw, status, {flags} FROM {_LEAD_SRC} WHERE {any_bad} ORDER BY _row LIMIT 1000"
    ).fetchall()
    problems = []
    for row in rows:
        values = {"email": row[1], "ev_raw": row[2], "status": row[3]}
        for (field, _, message), bad in zip(checks, row[4:], strict=True):
            if bad:
                problems.append((row[0], field, message.format(**values)))
    return problems


def _prepare(frame: pd.DataFrame, at: object) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError("leads must be a pandas DataFrame", field="frame")
    unknown = sorted(set(frame.columns) - set(FIELDS))
    if unknown:
        raise ValidationError(
            f"unknown lead columns: {', '.join(map(str, unknown))}; allowed: {', '.join(FIELDS)}", field=str(unknown[0])
        )
    n = len(frame)
    out = pd.DataFrame({"_row": np.arange(n, dtype=np.int64)})
    for f in TEXT_FIELDS:
        col = frame[f] if f in frame.columns else None
        if col is None:
            out[f] = pd.Series([None] * n, dtype=object)
            continue
        kind = pd.api.types.infer_dtype(col, skipna=True)
        if kind not in ("string", "empty") and col.notna().any():  # an all-blank column of any dtype is fine
            raise ValidationError(f"{f} must hold text, found {kind} values", field=f)
        out[f] = col.to_numpy(dtype=object)
    ev = frame["estimated_value"] if "estimated_value" in frame.columns else pd.Series([None] * n, dtype=object)
    if ev.dtype == object:
        ev = ev.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    out["ev_raw"] = ev.to_numpy(dtype=object) if ev.dtype == object else ev.to_numpy()
    if "status" in frame.columns:
        kinds = {type(v) for v in frame["status"].dropna()} - {str}
        if kinds:
            found = ", ".join(sorted(k.__name__ for k in kinds))
            raise ValidationError(f"status must hold text, found {found}", field="status")
        out["status"] = frame["status"].fillna("new").to_numpy(dtype=object)  # a blank status is the default, new
    else:
        out["status"] = "new"
    if "created_at" in frame.columns:
        ts = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
        out["created_at"] = ts.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    else:
        out["created_at"] = machine.at_column(at, n)
    return out


def create_many(db: Database, frame: pd.DataFrame, *, at: object = None, actor: str | None = None) -> np.ndarray:
    """Create many open leads from a DataFrame (columns as `create`'s keywords) in one transaction.

    Returns the new ids in row order. If any row is invalid nothing is created and the
    ValidationError's `failures` lists (row, field, message) for each problem.
    """
    return _create(db, _prepare(frame, at), actor=actor)


_LEAD_SRC = "(SELECT *, TRY_CAST(ev_raw AS DECIMAL(38,6)) AS ev FROM _lead_in)"


def _create(db: Database, src: pd.DataFrame, *, actor: str | None) -> np.ndarray:
    """Validate and insert prepared lead rows, set-based."""
    if len(src) == 0:
        return np.array([], dtype=np.int64)
    with db.transaction() as con, registered(con, "_lead_in", src):
        failures = _validate_frame(con)
        if failures:
            first = failures[0]
            more = f" ({len(failures)} problems; see .failures)" if len(failures) > 1 else ""
            prefix = f"row {first[0]}: " if len(src) > 1 else ""
            raise ValidationError(f"{prefix}{first[2]}{more}", field=first[1], failures=failures)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _lead_new AS
               SELECT {new_id("leads", "lead_id", "_row")} AS lead_id, * FROM {_LEAD_SRC}"""
        )
        con.execute(
            f"""INSERT INTO leads (lead_id, {", ".join(TEXT_FIELDS)}, estimated_value, created_at, state, status)
                SELECT lead_id, {", ".join(f"nullif(trim({f}), '')" for f in TEXT_FIELDS)},
                       ev::DECIMAL(18,2), created_at, 'open', status
                FROM _lead_new"""
        )
        machine.record_creation(
            con, "lead", "SELECT lead_id AS id, 'open' AS state, status, created_at AS ts FROM _lead_new", actor=actor
        )
        ids = con.execute("SELECT lead_id FROM _lead_new ORDER BY _row").fetchnumpy()["lead_id"]
        if len(src) > SMALL_FRAME:
            con.execute("DROP TABLE _lead_new")
    return np.asarray(ids, dtype=np.int64)


def qualify(
    db: Database,
    lead: int,
    *,
    create_account: bool = True,
    create_contact: bool = True,
    create_opportunity: bool = True,
    at: object = None,
    actor: str | None = None,
) -> Qualification:
    """Qualify an open lead into a contact, an account and an opportunity, reusing matches.

    An existing contact is reused when its email matches (trimmed, case-insensitive), an
    existing account when its name matches (ignoring case, punctuation and legal suffixes).
    """
    lead = check.ident(lead, "lead")
    flags = {
        "create_account": check.flag(create_account, "create_account"),
        "create_contact": check.flag(create_contact, "create_contact"),
        "create_opportunity": check.flag(create_opportunity, "create_opportunity"),
    }
    ts, actor = check.timestamp(at), check.text(actor, "actor")
    with db.transaction() as con:
        return _qualify_one(con, lead, flags, ts, actor)


def _qualify_one(
    con: duckdb.DuckDBPyConnection, lead: int, flags: dict[str, bool], ts: object, actor: str | None
) -> Qualification:
    """qualify_many's rules for one lead, as point statements with bound values (~3x faster).

    A batch needs window functions to let its first lead with a new company create the account
    for the others; one lead does not, and a few indexed lookups and inserts do the rest.
    tests/test_point_paths.py checks that both give the same records, ids and events.
    """
    row = first(
        con.execute(
            """SELECT state, status, first_name, last_name, email, phone, job_title, company, topic, source, owner,
                      estimated_value, company_key(company), email_key(email)
               FROM leads WHERE lead_id = ?""",
            [lead],
        )
    )
    if row is None or row[0] != "open":
        machine.require(con, "lead", "qualify", [lead])  # raises NotFound or InvalidTransition
    state, status, first_name, last_name, email, phone, job_title, company, topic, source, owner, value = row[:12]
    name_key, mail_key = row[12:]
    person = flags["create_contact"] and (last_name is not None or first_name is not None)
    name_key = name_key if flags["create_account"] else None
    mail_key = mail_key if person else None
    journal = machine.Journal()

    account = account_matched = None
    if name_key is not None:
        account = first(con.execute("SELECT min(account_id) FROM accounts WHERE name_key = ?", [name_key]))[0]
        account_matched = account is not None
        if account is None:
            account = con.execute(
                """INSERT INTO accounts (account_id, name, name_key, created_at, lead_id)
                   SELECT coalesce(max(account_id), 0) + 1, trim(?), ?, ?, ? FROM accounts RETURNING account_id""",
                [company, name_key, ts, lead],
            ).fetchall()[0][0]

    contact = contact_matched = None
    contact_account = account
    if person:
        found = None
        if mail_key is not None:
            found = first(
                con.execute(
                    "SELECT contact_id, account_id FROM contacts WHERE email_key = ? ORDER BY contact_id LIMIT 1",
                    [mail_key],
                )
            )
        contact_matched = found is not None
        if found is not None:
            contact, contact_account = found
        else:
            contact = con.execute(
                """INSERT INTO contacts (contact_id, account_id, first_name, last_name, email, email_key, phone,
                                         job_title, created_at, lead_id)
                   SELECT coalesce(max(contact_id), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM contacts
                   RETURNING contact_id""",
                [account, first_name, last_name, email, mail_key, phone, job_title, ts, lead],
            ).fetchall()[0][0]

    opportunity = None
    if flags["create_opportunity"]:
        opportunity = con.execute(
            f"""INSERT INTO opportunities (opportunity_id, lead_id, account_id, contact_id, topic, owner, source,
                                           estimated_value, probability, price_list_id, created_at, state, status)
                SELECT coalesce(max(opportunity_id), 0) + 1, ?, ?, ?, ?, ?, ?, ?, {DEFAULT_PROBABILITY},
                       (SELECT price_list_id FROM price_lists WHERE is_default), ?, 'open', 'in_progress'
                FROM opportunities RETURNING opportunity_id""",
            [lead, account if account is not None else contact_account, contact, topic, owner, source, value, ts],
        ).fetchall()[0][0]
        machine.created(con, journal, "opportunity", opportunity, "open", "in_progress", ts, actor)
    machine.apply(
        con,
        "lead",
        "qualify",
        [lead],
        at=ts,
        actor=actor,
        values={"account_id": account, "contact_id": contact, "opportunity_id": opportunity},
        stamp="closed_at",
        journal=journal,
        current={lead: (state, status)},
    )
    journal.write(con)
    return Qualification(
        lead_id=lead,
        account_id=account,
        contact_id=contact,
        opportunity_id=opportunity,
        account_matched=bool(account_matched),
        contact_matched=bool(contact_matched),
    )


def qualify_many(
    db: Database,
    ids: Sequence[int] | np.ndarray,
    *,
    create_account: bool = True,
    create_contact: bool = True,
    create_opportunity: bool = True,
    at: object = None,
    actor: str | None = None,
) -> pd.DataFrame:
    """Qualify many open leads in one set-based transaction (all or none).

    Returns one row per lead: lead_id, account_id, contact_id, opportunity_id,
    account_matched, contact_matched. `at` is one datetime or one per lead.
    """
    ids = check.idents(ids, "ids")
    flags = {
        "create_account": check.flag(create_account, "create_account"),
        "create_contact": check.flag(create_contact, "create_contact"),
        "create_opportunity": check.flag(create_opportunity, "create_opportunity"),
    }
    frame = pd.DataFrame({"lead_id": np.asarray(ids, dtype=np.int64), "ts": machine.at_column(at, len(ids))})
    with db.transaction() as con, registered(con, "_qualify_in", frame):
        result = _qualify(con, flags, actor, ids)
        machine.apply(
            con,
            "lead",
            "qualify",
            result["lead_id"].to_numpy(),
            at=result["ts"].to_numpy(),
            actor=actor,
            values={c: result[c].astype("Int64").array for c in ("account_id", "contact_id", "opportunity_id")},
            stamp="closed_at",
            checked=True,
        )
    return result.drop(columns=["ts"])


def _qualify(
    con: duckdb.DuckDBPyConnection, flags: dict[str, bool], actor: str | None, ids: Sequence[int]
) -> pd.DataFrame:
    """The set-based core of qualification over the registered `_qualify_in` (lead_id, ts).

    Matching keys are nulled where a create_* flag is off, so one pipeline serves every case.
    The first lead of the batch with a new company (or email) creates the account (or contact);
    the others, like leads matching records that existed before, report it as matched.
    """
    name_key = "company_key(l.company)" if flags["create_account"] else "NULL::VARCHAR"
    person = "coalesce(l.last_name, l.first_name) IS NOT NULL" if flags["create_contact"] else "false"
    found = con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _q AS
            WITH l AS MATERIALIZED (
                SELECT l.lead_id, l.first_name, l.last_name, l.email, l.phone, l.job_title, l.company, l.topic,
                       l.source, l.owner, l.estimated_value, i.ts, {name_key} AS name_key,
                       CASE WHEN {person} THEN email_key(l.email) END AS mail_key, {person} AS person
                FROM _qualify_in i JOIN leads l ON l.lead_id = i.lead_id AND l.state = 'open'
            )
            SELECT l.*, ea.account_id AS old_account_id, ec.contact_id AS old_contact_id,
                   min(l.lead_id) OVER (PARTITION BY l.name_key) AS account_creator,
                   min(l.lead_id) OVER (PARTITION BY l.mail_key) AS contact_creator
            FROM l
            LEFT JOIN (SELECT name_key, min(account_id) AS account_id FROM accounts
                       WHERE name_key IN (SELECT name_key FROM l) GROUP BY name_key) ea ON ea.name_key = l.name_key
            LEFT JOIN (SELECT email_key, min(contact_id) AS contact_id FROM contacts
                       WHERE email_key IN (SELECT mail_key FROM l) GROUP BY email_key) ec ON ec.email_key = l.mail_key"""
    ).fetchall()[0][0]
    if found != len(ids):  # some lead is missing or not open: say which, precisely
        machine.require(con, "lead", "qualify", ids)
    con.execute(
        f"""INSERT INTO accounts (account_id, name, name_key, created_at, lead_id)
           SELECT {new_id("accounts", "account_id", "lead_id")}, trim(company), name_key, ts, lead_id FROM _q
           WHERE name_key IS NOT NULL AND old_account_id IS NULL AND lead_id = account_creator"""
    )
    new_account = """LEFT JOIN accounts na ON q.old_account_id IS NULL AND na.lead_id = q.account_creator
                     AND na.name_key = q.name_key"""
    con.execute(
        f"""INSERT INTO contacts (contact_id, account_id, first_name, last_name, email, email_key, phone,
                                  job_title, created_at, lead_id)
            SELECT {new_id("contacts", "contact_id", "q.lead_id")}, coalesce(q.old_account_id, na.account_id), q.first_name, q.last_name,
                   q.email, q.mail_key, q.phone, q.job_title, q.ts, q.lead_id
            FROM _q q {new_account}
            WHERE q.person AND q.old_contact_id IS NULL AND (q.mail_key IS NULL OR q.lead_id = q.contact_creator)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _qr AS
            SELECT q.lead_id, q.ts, q.topic, q.owner, q.source, q.estimated_value,
                   coalesce(q.old_account_id, na.account_id) AS account_id,
                   coalesce(q.old_contact_id, nc.contact_id) AS contact_id,
                   q.old_account_id IS NOT NULL OR (na.account_id IS NOT NULL AND q.account_creator <> q.lead_id)
                       AS account_matched,
                   q.old_contact_id IS NOT NULL OR (nc.contact_id IS NOT NULL AND nc.lead_id <> q.lead_id)
                       AS contact_matched
            FROM _q q {new_account}
            LEFT JOIN contacts nc ON q.person AND q.old_contact_id IS NULL
                 AND nc.lead_id = CASE WHEN q.mail_key IS NULL THEN q.lead_id ELSE q.contact_creator END"""
    )
    if flags["create_opportunity"]:
        con.execute(
            f"""INSERT INTO opportunities (opportunity_id, lead_id, account_id, contact_id, topic, owner, source,
                                           estimated_value, probability, price_list_id, created_at, state, status)
                SELECT {new_id("opportunities", "opportunity_id", "r.lead_id")}, r.lead_id, coalesce(r.account_id, c.account_id), r.contact_id,
                       r.topic, r.owner, r.source, r.estimated_value, {DEFAULT_PROBABILITY},
                       (SELECT price_list_id FROM price_lists WHERE is_default), r.ts, 'open', 'in_progress'
                FROM _qr r LEFT JOIN contacts c ON c.contact_id = r.contact_id"""
        )
        opps = "LEFT JOIN opportunities o ON o.lead_id = r.lead_id"
        machine.record_creation(
            con,
            "opportunity",
            f"SELECT o.opportunity_id AS id, o.state, o.status, o.created_at AS ts FROM _qr r {opps.replace('LEFT ', '')}",
            actor=actor,
        )
    else:
        opps = "LEFT JOIN (SELECT NULL::BIGINT AS opportunity_id) o ON false"
    return con.execute(
        f"""SELECT r.lead_id, r.account_id, r.contact_id, o.opportunity_id,
                   coalesce(r.account_matched, false) AS account_matched,
                   coalesce(r.contact_matched, false) AS contact_matched, r.ts
            FROM _qr r {opps} ORDER BY r.lead_id"""
    ).df()


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
    reactivate_many(db, [check.ident(lead, "lead")], at=at, actor=actor)


def reactivate_many(
    db: Database, ids: Sequence[int] | np.ndarray, *, at: object = None, actor: str | None = None
) -> None:
    """Reopen many disqualified leads."""
    ids = check.idents(ids, "ids")
    with db.transaction() as con:
        machine.apply(con, "lead", "reactivate", ids, at=at, actor=actor, values={"closed_at": None})


def get(db: Database, lead: int) -> dict:
    """One lead as a dict (NotFound if it does not exist)."""
    lead = check.ident(lead, "lead")
    df = db.sql("SELECT * FROM leads WHERE lead_id = ?", [lead])
    if df.empty:
        raise NotFound("lead", lead)
    return df.iloc[0].to_dict()
