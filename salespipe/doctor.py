"""doctor: check every invariant of the sales process over a database and list the violations.

Each check is one SQL query returning (entity, id, detail) rows; an empty result is a pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from . import check, machine
from .db import Database


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    sql: str


def _state_checks() -> list[Check]:
    """Current state/status of each record = the last event's to_state/to_status; states are known."""
    checks = []
    for entity, (table, key) in machine.TABLES.items():
        known = " OR ".join(
            f"(state = '{state}' AND status IN ({', '.join(repr(s) for s in statuses)}))"
            for state, statuses in machine.STATES[entity].items()
        )
        checks.append(
            Check(
                f"{entity}_state_known",
                f"every {entity} has a state and status from the state machine",
                f"SELECT '{entity}' AS entity, {key} AS id, state || ' (' || status || ') is not a known state' AS detail "
                f"FROM {table} WHERE NOT ({known})",
            )
        )
        checks.append(
            Check(
                f"{entity}_state_matches_events",
                f"every {entity}'s state and status equal its last event's to_state and to_status",
                f"""WITH last AS (
                        SELECT entity_id, arg_max(to_state, event_id) AS to_state, arg_max(to_status, event_id) AS to_status
                        FROM events WHERE entity = '{entity}' GROUP BY entity_id)
                    SELECT '{entity}' AS entity, r.{key} AS id,
                           CASE WHEN l.entity_id IS NULL THEN 'has no events'
                                ELSE 'is ' || r.state || ' (' || r.status || ') but its last event says '
                                     || l.to_state || ' (' || l.to_status || ')' END AS detail
                    FROM {table} r LEFT JOIN last l ON l.entity_id = r.{key}
                    WHERE l.entity_id IS NULL OR l.to_state <> r.state OR l.to_status <> r.status""",
            )
        )
        checks.append(
            Check(
                f"{entity}_events_in_time_order",
                f"every {entity}'s events run forward in time: none is dated before the one written before it",
                f"""WITH e AS (
                        SELECT entity_id, event_id, "at",
                               lag("at") OVER (PARTITION BY entity_id ORDER BY event_id) AS previous_at
                        FROM events WHERE entity = '{entity}')
                    SELECT '{entity}' AS entity, entity_id AS id,
                           'event ' || event_id || ' at ' || "at" || ' is dated before the event before it ('
                           || previous_at || ')' AS detail
                    FROM e WHERE "at" < previous_at""",
            )
        )
        checks.append(
            Check(
                f"{entity}_changed_at_matches_events",
                f"every {entity}'s changed_at is the time of its last state change in events (NULL: none since creation)",
                f"""WITH last AS (
                        SELECT entity_id, max("at") FILTER (WHERE action <> 'create') AS last_at
                        FROM events WHERE entity = '{entity}' GROUP BY entity_id)
                    SELECT '{entity}' AS entity, r.{key} AS id,
                           'changed_at ' || coalesce(r.changed_at::VARCHAR, 'none') || ' but its last change is at '
                           || coalesce(l.last_at::VARCHAR, 'none') AS detail
                    FROM {table} r JOIN last l ON l.entity_id = r.{key}
                    WHERE r.changed_at IS DISTINCT FROM l.last_at""",
            )
        )
    return checks


CHECKS: list[Check] = [
    Check(
        "qualified_lead_links",
        "each qualified lead links to the records it produced, and its opportunity points back to it",
        """SELECT 'lead' AS entity, l.lead_id AS id,
                  CASE WHEN l.account_id IS NOT NULL AND a.account_id IS NULL THEN 'account ' || l.account_id || ' does not exist'
                       WHEN l.contact_id IS NOT NULL AND c.contact_id IS NULL THEN 'contact ' || l.contact_id || ' does not exist'
                       WHEN l.opportunity_id IS NOT NULL AND o.opportunity_id IS NULL THEN 'opportunity ' || l.opportunity_id || ' does not exist'
                       WHEN o.lead_id IS DISTINCT FROM l.lead_id AND o.opportunity_id IS NOT NULL THEN 'opportunity ' || o.opportunity_id || ' points to lead ' || coalesce(o.lead_id::VARCHAR, 'none')
                       ELSE 'is qualified but links to nothing' END AS detail
           FROM leads l
           LEFT JOIN accounts a ON a.account_id = l.account_id
           LEFT JOIN contacts c ON c.contact_id = l.contact_id
           LEFT JOIN opportunities o ON o.opportunity_id = l.opportunity_id
           WHERE l.state = 'qualified' AND (
                 (l.account_id IS NOT NULL AND a.account_id IS NULL)
              OR (l.contact_id IS NOT NULL AND c.contact_id IS NULL)
              OR (l.opportunity_id IS NOT NULL AND (o.opportunity_id IS NULL OR o.lead_id IS DISTINCT FROM l.lead_id))
              OR coalesce(l.account_id, l.contact_id, l.opportunity_id) IS NULL)""",
    ),
    Check(
        "won_opportunity_one_won_quote",
        "each won opportunity won through a quote has exactly one won quote and one order from it",
        """WITH w AS (
               SELECT o.opportunity_id,
                      count(DISTINCT q.quote_id) FILTER (WHERE q.state = 'won') AS won_quotes,
                      count(DISTINCT q.quote_id) AS quotes,
                      count(DISTINCT r.order_id) AS orders
               FROM opportunities o
               LEFT JOIN quotes q ON q.opportunity_id = o.opportunity_id
               LEFT JOIN orders r ON r.quote_id = q.quote_id AND q.state = 'won'
               WHERE o.state = 'won' GROUP BY o.opportunity_id)
           SELECT 'opportunity' AS entity, opportunity_id AS id,
                  'has ' || won_quotes || ' won quotes and ' || orders || ' orders from them' AS detail
           FROM w WHERE quotes > 0 AND (won_quotes <> 1 OR orders <> 1)""",
    ),
    Check(
        "won_quote_belongs_to_won_opportunity",
        "a won quote's opportunity is won",
        """SELECT 'quote' AS entity, q.quote_id AS id, 'is won but opportunity ' || o.opportunity_id || ' is ' || o.state AS detail
           FROM quotes q JOIN opportunities o ON o.opportunity_id = q.opportunity_id
           WHERE q.state = 'won' AND o.state <> 'won'""",
    ),
    Check(
        "order_total_equals_quote_total",
        "each order's total equals its quote's, and the won opportunity's actual value equals it too",
        """SELECT 'order' AS entity, r.order_id AS id,
                  'total ' || ot.total || ' but quote ' || r.quote_id || ' total ' || qt.total
                  || ' and opportunity actual value ' || coalesce(o.actual_value::VARCHAR, 'none') AS detail
           FROM orders r
           JOIN v_order_totals ot ON ot.order_id = r.order_id
           JOIN v_quote_totals qt ON qt.quote_id = r.quote_id
           JOIN opportunities o ON o.opportunity_id = r.opportunity_id
           WHERE ot.total <> qt.total OR o.actual_value IS DISTINCT FROM qt.total""",
    ),
    Check(
        "order_lines_equal_quote_lines",
        "order lines equal the won quote's lines",
        """WITH ql AS (SELECT r.order_id, l.line_no, l.sku, l.quantity, l.unit_price, l.discount, l.tax
                       FROM orders r JOIN quote_lines l ON l.quote_id = r.quote_id),
                ol AS (SELECT order_id, line_no, sku, quantity, unit_price, discount, tax FROM order_lines),
                diff AS ((SELECT * FROM ql EXCEPT SELECT * FROM ol) UNION ALL (SELECT * FROM ol EXCEPT SELECT * FROM ql))
           SELECT DISTINCT 'order' AS entity, order_id AS id, 'line ' || line_no || ' (' || sku || ') differs from its quote' AS detail
           FROM diff""",
    ),
    Check(
        "invoice_lines_equal_order_lines",
        "invoice lines equal the order's lines, and the invoice keeps the order's discount and freight",
        """WITH ol AS (SELECT i.invoice_id, l.line_no, l.sku, l.quantity, l.unit_price, l.discount, l.tax
                       FROM invoices i JOIN order_lines l ON l.order_id = i.order_id),
                il AS (SELECT invoice_id, line_no, sku, quantity, unit_price, discount, tax FROM invoice_lines),
                diff AS ((SELECT * FROM ol EXCEPT SELECT * FROM il) UNION ALL (SELECT * FROM il EXCEPT SELECT * FROM ol))
           SELECT DISTINCT 'invoice' AS entity, invoice_id AS id, 'line ' || line_no || ' (' || sku || ') differs from its order' AS detail
           FROM diff
           UNION ALL
           SELECT 'invoice', i.invoice_id, 'discount or freight differs from order ' || r.order_id
           FROM invoices i JOIN orders r ON r.order_id = i.order_id
           WHERE i.discount_pct <> r.discount_pct OR i.discount_amount <> r.discount_amount OR i.freight <> r.freight""",
    ),
    Check(
        "payments_within_total",
        "payments never exceed the invoice total; an invoice is paid exactly when they reach it",
        """SELECT 'invoice' AS entity, i.invoice_id AS id,
                  'paid ' || t.paid || ' of ' || t.total || ' but is ' || i.state || ' (' || i.status || ')' AS detail
           FROM invoices i JOIN v_invoice_totals t ON t.invoice_id = i.invoice_id
           WHERE t.paid > t.total
              OR (i.state = 'paid') <> (t.paid = t.total AND (t.paid > 0 OR t.total = 0))
              OR (i.status = 'partial') <> (t.paid > 0 AND t.paid < t.total AND i.state = 'active')
              OR (i.state = 'canceled' AND t.paid > 0)""",
    ),
    Check(
        "revisions_intact",
        "every quote number has revisions 1..n with no gaps, at most one of them open",
        """SELECT 'quote' AS entity, min(quote_id) AS id,
                  quote_number || ' has revisions ' || string_agg(revision::VARCHAR, ',' ORDER BY revision) AS detail
           FROM quotes GROUP BY quote_number
           HAVING min(revision) <> 1 OR max(revision) <> count(*)
               OR count(*) FILTER (WHERE state IN ('draft', 'active')) > 1""",
    ),
    Check(
        "order_and_invoice_links",
        "each order comes from a won quote of its opportunity; each invoice from a fulfilled-then-invoiced order",
        """SELECT 'order' AS entity, r.order_id AS id, 'quote ' || r.quote_id || ' is not a won quote of opportunity ' || r.opportunity_id AS detail
           FROM orders r LEFT JOIN quotes q ON q.quote_id = r.quote_id
           WHERE q.quote_id IS NULL OR q.state <> 'won' OR q.opportunity_id <> r.opportunity_id
           UNION ALL
           SELECT 'invoice', i.invoice_id, 'order ' || i.order_id || ' is ' || coalesce(r.state, 'missing')
           FROM invoices i LEFT JOIN orders r ON r.order_id = i.order_id
           WHERE r.order_id IS NULL OR r.state <> 'invoiced'""",
    ),
    Check(
        "field_history_current",
        "every tracked field of a lead or opportunity equals the value its last recorded change (the last written) set",
        """WITH last AS (
               SELECT entity, entity_id, field, arg_max_null(new_value, change_id) AS value
               FROM field_changes GROUP BY ALL),
           now AS (
               SELECT 'lead' AS entity, lead_id AS entity_id, 'owner' AS field, owner AS value FROM leads
               UNION ALL SELECT 'lead', lead_id, 'source', source FROM leads
               UNION ALL SELECT 'lead', lead_id, 'estimated_value', estimated_value::VARCHAR FROM leads
               UNION ALL SELECT 'opportunity', opportunity_id, 'owner', owner FROM opportunities
               UNION ALL SELECT 'opportunity', opportunity_id, 'estimated_value', estimated_value::VARCHAR
                         FROM opportunities
               UNION ALL SELECT 'opportunity', opportunity_id, 'probability', probability::VARCHAR FROM opportunities
               UNION ALL SELECT 'opportunity', opportunity_id, 'estimated_close_date', estimated_close_date::VARCHAR
                         FROM opportunities)
           SELECT l.entity, l.entity_id AS id,
                  l.field || ' is ' || coalesce(n.value, 'empty') || ' but its last recorded change set '
                  || coalesce(l.value, 'empty') AS detail
           FROM last l LEFT JOIN now n USING (entity, entity_id, field)
           WHERE n.value IS DISTINCT FROM l.value""",
    ),
    Check(
        "lead_stages_current",
        "the lead_stages fact table (what the funnel reads) equals its rebuild from the base tables",
        """WITH diff AS ((SELECT * FROM lead_stages EXCEPT SELECT * FROM v_lead_stages_rebuilt)
                         UNION ALL (SELECT * FROM v_lead_stages_rebuilt EXCEPT SELECT * FROM lead_stages))
           SELECT DISTINCT 'lead' AS entity, lead_id AS id,
                  'lead_stages differs from leads, opportunities, quotes and invoices' AS detail
           FROM diff""",
    ),
    Check(
        "stays_current",
        "v_stays (time in stage: fact_stays plus the events after its watermark) equals its rebuild from events",
        """WITH diff AS ((SELECT * FROM v_stays EXCEPT ALL SELECT * FROM v_stays_rebuilt)
                         UNION ALL (SELECT * FROM v_stays_rebuilt EXCEPT ALL SELECT * FROM v_stays))
           SELECT DISTINCT entity, entity_id AS id, 'its stays in fact_stays differ from its events' AS detail
           FROM diff""",
    ),
    Check(
        "opportunity_products_current",
        "v_opportunity_products (fact_opportunity_products plus the quotes it does not cover) equals its rebuild",
        """WITH diff AS ((SELECT * FROM v_opportunity_products EXCEPT ALL SELECT * FROM v_opportunity_products_rebuilt)
                         UNION ALL
                         (SELECT * FROM v_opportunity_products_rebuilt EXCEPT ALL SELECT * FROM v_opportunity_products))
           SELECT DISTINCT 'opportunity' AS entity, opportunity_id AS id,
                  'its quoted products in fact_opportunity_products differ from its quote lines' AS detail
           FROM diff""",
    ),
    Check(
        "product_outcomes_current",
        "v_product_outcomes (fact_product_outcomes plus the opportunities touched since) equals its rebuild",
        """WITH diff AS ((SELECT * FROM v_product_outcomes EXCEPT ALL SELECT * FROM v_product_outcomes_rebuilt)
                         UNION ALL
                         (SELECT * FROM v_product_outcomes_rebuilt EXCEPT ALL SELECT * FROM v_product_outcomes))
           SELECT DISTINCT 'opportunity' AS entity, opportunity_id AS id,
                  'its outcome beside its products in fact_product_outcomes differs from the opportunity: '
                  || 'run salespipe facts' AS detail
           FROM diff""",
    ),
    Check(
        "import_keys_resolve",
        "each imported record's key (its id in the source CRM) points to a record that exists",
        """SELECT k.entity, k.record_id AS id,
                  'import key ' || k.system || ' ' || k.external_id || ' (batch ' || k.batch_id || ') points to no '
                  || k.entity AS detail
           FROM import_keys k
           WHERE NOT CASE k.entity
               WHEN 'lead' THEN k.record_id IN (SELECT lead_id FROM leads)
               WHEN 'account' THEN k.record_id IN (SELECT account_id FROM accounts)
               WHEN 'contact' THEN k.record_id IN (SELECT contact_id FROM contacts)
               WHEN 'opportunity' THEN k.record_id IN (SELECT opportunity_id FROM opportunities)
               ELSE false END""",
    ),
    Check(
        "import_keys_unique",
        "a source CRM's id names one record, and a record has one id per source CRM",
        """SELECT entity, min(record_id) AS id,
                  system || ' id ' || external_id || ' names ' || count(DISTINCT record_id) || ' records' AS detail
           FROM import_keys GROUP BY system, entity, external_id HAVING count(*) > 1
           UNION ALL
           SELECT entity, record_id, 'has ' || count(*) || ' ' || system || ' ids: ' || string_agg(external_id, ', ')
           FROM import_keys GROUP BY system, entity, record_id HAVING count(*) > 1""",
    ),
    *_state_checks(),
]


def run(db: Database, *, progress: bool = False) -> pd.DataFrame:
    """Run every check; returns the violations (check, entity, id, detail), empty when all pass."""
    db = check.database(db)
    frames = []
    with db.connection(read_only=True) as con:
        for chk in tqdm(CHECKS, desc="doctor", disable=not progress, unit="check"):
            df = con.execute(chk.sql).df()
            if len(df):
                df.insert(0, "check", chk.name)
                frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["check", "entity", "id", "detail"])
    return pd.concat(frames, ignore_index=True)


def summary(db: Database) -> pd.DataFrame:
    """One row per check: name, what it verifies and how many violations it found."""
    db = check.database(db)
    found = run(db)
    counts = found.groupby("check").size() if len(found) else pd.Series(dtype=int)
    return pd.DataFrame(
        [(c.name, c.description, int(counts.get(c.name, 0))) for c in CHECKS],
        columns=["check", "description", "violations"],
    )
