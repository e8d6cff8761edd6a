"""The dashboards' fact tables (sql/migrations/0007, 0014): moving their watermarks forward.

`fact_stays` (time in stage) and `fact_opportunity_products` (quoted products) hold only what can
no longer change after their watermark, `fact_product_outcomes` (each opportunity's outcome beside
its products) what stood at its own, and the views `v_stays`, `v_opportunity_products` and
`v_product_outcomes` add the rest from the base tables at query time. So a fact table is never
wrong, only slower the further its watermark lags: `refresh(db)` catches it up in one short write
transaction (the work is proportional to what changed since). Run it after bulk loads and from
time to time:

    python -m salespipe.facts [--db PATH]

`salespipe doctor` checks that the three views equal their rebuild from the base tables.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import duckdb

from .db import Database
from .errors import SalespipeError

# The closed stays of the records in the temp table _touched (entity, entity_id), from all their
# events: the same rule as v_stays_rebuilt (a stay starts where to_state/to_status changes and ends
# at the record's next such event).
_STAYS_OF_TOUCHED = """
WITH ev AS (
    SELECT e.entity, e.entity_id, e.event_id, e.to_state, e.to_status, e."at",
           lag(e.to_state) OVER w AS prev_state, lag(e.to_status) OVER w AS prev_status
    FROM events e
    WHERE EXISTS (SELECT 1 FROM _touched t WHERE t.entity = e.entity AND t.entity_id = e.entity_id)
    WINDOW w AS (PARTITION BY e.entity, e.entity_id ORDER BY e."at", e.event_id)
), starts AS (
    SELECT entity, entity_id, event_id, to_state, to_status, "at",
           lead("at") OVER (PARTITION BY entity, entity_id ORDER BY "at", event_id) AS left_at
    FROM ev
    WHERE prev_state IS NULL OR prev_state <> to_state OR prev_status <> to_status
)
SELECT entity, entity_id, to_state, to_status, "at", left_at, EXTRACT(EPOCH FROM (left_at - "at")) / 86400.0
FROM starts
WHERE left_at IS NOT NULL
ORDER BY entity, "at"
"""


@dataclass(frozen=True)
class Refreshed:
    """What `refresh` did: the watermarks before and after, and the rows it rewrote."""

    events_from: int
    events_to: int
    records: int
    stays: int
    quotes_from: int
    quotes_to: int
    quotes_final: int
    seconds: float
    outcomes: int = 0  # opportunities whose outcome beside their products was read again

    def __str__(self) -> str:
        return (
            f"stays: events {self.events_from:,} -> {self.events_to:,} ({self.records:,} records, "
            f"{self.stays:,} stays rewritten); products: quotes {self.quotes_from:,} -> {self.quotes_to:,} "
            f"({self.quotes_final:,} quotes final since); outcomes: {self.outcomes:,} opportunities read again; "
            f"{self.seconds:.2f} s"
        )


def _watermark(con: duckdb.DuckDBPyConnection, fact: str) -> int:
    return int(con.execute("SELECT watermark FROM fact_watermarks WHERE fact = ?", [fact]).fetchall()[0][0])


def _refresh_stays(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int, int]:
    before = _watermark(con, "stays")
    after = _newest_event(con)
    if after <= before:
        return before, before, 0, 0
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _touched AS SELECT DISTINCT entity, entity_id FROM events WHERE event_id > ?",
        [before],
    )
    records = int(con.execute("SELECT count(*) FROM _touched").fetchall()[0][0])
    con.execute("""DELETE FROM fact_stays f USING _touched t WHERE f.entity = t.entity AND f.entity_id = t.entity_id""")
    stays = int(con.execute(f"INSERT INTO fact_stays {_STAYS_OF_TOUCHED}").fetchall()[0][0])
    con.execute(
        "UPDATE fact_watermarks SET watermark = ? WHERE fact = 'stays'",
        [after],
    )
    con.execute("DROP TABLE _touched")
    return before, after, records, stays


def _refresh_products(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    before = _watermark(con, "products")
    after = int(con.execute("SELECT coalesce(max(quote_id), 0) FROM quotes").fetchall()[0][0])
    # the quotes not covered yet: drafts up to the old watermark, and every quote after it
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _open_quotes AS
           SELECT q.quote_id, q.state <> 'draft' AS final FROM quotes q
           WHERE q.quote_id > ? OR q.quote_id IN (SELECT quote_id FROM fact_pending_quotes)""",
        [before],
    )
    final = int(con.execute("SELECT count(*) FROM _open_quotes WHERE final").fetchall()[0][0])
    con.execute(
        """INSERT INTO fact_opportunity_products
           SELECT DISTINCT q.opportunity_id, l.sku
           FROM _open_quotes o JOIN quotes q ON q.quote_id = o.quote_id JOIN quote_lines l ON l.quote_id = o.quote_id
           WHERE o.final AND NOT EXISTS (SELECT 1 FROM fact_opportunity_products f
                                         WHERE f.opportunity_id = q.opportunity_id AND f.sku = l.sku)
           ORDER BY 1, 2"""
    )
    con.execute("DELETE FROM fact_pending_quotes")
    con.execute("INSERT INTO fact_pending_quotes SELECT quote_id FROM _open_quotes WHERE NOT final ORDER BY 1")
    con.execute(
        "UPDATE fact_watermarks SET watermark = ? WHERE fact = 'products'",
        [after],
    )
    con.execute("DROP TABLE _open_quotes")
    return before, after, final


def refresh(db: Database) -> Refreshed:
    """Move both fact tables up to the data as it is now, in one write transaction.

    Stays: the records with an event after the watermark get their stays rebuilt from all their
    events. Products: the quotes after the watermark, and the drafts before it, that are no longer
    drafts get their (opportunity, SKU) pairs added; the drafts among them are kept pending.
    """
    if not isinstance(db, Database):
        raise SalespipeError(f"refresh needs a salespipe Database (sp.connect()), got {type(db).__name__}")
    started = time.perf_counter()
    with db.transaction() as con:
        # what v_product_outcomes reads live now, before the products watermark moves
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _outcomes_touched AS SELECT opportunity_id FROM v_product_outcomes_touched"
        )
        events_from, events_to, records, stays = _refresh_stays(con)
        quotes_from, quotes_to, final = _refresh_products(con)
        outcomes = _snapshot_outcomes(con, "SELECT opportunity_id AS id FROM _outcomes_touched")
        con.execute("UPDATE fact_watermarks SET watermark = ? WHERE fact = 'outcomes'", [_newest_event(con)])
        con.execute("DROP TABLE _outcomes_touched")
    return Refreshed(
        events_from, events_to, records, stays, quotes_from, quotes_to, final, time.perf_counter() - started, outcomes
    )


def _newest_event(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT coalesce(max(event_id), 0) FROM events").fetchall()[0][0])


def _snapshot_outcomes(con: duckdb.DuckDBPyConnection, ids_sql: str, params: list | None = None) -> int:
    """Read the outcome and quoted products of the opportunities `ids_sql` selects (as id) into
    fact_product_outcomes again, as they are now; ids of opportunities that no longer exist lose
    their rows. Returns how many opportunities were read."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _outcome_ids AS SELECT DISTINCT id FROM ({ids_sql})", params or [])
    con.execute("DELETE FROM fact_product_outcomes WHERE opportunity_id IN (SELECT id FROM _outcome_ids)")
    con.execute(
        """INSERT INTO fact_product_outcomes
           SELECT o.opportunity_id, p.sku, o.state, o.actual_value, o.created_at
           FROM opportunities o LEFT JOIN fact_opportunity_products p ON p.opportunity_id = o.opportunity_id
           WHERE o.opportunity_id IN (SELECT id FROM _outcome_ids)
           ORDER BY 1, 2"""
    )
    count = int(con.execute("SELECT count(*) FROM _outcome_ids").fetchall()[0][0])
    con.execute("DROP TABLE _outcome_ids")
    return count


def forget_outcomes(con: duckdb.DuckDBPyConnection, ids_sql: str, params: list | None = None) -> None:
    """After a write that changed opportunities without an event of theirs (an import, its undo):
    their rows in fact_product_outcomes are read again, inside the caller's transaction, and the
    outcomes watermark never points past the newest event (an undo removes events, whose ids the
    next events take again)."""
    _snapshot_outcomes(con, ids_sql, params)
    con.execute(
        "UPDATE fact_watermarks SET watermark = least(watermark, ?) WHERE fact = 'outcomes'", [_newest_event(con)]
    )


def lag(db: Database) -> dict[str, int]:
    """How far behind each fact table is: events and quotes after its watermark (0: current)."""
    with db.connection(read_only=True) as con:
        stays = con.execute(
            "SELECT count(*) FROM events WHERE event_id > (SELECT watermark FROM fact_watermarks WHERE fact = 'stays')"
        ).fetchall()[0][0]
        products = con.execute(
            """SELECT (SELECT count(*) FROM quotes
                       WHERE quote_id > (SELECT watermark FROM fact_watermarks WHERE fact = 'products'))
                    + (SELECT count(*) FROM fact_pending_quotes)"""
        ).fetchall()[0][0]
    return {"stays": int(stays), "products": int(products)}


def main(argv: list[str] | None = None) -> int:
    """`python -m salespipe.facts [--db PATH]`: the same as `salespipe facts`."""
    from .cli import main as cli_main

    return cli_main(["facts", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Refreshed", "lag", "refresh"]
