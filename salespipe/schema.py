"""The schema: plain-SQL migrations in salespipe/sql/migrations, applied in one write transaction.

A migration whose first line is `-- own transaction` starts a new one, after the migrations
before it commit: DuckDB cannot create an index in a transaction that updated its table (0006
rewrites account keys; 0012 indexes them).

`connect` reads the stored version with a read-only open and calls `migrate` only when the file
is new or older than this package, so a current file never needs the write lock to open.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import duckdb

from .errors import SalespipeError, ValidationError
from .statements import begin

if TYPE_CHECKING:
    from .db import Database


def migrations() -> list[tuple[int, str, str]]:
    """The schema migrations shipped with the package: (version, name, sql), in order."""
    folder = resources.files("salespipe") / "sql" / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.name, entry.read_text()))
    return sorted(found)


SCHEMA_VERSION = max(v for v, _, _ in migrations())


def _stored_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version in the attached file: 0 for an empty file; refuses a file that is not salespipe's."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()"
        ).fetchall()
    ]
    if "schema_version" not in tables:
        if tables:
            shown = ", ".join(sorted(tables)[:5]) + (" ..." if len(tables) > 5 else "")
            raise NotASalespipeDatabase(
                f"holds tables ({shown}) but no schema_version: it is a DuckDB file, but not a salespipe "
                "database; give another path (a new file is created with the schema)"
            )
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]


def pending(con: duckdb.DuckDBPyConnection) -> list[int]:
    """The shipped migrations the attached (salespipe) file has not recorded, in order.

    Usually those above its version; a number below it too, when branches merged their
    migrations in another order than they were numbered."""
    if not con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_name = 'schema_version'"
    ).fetchall()[0][0]:
        return [number for number, _, _ in migrations()]
    recorded = {r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()}
    return [number for number, _, _ in migrations() if number not in recorded]


class NotASalespipeDatabase(ValidationError):
    """A DuckDB file with tables of its own and no salespipe schema: never migrated into."""

    def __init__(self, detail: str, path: str = "") -> None:
        super().__init__(f"{path} {detail}".strip(), field="path", value=path or None)


def too_new(db: Database, version: int) -> SalespipeError:
    """The refusal of a database written by a newer salespipe."""
    return SalespipeError(
        f"{db.path} has schema version {version}, newer than this salespipe understands "
        f"({SCHEMA_VERSION}): upgrade salespipe (pip install -U salespipe) to open it"
    )


def version_of(path: str, con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the attached file at `path`; refuses a file that is not salespipe's."""
    try:
        return _stored_version(con)
    except NotASalespipeDatabase as exc:
        raise NotASalespipeDatabase(str(exc), path) from None


OWN_TRANSACTION = "-- own transaction"


def _groups(todo: list[tuple[int, str, str]]) -> list[list[tuple[int, str, str]]]:
    """The pending migrations cut into transactions: a new one at each `-- own transaction`."""
    groups: list[list[tuple[int, str, str]]] = []
    for migration in todo:
        if not groups or migration[2].startswith(OWN_TRANSACTION):
            groups.append([])
        groups[-1].append(migration)
    return groups


def migrate(db: Database) -> int:
    """Bring the schema up to this package's version; refuse a database from a newer one.

    Runs in one write transaction (two when an `-- own transaction` migration is pending); a
    migration that fails (objects in the file clash with the schema) changes nothing of its
    transaction and says so, and the file keeps the version the ones before reached.
    """
    from .db import Database  # (db imports this module)

    if not isinstance(db, Database):
        raise ValidationError(f"db must be a salespipe database from sp.connect(), got {type(db).__name__}", field="db")
    with db.connection() as con:
        version = version_of(db.path, con)
        if version > SCHEMA_VERSION:
            raise too_new(db, version)
        missing = set(pending(con))
        if not missing:
            return version
        reached = version
        for group in _groups([m for m in migrations() if m[0] in missing]):
            try:
                with begin(con):
                    if reached == 0:
                        con.execute(
                            "CREATE TABLE IF NOT EXISTS schema_version "
                            "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
                        )
                    for number, name, sql in group:
                        con.execute(sql)
                        con.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [number, name])
            except duckdb.Error as exc:
                kept = "nothing was changed" if reached == version else f"the file stays at schema version {reached}"
                raise SalespipeError(
                    f"could not migrate {db.path} from schema version {reached} to {SCHEMA_VERSION} "
                    f"({str(exc).splitlines()[0]}): the file holds objects that clash with salespipe's schema; "
                    f"{kept}. Rename or drop them, or use another file"
                ) from None
            reached = max(reached, max(number for number, _, _ in group))
        return SCHEMA_VERSION
