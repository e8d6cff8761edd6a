"""Several frames of one metric in one pass: what a dashboard page shows, read once per redraw.

`win_rates` and `funnels` return the same frames as the `win_rate` and `funnel` calls they stand
for (tests/test_metrics.py compares them frame for frame), from one scan of the subject view with
GROUPING SETS instead of one scan per frame; bench/dashboards_bench.py times both ways.
"""

from __future__ import annotations

import pandas as pd

from . import check
from .db import Database
from .errors import ValidationError
from .metric_scope import _DIM_SQL, _scope
from .metric_scope import run as _run
from .metrics import (
    _SHARED,
    _WIN_COLUMNS,
    _WIN_MEASURES,
    _WIN_NAMES,
    FUNNEL_VIEWS,
    _funnel_parts,
    _funnel_select,
    win_rate,
)


def win_rates(
    db: Database,
    by: object = ("owner", "source", "region"),
    *,
    period: object = None,
    start: object = None,
    end: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
) -> dict[str, pd.DataFrame]:
    """`win_rate(by=b, ...)` for each dimension b of `by`, and `win_rate(period=period, ...)` under
    the key "period" when a period is given: the same frames, reading the opportunities once.

    owner, source, region and the period share one pass (GROUPING SETS), so a page of breakdowns
    scans v_opportunity_outcomes once instead of once per chart (bench/dashboards_bench.py times
    both); product and account join other tables and are read on their own.
    """
    filters = {"start": start, "end": end, "owner": owner, "source": source}
    filters |= {"product": product, "account": account, "region": region}
    scope = _scope(by=by, period=period, **filters)  # checks every option
    keys = [(_DIM_SQL[d], d) for d in scope.by if d in _SHARED]
    if period is not None:
        keys.append((f"date_trunc('{period}', s.created_at)", "period"))
    frames: dict[str, pd.DataFrame] = {}
    if len(keys) > 1:
        exprs = ", ".join(expr for expr, _ in keys)
        measures = [f'{expr} AS "{name}"' for expr, name in keys] + [f"GROUPING({exprs}) AS _set", *_WIN_MEASURES]
        inner, params = _scope(**filters).grouped("v_opportunity_outcomes", measures, anchor="created_at")
        inner += " GROUP BY GROUPING SETS (" + ", ".join(f"({expr})" for expr, _ in keys) + ")"
        names = [name for _, name in keys]
        columns = ", ".join(f'g."{name}"' for name in names)
        order = ", ".join(f'g."{name}" NULLS LAST' for name in names)
        sql = f"SELECT {columns}, g._set, {_WIN_COLUMNS} FROM ({inner}) g ORDER BY g._set, {order}"
        both = _run(db, sql, params)
        every = (1 << len(names)) - 1
        for i, name in enumerate(names):  # GROUPING() sets the bit of each key a row is not grouped by
            part = both[both["_set"] == every ^ (1 << (len(names) - 1 - i))]
            frames[name] = part[[name, *_WIN_NAMES]].reset_index(drop=True)
    for dim in scope.by:
        if dim not in frames:
            frames[dim] = win_rate(db, by=dim, **filters)
    if period is not None and "period" not in frames:
        frames["period"] = win_rate(db, period=period, **filters)
    return {name: frames[name] for name in [*scope.by, *(["period"] if period is not None else [])]}


def funnels(
    db: Database,
    view: str = "cohort",
    *,
    period: object,
    start: object = None,
    end: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
) -> dict[str, pd.DataFrame]:
    """`funnel(view, ...)` under "total" and `funnel(view, period=period, ...)` under "period".

    Both come from one pass (GROUPING SETS over the period and over nothing): the funnel
    dashboard draws the funnel and its conversion trend from them, one scan of the leads instead
    of two (at 10M leads ~0.23 against ~0.33 s, bench/dashboards_bench.py).
    """
    view = check.choice(view, "view", FUNNEL_VIEWS)
    filters = {"start": start, "end": end, "owner": owner, "source": source}
    filters |= {"product": product, "account": account, "region": region}
    if period is None:
        raise ValidationError("funnels needs a period: week, month or quarter", field="period")
    checked = _scope(period=period, **filters)  # checks every option, the period against PERIODS
    relation, anchor, where, measures = _funnel_parts(view)
    expr = f"date_trunc('{checked.period}', s.{anchor})"
    measures = [f'{expr} AS "period"', f"GROUPING({expr}) AS _set", *measures]
    inner, params = _scope(**filters).grouped(relation, measures, anchor=anchor, where=where)
    inner += f" GROUP BY GROUPING SETS (({expr}), ())"
    both = _run(
        db, _funnel_select('g."period", g._set, ', inner, 'ORDER BY g._set, g."period" NULLS LAST, stage_order'), params
    )
    by_period = both[both["_set"] == 0].drop(columns="_set").reset_index(drop=True)
    if by_period.empty:  # as DuckDB gives an empty result: text as object, not pandas' string dtype
        by_period = by_period.astype({"stage": object})
    total = both[both["_set"] == 1].drop(columns=["_set", "period"]).reset_index(drop=True)
    return {"total": total, "period": by_period}


__all__ = ["funnels", "win_rates"]
