"""The schema: created and migrated on connect, refused when newer than the package."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest
from conftest import assert_unchanged, make_invoice, make_lead, rows, snapshot

import salespipe as sp
import salespipe.db

DESIGN_COLUMNS = {
    "leads": {"lead_id", "owner", "source", "created_at", "state", "status"},
    "accounts": {"account_id"},
    "contacts": {"contact_id", "account_id"},
    "opportunities": {
        "opportunity_id",
        "lead_id",
        "account_id",
        "owner",
        "source",
        "estimated_value",
        "probability",
        "actual_value",
        "created_at",
        "closed_at",
        "state",
        "status",
    },
    "products": {"sku", "name"},
    "price_lists": {"price_list_id"},
    "quotes": {"quote_id", "quote_number", "revision", "opportunity_id", "state", "status"},
    "quote_lines": {"quote_id"},
    "orders": {"order_id", "quote_id", "state", "status"},
    "order_lines": {"order_id"},
    "invoices": {"invoice_id", "order_id", "state", "status"},
    "invoice_lines": {"invoice_id"},
    "payments": {"invoice_id"},
    "events": {"entity", "entity_id", "from_state", "to_state", "at"},
}

MONEY = [
    ("leads", "estimated_value"),
    ("opportunities", "estimated_value"),
    ("opportunities", "actual_value"),
    ("price_list_items", "unit_price"),
    ("quotes", "discount_amount"),
    ("quotes", "freight"),
    ("quote_lines", "unit_price"),
    ("quote_lines", "discount"),
    ("quote_lines", "tax"),
    ("order_lines", "unit_price"),
    ("invoice_lines", "unit_price"),
    ("payments", "amount"),
]


def columns(db, table: str) -> dict[str, str]:
    return dict(rows(db, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]))


def test_connect_creates_the_schema_at_the_packages_version(db):
    assert db.schema_version() == sp.SCHEMA_VERSION
    # every shipped migration, in order (numbers may skip one reserved for another branch: 0006)
    shipped = [number for number, _, _ in sp.db.migrations()]
    assert shipped[0] == 1 and shipped[-1] == sp.SCHEMA_VERSION
    assert [v for (v,) in rows(db, "SELECT version FROM schema_version ORDER BY 1")] == shipped


def test_the_tables_have_the_columns_the_design_promises(db):
    for table, wanted in DESIGN_COLUMNS.items():
        assert wanted <= set(columns(db, table)), table


def test_money_is_decimal_18_2_in_the_database_and_decimal_in_python(db):
    for table, column in MONEY:
        assert columns(db, table)[column] == "DECIMAL(18,2)", (table, column)
    invoice = make_invoice(db)
    totals = sp.invoices.totals(db, invoice)
    assert all(isinstance(v, Decimal) for v in vars(totals).values())


def test_the_analysts_sql_binds_parameters_and_returns_a_dataframe(db):
    make_lead(db, owner="maria")
    make_lead(db, owner="li")
    frame = db.sql("SELECT owner FROM leads WHERE owner = ?", ["maria"])
    assert frame["owner"].tolist() == ["maria"]
    assert "leads" in db.tables() and "v_quote_totals" in db.tables()


def test_connect_to_a_file_creates_it_and_its_folder(tmp_path):
    path = tmp_path / "data" / "sales.duckdb"
    db = sp.connect(path)
    assert path.exists()
    assert db.schema_version() == sp.SCHEMA_VERSION


def test_reconnecting_to_a_file_is_idempotent_and_keeps_the_data(tmp_path):
    path = tmp_path / "sales.duckdb"
    first = sp.connect(path)
    lead = make_lead(first, last_name="Lovelace")
    before = snapshot(first)

    second = sp.connect(path)
    third = sp.connect(str(path))

    assert_unchanged(before, snapshot(third))
    assert second.schema_version() == sp.SCHEMA_VERSION
    assert rows(second, "SELECT last_name FROM leads WHERE lead_id = ?", [lead]) == [("Lovelace",)]
    assert rows(third, "SELECT count(*) FROM price_lists WHERE is_default") == [(1,)]


def test_a_file_written_by_a_newer_salespipe_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "sales.duckdb"
    db = sp.connect(path)
    newer = sp.SCHEMA_VERSION + 1
    db.sql("INSERT INTO schema_version VALUES (?, '9999_future.sql', now()::TIMESTAMP)", [newer])
    before = snapshot(db)

    with pytest.raises(sp.SalespipeError, match="upgrade") as info:
        sp.connect(path)

    assert str(newer) in str(info.value)
    assert_unchanged(before, snapshot(db))


def with_fake_migration(monkeypatch, sql: str) -> int:
    """Make the package look one migration newer: a fake 000N that runs `sql`."""
    shipped = salespipe.db.migrations()
    number = sp.SCHEMA_VERSION + 1
    fake = (number, f"{number:04d}_fake.sql", sql)
    for module in (salespipe.schema, salespipe.db):  # migrate() reads the first, connect() the second
        monkeypatch.setattr(module, "migrations", lambda: [*shipped, fake])
        monkeypatch.setattr(module, "SCHEMA_VERSION", number)
    return number


def test_a_file_at_an_older_version_is_migrated_on_connect(tmp_path, monkeypatch):
    path = tmp_path / "sales.duckdb"
    old = sp.connect(path)
    lead = make_lead(old, last_name="Hopper")

    number = with_fake_migration(monkeypatch, "ALTER TABLE leads ADD COLUMN linkedin VARCHAR;")
    db = sp.connect(path)

    assert db.schema_version() == number
    assert "linkedin" in columns(db, "leads")
    assert rows(db, "SELECT last_name, linkedin FROM leads WHERE lead_id = ?", [lead]) == [("Hopper", None)]
    versions = rows(db, "SELECT version, name FROM schema_version ORDER BY 1")
    assert versions[-1] == (number, f"{number:04d}_fake.sql")

    sp.connect(path)  # and again: nothing left to do
    assert rows(db, "SELECT count(*) FROM schema_version") == [(len(salespipe.db.migrations()),)]


def test_a_new_database_gets_every_migration(monkeypatch):
    number = with_fake_migration(monkeypatch, "ALTER TABLE leads ADD COLUMN linkedin VARCHAR;")
    db = sp.connect(":memory:")
    assert db.schema_version() == number and "linkedin" in columns(db, "leads")


def test_a_failing_migration_leaves_the_file_at_its_old_version(tmp_path, monkeypatch):
    path = tmp_path / "sales.duckdb"
    old = sp.connect(path)
    make_lead(old)
    before = snapshot(old)

    with_fake_migration(monkeypatch, "ALTER TABLE leads ADD COLUMN linkedin VARCHAR; SELECT error('broken migration');")
    with pytest.raises(Exception, match="broken migration"):
        sp.connect(path)

    assert_unchanged(before, snapshot(old))
    assert "linkedin" not in columns(old, "leads")


def _file_at_version(path, version: int) -> None:
    """A file the package's migrations up to `version` made, as an older salespipe left it."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    for number, name, sql in salespipe.db.migrations():
        if number <= version:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [number, name])
    con.execute("INSERT INTO accounts VALUES (1, 'Acme S.A.', company_key('Acme S.A.'), TIMESTAMP '2024-01-01', NULL)")
    con.close()


def test_an_index_migration_runs_in_a_transaction_of_its_own_after_the_updates_before_it(tmp_path):
    """0006 rewrites the account keys and 0012 indexes them: DuckDB cannot do both in one transaction."""
    path = tmp_path / "v5.duckdb"
    _file_at_version(path, 5)
    db = sp.connect(path)
    assert db.schema_version() == sp.SCHEMA_VERSION
    indexes = rows(db, "SELECT table_name, index_name FROM duckdb_indexes() ORDER BY 1")
    assert indexes == [("accounts", "accounts_name_key"), ("contacts", "contacts_email_key")]
    assert rows(db, "SELECT name_key FROM accounts") == [("acme",)]


def test_a_clash_in_the_later_transaction_keeps_what_the_first_one_migrated_and_says_so(tmp_path):
    path = tmp_path / "v5.duckdb"
    _file_at_version(path, 5)
    con = duckdb.connect(str(path))
    con.execute("CREATE INDEX contacts_email_key ON contacts (email)")  # someone's own index, same name
    con.close()
    with pytest.raises(sp.SalespipeError, match="stays at schema version 11") as info:
        sp.connect(path)
    assert "contacts_email_key" in str(info.value) and "Rename or drop them" in str(info.value)
    con = duckdb.connect(str(path))
    assert con.execute("SELECT max(version) FROM schema_version").fetchall() == [(11,)]
    assert con.execute("SELECT name_key FROM accounts").fetchall() == [("acme",)]  # 0006's update committed
    con.execute("DROP INDEX contacts_email_key")
    con.close()
    assert sp.connect(path).schema_version() == sp.SCHEMA_VERSION  # what the message said to do
