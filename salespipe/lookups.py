"""What a dashboard looks up besides the metric frames: the key numbers in one query, the values
each filter offers, and the records behind a number. Part of `salespipe.metrics` (re-exported
there, documented in docs/metrics.md) and built on the same options (`metric_scope`).
"""

from __future__ import annotations

import pandas as pd

from . import check
from .db import Database
from .errors import ValidationError
from .metric_scope import DIMENSIONS, _scope, run

_run = run

OPPORTUNITY_STATES = ("open", "won", "lost")
_DIMENSION_VALUES = {
    "owner": """SELECT owner AS value FROM owners UNION SELECT DISTINCT owner FROM lead_stages
                UNION SELECT DISTINCT owner FROM opportunities""",
    "source": "SELECT DISTINCT source AS value FROM lead_stages UNION SELECT DISTINCT source FROM opportunities",
    "product": "SELECT sku AS value FROM products",
    "region": "SELECT DISTINCT region AS value FROM owners",
}


def _limit(limit: object) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValidationError(f"limit must be a whole number >= 1 or None, got {limit!r}", field="limit", value=limit)
    return limit


def dimension_values(db: Database, dimension: str, *, limit: int | None = None) -> pd.DataFrame:
    """The values a filter on `dimension` can take: one column, `value`, sorted; no missing values.

    owner: the team (`owners`) and every owner of a lead or opportunity; source: of leads and
    opportunities; product: the catalog's SKUs; region: the owners' regions; account: account
    names. limit: only the `limit` accounts with the most opportunities (ties by name), still
    sorted by name: a dropdown cannot offer the thousands there are. Other dimensions ignore it.
    """
    dimension = check.choice(dimension, "dimension", DIMENSIONS)
    limit = _limit(limit)
    if dimension != "account":
        return _run(
            db, f"SELECT value FROM ({_DIMENSION_VALUES[dimension]}) WHERE value IS NOT NULL ORDER BY value", []
        )
    if limit is None:
        return _run(db, "SELECT DISTINCT name AS value FROM accounts WHERE name IS NOT NULL ORDER BY value", [])
    sql = """SELECT value FROM (
                 SELECT a.name AS value, count(*) AS n FROM opportunities o JOIN accounts a ON a.account_id = o.account_id
                 WHERE a.name IS NOT NULL GROUP BY a.name ORDER BY n DESC, value LIMIT ?
             ) ORDER BY value"""
    return _run(db, sql, [limit])


def opportunities(
    db: Database,
    *,
    start: object = None,
    end: object = None,
    state: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
    limit: int | None = 200,
) -> pd.DataFrame:
    """The opportunities behind a win rate: the records `win_rate` counts for the same options.

    Anchor: created_at, as in win_rate. state: None (all), or "open", "won", "lost", or a list of
    them. Columns: opportunity_id, topic, account (name), owner, region, source, state, status,
    estimated_value, probability, actual_value, created_at, closed_at; newest first (created_at,
    then opportunity_id, descending); at most `limit` rows (None: all of them).
    """
    scope = _scope(start, end, None, None, owner, source, product, account, region)
    limit = _limit(limit)
    where, params = "", []
    if state is not None:
        states = list(state) if isinstance(state, list | tuple | set) else [state]
        if not states:
            raise ValidationError("state must be open, won, lost or a non-empty list of them", field="state")
        where = "WHERE o.state IN (SELECT unnest(CAST(? AS VARCHAR[])))"
        params.append([check.choice(s, "state", OPPORTUNITY_STATES) for s in states])
    relation = f"""(SELECT o.*, a.name AS account_name FROM v_opportunity_outcomes o
                    LEFT JOIN accounts a ON a.account_id = o.account_id {where})"""
    columns = [
        "s.opportunity_id",
        "s.topic",
        "s.account_name AS account",
        "s.owner",
        "s.region",
        "s.source",
        "s.state",
        "s.status",
        "CAST(s.estimated_value AS DOUBLE) AS estimated_value",
        "s.probability",
        "CAST(s.actual_value AS DOUBLE) AS actual_value",
        "s.created_at",
        "s.closed_at",
    ]
    sql, args = scope.grouped(relation, columns, anchor="created_at", params=params)
    sql += " ORDER BY s.created_at DESC, s.opportunity_id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return _run(db, sql, args)


def summary(
    db: Database,
    *,
    start: object = None,
    end: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
) -> pd.DataFrame:
    """The key numbers of a dashboard in one pass: one row.

    Columns, each equal to the metric it stands for with the same options: leads (funnel's lead
    count: leads created in the window); won, lost, open, win_rate, won_value, win_rate_all
    (win_rate: opportunities created in the window); pipeline_count, pipeline_value,
    pipeline_weighted_value (pipeline, summed over the phases: open opportunities now, whatever the
    window); median_won_cycle_days (cycle_time's median of the won: closed in the window).
    """
    scope = _scope(start, end, None, None, owner, source, product, account, region)
    leads_sql, leads_args = scope.grouped("v_lead_stages", ["count(*) AS leads"], anchor="created_at")
    windowed = scope.__class__(by=(), period=None, start=None, end=None, filters=scope.filters)
    created, closed, window = ["TRUE"], ["TRUE"], []
    for bound, op in ((scope.start, ">="), (scope.end, "<")):
        if bound is not None:
            created.append(f"s.created_at {op} ?")
            closed.append(f"s.closed_at {op} ?")
            window.append(bound)
    c, k = " AND ".join(created), " AND ".join(closed)
    measures = [
        f"count(CASE WHEN s.state = 'won' AND {c} THEN 1 END) AS won",
        f"count(CASE WHEN s.state = 'lost' AND {c} THEN 1 END) AS lost",
        f"count(CASE WHEN s.state = 'open' AND {c} THEN 1 END) AS open",
        f"coalesce(sum(CASE WHEN s.state = 'won' AND {c} THEN s.actual_value END), 0) AS won_value",
        "count(CASE WHEN s.state = 'open' THEN 1 END) AS pipeline_count",
        "coalesce(sum(CASE WHEN s.state = 'open' THEN s.estimated_value END), 0) AS pipeline_value",
        "coalesce(sum(CASE WHEN s.state = 'open' THEN s.estimated_value * s.probability * 0.01 END), 0) AS weighted",
        f"quantile_cont(CASE WHEN s.state = 'won' AND {k} THEN s.cycle_days END, 0.5) AS median",
    ]
    # the window bounds are the placeholders of the measures (four created windows, then one closed
    # window), so they come first, as the relation's `params`
    params = window * 5
    opps_sql, opps_args = windowed.grouped("v_opportunity_outcomes", measures, anchor=None, params=params)
    sql = f"""SELECT CAST(l.leads AS BIGINT) AS leads, CAST(o.won AS BIGINT) AS won, CAST(o.lost AS BIGINT) AS lost,
                     CAST(o.open AS BIGINT) AS open, CAST(o.won AS DOUBLE) / NULLIF(o.won + o.lost, 0) AS win_rate,
                     CAST(o.won_value AS DOUBLE) AS won_value,
                     CAST(o.won AS DOUBLE) / NULLIF(o.won + o.lost + o.open, 0) AS win_rate_all,
                     CAST(o.pipeline_count AS BIGINT) AS pipeline_count,
                     CAST(o.pipeline_value AS DOUBLE) AS pipeline_value,
                     CAST(o.weighted AS DOUBLE) AS pipeline_weighted_value,
                     CAST(o.median AS DOUBLE) AS median_won_cycle_days
              FROM ({leads_sql}) l CROSS JOIN ({opps_sql}) o"""
    return _run(db, sql, [*leads_args, *opps_args])


__all__ = ["OPPORTUNITY_STATES", "dimension_values", "opportunities", "summary"]
