"""SQL for analysts in a notebook (jupysql `%sql` / `%%sql`) that never locks anyone out.

jupysql keeps the connection it is given open for the life of the kernel, and an open DuckDB
connection holds the file's lock: `%sql duckdb:///data/salespipe.duckdb` would lock every form
and dashboard out until the kernel stops. `PerQueryConnection` is a DB-API 2.0 connection that
holds nothing: each statement opens the salespipe file read-only through salespipe's own lock
protocol (`Database.connection(read_only=True)`: the shared flock behind the gate that keeps a
waiting writer from being starved, lock conflicts retried), runs, fetches its rows and releases
the file before `%sql` shows anything. A form saving a lead in another kernel waits at most for
one query, never for the analyst's session.

    %load_ext sql
    from salespipe.sqlnotebook import PerQueryConnection
    salespipe = PerQueryConnection()        # SALESPIPE_DB, else data/salespipe.duckdb; read-only
    %sql salespipe --alias salespipe
    %sql SELECT state, count(*) AS n FROM opportunities GROUP BY ALL

Only reads run (SELECT, including DESCRIBE, SUMMARIZE, SHOW, WITH, VALUES; and EXPLAIN); anything
else is refused with `ReadOnly` before the file is opened. Every row is fetched at once, so put a
LIMIT on big queries, or use `db.sql(...)`, which returns a DataFrame through Arrow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb

from .db import Database, connect
from .errors import ReadOnly, ValidationError

# DB-API 2.0 module globals (PEP 249)
apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"

READ_STATEMENTS = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)


def read_only_database(db: Database | str | os.PathLike[str] | None = None) -> Database:
    """A read-only handle: `db` itself if it is one, else `sp.connect(path, read_only=True)`.

    A read-write `Database` on a file gets a read-only handle on the same file (same busy
    timeout); an in-memory one is returned as is (no other process can reach it).
    """
    if isinstance(db, Database):
        if db.read_only or db.memory:
            return db
        return connect(db.path, read_only=True, busy_timeout=db.busy_timeout)
    return connect(db, read_only=True)


def _check_readable(query: object) -> str:
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("the query must be a non-empty SQL string", field="query", value=query)
    try:
        statements = duckdb.extract_statements(query)
    except (duckdb.Error, UnicodeError) as exc:
        raise ValidationError(f"the SQL does not parse: {exc}", field="query", value=query) from None
    refused = [s.type.name for s in statements if s.type not in READ_STATEMENTS]
    if refused:
        raise ReadOnly(
            f"this SQL connection only reads (a {refused[0]} statement was refused): it opens the salespipe "
            "database read-only per query so that forms and dashboards never wait for it; change data "
            "through the salespipe functions (sp.leads.create(db, ...)) or a form"
        )
    return query


class Cursor:
    """A DB-API cursor whose `execute` opens the file, runs one statement, fetches all rows and closes it."""

    arraysize = 1000

    def __init__(self, db: Database) -> None:
        self._db = db
        self._rows: list[tuple] = []
        self._at = 0
        self.description: list[tuple] | None = None
        self.rowcount = -1

    def execute(self, operation: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> Cursor:
        """Run one read statement; its rows stay here, the database file is already released."""
        query = _check_readable(operation)
        with self._db.connection(read_only=True) as con:
            try:
                result = con.execute(query, parameters) if parameters is not None else con.execute(query)
                description = result.description
                rows = result.fetchall() if description is not None else []
            except duckdb.Error as exc:
                raise ValidationError(f"the query failed: {exc}", field="query", value=query) from None
        self.description = [tuple(d) for d in description] if description is not None else None
        self._rows, self._at = rows, 0
        self.rowcount = len(rows)
        return self

    def executemany(self, operation: str, seq_of_parameters: Sequence[Sequence[Any]]) -> Cursor:
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)
        return self

    def fetchone(self) -> tuple | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        size = self.arraysize if size is None else size
        chunk = self._rows[self._at : self._at + size]
        self._at += len(chunk)
        return chunk

    def fetchall(self) -> list[tuple]:
        rest = self._rows[self._at :]
        self._at = len(self._rows)
        return rest

    def __iter__(self) -> Iterator[tuple]:
        while (row := self.fetchone()) is not None:
            yield row

    def close(self) -> None:
        self._rows, self._at = [], 0

    def setinputsizes(self, sizes: object) -> None:
        """Part of DB-API; nothing to do."""

    def setoutputsize(self, size: object, column: object = None) -> None:
        """Part of DB-API; nothing to do."""


class PerQueryConnection:
    """A DB-API 2.0 connection to a salespipe database that opens the file per query, read-only.

    db: a `Database`, a path, or None for SALESPIPE_DB, else data/salespipe.duckdb (the
    `sp.connect()` default); it is opened with `read_only=True`, so it must exist.
    """

    def __init__(self, db: Database | str | os.PathLike[str] | None = None) -> None:
        self.db = read_only_database(db)

    def __repr__(self) -> str:
        return f"<salespipe.sqlnotebook.PerQueryConnection {self.db.path!r}, read-only, opened per query>"

    @property
    def path(self) -> str:
        return self.db.path

    def cursor(self) -> Cursor:
        return Cursor(self.db)

    def execute(self, operation: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> Cursor:
        """A new cursor that ran `operation` (a shortcut, as sqlite3 and duckdb offer)."""
        return self.cursor().execute(operation, parameters)

    def commit(self) -> None:
        """Nothing to commit: every statement is a read that has already finished."""

    def rollback(self) -> None:
        """Nothing to roll back."""

    def close(self) -> None:
        """Nothing is held open, so nothing to close."""


__all__ = ["Cursor", "PerQueryConnection", "READ_STATEMENTS", "read_only_database"]
