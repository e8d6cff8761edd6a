"""Opportunities: create, close as won or lost, reopen."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from . import check, history, machine
from .db import Database
from .errors import InvalidTransition, NotFound, ValidationError
from .statements import first, new_id, registered

LOST_REASONS = machine.STATES["opportunity"]["lost"]


def create(
    db: Database,
    *,
    topic: str,
    account_id: int | None = None,
    contact_id: int | None = None,
    owner: str | None = None,
    source: str | None = None,
    estimated_value: Decimal | int | str | None = None,
    probability: int = machine.DEFAULT_PROBABILITY,
    price_list: int | None = None,
    at: object = None,
    actor: str | None = None,
) -> int:
    """Create an open opportunity that did not come from a lead (leads.qualify makes the others)."""
    db = check.database(db)
    topic = check.text(topic, "topic", required=True)
    owner, source = check.text(owner, "owner"), check.text(source, "source")
    estimated_value = check.money(estimated_value, "estimated_value", optional=True)
    probability = check.probability(probability)
    at = check.timestamp(at)
    with db.transaction() as con:
        for name, value, table in (("account_id", account_id, "accounts"), ("contact_id", contact_id, "contacts")):
            if value is not None:
                value = check.ident(value, name)
                if not con.execute(f"SELECT count(*) FROM {table} WHERE {name} = ?", [value]).fetchall()[0][0]:
                    raise NotFound(name.removesuffix("_id"), value)
        if price_list is None:
            pl = con.execute("SELECT price_list_id FROM price_lists WHERE is_default").fetchall()[0][0]
        else:
            pl = check.ident(price_list, "price_list")
            if not con.execute("SELECT count(*) FROM price_lists WHERE price_list_id = ?", [pl]).fetchall()[0][0]:
                raise NotFound("price list", pl)
        opp = con.execute(
            """INSERT INTO opportunities (opportunity_id, account_id, contact_id, topic, owner, source,
                   estimated_value, probability, price_list_id, created_at, state, status)
               VALUES ((SELECT coalesce(max(opportunity_id), 0) + 1 FROM opportunities), ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', 'in_progress')
               RETURNING opportunity_id""",
            [account_id, contact_id, topic, owner, source, estimated_value, probability, pl, at],
        ).fetchall()[0][0]
        machine.record_creation(
            con,
            "opportunity",
            "SELECT ?::BIGINT AS id, 'open' AS state, 'in_progress' AS status, ?::TIMESTAMP AS ts",
            [opp, at],
            actor=actor,
        )
    return opp


CREATE_FIELDS = ("topic", "account_id", "contact_id", "owner", "source", "estimated_value", "probability", "created_at")


def create_many(db: Database, frame: pd.DataFrame, *, at: object = None, actor: str | None = None) -> np.ndarray:
    """Create many open opportunities from a DataFrame (columns as `create`'s keywords, plus
    created_at, else `at`) in one set-based transaction; returns the new ids in row order.

    Every value is checked as `create` checks it; if any row is invalid nothing is created and the
    ValidationError's `failures` lists (row, field, message) for each problem.
    """
    db = check.database(db)
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError("opportunities must be a pandas DataFrame", field="frame")
    unknown = sorted(map(str, set(frame.columns) - set(CREATE_FIELDS)))
    if unknown:
        raise ValidationError(
            f"unknown opportunity columns: {', '.join(unknown)}; allowed: {', '.join(CREATE_FIELDS)}", field=unknown[0]
        )
    n = len(frame)

    def column(name: str) -> list:
        return frame[name].tolist() if name in frame.columns else [None] * n

    problems: list[check.Failure] = []
    topic, bad = check.each(column("topic"), "topic", lambda v, f: check.text(v, f, required=True))
    problems += bad
    owner, bad = check.each(column("owner"), "owner", check.text)
    problems += bad
    source, bad = check.each(column("source"), "source", check.text)
    problems += bad
    value, bad = check.each(column("estimated_value"), "estimated_value", lambda v, f: check.money(v, f, optional=True))
    problems += bad
    probability, bad = check.each(
        column("probability"),
        "probability",
        lambda v, f: machine.DEFAULT_PROBABILITY if check.missing(v) else check.probability(v, f),
    )
    problems += bad
    links = {}
    for name in ("account_id", "contact_id"):
        links[name], bad = check.each(column(name), name, lambda v, f: None if check.missing(v) else check.ident(v, f))
        problems += bad
    created = (
        check.timestamp_column(frame["created_at"].reset_index(drop=True), "created_at")
        if "created_at" in frame.columns
        else (machine.at_column(at, n), [])
    )
    problems += created[1]
    actor = check.text(actor, "actor")
    if problems:
        problems.sort()
        head = problems[0]
        more = f" ({len(problems)} problems; see .failures)" if len(problems) > 1 else ""
        raise ValidationError(f"row {head[0]}: {head[2]}{more}", field=head[1], failures=problems[:1000])
    rows = pd.DataFrame(
        {
            "_row": np.arange(n, dtype=np.int64),
            "topic": pd.Series(topic, dtype=object),
            "account_id": pd.array(links["account_id"], dtype="Int64"),
            "contact_id": pd.array(links["contact_id"], dtype="Int64"),
            "owner": pd.Series(owner, dtype=object),
            "source": pd.Series(source, dtype=object),
            "estimated_value": pd.Series(value, dtype=object),
            "probability": np.asarray(probability, dtype=np.int32),
            "created_at": np.broadcast_to(np.asarray(created[0], dtype="datetime64[us]"), (n,)),
        }
    )
    if n == 0:
        return np.array([], dtype=np.int64)
    with db.transaction() as con, registered(con, "_opp_in", rows):
        for name, table in (("account_id", "accounts"), ("contact_id", "contacts")):
            missing = first(
                con.execute(
                    f"SELECT i.{name} FROM _opp_in i WHERE i.{name} IS NOT NULL AND i.{name} NOT IN "
                    f"(SELECT {name} FROM {table}) ORDER BY 1 LIMIT 1"
                )
            )
            if missing:
                raise NotFound(name.removesuffix("_id"), missing[0])
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _opp_new AS
                SELECT {new_id("opportunities", "opportunity_id", "_row")} AS opportunity_id, NULL::BIGINT AS lead_id,
                       *, 'in_progress' AS status
                FROM _opp_in"""
        )
        insert_many(con, "_opp_new", actor=actor)
        ids = con.execute("SELECT opportunity_id FROM _opp_new ORDER BY _row").fetchnumpy()["opportunity_id"]
        con.execute("DROP TABLE _opp_new")
    return np.asarray(ids, dtype=np.int64)


def insert_many(con: duckdb.DuckDBPyConnection, relation: str, *, actor: str | None) -> None:
    """Insert checked open opportunities from `relation` (opportunity_id, lead_id, account_id, contact_id,
    topic, owner, source, estimated_value, probability, created_at, status) and their creation events."""
    con.execute(
        f"""INSERT INTO opportunities (opportunity_id, lead_id, account_id, contact_id, topic, owner, source,
                                       estimated_value, probability, price_list_id, created_at, state, status)
            SELECT r.opportunity_id, r.lead_id, r.account_id, r.contact_id, r.topic, r.owner, r.source,
                   r.estimated_value::DECIMAL(18,2), r.probability,
                   (SELECT price_list_id FROM price_lists WHERE is_default), r.created_at, 'open', r.status
            FROM {relation} r"""
    )
    machine.record_creation(
        con,
        "opportunity",
        f"SELECT opportunity_id AS id, 'open' AS state, status, created_at AS ts FROM {relation}",
        actor=actor,
    )


def close_won(
    db: Database,
    opportunity: int,
    actual_value: Decimal | int | str | None = None,
    *,
    at: object = None,
    actor: str | None = None,
    note: str | None = None,
) -> None:
    """Close an open opportunity as won, for a deal won without a quote.

    actual_value defaults to the estimated value. An opportunity with open quotes is won by
    ordering one of them (quotes.create_order), so that the order and the quote agree.
    """
    db = check.database(db)
    opportunity = check.ident(opportunity, "opportunity")
    value = None if actual_value is None else [check.money(actual_value, "actual_value")]
    close_won_many(db, [opportunity], actual_value=value, at=at, actor=actor, note=note)


def close_won_many(
    db: Database,
    ids: Sequence[int] | np.ndarray,
    *,
    actual_value: Sequence[object] | None = None,
    at: object = None,
    actor: str | None = None,
    note: str | None = None,
) -> None:
    """Close many open opportunities as won; actual_value is None (estimated values) or one per id."""
    db = check.database(db)
    ids = check.idents(ids, "ids")
    if actual_value is not None:
        if isinstance(actual_value, str) or not isinstance(actual_value, Iterable):
            raise ValidationError(
                f"actual_value must be None or a list with one value per id, got {actual_value!r}",
                field="actual_value",
                value=actual_value,
            )
        values = check.per_id(actual_value, "actual_value", len(ids))
        actual_value = [check.money(v, "actual_value", optional=True) for v in values]
    actor = check.text(actor, "actor")
    with db.transaction() as con:
        machine.require(con, "opportunity", "close_won", ids)
        open_quotes = con.execute(
            """SELECT q.opportunity_id, q.quote_number, q.revision, q.state FROM quotes q
               WHERE q.state IN ('draft', 'active') AND q.opportunity_id IN (SELECT unnest(?::BIGINT[]))
               ORDER BY 1 LIMIT 1""",
            [ids],
        ).fetchall()
        if open_quotes:
            opp, number, rev, state = open_quotes[0]
            raise InvalidTransition(
                f"opportunity {opp} has {state} quote {number} revision {rev}: win it with "
                f"quotes.create_order(db, quote) or close its open quotes first"
            )
        _close_won(con, ids, actual_value, at=at, actor=actor, note=note)


def _close_won(
    con: duckdb.DuckDBPyConnection,
    ids: Sequence[int],
    actual_value: Sequence[Decimal | None] | None,
    *,
    at: object,
    actor: str | None,
    note: str | None = None,
    journal: machine.Journal | None = None,
    current: dict[int, tuple[str, str, object]] | None = None,
    probabilities: Sequence[int] | None = None,
) -> None:
    """Win the opportunities at these actual values (None: the estimated value), in the caller's transaction.

    probabilities: their probabilities now, as the caller read them (the field history needs them)."""
    if actual_value is None:
        actual_value = [None] * len(ids)
    if any(v is None for v in actual_value):  # default: the estimated value
        estimated = dict(
            con.execute(
                "SELECT opportunity_id, estimated_value FROM opportunities WHERE opportunity_id IN (SELECT unnest(?::BIGINT[]))",
                [list(ids)],
            ).fetchall()
        )
        actual_value = [v if v is not None else estimated.get(i) for i, v in zip(ids, actual_value, strict=True)]
    _probability_moves(con, ids, 100, at, actor, old=probabilities)
    machine.apply(
        con,
        "opportunity",
        "close_won",
        ids,
        at=at,
        actor=actor,
        note=check.text(note, "note"),
        values={"actual_value": pd.array(actual_value, dtype=object), "probability": 100},
        stamp="closed_at",
        checked=True,  # callers verified the opportunities are open in this transaction
        journal=journal,
        current=current,
    )


def _probability_moves(
    con: duckdb.DuckDBPyConnection,
    ids: Sequence[int],
    probability: int,
    at: object,
    actor: str | None,
    old: Sequence[int] | None = None,
) -> None:
    """Keep the probability a transition sets in the field history (won 100, lost 0, reopened the default).

    old: the probabilities as the caller read them in this transaction (saves a join)."""
    stamps = machine.at_column(at, len(ids))
    stamps = stamps.astype("datetime64[us]").tolist() if np.ndim(stamps) else [stamps] * len(ids)
    history.record(con, "opportunity", list(ids), "probability", [probability] * len(ids), stamps, actor, old=old)


def close_lost(
    db: Database,
    opportunity: int,
    *,
    reason: str = "out_sold",
    competitor: str | None = None,
    at: object = None,
    actor: str | None = None,
    note: str | None = None,
) -> None:
    """Close an open opportunity as lost (out_sold or canceled); its open quotes close as lost."""
    db = check.database(db)
    opportunity = check.ident(opportunity, "opportunity")
    close_lost_many(db, [opportunity], reason=reason, competitor=competitor, at=at, actor=actor, note=note)


def close_lost_many(
    db: Database,
    ids: Sequence[int] | np.ndarray,
    *,
    reason: str | Sequence[str] = "out_sold",
    competitor: str | None | Sequence[str | None] = None,
    at: object = None,
    actor: str | None = None,
    note: str | None = None,
) -> None:
    """Close many open opportunities as lost; reason and competitor are one for all or one per id."""
    db = check.database(db)
    ids = check.idents(ids, "ids")
    reason = check.choices(reason, "reason", LOST_REASONS, len(ids))
    if competitor is None or isinstance(competitor, str) or not isinstance(competitor, Iterable):
        competitor = check.text(competitor, "competitor")
    else:
        named = check.per_id([check.text(c, "competitor") for c in competitor], "competitor", len(ids))
        competitor = pd.array(named, dtype=object)
    at = machine.at_column(at, len(ids))
    actor = check.text(actor, "actor")
    with db.transaction() as con:
        _close_lost(con, ids, reason, competitor, at=at, actor=actor, note=check.text(note, "note"))


def _close_lost(
    con: duckdb.DuckDBPyConnection,
    ids: Sequence[int],
    reason: str | Sequence[str],
    competitor: object,
    *,
    at: object,
    actor: str | None,
    note: str | None = None,
) -> None:
    """close_lost_many's transition on checked arguments, in the caller's transaction (imports use it too)."""
    _probability_moves(con, ids, 0, at, actor)
    machine.apply(
        con,
        "opportunity",
        "close_lost",
        ids,
        to=reason,
        at=at,
        actor=actor,
        note=note,
        values={"competitor": competitor, "probability": 0, "actual_value": None},
        stamp="closed_at",
    )
    close_open_quotes(con, ids, at, status="lost", actor=actor)


def close_open_quotes(
    con: duckdb.DuckDBPyConnection,
    opportunity_ids: Sequence[int],
    at: object,
    *,
    status: str,
    actor: str | None,
    keep: Sequence[int] = (),
    journal: machine.Journal | None = None,
) -> None:
    """Close every draft or active quote of these opportunities (but `keep`), at each opportunity's `at`."""
    opps = np.asarray(opportunity_ids, dtype=np.int64)
    stamps = at if np.ndim(at) else [at] * len(opps)
    # a bound short list is pushed into the scan; a long one is a hash semi-join
    among = (
        "list_contains(?, q.opportunity_id)"
        if len(opps) <= 2048
        else "q.opportunity_id IN (SELECT unnest(?::BIGINT[]))"
    )
    rows = con.execute(
        f"""SELECT q.quote_id, q.opportunity_id, q.state, q.status, coalesce(q.changed_at, q.created_at) FROM quotes q
            WHERE {among} AND q.state IN ('draft', 'active') AND NOT list_contains(?::BIGINT[], q.quote_id)
            ORDER BY q.quote_id""",
        [opps.tolist(), [int(k) for k in keep]],
    ).fetchall()
    if rows:
        when = dict(zip(opps.tolist(), list(stamps), strict=True))
        machine.apply(
            con,
            "quote",
            "close",
            [quote for quote, *_ in rows],
            to=status,
            at=[when[opp] for _, opp, *_ in rows],
            actor=actor,
            stamp="closed_at",
            checked=True,  # selected by state just above
            journal=journal,
            current={quote: (state, status, changed) for quote, _, state, status, changed in rows},
        )


def reopen(
    db: Database, opportunity: int, *, at: object = None, actor: str | None = None, note: str | None = None
) -> None:
    """Reopen a lost opportunity (in_progress). Its closed quotes stay closed; revise one to go on."""
    db = check.database(db)
    opportunity = check.ident(opportunity, "opportunity")
    at, actor = check.timestamp(at), check.text(actor, "actor")
    with db.transaction() as con:
        _probability_moves(con, [opportunity], machine.DEFAULT_PROBABILITY, at, actor)
        machine.apply(
            con,
            "opportunity",
            "reopen",
            [opportunity],
            at=at,
            actor=actor,
            note=check.text(note, "note"),
            values={"closed_at": None, "probability": machine.DEFAULT_PROBABILITY, "competitor": None},
        )


def set_probability(
    db: Database, opportunity: int, probability: int, *, at: object = None, actor: str | None = None
) -> None:
    """Set the win probability (0-100) of an open opportunity, as the salesperson judges it."""
    db = check.database(db)
    set_probability_many(db, [check.ident(opportunity, "opportunity")], probability, at=at, actor=actor)


def set_probability_many(
    db: Database,
    ids: Sequence[int] | np.ndarray,
    probability: int | Sequence[int],
    *,
    at: object = None,
    actor: str | None = None,
) -> None:
    """Set the win probability of many open opportunities (one value for all, or one per id).

    A field edit, not a state change (no event): each change is kept in field_changes, dated `at`
    (one time, or one per id; default now); closed opportunities are read-only.
    """
    db = check.database(db)
    ids = check.idents(ids, "ids")
    values = (
        [probability] * len(ids) if np.ndim(probability) == 0 else check.per_id(probability, "probability", len(ids))
    )
    values = [check.probability(v) for v in values]
    actor = check.text(actor, "actor")
    with db.transaction() as con:
        history.edit(con, "opportunity", ids, {"probability": values}, at=at, actor=actor)


def update(
    db: Database,
    opportunity: int,
    *,
    estimated_value: object = history.UNSET,
    owner: object = history.UNSET,
    estimated_close_date: object = history.UNSET,
    probability: object = history.UNSET,
    at: object = None,
    actor: str | None = None,
) -> None:
    """Edit an open opportunity's estimated value, owner, estimated close date or probability.

    Fields not given stay as they are (None empties one). Each change is kept in field_changes,
    dated `at` (default now), so pipeline(as_of=) sees the values that stood on a past date.
    """
    db = check.database(db)
    opportunity = check.ident(opportunity, "opportunity")
    values = history.changes(
        {
            "estimated_value": estimated_value,
            "owner": owner,
            "estimated_close_date": estimated_close_date,
            "probability": probability,
        },
        {
            "estimated_value": lambda v: check.money(v, "estimated_value", optional=True),
            "owner": lambda v: check.text(v, "owner"),
            "estimated_close_date": lambda v: history.date(v, "estimated_close_date"),
            "probability": check.probability,
        },
    )
    actor = check.text(actor, "actor")
    with db.transaction() as con:
        history.edit(con, "opportunity", [opportunity], {k: [v] for k, v in values.items()}, at=at, actor=actor)


def require_open(con: duckdb.DuckDBPyConnection, ids_sql: str, params: list | None = None) -> None:
    """Refuse unless every opportunity that `ids_sql` selects (as opportunity_id) is open: quotes need one."""
    row = first(
        con.execute(
            f"""SELECT i.opportunity_id, o.state, o.status FROM ({ids_sql}) i
            LEFT JOIN opportunities o ON o.opportunity_id = i.opportunity_id
            WHERE o.state IS DISTINCT FROM 'open' ORDER BY 1 LIMIT 1""",
            params,
        )
    )
    if row is None:
        return
    opp, state, status = row
    if state is None:
        raise NotFound("opportunity", opp)
    hint = "reopen it first (opportunities.reopen)" if state == "lost" else "it is closed for good"
    raise InvalidTransition(f"opportunity {opp} is {state} ({status}): quotes need an open opportunity; {hint}")
