"""Field history: every change of a tracked field appends a row to `field_changes`, in the same
transaction as the change itself (as Salesforce's field history and Dynamics' auditing do).

Tracked: a lead's owner, source and estimated value; an opportunity's owner, estimated value,
probability and estimated close date. Edits of open records go through `edit` (leads.update,
opportunities.update, opportunities.set_probability); transitions that move a probability
(close_won to 100, close_lost to 0, reopen to the default) record it through `record`. Analysts
read the history as `v_field_history`; `pipeline(as_of=)` reads the values that stood then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import numpy as np

from . import check, machine
from .errors import InvalidTransition, NotFound, ValidationError
from .statements import new_id

TRACKED: dict[str, tuple[str, ...]] = {
    "lead": ("owner", "source", "estimated_value"),
    "opportunity": ("owner", "estimated_value", "probability", "estimated_close_date"),
}
_TYPES = {
    "owner": "VARCHAR",
    "source": "VARCHAR",
    "estimated_value": "DECIMAL(18,2)",
    "probability": "INTEGER",
    "estimated_close_date": "DATE",
}


def record(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    ids: Sequence[int],
    field: str,
    values: Sequence[object],
    at: Sequence[object],
    actor: str | None,
    *,
    old: Sequence[object] | None = None,
) -> None:
    """Append a change for each record whose `field` differs from `values` (one per id), dated `at`.

    Call it in the transaction that sets the values, before the UPDATE: the old values are read
    here, unless the caller passes them (`old`, one per id, as read in this transaction).
    """
    if field not in TRACKED[entity]:
        raise KeyError(f"{entity}.{field} is not a tracked field")
    if not len(ids):
        return
    if old is not None:  # the caller read the old values in this transaction: no join needed
        changed = [(i, o, v, t) for i, o, v, t in zip(ids, old, values, at, strict=True) if o != v]
        if changed:
            con.execute(
                f"""INSERT INTO field_changes (change_id, entity, entity_id, field, old_value, new_value, "at", actor)
                    SELECT (SELECT coalesce(max(change_id), 0) FROM field_changes) + k, '{entity}', c.id, '{field}',
                           c.old::VARCHAR, c.value::VARCHAR, c.ts, ?
                    FROM (SELECT unnest(?::BIGINT[]) AS k, unnest(?::BIGINT[]) AS id, unnest(?::{_TYPES[field]}[]) AS old,
                                 unnest(?::{_TYPES[field]}[]) AS value, unnest(?::TIMESTAMP[]) AS ts) c""",
                [actor, list(range(1, len(changed) + 1)), *(list(col) for col in zip(*changed, strict=True))],
            )
        return
    table, key = machine.TABLES[entity]
    kind = _TYPES[field]
    con.execute(
        f"""INSERT INTO field_changes (change_id, entity, entity_id, field, old_value, new_value, "at", actor)
            SELECT {new_id("field_changes", "change_id", "c.id")}, '{entity}', c.id, '{field}',
                   e.{field}::VARCHAR, c.value::VARCHAR, c.ts, $4
            FROM (SELECT unnest($1::BIGINT[]) AS id, unnest($2::{kind}[]) AS value, unnest($3::TIMESTAMP[]) AS ts) c
            JOIN {table} e ON e.{key} = c.id
            WHERE e.{field} IS DISTINCT FROM c.value""",
        [[int(i) for i in ids], list(values), list(at), actor],
    )


def edit(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    ids: Sequence[int],
    values: Mapping[str, Sequence[object]],
    *,
    at: object,
    actor: str | None,
) -> None:
    """Set tracked fields of open records (values: field -> one value per id), recording each change.

    Refuses (NotFound, InvalidTransition, or a ValidationError for `at`) before writing anything:
    only open records are edited, and an edit is not dated before the record's last change.
    """
    table, key = machine.TABLES[entity]
    ids = [int(i) for i in ids]
    stamps = machine.at_column(at, len(ids))
    stamps = stamps.astype("datetime64[us]").tolist() if np.ndim(stamps) else [stamps] * len(ids)
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            f"SELECT {key}, state, status, coalesce(changed_at, created_at) FROM {table} WHERE list_contains(?, {key})",
            [ids],
        ).fetchall()
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound(entity, missing[0])
    closed = [(i, *rows[i][:2]) for i in ids if rows[i][0] != "open"]
    if closed:
        rid, state, status = closed[0]
        hint = "reactivate it first" if entity == "lead" else "reopen a lost one first"
        raise InvalidTransition(f"{entity} {rid} is {state} ({status}): only open {entity}s are edited; {hint}")
    early = [(i, ts, rows[i][2]) for i, ts in zip(ids, stamps, strict=True) if ts < rows[i][2]]
    if early:
        machine._raise_early(entity, early)
    for field, column in values.items():
        record(con, entity, ids, field, column, stamps, actor)
        con.execute(
            f"""UPDATE {table} SET {field} = c.value
                FROM (SELECT unnest(?::BIGINT[]) AS id, unnest(?::{_TYPES[field]}[]) AS value) c
                WHERE {table}.{key} = c.id""",
            [ids, list(column)],
        )
    if entity == "lead" and {"owner", "source"} & set(values):  # the funnel's fact table copies them
        con.execute(
            """UPDATE lead_stages SET owner = l.owner, source = l.source FROM leads l
               WHERE lead_stages.lead_id = l.lead_id AND list_contains(?, l.lead_id)""",
            [ids],
        )


UNSET = object()  # "leave this field as it is" (None sets it to empty)


def changes(given: Mapping[str, object], checks: Mapping[str, object]) -> dict[str, object]:
    """The fields a caller set (not UNSET), each through its check."""
    return {name: checks[name](value) for name, value in given.items() if value is not UNSET}


def date(value: object, field: str) -> object:
    """A calendar date (a date, a datetime's day, or an ISO string), or None to clear it."""
    if check.missing(value):
        return None
    stamp = check.timestamp(value, field)
    if (stamp.hour, stamp.minute, stamp.second, stamp.microsecond) != (0, 0, 0, 0):
        raise ValidationError(f"{field} must be a date, got a time of day in {value!r}", field=field, value=value)
    return stamp.date()


def snapshot(con: duckdb.DuckDBPyConnection, entity: str, ids_sql: str, params: list | None = None) -> None:
    """Keep the tracked fields of the records `ids_sql` selects (as id) before a set-based UPDATE;
    `record_snapshot` then writes a change for every field the UPDATE moved (imports use it)."""
    table, key = machine.TABLES[entity]
    columns = ", ".join(TRACKED[entity])
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _fields_before AS SELECT {key} AS id, {columns} FROM {table}
            WHERE {key} IN (SELECT s.id FROM ({ids_sql}) s)""",
        params or [],
    )


def record_snapshot(con: duckdb.DuckDBPyConnection, entity: str, at: object, actor: str | None) -> None:
    """Append a change, dated `at`, for each tracked field that differs from the `snapshot`."""
    table, key = machine.TABLES[entity]
    for field in TRACKED[entity]:
        con.execute(
            f"""INSERT INTO field_changes (change_id, entity, entity_id, field, old_value, new_value, "at", actor)
                SELECT {new_id("field_changes", "change_id", "b.id")}, '{entity}', b.id, '{field}',
                       b.{field}::VARCHAR, t.{field}::VARCHAR, ?::TIMESTAMP, ?
                FROM _fields_before b JOIN {table} t ON t.{key} = b.id
                WHERE b.{field} IS DISTINCT FROM t.{field}""",
            [at, actor],
        )
    con.execute("DROP TABLE _fields_before")
