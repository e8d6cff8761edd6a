"""Importing opportunities: new ones are created open at created_at and closed through the bulk
transitions at closed_at (close_won without quotes, close_lost with its reason and competitor), so
events and lead_stages are written as for any deal; known ones (same CRM, same id) update their
fields and move through the real transition when the CRM moved them on.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from .. import history, machine, opportunities
from . import refs
from .batch import Batch, new_ids

FIELDS = ("topic", "owner", "source", "estimated_value", "account_id", "contact_id")


@dataclass
class Context:
    """What a kind's check and write need besides the connection."""

    system: str
    mapped: set[str]
    at: object  # the import's own time (naive UTC datetime): reopenings and missing times
    actor: str | None
    batch: Batch | None = None


TABLE = "_opp"  # the working table of check and write: one row per valid row of the file (_i)
SOURCES = {"account_id": ("account", "account_external_id"), "contact_id": ("contact", "contact_external_id")}


def mapped(ctx: Context, name: str) -> bool:
    """Whether the file gives this opportunity column (an id column through either of its references)."""
    return any(s in ctx.mapped for s in SOURCES.get(name, (name,)))


def _keys(con: duckdb.DuckDBPyConnection, ctx: Context) -> None:
    """_opp: the rows of _in with their record (if the CRM id is known) and resolved references."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _opp AS
            SELECT i.*, k.record_id, ak.record_id AS key_account, ck.record_id AS key_contact
            FROM _in i
            {refs.by_key(con, "i", "external_id", ctx.system, "opportunity", "k")}
            {refs.by_key(con, "i", "account_external_id", ctx.system, "account", "ak")}
            {refs.by_key(con, "i", "contact_external_id", ctx.system, "contact", "ck")}"""
    )
    refs.match_accounts(con, "_opp")
    refs.match_contacts(con, "_opp")


def check(con: duckdb.DuckDBPyConnection, ctx: Context) -> list[tuple[int, str, str]]:
    """Problems only the database shows, and what would happen: rows to create, update, leave unchanged."""
    _keys(con, ctx)
    problems = refs.unresolved(
        con, "_opp", "account_external_id", "key_account", "account", "accounts", "account_external_id"
    )
    problems += refs.unresolved(
        con, "_opp", "contact_external_id", "key_contact", "contact", "contacts", "contact_external_id"
    )
    problems += refs.unresolved(con, "_opp", "contact", "name_contact_id", "contact", "contacts", "contact")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _opp AS
           SELECT t.*, coalesce(t.key_account, t.name_account, c.account_id, nc.account_id) AS account_id,
                  coalesce(t.key_contact, t.name_contact_id, t.name_contact) AS contact_id
           FROM _opp t
           LEFT JOIN contacts c ON c.contact_id = t.key_contact
           LEFT JOIN contacts nc ON nc.contact_id = t.name_contact_id"""
    )
    problems += _transitions(con, ctx)
    return problems


def _transitions(con: duckdb.DuckDBPyConnection, ctx: Context) -> list[tuple[int, str, str]]:
    """For known opportunities: the move the file asks for, refused where the state machine or time does."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _move AS
           SELECT t._i, t.record_id, o.state AS was, t.state AS now, o.status AS was_status,
                  coalesce(o.changed_at, o.created_at) AS last_change, o.closed_at AS was_closed,
                  t.closed_at, (SELECT count(*) FROM quotes q WHERE q.opportunity_id = o.opportunity_id
                                AND q.state IN ('draft', 'active')) AS open_quotes,
                  CASE WHEN o.state = t.state THEN NULL
                       WHEN o.state = 'open' AND t.state = 'won' THEN 'close_won'
                       WHEN o.state = 'open' AND t.state = 'lost' THEN 'close_lost'
                       WHEN o.state = 'lost' AND t.state = 'open' THEN 'reopen'
                       WHEN o.state = 'lost' AND t.state = 'won' THEN 'reopen_won'
                       ELSE 'refused' END AS move
           FROM _opp t JOIN opportunities o ON o.opportunity_id = t.record_id"""
    )
    rows = con.execute(
        """SELECT _i, move, was, now, was_status, last_change, was_closed, closed_at, open_quotes FROM _move
           WHERE move = 'refused' OR (move IS NULL AND was <> 'open' AND closed_at IS DISTINCT FROM was_closed)
              OR (move IN ('close_won', 'close_lost', 'reopen_won') AND closed_at < last_change)
              OR (move = 'reopen' AND ?::TIMESTAMP < last_change)
              OR (move IN ('close_won', 'reopen_won') AND open_quotes > 0)
           ORDER BY _i""",
        [ctx.at],
    ).fetchall()
    problems = []
    for i, move, was, now, _status, last, was_closed, closed_at, quotes in rows:
        if move == "refused":
            message = f"the opportunity is {was} in salespipe and {now} in the file: {was} is final"
        elif move is None:
            message = (
                f"closed_at {closed_at} differs from {was_closed}, when salespipe closed it as {was}: a closed deal's "
                "history is fixed; undo the batch that imported it and import again"
            )
        elif quotes:
            message = "it has an open quote in salespipe: win it by ordering the quote (quotes.create_order)"
        else:
            when = ctx.at if move == "reopen" else closed_at
            message = (
                f"moving it to {now} at {when} is before its last change in salespipe ({last}): history runs forward"
            )
        problems.append((i, "stage" if move == "refused" else "closed_at", message))
    return problems


def counts(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, int]:
    """How many rows would create, update or leave unchanged their opportunity (after check)."""
    changed = _changed_sql(ctx)
    created, updated, unchanged = con.execute(
        f"""SELECT count(*) FILTER (WHERE t.record_id IS NULL),
                   count(*) FILTER (WHERE t.record_id IS NOT NULL AND ({changed})),
                   count(*) FILTER (WHERE t.record_id IS NOT NULL AND NOT ({changed}))
            FROM _opp t LEFT JOIN opportunities o ON o.opportunity_id = t.record_id
            LEFT JOIN _move m ON m._i = t._i"""
    ).fetchall()[0]
    return {"created": int(created), "updated": int(updated), "unchanged": int(unchanged)}


def _changed_sql(ctx: Context) -> str:
    """SQL true when a known opportunity's row in the file differs from salespipe's."""
    parts = ["m.move IS NOT NULL"]
    for name in FIELDS:
        if mapped(ctx, name):
            value = f"t.{name}::DECIMAL(18,2)" if name == "estimated_value" else f"t.{name}"
            parts.append(f"{value} IS DISTINCT FROM o.{name}")
    if "probability" in ctx.mapped:
        parts.append(
            "(t.state = 'open' AND o.state = 'open' AND t.probability IS NOT NULL "
            "AND t.probability IS DISTINCT FROM o.probability)"
        )
    if "actual_value" in ctx.mapped:
        parts.append(
            "(t.state = 'won' AND o.state = 'won' AND t.actual_value IS NOT NULL "
            "AND t.actual_value::DECIMAL(18,2) IS DISTINCT FROM o.actual_value)"
        )
    if "competitor" in ctx.mapped:
        parts.append("(t.state = 'lost' AND o.state = 'lost' AND t.competitor IS DISTINCT FROM o.competitor)")
    return " OR ".join(parts)


def write(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, int]:
    """Create the new opportunities, update the known ones; returns the counts."""
    batch = ctx.batch
    assert batch is not None
    result = counts(con, ctx)
    result["accounts_created"] = refs.create_named_accounts(con, "_opp", batch, "created_at")
    con.execute("""UPDATE _opp SET account_id = coalesce(account_id, name_account) WHERE account_id IS NULL""")
    _create(con, ctx, batch)
    _update(con, ctx, batch)
    return result


def _create(con: duckdb.DuckDBPyConnection, ctx: Context, batch: Batch) -> None:
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _opp_new AS
            SELECT {new_ids(con, "_opp", "opportunities", "opportunity_id")} AS opportunity_id,
                   NULL::BIGINT AS lead_id, account_id, contact_id, topic, owner, source, estimated_value,
                   coalesce(probability, {machine.DEFAULT_PROBABILITY}) AS probability, created_at,
                   CASE WHEN state = 'open' THEN status ELSE 'in_progress' END AS status,
                   external_id, state, status AS final_status, closed_at, actual_value, lost_reason, competitor, _i
            FROM _opp WHERE record_id IS NULL"""
    )
    if not con.execute("SELECT count(*) FROM _opp_new").fetchall()[0][0]:
        return
    opportunities.insert_many(con, "_opp_new", actor=ctx.actor)
    batch.keyed("opportunity", "SELECT external_id, opportunity_id AS id FROM _opp_new")
    batch.created("opportunity", "SELECT opportunity_id AS id FROM _opp_new")
    _close(con, ctx, "_opp_new", "opportunity_id")


def _close(con: duckdb.DuckDBPyConnection, ctx: Context, relation: str, key: str) -> None:
    """close_won / close_lost the rows of `relation` whose state is won / lost, at their closed_at."""
    won = con.execute(
        f"SELECT {key}, actual_value, closed_at FROM {relation} WHERE state = 'won' ORDER BY {key}"
    ).fetchall()
    if won:
        ids = [r[0] for r in won]
        values = [None if r[1] is None else Decimal(r[1]) for r in won]
        opportunities._close_won(
            con, ids, values, at=np.array([r[2] for r in won], dtype="datetime64[us]"), actor=ctx.actor
        )
    lost = con.execute(
        f"""SELECT {key}, final_status, competitor, closed_at, lost_reason FROM {relation} WHERE state = 'lost'
            ORDER BY {key}"""
    ).fetchall()
    if lost:
        ids = [r[0] for r in lost]
        opportunities._close_lost(
            con,
            ids,
            [r[1] for r in lost],
            pd.array([r[2] for r in lost], dtype=object),
            at=np.array([r[3] for r in lost], dtype="datetime64[us]"),
            actor=ctx.actor,
        )
        reasons = [(r[0], r[4]) for r in lost if r[4]]
        if reasons:  # the CRM's lost reason goes on the close event's note
            con.execute(
                """UPDATE events SET note = 'lost reason: ' || r.reason
                   FROM (SELECT unnest(?::BIGINT[]) AS id, unnest(?::VARCHAR[]) AS reason) r
                   WHERE events.entity = 'opportunity' AND events.entity_id = r.id AND events.action = 'close_lost'
                     AND events.event_id > ?""",
                [[r[0] for r in reasons], [r[1] for r in reasons], ctx.batch.first_event],
            )


def _update(con: duckdb.DuckDBPyConnection, ctx: Context, batch: Batch) -> None:
    changed = _changed_sql(ctx)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _opp_upd AS
            SELECT t.*, m.move, t.status AS final_status FROM _opp t
            JOIN opportunities o ON o.opportunity_id = t.record_id LEFT JOIN _move m ON m._i = t._i
            WHERE {changed}"""
    )
    if not con.execute("SELECT count(*) FROM _opp_upd").fetchall()[0][0]:
        return
    batch.updating("opportunity", "SELECT record_id AS id FROM _opp_upd")
    sets = []
    for name in FIELDS:
        if mapped(ctx, name):
            sets.append(f"{name} = u.{name}" + ("::DECIMAL(18,2)" if name == "estimated_value" else ""))
    if "probability" in ctx.mapped:
        sets.append(
            "probability = CASE WHEN u.state = 'open' AND opportunities.state = 'open' AND u.probability IS NOT NULL "
            "THEN u.probability ELSE opportunities.probability END"
        )
    if "actual_value" in ctx.mapped:
        sets.append(
            "actual_value = CASE WHEN u.state = 'won' AND opportunities.state = 'won' AND u.actual_value IS NOT NULL "
            "THEN u.actual_value::DECIMAL(18,2) ELSE opportunities.actual_value END"
        )
    if "competitor" in ctx.mapped:
        sets.append(
            "competitor = CASE WHEN u.state = 'lost' AND opportunities.state = 'lost' THEN u.competitor "
            "ELSE opportunities.competitor END"
        )
    if sets:
        history.snapshot(con, "opportunity", "SELECT record_id AS id FROM _opp_upd")
        con.execute(
            f"UPDATE opportunities SET {', '.join(sets)} FROM _opp_upd u WHERE opportunities.opportunity_id = u.record_id"
        )
        history.record_snapshot(con, "opportunity", ctx.at, ctx.actor)
    reopen = [
        r[0]
        for r in con.execute(
            "SELECT record_id FROM _opp_upd WHERE move IN ('reopen', 'reopen_won') ORDER BY 1"
        ).fetchall()
    ]
    if reopen:
        when = con.execute(
            "SELECT CASE WHEN move = 'reopen' THEN ?::TIMESTAMP ELSE closed_at END FROM _opp_upd "
            "WHERE move IN ('reopen', 'reopen_won') ORDER BY record_id",
            [ctx.at],
        ).fetchall()
        stamps = np.array([w[0] for w in when], dtype="datetime64[us]")
        opportunities._probability_moves(con, reopen, machine.DEFAULT_PROBABILITY, stamps, ctx.actor)
        machine.apply(
            con,
            "opportunity",
            "reopen",
            reopen,
            at=stamps,
            actor=ctx.actor,
            values={"closed_at": None, "probability": machine.DEFAULT_PROBABILITY, "competitor": None},
        )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _opp_close AS
           SELECT record_id, state, final_status, competitor, closed_at, actual_value, lost_reason FROM _opp_upd
           WHERE move IN ('close_won', 'close_lost', 'reopen_won')"""
    )
    _close(con, ctx, "_opp_close", "record_id")
