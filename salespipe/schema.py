"""The schema: plain-SQL migrations in salespipe/sql/migrations, applied in one write transaction.

`connect` reads the stored version with a read-only open and calls `migrate` only when the file
is new or older than this package, so a current file never needs the write lock to open.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import duckdb

from .errors import SalespipeError, ValidationError

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


def migrate(db: Database) -> int:
    """Bring the schema up to this package's version; refuse a database from a newer one.

    Runs in one write transaction; a migration that fails (objects in the file clash with the
    schema) changes nothing and says so.
    """
    from .db import Database  # (db imports this module)

    if not isinstance(db, Database):
        raise ValidationError(f"db must be a salespipe database from sp.connect(), got {type(db).__name__}", field="db")
    with db.transaction() as con:
        version = version_of(db.path, con)
        if version > SCHEMA_VERSION:
            raise too_new(db, version)
        missing = set(pending(con))
        if not missing:
            return version
        try:
            if version == 0:
                con.execute(
                    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
                )
            for number, name, sql in migrations():
                if number in missing:
                    con.execute(sql)
                    con.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [number, name])
        except duckdb.Error as exc:
            raise SalespipeError(
                f"could not migrate {db.path} from schema version {version} to {SCHEMA_VERSION} "
                f"({str(exc).splitlines()[0]}): the file holds objects that clash with salespipe's schema; "
                "nothing was changed. Rename or drop them, or use another file"
            ) from None
        return SCHEMA_VERSION
