"""Importing accounts, contacts and leads.

Accounts and contacts have no state machine: they are inserted or updated. Leads are created
open at created_at (events and lead_stages as `leads.create_many` writes them) and then qualified
or disqualified through the bulk transitions at closed_at; a converted lead is qualified into the
account, contact and opportunity the CRM converted it to (imported before it, found by their CRM
ids), and that opportunity points back to it, as qualification leaves them.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from .. import history, leads, machine
from . import refs
from .batch import Batch, new_ids, refresh_lead_stages
from .deals import Context

NAME_KEY = "coalesce(company_key({0}), lower(trim({0})))"  # an account needs a key, even "Inc."
LEAD_FIELDS = (*leads.TEXT_FIELDS, "estimated_value")
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "job_title", "account_id")
TABLES = {"accounts": "_acc", "contacts": "_con", "leads": "_lead"}


def _counts(con: duckdb.DuckDBPyConnection, table: str, target: str, key: str, changed: str) -> dict[str, int]:
    created, updated, unchanged = con.execute(
        f"""SELECT count(*) FILTER (WHERE t.record_id IS NULL),
                   count(*) FILTER (WHERE t.record_id IS NOT NULL AND ({changed})),
                   count(*) FILTER (WHERE t.record_id IS NOT NULL AND NOT ({changed}))
            FROM {table} t LEFT JOIN {target} o ON o.{key} = t.record_id"""
    ).fetchall()[0]
    return {"created": int(created), "updated": int(updated), "unchanged": int(unchanged)}


def _differs(ctx: Context, names: tuple[str, ...], sources: dict[str, tuple[str, ...]] | None = None) -> str:
    sources = sources or {}
    parts = ["false"]
    for name in names:
        if any(s in ctx.mapped for s in sources.get(name, (name,))):
            value = f"t.{name}::DECIMAL(18,2)" if name == "estimated_value" else f"t.{name}"
            parts.append(f"{value} IS DISTINCT FROM o.{name}")
    return " OR ".join(parts)


def _sets(ctx: Context, names: tuple[str, ...], sources: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    sources = sources or {}
    return [
        f"{name} = u.{name}" + ("::DECIMAL(18,2)" if name == "estimated_value" else "")
        for name in names
        if any(s in ctx.mapped for s in sources.get(name, (name,)))
    ]


# -- accounts ------------------------------------------------------------------------------------


def check_accounts(con: duckdb.DuckDBPyConnection, ctx: Context) -> list:
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _acc AS SELECT i.*, k.record_id FROM _in i
            {refs.by_key(con, "i", "external_id", ctx.system, "account", "k")}"""
    )
    return []


def count_accounts(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, int]:
    return _counts(con, "_acc", "accounts", "account_id", _differs(ctx, ("name",)))


def write_accounts(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, int]:
    batch = ctx.batch
    result = count_accounts(con, ctx)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _acc_new AS
            SELECT {new_ids(con, "_acc", "accounts", "account_id")} AS id, *
            FROM _acc WHERE record_id IS NULL"""
    )
    con.execute(
        f"""INSERT INTO accounts (account_id, name, name_key, created_at, lead_id)
            SELECT id, name, {NAME_KEY.format("name")}, created_at, NULL FROM _acc_new"""
    )
    batch.keyed("account", "SELECT external_id, id FROM _acc_new")
    batch.created("account", "SELECT id FROM _acc_new")
    changed = _differs(ctx, ("name",))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _acc_upd AS SELECT t.* FROM _acc t
            JOIN accounts o ON o.account_id = t.record_id WHERE {changed}"""
    )
    batch.updating("account", "SELECT record_id AS id FROM _acc_upd")
    con.execute(
        f"""UPDATE accounts SET name = u.name, name_key = {NAME_KEY.format("u.name")}
            FROM _acc_upd u WHERE accounts.account_id = u.record_id"""
    )
    return result


# -- contacts ------------------------------------------------------------------------------------


def check_contacts(con: duckdb.DuckDBPyConnection, ctx: Context) -> list:
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _con AS SELECT i.*, k.record_id, ak.record_id AS key_account FROM _in i
            {refs.by_key(con, "i", "external_id", ctx.system, "contact", "k")}
            {refs.by_key(con, "i", "account_external_id", ctx.system, "account", "ak")}"""
    )
    refs.match_accounts(con, "_con")
    problems = refs.unresolved(
        con, "_con", "account_external_id", "key_account", "account", "accounts", "account_external_id"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _con AS SELECT *, coalesce(key_account, name_account) AS account_id FROM _con"
    )
    return problems


def count_contacts(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, int]:
    changed = _differs(ctx, CONTACT_FIELDS, {"account_id": ("account", "account_external_id")})
    return _counts(con, "_con", "contacts", "contact_id", changed)


def write_contacts(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, int]:
    batch = ctx.batch
    result = count_contacts(con, ctx)
    result["accounts_created"] = refs.create_named_accounts(con, "_con", batch, "created_at")
    con.execute("UPDATE _con SET account_id = name_account WHERE account_id IS NULL AND name_account IS NOT NULL")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _con_new AS
           SELECT {new_ids(con, "_con", "contacts", "contact_id")} AS id, *
           FROM _con WHERE record_id IS NULL"""
    )
    con.execute(
        """INSERT INTO contacts (contact_id, account_id, first_name, last_name, email, email_key, phone, job_title,
                                 created_at, lead_id)
           SELECT id, account_id, first_name, last_name, email, email_key(email), phone, job_title, created_at, NULL
           FROM _con_new"""
    )
    batch.keyed("contact", "SELECT external_id, id FROM _con_new")
    batch.created("contact", "SELECT id FROM _con_new")
    sources = {"account_id": ("account", "account_external_id")}
    changed = _differs(ctx, CONTACT_FIELDS, sources)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _con_upd AS SELECT t.* FROM _con t
            JOIN contacts o ON o.contact_id = t.record_id WHERE {changed}"""
    )
    batch.updating("contact", "SELECT record_id AS id FROM _con_upd")
    sets = _sets(ctx, CONTACT_FIELDS, sources)
    if "email" in ctx.mapped:
        sets.append("email_key = email_key(u.email)")
    if sets:
        con.execute(f"UPDATE contacts SET {', '.join(sets)} FROM _con_upd u WHERE contacts.contact_id = u.record_id")
    return result


# -- leads ---------------------------------------------------------------------------------------


def check_leads(con: duckdb.DuckDBPyConnection, ctx: Context) -> list:
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _lead AS
            SELECT i.*, k.record_id, ak.record_id AS account_id, ck.record_id AS contact_id,
                   ok.record_id AS opportunity_id
            FROM _in i
            {refs.by_key(con, "i", "external_id", ctx.system, "lead", "k")}
            {refs.by_key(con, "i", "account_external_id", ctx.system, "account", "ak")}
            {refs.by_key(con, "i", "contact_external_id", ctx.system, "contact", "ck")}
            {refs.by_key(con, "i", "opportunity_external_id", ctx.system, "opportunity", "ok")}"""
    )
    problems = []
    for column, resolved, what in (
        ("account_external_id", "account_id", "account"),
        ("contact_external_id", "contact_id", "contact"),
        ("opportunity_external_id", "opportunity_id", "opportunity"),
    ):
        problems += refs.unresolved(con, "_lead", column, resolved, f"converted {what}", f"{what}s", column)
    rows = con.execute(
        """SELECT _i FROM _lead WHERE state = 'qualified' AND account_id IS NULL AND contact_id IS NULL
           AND opportunity_id IS NULL AND account_external_id IS NULL AND contact_external_id IS NULL
           AND opportunity_external_id IS NULL ORDER BY _i"""
    ).fetchall()
    problems += [
        (
            i,
            "stage",
            "the lead is qualified (converted) but names no account, contact or opportunity it was "
            "converted to: map the converted ids, or import it as open or disqualified",
        )
        for (i,) in rows
    ]
    taken = con.execute(
        """SELECT t._i, t.opportunity_id, o.lead_id,
                  row_number() OVER (PARTITION BY t.opportunity_id ORDER BY t._i) AS n
           FROM _lead t JOIN opportunities o ON o.opportunity_id = t.opportunity_id
           WHERE t.state = 'qualified'
           QUALIFY (o.lead_id IS NOT NULL AND o.lead_id IS DISTINCT FROM t.record_id) OR n > 1"""
    ).fetchall()
    problems += [
        (
            i,
            "opportunity_external_id",
            f"opportunity {opp} was converted from another lead already" + (f" (lead {lead})" if lead else ""),
        )
        for i, opp, lead, _ in taken
    ]
    problems += _lead_moves(con, ctx)
    return problems


def _lead_moves(con: duckdb.DuckDBPyConnection, ctx: Context) -> list:
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _lead_move AS
           SELECT t._i, t.record_id, o.state AS was, t.state AS now, coalesce(o.changed_at, o.created_at) AS last,
                  o.closed_at AS was_closed, t.closed_at,
                  CASE WHEN o.state = t.state THEN NULL
                       WHEN o.state = 'open' THEN t.state
                       WHEN o.state = 'disqualified' AND t.state = 'open' THEN 'reactivate'
                       WHEN o.state = 'disqualified' AND t.state = 'qualified' THEN 'reactivate_qualify'
                       ELSE 'refused' END AS move
           FROM _lead t JOIN leads o ON o.lead_id = t.record_id"""
    )
    rows = con.execute(
        """SELECT _i, move, was, now, last, was_closed, closed_at FROM _lead_move
           WHERE move = 'refused' OR (move IS NULL AND was <> 'open' AND closed_at IS DISTINCT FROM was_closed)
              OR (move IN ('qualified', 'disqualified', 'reactivate_qualify') AND closed_at < last)
              OR (move = 'reactivate' AND ?::TIMESTAMP < last)""",
        [ctx.at],
    ).fetchall()
    out = []
    for i, move, was, now, last, was_closed, closed_at in rows:
        if move == "refused":
            out.append((i, "stage", f"the lead is {was} in salespipe and {now} in the file: {was} is final"))
        elif move is None:
            out.append(
                (
                    i,
                    "closed_at",
                    f"closed_at {closed_at} differs from {was_closed}, when it became {was}: "
                    "a closed lead's history is fixed; undo the batch that imported it and import again",
                )
            )
        else:
            out.append((i, "closed_at", f"moving it to {now} is dated before its last change in salespipe ({last})"))
    return out


def _lead_changed(ctx: Context) -> str:
    return _differs(ctx, LEAD_FIELDS) + " OR m.move IS NOT NULL"


def count_leads(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, int]:
    changed = _lead_changed(ctx)
    created, updated, unchanged = con.execute(
        f"""SELECT count(*) FILTER (WHERE t.record_id IS NULL),
                   count(*) FILTER (WHERE t.record_id IS NOT NULL AND ({changed})),
                   count(*) FILTER (WHERE t.record_id IS NOT NULL AND NOT ({changed}))
            FROM _lead t LEFT JOIN leads o ON o.lead_id = t.record_id LEFT JOIN _lead_move m ON m._i = t._i"""
    ).fetchall()[0]
    return {"created": int(created), "updated": int(updated), "unchanged": int(unchanged)}


def write_leads(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, int]:
    batch = ctx.batch
    result = count_leads(con, ctx)
    columns = ", ".join(leads.TEXT_FIELDS)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _lead_new AS
            SELECT {new_ids(con, "_lead", "leads", "lead_id")} AS lead_id, *
            FROM _lead WHERE record_id IS NULL"""
    )
    # leads.create_many's insert, for rows checked as it checks them (salespipe/leads.py, _create)
    con.execute(
        f"""INSERT INTO leads (lead_id, {columns}, estimated_value, created_at, state, status)
            SELECT lead_id, {columns}, estimated_value::DECIMAL(18,2), created_at, 'open',
                   CASE WHEN state = 'open' THEN status ELSE 'new' END
            FROM _lead_new"""
    )
    machine.record_creation(
        con,
        "lead",
        "SELECT lead_id AS id, 'open' AS state, CASE WHEN state = 'open' THEN status ELSE 'new' END AS status, "
        "created_at AS ts FROM _lead_new",
        actor=ctx.actor,
    )
    batch.keyed("lead", "SELECT external_id, lead_id AS id FROM _lead_new")
    batch.created("lead", "SELECT lead_id AS id FROM _lead_new")
    changed = _lead_changed(ctx)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _lead_upd AS
            SELECT t.*, m.move FROM _lead t JOIN leads o ON o.lead_id = t.record_id
            LEFT JOIN _lead_move m ON m._i = t._i WHERE {changed}"""
    )
    batch.updating("lead", "SELECT record_id AS id FROM _lead_upd")
    sets = _sets(ctx, LEAD_FIELDS)
    if sets:
        history.snapshot(con, "lead", "SELECT record_id AS id FROM _lead_upd")
        con.execute(f"UPDATE leads SET {', '.join(sets)} FROM _lead_upd u WHERE leads.lead_id = u.record_id")
        history.record_snapshot(con, "lead", ctx.at, ctx.actor)
    react = con.execute(
        """SELECT record_id, CASE WHEN move = 'reactivate' THEN ?::TIMESTAMP ELSE closed_at END FROM _lead_upd
           WHERE move IN ('reactivate', 'reactivate_qualify') ORDER BY record_id""",
        [ctx.at],
    ).fetchall()
    if react:
        machine.apply(
            con,
            "lead",
            "reactivate",
            [r[0] for r in react],
            at=np.array([r[1] for r in react], dtype="datetime64[us]"),
            actor=ctx.actor,
            values={"closed_at": None},
        )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _lead_close AS
           SELECT lead_id AS id, * EXCLUDE (lead_id) FROM _lead_new WHERE state <> 'open'
           UNION ALL BY NAME
           SELECT record_id AS id, * EXCLUDE (move) FROM _lead_upd
           WHERE move IN ('qualified', 'disqualified', 'reactivate_qualify')"""
    )
    _close_leads(con, ctx, batch)
    # the transitions kept lead_stages current; a lead linked to a deal with a history of its own is rebuilt
    # from the base tables, and so is one whose owner or source changed
    refresh_lead_stages(
        con, "SELECT id AS lead_id FROM _lead_close WHERE state = 'qualified' UNION ALL SELECT record_id FROM _lead_upd"
    )
    return result


def _close_leads(con: duckdb.DuckDBPyConnection, ctx: Context, batch: Batch) -> None:
    qualify = con.execute(
        """SELECT id, closed_at, account_id, contact_id, opportunity_id FROM _lead_close
           WHERE state = 'qualified' ORDER BY id"""
    ).fetchall()
    if qualify:
        batch.updating("opportunity", "SELECT opportunity_id AS id FROM _lead_close WHERE state = 'qualified'")
        con.execute(
            """UPDATE opportunities SET lead_id = c.id FROM _lead_close c
               WHERE c.state = 'qualified' AND opportunities.opportunity_id = c.opportunity_id"""
        )
        machine.apply(
            con,
            "lead",
            "qualify",
            [r[0] for r in qualify],
            at=np.array([r[1] for r in qualify], dtype="datetime64[us]"),
            actor=ctx.actor,
            values={
                name: pd.array([r[k] for r in qualify], dtype="Int64")
                for k, name in ((2, "account_id"), (3, "contact_id"), (4, "opportunity_id"))
            },
            stamp="closed_at",
        )
    lost = con.execute(
        "SELECT id, status, closed_at, lost_reason FROM _lead_close WHERE state = 'disqualified' ORDER BY id"
    ).fetchall()
    if lost:
        machine.apply(
            con,
            "lead",
            "disqualify",
            [r[0] for r in lost],
            to=[r[1] for r in lost],
            at=np.array([r[2] for r in lost], dtype="datetime64[us]"),
            actor=ctx.actor,
            stamp="closed_at",
        )
        reasons = [(r[0], r[3]) for r in lost if r[3]]
        if reasons:
            con.execute(
                """UPDATE events SET note = 'lost reason: ' || r.reason
                   FROM (SELECT unnest(?::BIGINT[]) AS id, unnest(?::VARCHAR[]) AS reason) r
                   WHERE events.entity = 'lead' AND events.entity_id = r.id AND events.action = 'disqualify'
                     AND events.event_id > ?""",
                [[r[0] for r in reasons], [r[1] for r in reasons], batch.first_event],
            )
