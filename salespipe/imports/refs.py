"""References between imported records: by the source CRM's id (import_keys), or by display name
(Dynamics' lookups, HubSpot's company names) the way qualification matches: an account by its
company key, a contact by email or full name. Accounts named but not found are created.
"""

from __future__ import annotations

import duckdb

from .batch import Batch

NOT_FOUND = "{what} {value!r} is neither in this file nor in the database: import the {plural} first"


def by_key(con: duckdb.DuckDBPyConnection, relation: str, column: str, system: str, entity: str, alias: str) -> str:
    """SQL joining `relation`'s `column` (an external id) to the key of `entity`: adds `alias`.record_id."""
    del con
    return (
        f"LEFT JOIN import_keys {alias} ON {alias}.system = '{_quote(system)}' AND {alias}.entity = '{entity}' "
        f"AND {alias}.external_id = {relation}.{column}"
    )


def _quote(text: str) -> str:
    return text.replace("'", "''")


def unresolved(
    con: duckdb.DuckDBPyConnection, table: str, column: str, resolved: str, what: str, plural: str, field: str
) -> list[tuple[int, str, str]]:
    """(row, field, message) for rows naming a record by `column` that `resolved` left NULL."""
    rows = con.execute(
        f"SELECT _i, {column} FROM {table} WHERE {column} IS NOT NULL AND {resolved} IS NULL ORDER BY _i"
    ).fetchall()
    return [(i, field, NOT_FOUND.format(what=what, value=v, plural=plural)) for i, v in rows]


def match_accounts(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Add `name_account`, `name_contact` and `name_key` to `table` (which has `account`): the account
    whose company key matches the name, else a contact whose full name matches (Dynamics' customer
    may be a contact) with that contact's account."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
            WITH names AS (SELECT DISTINCT account, company_key(account) AS name_key FROM {table}
                           WHERE account IS NOT NULL),
                 acc AS (SELECT n.account, n.name_key, min(a.account_id) AS account_id
                         FROM names n LEFT JOIN accounts a ON a.name_key = n.name_key GROUP BY 1, 2),
                 per AS (SELECT lower(trim(concat_ws(' ', first_name, last_name))) AS full_name,
                                min(contact_id) AS contact_id FROM contacts GROUP BY 1)
            SELECT t.*, acc.name_key,
                   coalesce(acc.account_id, c.account_id) AS name_account,
                   CASE WHEN acc.account_id IS NULL THEN p.contact_id END AS name_contact
            FROM {table} t
            LEFT JOIN acc ON acc.account = t.account
            LEFT JOIN per p ON acc.account_id IS NULL AND p.full_name = lower(t.account)
            LEFT JOIN contacts c ON c.contact_id = p.contact_id"""
    )


def create_named_accounts(con: duckdb.DuckDBPyConnection, table: str, batch: Batch, at_column: str) -> int:
    """Create an account for each name in `table` that matched nothing (the first row of a name creates
    it), fill `name_account`, and note them as created by the batch. Returns how many."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _named AS
            SELECT name_key, arg_min(account, _i) AS name, min({at_column}) AS created_at, min(_i) AS first_row
            FROM {table} WHERE account IS NOT NULL AND name_account IS NULL AND name_contact IS NULL
                         AND name_key IS NOT NULL
            GROUP BY name_key"""
    )
    created = int(con.execute("SELECT count(*) FROM _named").fetchall()[0][0])
    if not created:
        return 0
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _named AS
           SELECT (SELECT coalesce(max(account_id), 0) FROM accounts) + row_number() OVER (ORDER BY first_row)
                  AS account_id, * FROM _named"""
    )
    con.execute(
        """INSERT INTO accounts (account_id, name, name_key, created_at, lead_id)
           SELECT account_id, name, name_key, created_at, NULL FROM _named"""
    )
    batch.created("account", "SELECT account_id AS id FROM _named")
    con.execute(
        f"""UPDATE {table} SET name_account = n.account_id FROM _named n
            WHERE {table}.name_key = n.name_key AND {table}.name_account IS NULL AND {table}.name_contact IS NULL"""
    )
    return created


def match_contacts(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Add `name_contact_id` to `table` (which has `contact`): by email when it looks like one, else by full name."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
            WITH per AS (SELECT lower(trim(concat_ws(' ', first_name, last_name))) AS full_name,
                                min(contact_id) AS contact_id FROM contacts GROUP BY 1),
                 mail AS (SELECT email_key, min(contact_id) AS contact_id FROM contacts
                          WHERE email_key IS NOT NULL GROUP BY 1)
            SELECT t.*, coalesce(m.contact_id, p.contact_id) AS name_contact_id
            FROM {table} t
            LEFT JOIN mail m ON t.contact LIKE '%@%' AND m.email_key = email_key(t.contact)
            LEFT JOIN per p ON t.contact NOT LIKE '%@%' AND p.full_name = lower(t.contact)"""
    )
