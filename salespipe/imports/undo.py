"""Undoing an import batch: the records it created are removed, the ones it updated restored from
their `before` image, its events removed and the events it replaced put back, in one transaction.

A record changed since the batch (its row differs from what the batch left, an event came after,
or another record now points to one the batch created) is not undone silently: the undo is
refused with the list, and says what to undo first.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from .. import check, facts
from ..db import Database
from ..errors import NotFound, ValidationError
from .batch import TABLES, drop_temp_tables, forget_stays, refresh_lead_stages

# entity -> (table, column) pairs that point at a record of it
POINTERS = {
    "account": (("contacts", "account_id"), ("opportunities", "account_id"), ("leads", "account_id")),
    "contact": (("opportunities", "contact_id"), ("leads", "contact_id")),
    "opportunity": (("leads", "opportunity_id"), ("quotes", "opportunity_id")),
    "lead": (("opportunities", "lead_id"), ("accounts", "lead_id"), ("contacts", "lead_id")),
}
KEYS = {
    "contacts": "contact_id",
    "opportunities": "opportunity_id",
    "leads": "lead_id",
    "accounts": "account_id",
    "quotes": "quote_id",
}
ENTITY_OF = {
    "contacts": "contact",
    "opportunities": "opportunity",
    "leads": "lead",
    "accounts": "account",
    "quotes": "quote",
}


@dataclass(frozen=True)
class Undone:
    """What undo did: the batch, records removed and restored, events removed and put back."""

    batch_id: int
    removed: int
    restored: int
    events_removed: int
    events_restored: int

    def __str__(self) -> str:
        return (
            f"batch {self.batch_id} undone: {self.removed:,} records removed, {self.restored:,} restored, "
            f"{self.events_removed:,} events removed, {self.events_restored:,} put back"
        )


def batches(db: Database) -> pd.DataFrame:
    """Every import batch, newest first: batch_id, kind, system, file, imported_at, the counts, undone_at."""
    db = check.database(db)
    return db.sql(
        """SELECT batch_id, kind, system, file, mapping, imported_at, rows_read, created, updated, unchanged,
                  skipped, rejected, undone_at FROM import_batches ORDER BY batch_id DESC"""
    )


def _changed(con: duckdb.DuckDBPyConnection, batch: int, last_event: int) -> list[tuple[str, int, str]]:
    """(entity, id, why) for every record of the batch that changed since it."""
    found: list[tuple[str, int, str]] = []
    for entity, (table, key) in TABLES.items():
        found += con.execute(
            f"""SELECT c.entity, c.record_id,
                       CASE WHEN t.{key} IS NULL THEN 'it was deleted since'
                            ELSE 'its row differs from what batch ' || c.batch_id || ' left'
                                 || coalesce(' (batch ' || (SELECT min(l.batch_id) FROM import_changes l
                                    JOIN import_batches b ON b.batch_id = l.batch_id AND b.undone_at IS NULL
                                    WHERE l.batch_id > c.batch_id AND l.entity = c.entity
                                    AND l.record_id = c.record_id) || ' changed it: undo that one first)', '') END
                FROM import_changes c LEFT JOIN {table} t ON t.{key} = c.record_id
                WHERE c.batch_id = ? AND c.entity = '{entity}' AND (t.{key} IS NULL OR hash(t) <> c.after_hash)""",
            [batch],
        ).fetchall()
    found += con.execute(
        """SELECT DISTINCT c.entity, c.record_id, 'it has events after the batch (' || e.action || ' at '
                  || e."at" || ')'
           FROM import_changes c JOIN events e ON e.entity = c.entity AND e.entity_id = c.record_id
           WHERE c.batch_id = ? AND e.event_id > ?""",
        [batch, last_event],
    ).fetchall()
    for entity, pointers in POINTERS.items():
        for table, column in pointers:
            found += con.execute(
                f"""SELECT c.entity, c.record_id, '{ENTITY_OF[table]} ' || p.{KEYS[table]} || ' points to it'
                           || coalesce(' (batch ' || (SELECT max(l.batch_id) FROM import_changes l
                              JOIN import_batches b ON b.batch_id = l.batch_id AND b.undone_at IS NULL
                              WHERE l.entity = '{ENTITY_OF[table]}' AND l.record_id = p.{KEYS[table]}
                                AND l.batch_id > c.batch_id) || ': undo that one first)', '')
                    FROM import_changes c JOIN {table} p ON p.{column} = c.record_id
                    WHERE c.batch_id = ? AND c.entity = '{entity}' AND c.change = 'created'
                      AND NOT EXISTS (SELECT 1 FROM import_changes o WHERE o.batch_id = c.batch_id
                                      AND o.entity = '{ENTITY_OF[table]}' AND o.record_id = p.{KEYS[table]})
                    LIMIT 1000""",
                [batch],
            ).fetchall()
    return sorted(set(found))


def undo(db: Database, batch: int) -> Undone:
    """Undo import batch `batch` (see `batches`): all of it, or nothing and a list of what changed since."""
    db = check.database(db)
    batch = check.ident(batch, "batch")
    with db.transaction() as con:
        try:
            return _undo(con, batch)
        finally:
            drop_temp_tables(con)


def _undo(con: duckdb.DuckDBPyConnection, batch: int) -> Undone:
    """undo inside its transaction."""
    row = con.execute(
        """SELECT first_event_id, last_event_id, undone_at, first_change_id, last_change_id FROM import_batches
           WHERE batch_id = ?""",
        [batch],
    ).fetchall()
    if not row:
        raise NotFound("import batch", batch, hint="`salespipe import list` shows the batches")
    first_event, last_event, undone_at, first_change, last_change = row[0]
    if undone_at is not None:
        raise ValidationError(f"batch {batch} was undone already (at {undone_at})", field="batch", value=batch)
    changed = _changed(con, batch, last_event)
    if changed:
        shown = "; ".join(f"{e} {i}: {why}" for e, i, why in changed[:5])
        more = f" (and {len(changed) - 5:,} more)" if len(changed) > 5 else ""
        raise ValidationError(
            f"batch {batch} cannot be undone: {len(changed):,} of its records changed since it ran: {shown}{more}. "
            "Nothing was changed",
            field="batch",
            value=batch,
            failures=[(i, e, why) for e, i, why in changed],
        )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _undo AS SELECT entity, record_id, change, before FROM import_changes
           WHERE batch_id = ?""",
        [batch],
    )
    events_removed = con.execute(
        "DELETE FROM events WHERE event_id > ? AND event_id <= ?", [first_event, last_event]
    ).fetchall()[0][0]
    restored_events = _restore(con, batch, "events", "import_replaced_events", "event")
    if last_change is not None:  # the field changes it wrote (batches of schema v10 and later), and replaced
        con.execute("DELETE FROM field_changes WHERE change_id > ? AND change_id <= ?", [first_change, last_change])
        _restore(con, batch, "field_changes", "import_replaced_field_changes", "change")
    restored = removed = 0
    leads = "SELECT record_id AS lead_id FROM _undo WHERE entity = 'lead'"
    for entity, (table, key) in TABLES.items():
        removed += con.execute(
            f"""DELETE FROM {table} WHERE {key} IN
                (SELECT record_id FROM _undo WHERE entity = '{entity}' AND change = 'created')"""
        ).fetchall()[0][0]
        restored += _restore_rows(con, entity, table, key)
    con.execute(
        "DELETE FROM lead_stages WHERE lead_id IN (SELECT record_id FROM _undo WHERE entity = 'lead' AND change = 'created')"
    )
    refresh_lead_stages(
        con,
        f"""{leads} AND change = 'updated'
            UNION ALL SELECT l.lead_id FROM leads l JOIN _undo u ON u.entity = 'opportunity'
            AND l.opportunity_id = u.record_id""",
    )
    con.execute("DELETE FROM import_keys WHERE batch_id = ?", [batch])
    for entity in ("lead", "opportunity"):
        forget_stays(con, entity, f"SELECT record_id AS id FROM _undo WHERE entity = '{entity}'")
    facts.forget_outcomes(con, "SELECT record_id AS id FROM _undo WHERE entity = 'opportunity'")
    con.execute("UPDATE import_batches SET undone_at = now()::TIMESTAMP WHERE batch_id = ?", [batch])
    con.execute("DROP TABLE _undo")
    return Undone(batch, int(removed), int(restored), int(events_removed), int(restored_events))


def _restore(con: duckdb.DuckDBPyConnection, batch: int, table: str, kept: str, column: str) -> int:
    """Put back the rows of `table` the batch replaced, kept as JSON in `kept`.`column`."""
    info = con.execute(f"SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid").fetchall()
    select = ", ".join(f"({column}->>'{c}')::{t} AS \"{c}\"" for c, t in info)
    return int(
        con.execute(
            f"""INSERT INTO {table} ({", ".join(f'"{c}"' for c, _ in info)})
                SELECT {select} FROM {kept} WHERE batch_id = ?""",
            [batch],
        ).fetchall()[0][0]
    )


def _restore_rows(con: duckdb.DuckDBPyConnection, entity: str, table: str, key: str) -> int:
    """Put back the `before` image of each record of `entity` the batch updated (every column, by name)."""
    info = con.execute(f"SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid").fetchall()
    sets = ", ".join(f"\"{c}\" = (u.before->>'{c}')::{t}" for c, t in info if c != key)
    return int(
        con.execute(
            f"""UPDATE {table} SET {sets} FROM _undo u
                WHERE u.entity = '{entity}' AND u.change = 'updated' AND {table}.{key} = u.record_id"""
        ).fetchall()[0][0]
    )
