"""The events table, the audit trail: one row per state change, creations included.

A `Journal` collects the events of one transaction and writes them in one INSERT (each INSERT
into `events` costs about as much as the change it records); `record_creation` and `created`
append the creation events of new records and keep lead_stages current for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from . import check, stages
from .statements import new_id


class Journal:
    """Events of one transaction, written by one INSERT: ids follow the order they were added.

    Each INSERT into `events` costs about as much as the change it records; an action that
    makes several changes (create_order: the order, the quote, the opportunity) writes them once.
    """

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def add(
        self,
        entity: str,
        entity_id: int,
        action: str,
        from_state: str | None,
        from_status: str | None,
        to_state: str,
        to_status: str,
        at: object,
        actor: str | None,
        note: str | None = None,
    ) -> None:
        self.rows.append(
            (entity, int(entity_id), action, from_state, from_status, to_state, to_status, at, actor, note)
        )

    def write(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self.rows:
            return
        columns = list(zip(*self.rows, strict=True))
        types = (
            "VARCHAR",
            "BIGINT",
            "VARCHAR",
            "VARCHAR",
            "VARCHAR",
            "VARCHAR",
            "VARCHAR",
            "TIMESTAMP",
            "VARCHAR",
            "VARCHAR",
        )
        unnests = ", ".join(f"unnest(${i + 2}::{t}[]) AS c{i}" for i, t in enumerate(types))
        con.execute(
            f"""INSERT INTO events (event_id, entity, entity_id, action, from_state, from_status,
                                    to_state, to_status, "at", actor, note)
                SELECT (SELECT coalesce(max(event_id), 0) FROM events) + k, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9
                FROM (SELECT unnest($1::BIGINT[]) AS k, {unnests})""",
            [list(range(1, len(self.rows) + 1)), *[list(c) for c in columns]],
        )
        self.rows.clear()


def record_creation(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    source_sql: str,
    params: Sequence[object] | None = None,
    *,
    actor: str | None = None,
) -> None:
    """Append the creation events for new records. source_sql selects (id, state, status, ts)."""
    actor = check.text(actor, "actor")
    follows = stages.follows(entity, "create")
    if follows:  # lead_stages needs the new records too: materialize them once
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _created AS
                SELECT s.id, s.ts, s.state AS to_state, s.status AS to_status FROM ({source_sql}) s""",
            list(params or []),
        )
        source, args = "_created", [actor]
    else:
        source = f"(SELECT s.id, s.ts, s.state AS to_state, s.status AS to_status FROM ({source_sql}) s)"
        args = [actor, *(params or [])]
    con.execute(
        f"""INSERT INTO events (event_id, entity, entity_id, action, from_state, from_status,
                                to_state, to_status, "at", actor, note)
            SELECT {new_id("events", "event_id", "s.id")}, '{entity}', s.id, 'create', NULL, NULL,
                   s.to_state, s.to_status, s.ts, ?, NULL
            FROM {source} s""",
        args,
    )
    if follows:
        stages.follow(con, entity, "create", "_created")


def created(
    con: duckdb.DuckDBPyConnection,
    journal: Journal,
    entity: str,
    record: int,
    state: str,
    status: str,
    at: object,
    actor: str | None,
) -> None:
    """record_creation for one record whose values the caller holds: its event goes to `journal`."""
    journal.add(entity, record, "create", None, None, state, status, at, actor)
    if stages.follows(entity, "create"):
        stages.follow(con, entity, "create", None, {"id": record, "ts": at, "to_state": state, "to_status": status})
