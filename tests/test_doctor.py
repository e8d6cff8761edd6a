"""doctor: every invariant check passes on a sound database and catches a planted violation.

Each test copies a database built by the walkthrough, breaks one thing with raw SQL and asserts
that doctor.run reports the check meant to catch it, for that record. A check added to
doctor.CHECKS without a planted violation here fails test_every_check_has_a_planted_violation.
"""

from __future__ import annotations

import os
import shutil

import pytest

import salespipe as sp
from salespipe import doctor, machine, walkthrough
from salespipe.engine import ENGINE

KINDS = ("state_known", "state_matches_events", "events_in_time_order", "changed_at_matches_events")
GENERATED = {f"{entity}_{kind}" for entity in machine.TABLES for kind in KINDS}

# check -> [(what is broken, SQL statements, (entity, key of the record in `ids`) it is reported for)]
# {names} in the SQL are filled from `ids`: the walkthrough's ids plus a few looked up below.
# the facts' watermarks moved to the newest event and quote without reading them: the views then
# trust the fact tables for every record
_ALL_COVERED = [
    "UPDATE fact_watermarks SET watermark = (SELECT max(event_id) FROM events) WHERE fact = 'outcomes'",
    "UPDATE fact_watermarks SET watermark = (SELECT max(quote_id) FROM quotes) WHERE fact = 'products'",
    "DELETE FROM fact_pending_quotes",
]
PLANTS: dict[str, list[tuple[str, list[str], tuple[str, str]]]] = {
    "qualified_lead_links": [
        (
            "opportunity points nowhere",
            ["UPDATE leads SET opportunity_id = 999999 WHERE lead_id = {lead}"],
            ("lead", "lead"),
        ),
        ("account points nowhere", ["UPDATE leads SET account_id = 999999 WHERE lead_id = {lead}"], ("lead", "lead")),
        ("contact points nowhere", ["UPDATE leads SET contact_id = 999999 WHERE lead_id = {lead}"], ("lead", "lead")),
        (
            "opportunity belongs to another lead",
            ["UPDATE opportunities SET lead_id = {other_lead} WHERE opportunity_id = {opportunity}"],
            ("lead", "lead"),
        ),
        (
            "qualified but links to nothing",
            ["UPDATE leads SET account_id = NULL, contact_id = NULL, opportunity_id = NULL WHERE lead_id = {lead}"],
            ("lead", "lead"),
        ),
    ],
    "field_history_current": [
        (
            "a probability changed behind the history's back",
            [
                "INSERT INTO field_changes VALUES (9999, 'opportunity', {lost_opportunity}, 'probability', '0', '55', "
                "TIMESTAMP '2099-01-01', NULL)"
            ],
            ("opportunity", "lost_opportunity"),
        ),
        (
            "an owner edited with raw SQL after a recorded change",
            [
                "INSERT INTO field_changes VALUES (9998, 'lead', {lead}, 'owner', NULL, 'maria', TIMESTAMP '2024-01-01', NULL)",
                "UPDATE leads SET owner = 'someone else' WHERE lead_id = {lead}",
            ],
            ("lead", "lead"),
        ),
    ],
    "lead_stages_current": [
        (
            "a stage time the transitions did not write",
            ["UPDATE lead_stages SET won_at = NULL WHERE lead_id = {lead}"],
            ("lead", "lead"),
        ),
        (
            "a lead missing from the fact table",
            ["DELETE FROM lead_stages WHERE lead_id = {lead}"],
            ("lead", "lead"),
        ),
    ],
    "stays_current": [
        (
            "a fact table claiming events it never read",
            ["UPDATE fact_watermarks SET watermark = (SELECT max(event_id) FROM events) WHERE fact = 'stays'"],
            ("opportunity", "opportunity"),
        ),
        (
            "a stay no event made",
            [
                "UPDATE fact_watermarks SET watermark = (SELECT max(event_id) FROM events) WHERE fact = 'stays'",
                "INSERT INTO fact_stays SELECT * FROM v_stays_rebuilt",
                "INSERT INTO fact_stays VALUES ('lead', {lead}, 'open', 'new', TIMESTAMP '2000-01-01', "
                "TIMESTAMP '2000-01-02', 1.0)",
            ],
            ("lead", "lead"),
        ),
    ],
    "opportunity_products_current": [
        (
            "a product never quoted on the opportunity",
            ["INSERT INTO fact_opportunity_products VALUES ({opportunity}, 'NEVER-QUOTED')"],
            ("opportunity", "opportunity"),
        ),
        (
            "a fact table claiming quotes it never read",
            [
                "UPDATE fact_watermarks SET watermark = (SELECT max(quote_id) FROM quotes) WHERE fact = 'products'",
                "DELETE FROM fact_pending_quotes",
            ],
            ("opportunity", "opportunity"),
        ),
    ],
    "product_outcomes_current": [
        (
            "an opportunity missing from a fact table that claims to cover it",
            [
                "DELETE FROM fact_product_outcomes WHERE opportunity_id = {opportunity}",
                *_ALL_COVERED,
            ],
            ("opportunity", "opportunity"),
        ),
        (
            "an outcome stored as it never stood",
            [
                "DELETE FROM fact_product_outcomes WHERE opportunity_id = {opportunity}",
                """INSERT INTO fact_product_outcomes SELECT opportunity_id, NULL, 'lost', NULL, created_at
                   FROM opportunities WHERE opportunity_id = {opportunity} AND state <> 'lost'""",
                *_ALL_COVERED,
            ],
            ("opportunity", "opportunity"),
        ),
    ],
    "won_opportunity_one_won_quote": [
        (
            "two won quotes",
            ["UPDATE quotes SET state = 'won', status = 'won' WHERE quote_id = {quote}"],
            ("opportunity", "opportunity"),
        ),
        (
            "won quote without its order",
            [
                "DELETE FROM invoice_lines WHERE invoice_id = {invoice}",
                "DELETE FROM payments WHERE invoice_id = {invoice}",
                "DELETE FROM invoices WHERE invoice_id = {invoice}",
                "DELETE FROM order_lines WHERE order_id = {order}",
                "DELETE FROM orders WHERE order_id = {order}",
            ],
            ("opportunity", "opportunity"),
        ),
    ],
    "won_quote_belongs_to_won_opportunity": [
        (
            "opportunity reopened under a won quote",
            ["UPDATE opportunities SET state = 'open', status = 'in_progress' WHERE opportunity_id = {opportunity}"],
            ("quote", "revision"),
        ),
    ],
    "order_total_equals_quote_total": [
        (
            "order line quantity changed",
            ["UPDATE order_lines SET quantity = quantity + 1 WHERE order_id = {order} AND line_no = 1"],
            ("order", "order"),
        ),
        (
            "order freight changed",
            ["UPDATE orders SET freight = freight + 1 WHERE order_id = {order}"],
            ("order", "order"),
        ),
        (
            "actual value differs from the quote total",
            ["UPDATE opportunities SET actual_value = actual_value - 1 WHERE opportunity_id = {opportunity}"],
            ("order", "order"),
        ),
    ],
    "order_lines_equal_quote_lines": [
        (
            "order line product swapped (total unchanged)",
            ["UPDATE order_lines SET sku = 'SWAPPED' WHERE order_id = {order} AND line_no = 1"],
            ("order", "order"),
        ),
        (
            "extra order line of nothing",
            [
                """INSERT INTO order_lines (order_line_id, order_id, quote_line_id, line_no, sku, quantity,
                                            unit_price, discount, tax)
                   SELECT max(order_line_id) + 1, {order}, NULL, 99, 'DOCK-1', 0, 150.00, 0, 0 FROM order_lines"""
            ],
            ("order", "order"),
        ),
    ],
    "invoice_lines_equal_order_lines": [
        (
            "invoice line product swapped (total unchanged)",
            ["UPDATE invoice_lines SET sku = 'SWAPPED' WHERE invoice_id = {invoice} AND line_no = 1"],
            ("invoice", "invoice"),
        ),
        (
            "invoice line quantity changed",
            ["UPDATE invoice_lines SET quantity = quantity - 1 WHERE invoice_id = {invoice} AND line_no = 2"],
            ("invoice", "invoice"),
        ),
        (
            "invoice freight differs from the order's",
            ["UPDATE invoices SET freight = freight + 1 WHERE invoice_id = {invoice}"],
            ("invoice", "invoice"),
        ),
    ],
    "payments_within_total": [
        (
            "payments exceed the total",
            [
                """INSERT INTO payments (payment_id, invoice_id, amount, paid_at)
                   SELECT max(payment_id) + 1, {invoice}, 100.00, max(paid_at) FROM payments"""
            ],
            ("invoice", "invoice"),
        ),
        (
            "paid without payments reaching the total",
            [
                "DELETE FROM payments WHERE payment_id = (SELECT max(payment_id) FROM payments WHERE invoice_id = {invoice})"
            ],
            ("invoice", "invoice"),
        ),
    ],
    "revisions_intact": [
        ("revision gap", ["UPDATE quotes SET revision = 3 WHERE quote_id = {revision}"], ("quote", "quote")),
        (
            "revision 1 missing",
            ["DELETE FROM quote_lines WHERE quote_id = {quote}", "DELETE FROM quotes WHERE quote_id = {quote}"],
            ("quote", "revision"),
        ),
        (
            "two open revisions",
            ["UPDATE quotes SET state = 'active', status = 'open' WHERE quote_id IN ({quote}, {revision})"],
            ("quote", "quote"),
        ),
    ],
    "order_and_invoice_links": [
        (
            "order from a quote that was not won",
            ["UPDATE orders SET quote_id = {quote} WHERE order_id = {order}"],
            ("order", "order"),
        ),
        (
            "order from another opportunity's quote",
            ["UPDATE orders SET opportunity_id = {lost_opportunity} WHERE order_id = {order}"],
            ("order", "order"),
        ),
        (
            "invoice of an order that is not invoiced",
            ["UPDATE orders SET state = 'fulfilled', status = 'complete' WHERE order_id = {order}"],
            ("invoice", "invoice"),
        ),
        (
            "invoice of a missing order",
            ["UPDATE invoices SET order_id = 999999 WHERE invoice_id = {invoice}"],
            ("invoice", "invoice"),
        ),
    ],
    "import_keys_resolve": [
        (
            "an imported record's key points to an opportunity that is gone",
            ["INSERT INTO import_keys VALUES ('testcrm', 'opportunity', 'X-1', {missing}, 1)"],
            ("opportunity", "missing"),
        ),
    ],
    "import_keys_unique": [
        (
            "one CRM id names two records",
            [
                "INSERT INTO import_keys VALUES ('testcrm', 'opportunity', 'X-1', {opportunity}, 1)",
                "INSERT INTO import_keys VALUES ('testcrm', 'opportunity', 'X-1', {lost_opportunity}, 1)",
            ],
            ("opportunity", "opportunity"),
        ),
        (
            "a record with two ids of one CRM",
            [
                "INSERT INTO import_keys VALUES ('testcrm', 'lead', 'L-1', {lead}, 1)",
                "INSERT INTO import_keys VALUES ('testcrm', 'lead', 'L-2', {lead}, 1)",
            ],
            ("lead", "lead"),
        ),
    ],
}

# the walkthrough record of each entity that the state checks are planted on
RECORD = {"lead": "lead", "opportunity": "opportunity", "quote": "revision", "order": "order", "invoice": "invoice"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A database file the walkthrough built, and the ids it returned (plus a few looked up)."""
    path = tmp_path_factory.mktemp("doctor") / "walkthrough.duckdb"
    db = sp.connect(path)
    ids = walkthrough.run(db, say=lambda line: None)
    ids["missing"] = 999_999
    ids["other_lead"] = int(
        db.sql("SELECT lead_id FROM opportunities WHERE opportunity_id = ?", [ids["lost_opportunity"]])["lead_id"][0]
    )
    return path, ids


@pytest.fixture
def fresh(built, tmp_path):
    """A fresh copy of the walkthrough database, and its ids."""
    source, ids = built
    path = tmp_path / "copy.duckdb"
    ENGINE.settle()  # this process may still be checkpointing its last write: never copy a file mid-way
    shutil.copy(source, path)
    if os.path.exists(f"{source}.wal"):
        shutil.copy(f"{source}.wal", f"{path}.wal")
    return sp.connect(path), ids


def _plant(db, statements: list[str], ids: dict[str, int]) -> None:
    for statement in statements:
        db.sql(statement.format(**ids))


def _reported(db, check: str) -> set[tuple[str, int]]:
    found = doctor.run(db)
    assert list(found.columns) == ["check", "entity", "id", "detail"]
    mine = found[found["check"] == check]
    assert mine["detail"].map(lambda d: isinstance(d, str) and len(d) > 5).all(), mine
    return {(entity, int(ident)) for entity, ident in zip(mine["entity"], mine["id"])}


def test_doctor_passes_on_a_fresh_walkthrough_database():
    db = sp.connect(":memory:")
    said = []
    walkthrough.run(db, say=said.append)
    found = doctor.run(db)
    assert found.empty, found.to_string()
    assert list(found.columns) == ["check", "entity", "id", "detail"]
    assert "doctor: all invariants hold" in said[-1]
    summary = doctor.summary(db)
    assert summary["check"].tolist() == [c.name for c in doctor.CHECKS]
    assert (summary["violations"] == 0).all()


def test_doctor_passes_on_the_copied_database_too(fresh):
    db, _ = fresh
    assert doctor.run(db).empty


def test_every_check_has_a_planted_violation():
    names = [c.name for c in doctor.CHECKS]
    assert len(names) == len(set(names)), "check names must be unique"
    assert set(names) >= GENERATED, "a per-entity state check is missing"
    assert set(PLANTS) == set(names) - GENERATED, "plant a violation for each new check in PLANTS"


@pytest.mark.parametrize(
    ("check", "statements", "reported"),
    [
        pytest.param(check, sql, at, id=f"{check}: {what}")
        for check, plants in PLANTS.items()
        for what, sql, at in plants
    ],
)
def test_doctor_reports_a_planted_violation(fresh, check, statements, reported):
    db, ids = fresh
    _plant(db, statements, ids)
    entity, key = reported
    assert (entity, ids[key]) in _reported(db, check)


@pytest.mark.parametrize("entity", list(machine.TABLES))
def test_an_unknown_state_is_reported(fresh, entity):
    db, ids = fresh
    table, key = machine.TABLES[entity]
    record = ids[RECORD[entity]]
    db.sql(f"UPDATE {table} SET state = 'limbo' WHERE {key} = ?", [record])
    assert (entity, record) in _reported(db, f"{entity}_state_known")


@pytest.mark.parametrize("entity", list(machine.TABLES))
def test_a_status_of_another_state_is_reported(fresh, entity):
    db, ids = fresh
    table, key = machine.TABLES[entity]
    record = ids[RECORD[entity]]
    (first_state, _), (_, other_statuses) = list(machine.STATES[entity].items())[:2]
    db.sql(f"UPDATE {table} SET state = ?, status = ? WHERE {key} = ?", [first_state, other_statuses[0], record])
    assert (entity, record) in _reported(db, f"{entity}_state_known")


@pytest.mark.parametrize("entity", list(machine.TABLES))
def test_a_state_that_differs_from_the_last_event_is_reported(fresh, entity):
    db, ids = fresh
    table, key = machine.TABLES[entity]
    record = ids[RECORD[entity]]
    now = db.sql(f"SELECT state, status FROM {table} WHERE {key} = ?", [record]).iloc[0]
    state, status = next(
        (s, st) for s, statuses in machine.STATES[entity].items() for st in statuses if (s, st) != tuple(now)
    )
    db.sql(f"UPDATE {table} SET state = ?, status = ? WHERE {key} = ?", [state, status, record])
    assert (entity, record) in _reported(db, f"{entity}_state_matches_events")
    assert (entity, record) not in _reported(db, f"{entity}_state_known")  # a known state, just not the recorded one


@pytest.mark.parametrize("entity", list(machine.TABLES))
def test_a_lost_last_event_is_reported(fresh, entity):
    db, ids = fresh
    record = ids[RECORD[entity]]
    db.sql(
        """DELETE FROM events WHERE event_id = (SELECT max(event_id) FROM events WHERE entity = ? AND entity_id = ?)""",
        [entity, record],
    )
    assert (entity, record) in _reported(db, f"{entity}_state_matches_events")


@pytest.mark.parametrize("entity", list(machine.TABLES))
def test_a_record_without_events_is_reported(fresh, entity):
    db, ids = fresh
    record = ids[RECORD[entity]]
    db.sql("DELETE FROM events WHERE entity = ? AND entity_id = ?", [entity, record])
    found = doctor.run(db)
    mine = found[(found["check"] == f"{entity}_state_matches_events") & (found["id"] == record)]
    assert mine["detail"].tolist() == ["has no events"]


def test_the_summary_counts_violations_per_check(fresh):
    db, ids = fresh
    _plant(db, ["UPDATE leads SET contact_id = 999999 WHERE lead_id = {lead}"], ids)
    summary = doctor.summary(db).set_index("check")["violations"]
    assert summary["qualified_lead_links"] == 1
    assert summary.drop("qualified_lead_links").eq(0).all()


@pytest.mark.parametrize("entity", list(machine.TABLES))
def test_an_event_dated_before_the_one_before_it_is_reported(fresh, entity):
    db, ids = fresh
    record = ids[RECORD[entity]]
    db.sql(
        """UPDATE events SET "at" = "at" - INTERVAL 400 DAY
           WHERE event_id = (SELECT max(event_id) FROM events WHERE entity = ? AND entity_id = ?)""",
        [entity, record],
    )
    assert (entity, record) in _reported(db, f"{entity}_events_in_time_order")


@pytest.mark.parametrize("entity", list(machine.TABLES))
def test_a_changed_at_that_is_not_the_last_change_is_reported(fresh, entity):
    db, ids = fresh
    table, key = machine.TABLES[entity]
    record = ids[RECORD[entity]]
    db.sql(f"UPDATE {table} SET changed_at = TIMESTAMP '1999-01-01' WHERE {key} = ?", [record])
    assert (entity, record) in _reported(db, f"{entity}_changed_at_matches_events")
