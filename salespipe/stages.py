"""lead_stages, the funnel's fact table (sql/migrations/0004): kept current by every transition.

Each change updates the stage times of the leads it concerns in the same transaction as the
change itself; `doctor` checks the table against its rebuild from the base tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb

from . import machine
from .statements import bound

# (entity, action) -> the lead_stages columns it moves: (column, rule, only when the record goes
# to this state, or None). "set": the time of the change; "first": the earliest such time;
# "clear": back to NULL. Lead changes also copy the lead's state and links.
STAGE_COLUMNS: dict[tuple[str, str], tuple[tuple[str, str, str | None], ...]] = {
    ("lead", "qualify"): (("qualified_at", "set", None),),
    ("lead", "disqualify"): (("disqualified_at", "set", None),),
    ("lead", "reactivate"): (("disqualified_at", "clear", None),),
    ("quote", "create"): (("quoted_at", "first", None),),
    ("opportunity", "close_won"): (("won_at", "set", None),),
    ("opportunity", "close_lost"): (("lost_at", "set", None),),
    ("opportunity", "reopen"): (("lost_at", "clear", None),),
    # an invoice of nothing to pay is created paid
    ("invoice", "create"): (("invoiced_at", "first", None), ("paid_at", "first", "paid")),
    ("invoice", "record_payment"): (("paid_at", "first", "paid"),),  # when it becomes paid
}


def follows(entity: str, action: str) -> bool:
    """Whether lead_stages moves on this change."""
    return (entity, action) in STAGE_COLUMNS or entity == "lead"


def follow(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    action: str,
    relation: str | None,
    params: Sequence[object] | Mapping[str, object] | None = None,
) -> None:
    """Keep lead_stages current after `action` on the records of `relation` (id, ts, to_state, to_status).

    relation: a table name, or a parenthesized SELECT whose bound values are `params`; or None
    for one record whose id, ts, to_state and to_status are the `params` mapping (point statements).
    """
    one = relation is None
    r = {c: (f"${c}" if one else f"r.{c}") for c in ("id", "ts", "to_state", "to_status")}
    if (entity, action) == ("lead", "create"):
        source = "leads l WHERE l.lead_id = $id" if one else f"{relation} r JOIN leads l ON l.lead_id = r.id"
        bound(
            con,
            f"""INSERT INTO lead_stages (lead_id, owner, source, state, status, created_at)
                SELECT l.lead_id, l.owner, l.source, l.state, l.status, l.created_at FROM {source}""",
            params,
        )
        return
    sets = []
    for column, rule, when in STAGE_COLUMNS.get((entity, action), ()):
        value = (
            "NULL"
            if rule == "clear"
            else r["ts"]
            if rule == "set"
            else f"coalesce(least(lead_stages.{column}, {r['ts']}), {r['ts']})"
        )
        if when:  # only for the records the change took to this state
            value = f"CASE WHEN {r['to_state']} = '{when}' THEN {value} ELSE lead_stages.{column} END"
        sets.append(f"{column} = {value}")
    if entity == "lead":
        sets += [
            f"state = {r['to_state']}",
            f"status = {r['to_status']}",
            "opportunity_id = l.opportunity_id",
            "account_id = l.account_id",
        ]
        source = (
            "leads l WHERE l.lead_id = $id AND lead_stages.lead_id = $id"
            if one
            else f"{relation} r JOIN leads l ON l.lead_id = r.id WHERE lead_stages.lead_id = r.id"
        )
        bound(con, f"UPDATE lead_stages SET {', '.join(sets)} FROM {source}", params)
        return
    if not sets:
        return
    table, key = machine.TABLES[entity]
    if entity == "opportunity":
        source = (
            " WHERE lead_stages.opportunity_id = $id"
            if one
            else f" FROM {relation} r WHERE lead_stages.opportunity_id = r.id"
        )
    elif one:
        source = f" FROM {table} e WHERE e.{key} = $id AND lead_stages.opportunity_id = e.opportunity_id"
    else:
        source = (
            f" FROM {relation} r JOIN {table} e ON e.{key} = r.id WHERE lead_stages.opportunity_id = e.opportunity_id"
        )
    bound(con, f"UPDATE lead_stages SET {', '.join(sets)}{source}", params)
