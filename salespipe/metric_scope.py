"""The option handling shared by every metric: checking the common options and building the one
grouped, filtered query (`_Scope.grouped`), and running it (`run`, `together`).

`salespipe.metrics` documents the options (docs/metrics.md). Every user value is a bound
parameter; option names are checked against fixed lists before they reach the SQL.
"""

from __future__ import annotations

import datetime as dt
import numbers
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import check
from .db import Database
from .errors import ValidationError

DIMENSIONS = ("owner", "source", "product", "account", "region")
PERIODS = ("week", "month", "quarter")
# dimension -> its expression over the subject `s`, the product bridge `p` and the account `acc`
_DIM_SQL = {"owner": "s.owner", "source": "s.source", "product": "p.sku", "account": "acc.name", "region": "s.region"}


def _values(alias: str, columns: Sequence[str], rows: Iterable[tuple]) -> str:
    """A VALUES table of package constants (stage names, orders), never of user input."""

    def literal(v: object) -> str:
        if isinstance(v, str):
            assert v.replace("_", "").isalnum(), v
            return f"'{v}'"
        return str(int(v))  # type: ignore[call-overload]

    body = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    return f"(VALUES {body}) AS {alias}({', '.join(columns)})"


def _case(selector: str, picks: Sequence[str]) -> str:
    """CASE selector WHEN 1 THEN picks[0] WHEN 2 THEN picks[1] ... END."""
    return "CASE " + selector + " " + " ".join(f"WHEN {i} THEN {p}" for i, p in enumerate(picks, 1)) + " END"


# -- the options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """Validated common options, and the one builder of the grouped, filtered query."""

    by: tuple[str, ...]
    period: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    filters: tuple[tuple[str, tuple], ...]

    @property
    def uses_dimensions(self) -> bool:
        """Whether a by column or a filter needs the subject's dimension columns."""
        return bool(self.by or self.filters)

    @property
    def opportunity_only(self) -> bool:
        """Whether the filters need nothing of the subject but its opportunity id (a product filter)."""
        return not self.by and all(name == "product" for name, _ in self.filters)

    @property
    def keys(self) -> list[str]:
        """The group columns of the frame, in order."""
        return (["period"] if self.period else []) + list(self.by)

    def key_list(self) -> str:
        """The group columns of the grouped subquery `g`, each followed by a comma."""
        return "".join(f'g."{k}", ' for k in self.keys)

    def order(self, *more: str) -> str:
        """ORDER BY the group columns (missing keys last), then the metric's own order."""
        items = [f'"{k}" NULLS LAST' for k in self.keys] + list(more)
        return "ORDER BY " + ", ".join(items) if items else ""

    def grouped(
        self,
        relation: str,
        measures: Sequence[str],
        *,
        anchor: str | None,
        where: Sequence[str] = (),
        group: Sequence[str] = (),
        params: Sequence[object] = (),
    ) -> tuple[str, list]:
        """SELECT [period], [by...], [group...], measures FROM relation s ... GROUP BY them.

        relation: a view or a subquery with the subject columns (opportunity_id, account_id,
        owner, region, source) and the anchor column; `params` are its placeholders.
        The options' filters and the [start, end) window on `anchor` go in WHERE.
        """
        args = list(params)
        keys: list[tuple[str, str]] = []
        if self.period:
            keys.append((f"date_trunc('{self.period}', s.{anchor})", "period"))
        keys += [(_DIM_SQL[d], d) for d in self.by]
        keys += [(f"s.{g}", g) for g in group]
        joins = []
        conditions = list(where)
        filters = dict(self.filters)
        if "product" in self.by:
            if "product" in filters:
                joins.append(
                    "JOIN v_opportunity_products p ON p.opportunity_id = s.opportunity_id "
                    "AND list_contains(CAST(? AS VARCHAR[]), p.sku)"  # pushed into the view's scans
                )
                args.append(list(filters.pop("product")))
            else:
                joins.append("LEFT JOIN v_opportunity_products p ON p.opportunity_id = s.opportunity_id")
        if "account" in self.by:
            joins.append("LEFT JOIN accounts acc ON acc.account_id = s.account_id")
        for dim, values in filters.items():
            if dim == "product":
                # whether a pair exists: no deduplication, and a condition DuckDB pushes into the scans;
                # the ids as a materialized CTE, so DuckDB builds its semi-join on them rather than on
                # the subject (time in stage for one product at 10M leads: 0.24 -> 0.09 s)
                conditions.append(
                    "s.opportunity_id IN (WITH p AS MATERIALIZED (SELECT opportunity_id FROM v_opportunity_products_any "
                    "WHERE list_contains(CAST(? AS VARCHAR[]), sku)) SELECT opportunity_id FROM p)"
                )
                args.append(list(values))
            elif dim == "account":
                ids = [v for v in values if isinstance(v, int)]
                names = [v for v in values if isinstance(v, str)]
                either = []
                if len(ids) == 1:
                    either.append("s.account_id = ?")
                    args.append(ids[0])
                elif ids:
                    either.append("s.account_id IN (SELECT unnest(CAST(? AS BIGINT[])))")
                    args.append(ids)
                if names:
                    either.append(
                        "s.account_id IN (SELECT account_id FROM accounts WHERE name_key IN "
                        "(SELECT company_key(n.name) FROM (SELECT unnest(CAST(? AS VARCHAR[])) AS name) n))"
                    )
                    args.append(names)
                conditions.append("(" + " OR ".join(either) + ")")
            elif len(values) == 1:
                # one value (a dashboard's dropdown) as a constant DuckDB can push into the scan and
                # estimate: with the IN form it built its join on the unfiltered side (time in stage
                # by one owner at 10M: 0.27 -> 0.08 s, bench/dashboards_bench.py)
                conditions.append(f"s.{dim} = ?")
                args.append(values[0])
            else:
                conditions.append(f"s.{dim} IN (SELECT unnest(CAST(? AS VARCHAR[])))")
                args.append(list(values))
        if self.start is not None:
            conditions.append(f"s.{anchor} >= ?")
            args.append(self.start)
        if self.end is not None:
            conditions.append(f"s.{anchor} < ?")
            args.append(self.end)
        select = ", ".join([f'{expr} AS "{name}"' for expr, name in keys] + list(measures))
        sql = f"SELECT {select} FROM {relation} s {' '.join(joins)}"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        if keys:
            sql += " GROUP BY " + ", ".join(expr for expr, _ in keys)
        return sql, args


def _values_of(value: object, name: str) -> tuple | None:
    """A filter option: None, one value or a non-empty list of them (text; ids too for account)."""
    if value is None:
        return None
    many = not isinstance(value, str | bytes | numbers.Number) and isinstance(value, Iterable)
    values = list(value) if many else [value]  # type: ignore[arg-type]
    if not values:
        raise ValidationError(f"{name} must be a value or a non-empty list of values, got an empty list", field=name)
    out = []
    for v in values:
        if name == "account" and isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_):
            out.append(check.ident(v, name))
        elif isinstance(v, str) and v.strip():
            out.append(check.text(v, name))  # trimmed; a lone surrogate is refused
        else:
            kind = "an account id or name" if name == "account" else "text"
            raise ValidationError(f"{name} values must be {kind}, got {v!r}", field=name, value=v)
    return tuple(out)


def _scope(
    start: object = None,
    end: object = None,
    by: object = None,
    period: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
) -> _Scope:
    """Check the common options; each error names its option."""
    if by is None:
        dims: tuple[str, ...] = ()
    elif isinstance(by, str):
        dims = (check.choice(by, "by", DIMENSIONS),)
    elif isinstance(by, Iterable):
        dims = tuple(check.choice(b, "by", DIMENSIONS) for b in by)
        if len(set(dims)) != len(dims):
            raise ValidationError(f"by names a dimension twice: {list(dims)}", field="by", value=by)
    else:
        raise ValidationError(f"by must be None, one of {', '.join(DIMENSIONS)} or a list of them", field="by")
    if period is not None:
        check.choice(period, "period", PERIODS)
    start_ts = None if start is None else check.timestamp(start, "start")
    end_ts = None if end is None else check.timestamp(end, "end")
    if start_ts is not None and end_ts is not None and start_ts >= end_ts:
        raise ValidationError(f"start ({start_ts}) must be before end ({end_ts})", field="end", value=end)
    given = {"owner": owner, "source": source, "product": product, "account": account, "region": region}
    filters = tuple((name, vals) for name, value in given.items() if (vals := _values_of(value, name)) is not None)
    return _Scope(by=dims, period=period, start=start_ts, end=end_ts, filters=filters)  # type: ignore[arg-type]


_batch = threading.local()


@contextmanager
def together(db: Database) -> Iterator[None]:
    """Run the metrics called inside the block on one read-only open of the file.

    Each metric call otherwise attaches the file, queries and detaches it; a dashboard redraw
    makes a dozen calls, and on a large file every attach costs milliseconds and starts with a
    cold buffer pool. Inside the block the calls (on this thread, for this `db`) share one
    read-only connection, which holds the file's shared lock until the block ends: keep the
    block to one redraw, never across user think time. Nested blocks reuse the outer one.
    """
    if not isinstance(db, Database):
        raise ValidationError(f"db must be a salespipe Database (sp.connect()), got {type(db).__name__}", field="db")
    open_now = getattr(_batch, "open", {})
    if id(db) in open_now:
        yield
        return
    with db.connection(read_only=True) as con:
        _batch.open = {**open_now, id(db): con}
        try:
            yield
        finally:
            _batch.open = open_now


def run(db: Database, sql: str, params: list) -> pd.DataFrame:
    """The query's result as a DataFrame, on a read-only connection (the block's one inside `together`)."""
    if not isinstance(db, Database):
        raise ValidationError(f"db must be a salespipe Database (sp.connect()), got {type(db).__name__}", field="db")
    con = getattr(_batch, "open", {}).get(id(db))
    if con is not None:
        return con.execute(sql, params).df()
    with db.connection(read_only=True) as con:
        return con.execute(sql, params).df()
