"""Importing stage history (Salesforce's OpportunityHistory, or any file of opportunity id, stage, time).

The opportunities file decides when a deal was created and closed (its transitions); the history
adds the CRM stage changes in between as events with action `stage`, from the open state to the
same open state, so no state-machine transition is invented (a CRM stage is a field of an open
deal, not a state). An event log runs forward, so the stage events are written before the deal's
close: the import takes the imported close event out, writes the stage events, and writes the close
again after them, keeping what it took out for `undo`. Rows outside the time the deal was open in
salespipe (before its creation, at or after its close) and rows that repeat the stage of the row
before them (the CRM records amount and date changes too) make no stage event, and are counted
as skipped. A row's amount, probability and close date, when mapped, become the deal's field
history (`_field_history`), repeated stages included.
"""

from __future__ import annotations

import duckdb

from . import refs
from .batch import forget_stays
from .deals import Context

TABLE = "_hist"
IMPORTED_ACTIONS = ("create", "close_won", "close_lost", "stage")


def check(con: duckdb.DuckDBPyConnection, ctx: Context) -> list:
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _hist AS
            SELECT i.*, k.record_id, o.created_at AS opened_at, o.closed_at AS closed_at, o.state AS opp_state
            FROM _in i
            {refs.by_key(con, "i", "external_id", ctx.system, "opportunity", "k")}
            LEFT JOIN opportunities o ON o.opportunity_id = k.record_id"""
    )
    problems = refs.unresolved(con, "_hist", "external_id", "record_id", "opportunity", "opportunities", "external_id")
    changed = con.execute(
        f"""SELECT h._i, min(e.action) FROM _hist h JOIN events e ON e.entity = 'opportunity'
            AND e.entity_id = h.record_id AND e.action NOT IN {IMPORTED_ACTIONS}
            GROUP BY h._i ORDER BY h._i"""
    ).fetchall()
    problems += [
        (
            i,
            "external_id",
            f"the opportunity has changed in salespipe since it was imported ({action}): its stage "
            "history can no longer be rewritten",
        )
        for i, action in changed
    ]
    ends = con.execute(
        """SELECT _i, stage, state FROM (
               SELECT _i, stage, state, opp_state,
                      row_number() OVER (PARTITION BY record_id ORDER BY "at" DESC, _i DESC) AS n
               FROM _hist WHERE record_id IS NOT NULL)
           WHERE n = 1 AND opp_state = 'open' AND state <> 'open'"""
    ).fetchall()
    problems += [
        (
            i,
            "stage",
            f"the history ends with {stage!r} ({state}) but the opportunity is open in salespipe: import "
            "the newer opportunities file first",
        )
        for i, stage, state in ends
    ]
    return problems


def _plan(con: duckdb.DuckDBPyConnection) -> None:
    """_hist_rows: each row's fate (stage event, or skipped and why); _hist_opps: whose history changes."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _hist_rows AS
           WITH w AS (
               SELECT h.*, CASE WHEN h."at" < h.opened_at THEN 'before'
                                WHEN h.closed_at IS NOT NULL AND h."at" >= h.closed_at THEN 'after' END AS outside
               FROM _hist h
           ), inside AS (
               SELECT *, lag(stage) OVER (PARTITION BY record_id ORDER BY "at", _i) AS previous
               FROM w WHERE outside IS NULL
           )
           SELECT w._i, w.record_id, w.stage, w."at", w.outside,
                  coalesce(i.previous = w.stage, false) AS repeated
           FROM w LEFT JOIN inside i ON i._i = w._i"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _hist_opps AS
           WITH wanted AS (
               SELECT record_id, list(struct_pack(a := "at", s := stage) ORDER BY "at", _i) AS stages
               FROM _hist_rows WHERE outside IS NULL AND NOT repeated GROUP BY record_id
           ), had AS (
               SELECT e.entity_id AS record_id, list(struct_pack(a := e."at", s := e.note) ORDER BY e.event_id) AS stages
               FROM events e WHERE e.entity = 'opportunity' AND e.action = 'stage'
                 AND e.entity_id IN (SELECT record_id FROM _hist_rows) GROUP BY 1
           )
           SELECT w.record_id, h.record_id IS NOT NULL AS had_stages,
                  h.stages IS NOT DISTINCT FROM w.stages AS same
           FROM wanted w LEFT JOIN had h ON h.record_id = w.record_id"""
    )


def counts(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, int]:
    del ctx
    _plan(con)
    created, updated, unchanged, skipped = con.execute(
        """SELECT count(*) FILTER (WHERE r.outside IS NULL AND NOT r.repeated AND NOT o.same AND NOT o.had_stages),
                  count(*) FILTER (WHERE r.outside IS NULL AND NOT r.repeated AND NOT o.same AND o.had_stages),
                  count(*) FILTER (WHERE r.outside IS NULL AND NOT r.repeated AND o.same),
                  count(*) FILTER (WHERE r.outside IS NOT NULL OR r.repeated)
           FROM _hist_rows r LEFT JOIN _hist_opps o ON o.record_id = r.record_id"""
    ).fetchall()[0]
    return {"created": int(created), "updated": int(updated), "unchanged": int(unchanged), "skipped": int(skipped)}


def skipped(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, str]]:
    """(row, field, reason) of each skipped row (after counts)."""
    rows = con.execute(
        """SELECT r._i, r.outside, r.repeated, r."at", h.opened_at, h.closed_at, r.stage FROM _hist_rows r
           JOIN _hist h ON h._i = r._i WHERE r.outside IS NOT NULL OR r.repeated ORDER BY r._i"""
    ).fetchall()
    out = []
    for i, outside, _, at, opened, closed, stage in rows:
        if outside == "before":
            out.append((i, "at", f"dated {at}, before the opportunity was created in salespipe ({opened})"))
        elif outside == "after":
            out.append((i, "at", f"dated {at}, at or after the opportunity closed in salespipe ({closed})"))
        else:
            out.append(
                (
                    i,
                    "stage",
                    f"stage {stage!r} again: no stage event (the CRM records amount, probability and date "
                    "changes too; mapped, they go to the field history)",
                )
            )
    return out


def write(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, int]:
    batch = ctx.batch
    result = counts(con, ctx)
    con.execute("CREATE OR REPLACE TEMP TABLE _hist_change AS SELECT record_id FROM _hist_opps WHERE NOT same")
    if not con.execute("SELECT count(*) FROM _hist_change").fetchall()[0][0]:
        return result
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _hist_old AS
           SELECT e.* FROM events e JOIN _hist_change c ON e.entity = 'opportunity' AND e.entity_id = c.record_id
           WHERE e.action IN ('stage', 'close_won', 'close_lost')"""
    )
    con.execute("INSERT INTO import_replaced_events SELECT ?, to_json(e) FROM _hist_old e", [batch.id])
    batch.updating("opportunity", "SELECT record_id AS id FROM _hist_change")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _hist_new AS
           WITH opened AS (
               SELECT e.entity_id, arg_min(e.to_status, e.event_id) AS status FROM events e
               JOIN _hist_change c ON e.entity = 'opportunity' AND e.entity_id = c.record_id AND e.action = 'create'
               GROUP BY 1
           ), stage_events AS (
               SELECT r.record_id AS entity_id, 'stage' AS action, 'open' AS from_state, o.status AS from_status,
                      'open' AS to_state, o.status AS to_status, r."at", ?::VARCHAR AS actor, r.stage AS note,
                      0 AS part, r._i AS seq
               FROM _hist_rows r JOIN _hist_change c ON c.record_id = r.record_id
               JOIN opened o ON o.entity_id = r.record_id
               WHERE r.outside IS NULL AND NOT r.repeated
           ), closes AS (
               SELECT entity_id, action, from_state, from_status, to_state, to_status, "at", actor, note,
                      1 AS part, event_id AS seq
               FROM _hist_old WHERE action <> 'stage'
           )
           SELECT * FROM stage_events UNION ALL SELECT * FROM closes""",
        [ctx.actor],
    )
    con.execute(
        """INSERT INTO events (event_id, entity, entity_id, action, from_state, from_status, to_state, to_status,
                               "at", actor, note)
           SELECT (SELECT coalesce(max(event_id), 0) FROM events)
                  + row_number() OVER (ORDER BY entity_id, part, "at", seq),
                  'opportunity', entity_id, action, from_state, from_status, to_state, to_status, "at", actor, note
           FROM _hist_new"""
    )
    con.execute("DELETE FROM events WHERE event_id IN (SELECT event_id FROM _hist_old)")
    con.execute(
        """UPDATE opportunities SET changed_at = l.last_at
           FROM (SELECT entity_id, max("at") AS last_at FROM events
                 WHERE entity = 'opportunity' AND action <> 'create'
                   AND entity_id IN (SELECT record_id FROM _hist_change) GROUP BY 1) l
           WHERE opportunities.opportunity_id = l.entity_id"""
    )
    _field_history(con, ctx)
    forget_stays(con, "opportunity", "SELECT record_id AS id FROM _hist_change")
    return result


FIELD_TYPES = {"estimated_value": "DECIMAL(18,2)", "probability": "INTEGER", "estimated_close_date": "DATE"}


def _field_history(con: duckdb.DuckDBPyConnection, ctx: Context) -> None:
    """The amount, probability and close date of the history rows become the field history of the
    deals whose history changed: a change where a value differs from the row before (in time
    order, inside the time the deal was open), then one to the value the deal has now, dated its
    close (or the import, while open), where the last row differs from it. The changes of those
    fields written before (the close's own probability change) are replaced, and kept for undo."""
    for field, kind in FIELD_TYPES.items():
        if field not in ctx.mapped:
            continue
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _hist_values AS
                SELECT r.record_id, r."at", r._i, h.{field}::{kind} AS v
                FROM _hist_rows r JOIN _hist h ON h._i = r._i JOIN _hist_change c ON c.record_id = r.record_id
                WHERE r.outside IS NULL AND h.{field} IS NOT NULL"""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _hist_fc_old AS
                SELECT f.* FROM field_changes f WHERE f.entity = 'opportunity' AND f.field = '{field}'
                AND f.entity_id IN (SELECT record_id FROM _hist_values)"""
        )
        con.execute(
            "INSERT INTO import_replaced_field_changes SELECT ?, to_json(f) FROM _hist_fc_old f", [ctx.batch.id]
        )
        con.execute("DELETE FROM field_changes WHERE change_id IN (SELECT change_id FROM _hist_fc_old)")
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _hist_last AS
               SELECT record_id, arg_max(v, struct_pack(a := "at", i := _i)) AS v FROM _hist_values GROUP BY 1"""
        )
        # a field the deal has no value of takes the history's last one (an opportunities file
        # without close dates, say): the history then ends where the deal stands
        con.execute(
            f"""UPDATE opportunities SET {field} = l.v FROM _hist_last l
                WHERE opportunities.opportunity_id = l.record_id AND opportunities.{field} IS NULL"""
        )
        con.execute(
            f"""INSERT INTO field_changes (change_id, entity, entity_id, field, old_value, new_value, "at", actor)
                WITH chain AS (
                    SELECT *, lag(v) OVER (PARTITION BY record_id ORDER BY "at", _i) AS previous FROM _hist_values
                ), moves AS (
                    SELECT record_id, previous AS old, v AS new, "at", _i AS seq, 0 AS part FROM chain
                    WHERE previous IS NOT NULL AND previous IS DISTINCT FROM v
                ), now AS (
                    SELECT l.record_id, l.v AS old, o.{field} AS new, coalesce(o.closed_at, ?::TIMESTAMP) AS "at",
                           0 AS seq, 1 AS part
                    FROM _hist_last l JOIN opportunities o ON o.opportunity_id = l.record_id
                    WHERE l.v IS DISTINCT FROM o.{field}
                ), changes AS (SELECT * FROM moves UNION ALL SELECT * FROM now)
                SELECT (SELECT coalesce(max(change_id), 0) FROM field_changes)
                       + row_number() OVER (ORDER BY record_id, part, "at", seq),
                       'opportunity', record_id, '{field}', old::VARCHAR, new::VARCHAR, "at", ?
                FROM changes""",
            [ctx.at, ctx.actor],
        )
    for table in ("_hist_values", "_hist_fc_old", "_hist_last"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
