"""Sales metrics as pandas DataFrames, computed in DuckDB over the analyst views (docs/metrics.md).

Every metric is `sp.metrics.NAME(db, **options)`. The common options:

- `start`, `end`: date or datetime; keep records whose anchor time (per metric) is in [start, end).
- `owner`, `source`, `product`, `account`, `region`: a value or a list of values to keep. `product`
  is a SKU: opportunities with a line of it on any quote revision (and the leads that produced
  them); `account` is an account_id or a name (matched like qualification matches companies:
  case, punctuation and legal suffixes ignored); `region` is the owner's region.
- `by`: a dimension name or a list of them; a group column each, first in the frame (`account`
  holds the account name). A record
  without a value (no account, never quoted, ...) falls in a group whose key is missing; with
  `by="product"` an opportunity quoted with two products counts in both groups (and with a
  `product` filter too, only the products asked for form groups).
- `period`: "week" (starting Monday), "month" or "quarter": a `period` column (the period's
  first day), placed before the `by` columns.

Frames are sorted by (period, by..., the metric's own order), missing keys last. Counts are int64,
money float64, rates float64 (NaN when the denominator is 0), durations float64 days.

Metrics read v_lead_stages, v_opportunity_facts (pipeline), v_opportunity_outcomes (the rest), plus v_opportunity_products (products)
and v_product_outcomes (win_rate by product alone),
accounts (account names, for the `account` filter and column) and, for pipeline(as_of=...) and time_in_stage, events (with
quotes, orders and invoices to find a document's opportunity). The filter/by/period logic
shared by all of them is one query builder, `_Scope.grouped` (salespipe/metric_scope.py); every
user value is a bound parameter, and option names are checked against fixed lists before they
reach the SQL. `together(db)` runs several metrics on one read-only open of the file.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from . import check, machine
from .db import Database
from .metric_scope import DIMENSIONS, PERIODS, _case, _scope, _values, together
from .metric_scope import run as _run

FUNNEL_VIEWS = ("cohort", "activity")
FUNNEL_STAGES = ("lead", "qualified", "quoted", "won", "invoiced", "paid")
PHASES = ("qualify", "develop", "propose")
OUTCOMES = ("won", "lost", "all")
ENTITIES = ("opportunity", "lead", "quote", "order", "invoice")

# funnel stage -> its timestamp column in v_lead_stages
_STAGE_AT = dict(zip(FUNNEL_STAGES, ("created_at", "qualified_at", "quoted_at", "won_at", "invoiced_at", "paid_at")))
# the dimension columns every subject relation carries
_SUBJECT_COLUMNS = "d.opportunity_id, d.account_id, d.owner, d.region, d.source"
# entity -> SQL joining its records (events.entity_id = t.entity_id) to the subject `d` giving their dimensions
_ENTITY_DIMS = {
    "lead": "JOIN v_lead_stages d ON d.lead_id = t.entity_id",
    "opportunity": "JOIN v_opportunity_outcomes d ON d.opportunity_id = t.entity_id",
    "quote": "JOIN quotes x ON x.quote_id = t.entity_id JOIN v_opportunity_outcomes d ON d.opportunity_id = x.opportunity_id",
    "order": "JOIN orders x ON x.order_id = t.entity_id JOIN v_opportunity_outcomes d ON d.opportunity_id = x.opportunity_id",
    "invoice": (
        "JOIN invoices x ON x.invoice_id = t.entity_id "
        "JOIN v_opportunity_outcomes d ON d.opportunity_id = x.opportunity_id"
    ),
}
_DAYS = "EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0"


# -- the metrics ----------------------------------------------------------------------------------


def funnel(
    db: Database,
    view: str = "cohort",
    *,
    start: object = None,
    end: object = None,
    by: object = None,
    period: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
) -> pd.DataFrame:
    """Leads through the stages lead, qualified, quoted, won, invoiced, paid.

    Columns: [period], [by...], stage, stage_order (1-6), count, conversion_from_previous
    (count / previous stage's count; 1 for the lead stage), conversion_from_first (count /
    lead count). view="cohort": leads grouped by creation time (the anchor), each stage counting
    the leads that ever reached it. view="activity": each stage counts the leads that reached
    it within the period/window (anchor: that stage's time), so conversions compare flows and
    may exceed 1. Every group lists all six stages.
    """
    view = check.choice(view, "view", FUNNEL_VIEWS)
    scope = _scope(start, end, by, period, owner, source, product, account, region)
    relation, anchor, where, measures = _funnel_parts(view)
    inner, params = scope.grouped(relation, measures, anchor=anchor, where=where)
    return _run(db, _funnel_select(scope.key_list(), inner, scope.order("stage_order")), params)


def _funnel_parts(view: str) -> tuple[str, str, list[str], list[str]]:
    """The funnel's subject relation, anchor column, conditions and per-stage counts n1..n6."""
    columns = list(_STAGE_AT.values())
    if view == "cohort":
        measures = [f"count(s.{col}) AS n{i}" for i, col in enumerate(columns, 1)]
        return "v_lead_stages", "created_at", [], measures
    picks = _case("st.stage_order", [f"s.{c}" for c in columns])
    stage_orders = _values("st", ["stage_order"], [(i,) for i in range(1, len(columns) + 1)])
    relation = f"(SELECT s.*, st.stage_order, {picks} AS stage_at FROM v_lead_stages s CROSS JOIN {stage_orders})"
    measures = [f"count(CASE WHEN s.stage_order = {i} THEN 1 END) AS n{i}" for i in range(1, len(columns) + 1)]
    return relation, "stage_at", ["s.stage_at IS NOT NULL"], measures


def _funnel_select(keys: str, inner: str, order: str) -> str:
    """One row per stage of each group of `inner` (its counts n1..n6), with the two conversions."""
    n = [f"g.n{i}" for i in range(1, len(_STAGE_AT) + 1)]
    count, previous = _case("st.stage_order", n), _case("st.stage_order", [n[0], *n[:-1]])
    stages = _values("st", ["stage", "stage_order"], [(s, i) for i, s in enumerate(FUNNEL_STAGES, 1)])
    return f"""SELECT {keys}st.stage, CAST(st.stage_order AS BIGINT) AS stage_order,
                      CAST({count} AS BIGINT) AS "count",
                      CAST({count} AS DOUBLE) / NULLIF({previous}, 0) AS conversion_from_previous,
                      CAST({count} AS DOUBLE) / NULLIF(g.n1, 0) AS conversion_from_first
               FROM ({inner}) g CROSS JOIN {stages}
               {order}"""


def win_rate(
    db: Database,
    *,
    start: object = None,
    end: object = None,
    by: object = None,
    period: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
) -> pd.DataFrame:
    """Win rate of a cohort of opportunities (anchor: created_at), by their state now.

    Columns: [period], [by...], won, lost, open, win_rate = won / (won + lost),
    won_value (sum of actual values of the won), win_rate_all = won / (won + lost + open).
    """
    scope = _scope(start, end, by, period, owner, source, product, account, region)
    if scope.by == ("product",) and not scope.filters:
        # each opportunity's outcome beside its products, read without a join (migration 0014)
        plain = replace(scope, by=())
        relation = "(SELECT sku AS product, state, actual_value, created_at FROM v_product_outcomes)"
        inner, params = plain.grouped(relation, _WIN_MEASURES, anchor="created_at", group=("product",))
    else:
        inner, params = scope.grouped("v_opportunity_outcomes", _WIN_MEASURES, anchor="created_at")
    return _run(db, f"SELECT {scope.key_list()}{_WIN_COLUMNS} FROM ({inner}) g {scope.order()}", params)


_SHARED = ("owner", "source", "region")  # the dimensions v_opportunity_outcomes holds itself
_WIN_NAMES = ["won", "lost", "open", "win_rate", "won_value", "win_rate_all"]
_WIN_MEASURES = [
    *(f"count(CASE WHEN s.state = '{st}' THEN 1 END) AS {st}" for st in ("won", "lost", "open")),
    "coalesce(sum(CASE WHEN s.state = 'won' THEN s.actual_value END), 0) AS won_value",
]
_WIN_COLUMNS = """CAST(g.won AS BIGINT) AS won, CAST(g.lost AS BIGINT) AS lost, CAST(g.open AS BIGINT) AS open,
                  CAST(g.won AS DOUBLE) / NULLIF(g.won + g.lost, 0) AS win_rate,
                  CAST(g.won_value AS DOUBLE) AS won_value,
                  CAST(g.won AS DOUBLE) / NULLIF(g.won + g.lost + g.open, 0) AS win_rate_all"""


def pipeline(
    db: Database,
    as_of: object = None,
    *,
    by: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
) -> pd.DataFrame:
    """Open opportunities by phase: qualify (no open quote), develop (a draft, no active quote), propose.

    Columns: [by...], phase, phase_order (1-3), count, value (sum of estimated values),
    weighted_value (sum of estimated value x probability / 100). Every group lists all three
    phases. as_of=DATE: the pipeline as it stood at that instant, rebuilt from `events` (states)
    and `field_changes` (owner, estimated value and probability as they stood then); quoted
    products are today's. An opportunity with no recorded probability change, closed since (data
    from before schema v9), is weighted at the default open probability.
    """
    scope = _scope(None, None, by, None, owner, source, product, account, region)
    if as_of is None:
        relation, where, rel_params = "v_opportunity_facts", ["s.state = 'open'"], []
    else:
        when = check.timestamp(as_of, "as_of")
        last = "arg_max(e.to_state, (e.at, e.event_id))"

        def then(field: str, kind: str) -> str:
            """The field's value at `when`: its last change by then, else what the first change after
            it replaced, else today's value (no change since)."""
            mine = f"field = '{field}'"
            return f"""CASE WHEN count(*) FILTER (WHERE {mine} AND f."at" <= ?) > 0
                            THEN arg_max_null(f.new_value, (f."at", f.change_id)) FILTER (WHERE {mine} AND f."at" <= ?)
                            WHEN count(*) FILTER (WHERE {mine} AND f."at" > ?) > 0
                            THEN arg_min_null(f.old_value, (f."at", f.change_id)) FILTER (WHERE {mine} AND f."at" > ?)
                       END::{kind} AS {field}, count(*) FILTER (WHERE {mine}) > 0 AS {field}_tracked"""

        relation = f"""(WITH opp AS (
                SELECT e.entity_id AS opportunity_id, {last} AS state FROM events e
                WHERE e.entity = 'opportunity' AND e.at <= ? GROUP BY e.entity_id
            ), quote_state AS (
                SELECT e.entity_id AS quote_id, {last} AS state FROM events e
                WHERE e.entity = 'quote' AND e.at <= ? GROUP BY e.entity_id
            ), open_quotes AS (
                SELECT q.opportunity_id, count(CASE WHEN qs.state = 'active' THEN 1 END) AS active_quotes,
                       count(CASE WHEN qs.state = 'draft' THEN 1 END) AS draft_quotes
                FROM quote_state qs JOIN quotes q ON q.quote_id = qs.quote_id
                WHERE qs.state IN ('draft', 'active') GROUP BY q.opportunity_id
            ), fields AS (  -- the tracked values as they stood at as_of (salespipe/history.py)
                SELECT f.entity_id AS opportunity_id, {then("probability", "INTEGER")},
                       {then("estimated_value", "DECIMAL(18,2)")},
                       {then("owner", "VARCHAR")}
                FROM field_changes f WHERE f.entity = 'opportunity' GROUP BY f.entity_id
            )
            SELECT d.opportunity_id, d.account_id,
                   CASE WHEN h.owner_tracked THEN h.owner ELSE d.owner END AS owner,
                   CASE WHEN h.owner_tracked THEN w.region ELSE d.region END AS region, d.source,
                   CASE WHEN h.estimated_value_tracked THEN h.estimated_value ELSE d.estimated_value END
                       AS estimated_value,
                   CASE WHEN h.probability_tracked THEN h.probability
                        WHEN d.state = 'open' THEN d.probability ELSE ? END AS probability,
                   CASE WHEN oq.active_quotes > 0 THEN 'propose' WHEN oq.draft_quotes > 0 THEN 'develop'
                        ELSE 'qualify' END AS phase
            FROM opp JOIN v_opportunity_facts d ON d.opportunity_id = opp.opportunity_id
            LEFT JOIN open_quotes oq ON oq.opportunity_id = opp.opportunity_id
            LEFT JOIN fields h ON h.opportunity_id = opp.opportunity_id
            LEFT JOIN owners w ON w.owner = h.owner
            WHERE opp.state = 'open')"""
        # as_of binds once in each of opp and quote_state and four times in each tracked field
        where, rel_params = [], [when] * (2 + 4 * 3) + [machine.DEFAULT_PROBABILITY]
    measures = []
    for i, phase in enumerate(PHASES, 1):
        is_phase = f"s.phase = '{phase}'"
        measures += [
            f"count(CASE WHEN {is_phase} THEN 1 END) AS c{i}",
            f"coalesce(sum(CASE WHEN {is_phase} THEN s.estimated_value END), 0) AS v{i}",
            f"coalesce(sum(CASE WHEN {is_phase} THEN s.estimated_value * s.probability * 0.01 END), 0) AS w{i}",
        ]
    inner, params = scope.grouped(relation, measures, anchor=None, where=where, params=rel_params)
    k = range(1, len(PHASES) + 1)
    phases = _values("ph", ["phase", "phase_order"], [(p, i) for i, p in enumerate(PHASES, 1)])
    sql = f"""SELECT {scope.key_list()}ph.phase, CAST(ph.phase_order AS BIGINT) AS phase_order,
                     CAST({_case("ph.phase_order", [f"g.c{i}" for i in k])} AS BIGINT) AS "count",
                     CAST({_case("ph.phase_order", [f"g.v{i}" for i in k])} AS DOUBLE) AS value,
                     CAST({_case("ph.phase_order", [f"g.w{i}" for i in k])} AS DOUBLE) AS weighted_value
              FROM ({inner}) g CROSS JOIN {phases}
              {scope.order("phase_order")}"""
    return _run(db, sql, params)


def avg_deal_size(
    db: Database,
    *,
    start: object = None,
    end: object = None,
    by: object = None,
    period: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
) -> pd.DataFrame:
    """Won opportunities by the time they were won (anchor: closed_at).

    Columns: [period], [by...], won (count), won_value (sum of actual values),
    avg_deal_size (mean actual value of the won deals that have one).
    """
    scope = _scope(start, end, by, period, owner, source, product, account, region)
    measures = ["count(*) AS won", "coalesce(sum(s.actual_value), 0) AS won_value", "avg(s.actual_value) AS mean"]
    inner, params = scope.grouped("v_opportunity_outcomes", measures, anchor="closed_at", where=["s.state = 'won'"])
    sql = f"""SELECT {scope.key_list()}CAST(g.won AS BIGINT) AS won, CAST(g.won_value AS DOUBLE) AS won_value,
                     CAST(g.mean AS DOUBLE) AS avg_deal_size
              FROM ({inner}) g {scope.order()}"""
    return _run(db, sql, params)


def cycle_time(
    db: Database,
    *,
    start: object = None,
    end: object = None,
    by: object = None,
    period: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
) -> pd.DataFrame:
    """Days from created to closed of closed opportunities (anchor: closed_at).

    Columns: [period], [by...], outcome (won, lost, all: every group lists the three), count,
    mean_days, median_days, p90_days (NaN when count is 0; percentiles interpolate linearly).
    """
    scope = _scope(start, end, by, period, owner, source, product, account, region)
    measures = []
    for i, outcome in enumerate(OUTCOMES, 1):
        days = "s.cycle_days" if outcome == "all" else f"CASE WHEN s.state = '{outcome}' THEN s.cycle_days END"
        measures += [
            f"count({days}) AS n{i}",
            f"avg({days}) AS mean{i}",
            f"quantile_cont({days}, [0.5, 0.9]) AS q{i}",  # one sort for both percentiles
        ]
    inner, params = scope.grouped(
        "v_opportunity_outcomes", measures, anchor="closed_at", where=["s.state IN ('won', 'lost')"]
    )
    k = range(1, len(OUTCOMES) + 1)
    outcomes = _values("oc", ["outcome", "outcome_order"], [(o, i) for i, o in enumerate(OUTCOMES, 1)])
    sql = f"""SELECT {scope.key_list()}oc.outcome,
                     CAST({_case("oc.outcome_order", [f"g.n{i}" for i in k])} AS BIGINT) AS "count",
                     CAST({_case("oc.outcome_order", [f"g.mean{i}" for i in k])} AS DOUBLE) AS mean_days,
                     CAST({_case("oc.outcome_order", [f"g.q{i}[1]" for i in k])} AS DOUBLE) AS median_days,
                     CAST({_case("oc.outcome_order", [f"g.q{i}[2]" for i in k])} AS DOUBLE) AS p90_days
              FROM ({inner}) g CROSS JOIN {outcomes}
              {scope.order("oc.outcome_order")}"""
    return _run(db, sql, params)


def sales_velocity(
    db: Database,
    *,
    start: object = None,
    end: object = None,
    by: object = None,
    period: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
) -> pd.DataFrame:
    """Expected value per day: opportunities x avg deal size x win rate / cycle days.

    Columns: [period], [by...], opportunities (created in the period/window), and from the
    opportunities closed in it: avg_deal_size (mean actual value of the won), win_rate
    (won / (won + lost)), cycle_days (mean days created -> won of the won); velocity (NaN when
    a factor is missing or cycle_days is 0).
    """
    scope = _scope(start, end, by, period, owner, source, product, account, region)
    roles = _values("r", ["role"], [("created",), ("closed",)])
    relation = f"""(SELECT s.*, r.role, CASE r.role WHEN 'created' THEN s.created_at ELSE s.closed_at END AS anchor_at
                    FROM v_opportunity_outcomes s CROSS JOIN {roles}
                    WHERE r.role = 'created' OR s.state IN ('won', 'lost'))"""
    won = "s.role = 'closed' AND s.state = 'won'"
    measures = [
        "count(CASE WHEN s.role = 'created' THEN 1 END) AS opportunities",
        f"count(CASE WHEN {won} THEN 1 END) AS won",
        "count(CASE WHEN s.role = 'closed' AND s.state = 'lost' THEN 1 END) AS lost",
        f"avg(CASE WHEN {won} THEN s.actual_value END) AS deal",
        f"avg(CASE WHEN {won} THEN s.cycle_days END) AS cycle",
    ]
    inner, params = scope.grouped(relation, measures, anchor="anchor_at")
    rate = "CAST(g.won AS DOUBLE) / NULLIF(g.won + g.lost, 0)"
    sql = f"""SELECT {scope.key_list()}CAST(g.opportunities AS BIGINT) AS opportunities,
                     CAST(g.deal AS DOUBLE) AS avg_deal_size, {rate} AS win_rate,
                     CAST(g.cycle AS DOUBLE) AS cycle_days,
                     g.opportunities * CAST(g.deal AS DOUBLE) * {rate} / NULLIF(CAST(g.cycle AS DOUBLE), 0) AS velocity
              FROM ({inner}) g {scope.order()}"""
    return _run(db, sql, params)


def time_in_stage(
    db: Database,
    entity: str = "opportunity",
    *,
    start: object = None,
    end: object = None,
    by: object = None,
    owner: object = None,
    source: object = None,
    product: object = None,
    account: object = None,
    region: object = None,
) -> pd.DataFrame:
    """Days records of `entity` spent in each state/status, from `events` (anchor: time entered).

    A stage is entered by an event whose to_state/to_status differs from the record's previous
    one and left at the record's next such event (repeated partial payments are one stay);
    stages still current are left out. Columns: [by...], state, status, count, mean_days,
    median_days, p90_days, in the state machine's order. Leads take their own dimensions;
    quotes, orders and invoices those of their opportunity.
    """
    entity = check.choice(entity, "entity", ENTITIES)
    scope = _scope(start, end, by, None, owner, source, product, account, region)
    # the records' dimensions are joined only when a by column or a filter needs them
    if not scope.uses_dimensions:
        dimensions, joins = "", ""
    elif entity == "opportunity" and scope.opportunity_only:
        # a product filter asks only which opportunity a stay is of: no join (half the time at 10M)
        dimensions, joins = "t.entity_id AS opportunity_id, ", ""
    else:
        dimensions, joins = f"{_SUBJECT_COLUMNS}, ", _ENTITY_DIMS[entity]
    # v_stays: every closed stay, from fact_stays and the events after its watermark (migration 0007)
    relation = f"""(SELECT {dimensions}t.state, t.status, t.entered_at, t.days
                    FROM v_stays t {joins} WHERE t.entity = ?)"""
    measures = [
        "count(*) AS n",
        "avg(s.days) AS mean",
        "quantile_cont(s.days, [0.5, 0.9]) AS q",  # one sort for both percentiles
    ]
    inner, params = scope.grouped(relation, measures, anchor="entered_at", group=("state", "status"), params=[entity])
    known = [(state, status) for state, statuses in machine.STATES[entity].items() for status in statuses]
    stage_order = _values("so", ["state", "status", "stage_order"], [(a, b, i) for i, (a, b) in enumerate(known, 1)])
    sql = f"""SELECT {scope.key_list()}g.state, g.status, CAST(g.n AS BIGINT) AS "count",
                     CAST(g.mean AS DOUBLE) AS mean_days, CAST(g.q[1] AS DOUBLE) AS median_days,
                     CAST(g.q[2] AS DOUBLE) AS p90_days
              FROM ({inner}) g LEFT JOIN {stage_order} ON so.state = g.state AND so.status = g.status
              {scope.order("so.stage_order NULLS LAST", "g.state", "g.status")}"""
    return _run(db, sql, params)


from .lookups import OPPORTUNITY_STATES, dimension_values, opportunities, summary  # noqa: E402
from .metric_sets import funnels, win_rates  # noqa: E402

__all__ = [
    "DIMENSIONS",
    "ENTITIES",
    "FUNNEL_STAGES",
    "FUNNEL_VIEWS",
    "OPPORTUNITY_STATES",
    "OUTCOMES",
    "PERIODS",
    "PHASES",
    "avg_deal_size",
    "cycle_time",
    "dimension_values",
    "funnel",
    "funnels",
    "opportunities",
    "pipeline",
    "sales_velocity",
    "summary",
    "time_in_stage",
    "together",
    "win_rate",
    "win_rates",
]
