"""The state machines as data, and the one code path that applies a transition.

Each row of TRANSITIONS says: on `entity`, `action` is allowed from these states (or
"state:status" pairs) and leads to one of these "state:status" targets (the first is the
default). `apply` checks a set of records against it, then updates state + status (and any
other columns) and appends one event per record, inside the caller's transaction. A `Journal`
lets an action that changes several records write all their events in one INSERT.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from . import check, stages
from .errors import InvalidTransition, NotFound, ValidationError
from .events import Journal, created, record_creation  # noqa: F401  (machine.Journal & co. for the stage modules)
from .statements import bound, new_id, registered


@dataclass(frozen=True)
class Transition:
    entity: str
    action: str
    sources: tuple[str, ...]  # "state" or "state:status"; empty for create
    targets: tuple[str, ...]  # "state:status"; the first is the default


def _t(entity: str, action: str, sources: str, targets: str) -> Transition:
    return Transition(entity, action, tuple(sources.split()), tuple(targets.split()))


# Dynamics 365 states and status reasons (DESIGN.md, "State machines").
TRANSITIONS: tuple[Transition, ...] = (
    _t("lead", "create", "", "open:new open:contacted"),
    _t("lead", "qualify", "open", "qualified:qualified"),
    _t(
        "lead",
        "disqualify",
        "open",
        "disqualified:lost disqualified:cannot_contact disqualified:no_longer_interested disqualified:canceled",
    ),
    _t("lead", "reactivate", "disqualified", "open:new"),
    _t("opportunity", "create", "", "open:in_progress open:on_hold"),
    _t("opportunity", "close_won", "open", "won:won"),
    _t("opportunity", "close_lost", "open", "lost:canceled lost:out_sold"),
    _t("opportunity", "reopen", "lost", "open:in_progress"),
    _t("quote", "create", "", "draft:in_progress"),
    _t("quote", "activate", "draft", "active:open"),
    _t("quote", "revise", "active closed:lost closed:canceled", "closed:revised"),
    # `close` also takes drafts: create_order and close_lost close every open quote, and
    # revisions are never deleted, so a draft must be closable too.
    _t("quote", "close", "draft active", "closed:lost closed:canceled"),
    _t("quote", "create_order", "active", "won:won"),
    _t("order", "create", "", "active:new"),
    _t("order", "fulfill", "active", "fulfilled:complete"),
    _t("order", "cancel", "active", "canceled:no_money"),
    _t("order", "create_invoice", "fulfilled", "invoiced:invoiced"),
    _t("invoice", "create", "", "active:new paid:complete"),  # paid at once when there is nothing to pay
    _t("invoice", "record_payment", "active", "active:partial paid:complete"),
    _t("invoice", "cancel", "active:new", "canceled:canceled"),
)

# The win probability (%) of an opportunity when it opens or reopens, until the salesperson sets one
# (opportunities.set_probability). Here, below the stage modules, because metrics use it too.
DEFAULT_PROBABILITY = 10

FEW = 64  # up to this many records, apply reads, checks and writes with bound values (no staging table)

# entity -> (table, key column)
TABLES: dict[str, tuple[str, str]] = {
    "lead": ("leads", "lead_id"),
    "opportunity": ("opportunities", "opportunity_id"),
    "quote": ("quotes", "quote_id"),
    "order": ("orders", "order_id"),
    "invoice": ("invoices", "invoice_id"),
}

STATES: dict[str, dict[str, tuple[str, ...]]] = {
    "lead": {
        "open": ("new", "contacted"),
        "qualified": ("qualified",),
        "disqualified": ("lost", "cannot_contact", "no_longer_interested", "canceled"),
    },
    "opportunity": {"open": ("in_progress", "on_hold"), "won": ("won",), "lost": ("canceled", "out_sold")},
    "quote": {
        "draft": ("in_progress",),
        "active": ("open",),
        "won": ("won",),
        "closed": ("lost", "canceled", "revised"),
    },
    "order": {
        "active": ("new",),
        "fulfilled": ("complete",),
        "invoiced": ("invoiced",),
        "canceled": ("no_money",),
    },
    "invoice": {"active": ("new", "partial"), "paid": ("complete",), "canceled": ("canceled",)},
}


def transition(entity: str, action: str) -> Transition:
    for t in TRANSITIONS:
        if t.entity == entity and t.action == action:
            return t
    raise KeyError(f"no action {action!r} on {entity}")


def allowed_actions(entity: str, state: str, status: str) -> list[str]:
    """The actions allowed on a record in this state and status."""
    return [t.action for t in TRANSITIONS if t.entity == entity and _matches(t, state, status)]


def _matches(t: Transition, state: str, status: str) -> bool:
    return any(s == state or s == f"{state}:{status}" for s in t.sources)


def as_frame() -> pd.DataFrame:
    """The state-machine table, one row per (entity, action, from, to), for reading."""
    rows = [(t.entity, t.action, " / ".join(t.sources) or "(new)", target) for t in TRANSITIONS for target in t.targets]
    return pd.DataFrame(rows, columns=["entity", "action", "from", "to"])


def _target(t: Transition, to: str | None) -> tuple[str, str]:
    if to is None:
        target = t.targets[0]
    else:
        matches = [x for x in t.targets if x == to or x.split(":")[1] == to]
        if not matches:
            names = ", ".join(x.split(":")[1] for x in t.targets)
            raise ValidationError(
                f"{t.entity} {t.action} leads to one of: {names}; got {to!r}", field="status", value=to
            )
        target = matches[0]
    state, status = target.split(":")
    return state, status


def _source_sql(t: Transition) -> str:
    parts = []
    for s in t.sources:
        if ":" in s:
            state, status = s.split(":")
            parts.append(f"(e.state = '{state}' AND e.status = '{status}')")
        else:
            parts.append(f"e.state = '{s}'")
    return " OR ".join(parts) if parts else "false"


def at_column(at: object, n: int) -> object:
    """`at` as a scalar naive-UTC datetime or an array of them (one per row), each read as
    `check.timestamp` reads one (so every ISO-8601 shape, mixed in one column, is taken)."""
    if at is None or isinstance(at, str | dt.date | pd.Timestamp | np.datetime64) or at is pd.NaT:
        return check.timestamp(at)
    if isinstance(at, bytes | dict) or not isinstance(at, Iterable):
        raise ValidationError(f"at must be a datetime or one per record, got {at!r}", field="at", value=at)
    values = at if isinstance(at, pd.Series) else pd.Series(list(at), dtype=None if len(at) else object)
    if len(values) != n:
        raise ValidationError(f"at has {len(values)} values for {n} records", field="at")
    stamps, problems = check.timestamp_column(values.reset_index(drop=True), "at")
    if problems:
        row, field, message = problems[0]
        more = f" ({len(problems)} problems; see .failures)" if len(problems) > 1 else ""
        raise ValidationError(f"at of record {row}: {message}{more}", field=field, failures=problems[:1000])
    return stamps


def apply(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    action: str,
    ids: Sequence[int] | np.ndarray,
    *,
    at: object = None,
    to: str | Sequence[str] | None = None,
    actor: str | None = None,
    note: str | None = None,
    values: Mapping[str, object] | None = None,
    stamp: str | None = None,
    checked: bool = False,
    journal: Journal | None = None,
    current: Mapping[int, tuple[str, str, object]] | None = None,
) -> None:
    """Check and apply `action` to the records `ids` of `entity`, in the caller's transaction.

    to: the target status (one for all, or one per record); values: more columns to set
    (a scalar for all, or one per record); stamp: a timestamp column to set to `at`;
    checked: the caller ran `require` for these records earlier in the same transaction;
    journal: collect the events there, for the caller to write with its other events at once;
    current: {id: (state, status, last change)} as the caller read them in this transaction
    (`changed` in SQL; saves a read, and the transition is still checked against them).
    Raises NotFound or InvalidTransition, or a ValidationError for an `at` before the record's
    last change (transitions run forward), listing every failing record, before writing anything.
    Sets the record's changed_at to `at`.

    Up to FEW records are read, checked and written with bound values (a few point statements);
    more are staged in a temp table and checked and written set-based. Both shapes apply the
    same TRANSITIONS with the same messages.
    """
    t = transition(entity, action)
    table, key = TABLES[entity]
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids)
    if n == 0:
        return
    frame: dict[str, object] = {"id": ids, "ts": at_column(at, n)}
    if to is None or isinstance(to, str):
        state, status = _target(t, to)
        frame["to_state"], frame["to_status"] = state, status
    else:
        to = np.asarray(to, dtype=object)
        if len(to) != n:
            raise ValidationError(f"status has {len(to)} values for {n} records", field="status")
        names, index = np.unique(to.astype(str), return_inverse=True)
        pairs = [_target(t, x) for x in names]
        frame["to_state"] = np.array([p[0] for p in pairs], dtype=object)[index]
        frame["to_status"] = np.array([p[1] for p in pairs], dtype=object)[index]
    frame["actor"] = check.text(actor, "actor")
    frame["note"] = check.text(note, "note")
    extra = dict(values or {})
    if stamp:
        extra[stamp] = None  # filled from `at` below
    extra["changed_at"] = None
    for i, (col, val) in enumerate(extra.items()):
        if col not in (stamp, "changed_at"):
            frame[f"v{i}"] = val
    if n <= FEW:
        _apply_few(con, t, {k: _bindable(v, n) for k, v in frame.items()}, list(extra), stamp, journal, current)
        return
    df = pd.DataFrame({k: (v if np.ndim(v) else np.full(n, v, dtype=object)) for k, v in frame.items()})
    if journal is not None:
        journal.write(con)  # keep event ids in the order things happened
    with registered(con, "_transition", df):
        if not checked:
            _check_relation(con, t, "_transition")
        _check_forward(con, t.entity, "_transition")
        con.execute(
            f"""INSERT INTO events (event_id, entity, entity_id, action, from_state, from_status,
                                    to_state, to_status, "at", actor, note)
                SELECT {new_id("events", "event_id", "t.id")}, '{entity}', t.id, '{action}', e.state, e.status,
                       t.to_state, t.to_status, t.ts, t.actor, t.note
                FROM _transition t JOIN {table} e ON e.{key} = t.id"""
        )
        sets = ["state = t.to_state", "status = t.to_status"]
        for i, col in enumerate(extra):
            sets.append(f"{col} = t.ts" if col in (stamp, "changed_at") else f"{col} = t.v{i}")
        con.execute(f"UPDATE {table} SET {', '.join(sets)} FROM _transition t WHERE {table}.{key} = t.id")
        stages.follow(con, entity, action, "_transition")


def _bindable(value: object, n: int) -> list:
    """One column of apply's values as n plain Python values for binding (None for missing)."""
    if np.ndim(value) == 0:
        return [None if _missing(value) else value] * n
    if isinstance(value, np.ndarray) and value.dtype.kind == "M":
        value = value.astype("datetime64[us]")  # .tolist() of nanoseconds would give integers
    out = value.tolist() if isinstance(value, np.ndarray) else list(value)
    return [None if _missing(v) else v.item() if isinstance(v, np.generic) else v for v in out]


def _missing(v: object) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)


def _apply_few(
    con: duckdb.DuckDBPyConnection,
    t: Transition,
    rows: dict[str, list],
    extra: list[str],
    stamp: str | None,
    journal: Journal | None,
    current: Mapping[int, tuple[str, str, object]] | None,
) -> None:
    """apply() for a few records: one read that checks and gives the from-states, then bound writes."""
    table, key = TABLES[t.entity]
    ids = rows["id"]
    if current is not None and all(i in current for i in ids):
        found = dict(current)
    else:
        found = {
            r[0]: (r[1], r[2], r[3])
            for r in con.execute(
                f"SELECT {key}, state, status, {CHANGED} FROM {table} WHERE list_contains(?, {key})", [ids]
            ).fetchall()
        }
    bad = [
        (i, i not in found, *found.get(i, (None, None, None))[:2])
        for i in sorted(set(ids))
        if i not in found or not _matches(t, *found[i][:2])
    ]
    if bad:
        _raise_bad(t.entity, t.action, t, bad[:101])
    early = [(i, ts, found[i][2]) for i, ts in zip(ids, rows["ts"], strict=True) if ts < found[i][2]]
    if early:
        _raise_early(t.entity, sorted(early))
    own = journal if journal is not None else Journal()
    for i in sorted(range(len(ids)), key=lambda r: ids[r]):  # event ids in record order, as set-based
        state, status, _ = found[ids[i]]
        own.add(
            t.entity,
            ids[i],
            t.action,
            state,
            status,
            rows["to_state"][i],
            rows["to_status"][i],
            rows["ts"][i],
            rows["actor"][i],
            rows["note"][i],
        )
    if journal is None:
        own.write(con)
    stamps = (stamp, "changed_at")
    columns = ["id", "ts", "to_state", "to_status", *[f"v{i}" for i, col in enumerate(extra) if col not in stamps]]
    if len(ids) == 1:  # point statements: an indexed lookup instead of a join
        one = {c: rows[c][0] for c in columns}
        sets = ["state = $to_state", "status = $to_status"]
        sets += [f"{col} = $ts" if col in stamps else f"{col} = $v{i}" for i, col in enumerate(extra)]
        bound(con, f"UPDATE {table} SET {', '.join(sets)} WHERE {key} = $id", one)
        stages.follow(con, t.entity, t.action, None, one)
        return
    relation = "(SELECT " + ", ".join(f"unnest(${i + 1}) AS {c}" for i, c in enumerate(columns)) + ")"
    params = [rows[c] for c in columns]
    sets = ["state = t.to_state", "status = t.to_status"]
    sets += [f"{col} = t.ts" if col in stamps else f"{col} = t.v{i}" for i, col in enumerate(extra)]
    con.execute(f"UPDATE {table} SET {', '.join(sets)} FROM {relation} t WHERE {table}.{key} = t.id", params)
    stage_rows = "(SELECT " + ", ".join(f"unnest(${i + 1}) AS {c}" for i, c in enumerate(columns[:4])) + ")"
    stages.follow(con, t.entity, t.action, stage_rows, params[:4])


CHANGED = "coalesce(changed_at, created_at)"  # a record's last state change (its creation if none since)


def _check_forward(con: duckdb.DuckDBPyConnection, entity: str, relation: str) -> None:
    """Refuse records of `relation` (id, ts) whose `ts` is before their last change."""
    table, key = TABLES[entity]
    early = con.execute(
        f"""SELECT t.id, t.ts, coalesce(e.changed_at, e.created_at) FROM {relation} t JOIN {table} e ON e.{key} = t.id
            WHERE t.ts < coalesce(e.changed_at, e.created_at) ORDER BY t.id LIMIT 100"""
    ).fetchall()
    if early:
        _raise_early(entity, early)


def _raise_early(entity: str, early: list[tuple], what: str = "its last change") -> None:
    failures = [
        (rid, f"{entity} {rid}: at {ts:%Y-%m-%d %H:%M:%S} is before {what} ({last:%Y-%m-%d %H:%M:%S})")
        for rid, ts, last in early
    ]
    head = (
        failures[0][1] if len(failures) == 1 else f"{len(failures)} records: " + "; ".join(m for _, m in failures[:3])
    )
    raise ValidationError(
        f"{head}: a record's history runs forward; give an at on or after that time",
        field="at",
        value=early[0][1],
        failures=failures,
    )


def require_not_before(con: duckdb.DuckDBPyConnection, entity: str, source_sql: str, params: Sequence = ()) -> None:
    """Refuse records made from others (source_sql selects the source id and the new record's ts)
    dated before their source was created: a quote before its opportunity, say."""
    table, key = TABLES[entity]
    early = con.execute(
        f"""SELECT s.id, s.ts, e.created_at FROM ({source_sql}) s JOIN {table} e ON e.{key} = s.id
            WHERE s.ts < e.created_at ORDER BY s.id LIMIT 100""",
        list(params),
    ).fetchall()
    if early:
        _raise_early(entity, early, f"the creation of {entity}")


def require(con: duckdb.DuckDBPyConnection, entity: str, action: str, ids: Sequence[int] | np.ndarray) -> None:
    """Raise NotFound or InvalidTransition unless every record may take `action` now."""
    t = transition(entity, action)
    with registered(con, "_check_ids", pd.DataFrame({"id": np.asarray(ids, dtype=np.int64)})):
        _check_relation(con, t, "_check_ids")


def _check_relation(con: duckdb.DuckDBPyConnection, t: Transition, relation: str) -> None:
    table, key = TABLES[t.entity]
    bad = con.execute(
        f"""SELECT t.id, e.{key} IS NULL AS missing, e.state, e.status
            FROM {relation} t LEFT JOIN {table} e ON e.{key} = t.id
            WHERE e.{key} IS NULL OR NOT ({_source_sql(t)})
            ORDER BY t.id LIMIT 101"""
    ).fetchall()
    if bad:
        _raise_bad(t.entity, t.action, t, bad)


def _raise_bad(entity: str, action: str, t: Transition, bad: list[tuple]) -> None:
    failures = []
    for rid, missing, state, status in bad:
        if missing:
            failures.append((rid, f"{entity} {rid} does not exist"))
        else:
            allowed = allowed_actions(entity, state, status)
            failures.append(
                (
                    rid,
                    f"{entity} {rid} is {state} ({status}): {action} is allowed only from "
                    f"{' or '.join(t.sources)}; from {state} you can "
                    f"{', '.join(allowed) if allowed else 'do nothing (it is final)'}",
                )
            )
    missing = [rid for rid, is_missing, _, _ in bad if is_missing]
    if missing:
        hint = f"{len(missing)} of the ids do not exist" if len(missing) > 1 else ""
        raise NotFound(entity, missing[0], hint=hint) if hint else NotFound(entity, missing[0])
    more = "" if len(failures) <= 100 else " (first 100 shown)"
    head = (
        failures[0][1]
        if len(failures) == 1
        else f"{len(failures)} records{more} cannot {action}: " + "; ".join(m for _, m in failures[:5])
    )
    raise InvalidTransition(head, failures=failures[:100])
