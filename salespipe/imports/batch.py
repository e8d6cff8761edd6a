"""The bookkeeping of one import batch inside its transaction: the batch row, the external-id keys
of the records it created, and per record what it did (created, or updated from a `before` image)
with a hash of the row as it left it (migration 0008)."""

from __future__ import annotations

import datetime as dt

import duckdb

from .. import facts

TABLES = {
    "lead": ("leads", "lead_id"),
    "account": ("accounts", "account_id"),
    "contact": ("contacts", "contact_id"),
    "opportunity": ("opportunities", "opportunity_id"),
}


def _newest(con: duckdb.DuckDBPyConnection, table: str, key: str) -> int:
    return int(con.execute(f"SELECT coalesce(max({key}), 0) FROM {table}").fetchall()[0][0])


class Batch:
    """An import batch being written: `created` / `updated` note records, `finish` writes the rows."""

    def __init__(self, con: duckdb.DuckDBPyConnection, system: str) -> None:
        self.con = con
        self.system = system
        self.id = _newest(con, "import_batches", "batch_id") + 1
        self.first_event = _newest(con, "events", "event_id")  # the batch writes the events after it
        self.first_change = _newest(con, "field_changes", "change_id")  # and the field changes
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _import_changes (entity VARCHAR, record_id BIGINT, change VARCHAR,
                                                             before JSON)"""
        )

    def created(self, entity: str, ids_sql: str, params: list | None = None) -> None:
        """Note the records `ids_sql` selects (as id) as created by this batch."""
        self.con.execute(
            f"INSERT INTO _import_changes SELECT '{entity}', s.id, 'created', NULL FROM ({ids_sql}) s", params or []
        )

    def keyed(self, entity: str, source_sql: str, params: list | None = None) -> None:
        """Add the external-id keys `source_sql` selects (external_id, id) for records this batch created."""
        self.con.execute(
            f"""INSERT INTO import_keys (system, entity, external_id, record_id, batch_id)
                SELECT ?, '{entity}', s.external_id, s.id, ? FROM ({source_sql}) s""",
            [self.system, self.id, *(params or [])],
        )

    def updating(self, entity: str, ids_sql: str, params: list | None = None) -> None:
        """Keep the `before` image of records about to be updated (call before changing them); a
        record already noted by this batch keeps its first image."""
        table, key = TABLES[entity]
        self.con.execute(
            f"""INSERT INTO _import_changes
                SELECT '{entity}', t.{key}, 'updated', to_json(t) FROM {table} t
                WHERE t.{key} IN (SELECT s.id FROM ({ids_sql}) s)
                  AND t.{key} NOT IN (SELECT record_id FROM _import_changes WHERE entity = '{entity}')""",
            params or [],
        )

    def finish(
        self,
        *,
        kind: str,
        file: str,
        mapping: str,
        actor: str | None,
        at: dt.datetime,
        counts: dict[str, int],
    ) -> None:
        """Write the batch row and its changes, each with the hash of the row as the batch leaves it."""
        con = self.con
        # the opportunities it created or updated (an actual value, a state without an event of its own)
        facts.forget_outcomes(con, "SELECT record_id AS id FROM _import_changes WHERE entity = 'opportunity'")
        for entity, (table, key) in TABLES.items():
            con.execute(
                f"""INSERT INTO import_changes (batch_id, entity, record_id, change, before, after_hash)
                    SELECT ?, c.entity, c.record_id, c.change, c.before, hash(t)
                    FROM _import_changes c JOIN {table} t ON t.{key} = c.record_id
                    WHERE c.entity = '{entity}'""",
                [self.id],
            )
        last = _newest(con, "events", "event_id")
        last_change = _newest(con, "field_changes", "change_id")
        con.execute(
            """INSERT INTO import_batches (batch_id, kind, system, file, mapping, imported_at, actor, rows_read,
                                           created, updated, unchanged, skipped, rejected, first_event_id,
                                           last_event_id, first_change_id, last_change_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                self.id,
                kind,
                self.system,
                file,
                mapping,
                at,
                actor,
                counts["rows"],
                counts["created"],
                counts["updated"],
                counts["unchanged"],
                counts["skipped"],
                counts["rejected"],
                self.first_event,
                last,
                self.first_change,
                last_change,
            ],
        )
        con.execute("DROP TABLE _import_changes")


def refresh_lead_stages(con: duckdb.DuckDBPyConnection, leads_sql: str, params: list | None = None) -> None:
    """Rebuild the lead_stages rows of the leads `leads_sql` selects (as lead_id) from the base tables,
    after an import linked them to records that already had a history (a converted lead's won deal)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _stage_leads AS SELECT DISTINCT lead_id FROM ({leads_sql})", params or []
    )
    con.execute("DELETE FROM lead_stages WHERE lead_id IN (SELECT lead_id FROM _stage_leads)")
    con.execute(
        """INSERT INTO lead_stages
           SELECT r.lead_id, r.opportunity_id, r.account_id, r.owner, r.source, r.state, r.status, r.created_at,
                  r.qualified_at, r.disqualified_at, r.quoted_at, r.won_at, r.lost_at, r.invoiced_at, r.paid_at
           FROM v_lead_stages_rebuilt r WHERE r.lead_id IN (SELECT lead_id FROM _stage_leads)"""
    )


def forget_stays(con: duckdb.DuckDBPyConnection, entity: str, ids_sql: str, params: list | None = None) -> None:
    """After events of these records were removed or rewritten: their rows in fact_stays are rebuilt
    from the events they have now (kept only for records with no event after the watermark, as
    facts.refresh leaves them), and the watermark never points past the newest event."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stay_ids AS SELECT DISTINCT id FROM ({ids_sql})", params or [])
    con.execute("DELETE FROM fact_stays WHERE entity = ? AND entity_id IN (SELECT id FROM _stay_ids)", [entity])
    con.execute(
        """UPDATE fact_watermarks SET watermark = least(watermark, (SELECT coalesce(max(event_id), 0) FROM events))
           WHERE fact = 'stays'"""
    )
    con.execute(
        """INSERT INTO fact_stays
           SELECT r.* FROM v_stays_rebuilt r
           WHERE r.entity = ? AND r.entity_id IN (SELECT id FROM _stay_ids)
             AND NOT EXISTS (SELECT 1 FROM events e WHERE e.entity = r.entity AND e.entity_id = r.entity_id
                             AND e.event_id > (SELECT watermark FROM fact_watermarks WHERE fact = 'stays'))""",
        [entity],
    )


def drop_temp_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the working tables an import or undo made (the process's DuckDB instance outlives the call)."""
    try:
        names = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, '_')"
        ).fetchall()
        for (name,) in names:
            con.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')
    except duckdb.Error:
        pass  # an aborted transaction: its rollback drops what it made


def new_ids(con: duckdb.DuckDBPyConnection, work: str, table: str, key: str) -> str:
    """SQL numbering the new rows of `work` (record_id NULL) one past `table`'s newest, in file order.

    When every row is new the row's place in the file numbers it (no sort: a row refused on the way
    leaves a gap); otherwise they are numbered densely with row_number, as statements.new_id does.
    """
    total, new = con.execute(f"SELECT count(*), count(*) FILTER (WHERE record_id IS NULL) FROM {work}").fetchall()[0]
    base = f"(SELECT coalesce(max({key}), 0) FROM {table})"
    if total == new:
        return f"{base} + 1 + _i - (SELECT coalesce(min(_i), 0) FROM {work})"
    return f"{base} + row_number() OVER (ORDER BY _i)"
