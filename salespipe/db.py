"""Connecting, the schema and its migrations, and short-lived transactions.

A DuckDB file admits one writer process, and a reader in another process blocks it too. Every
JupyterLab kernel and voila visitor is a process, so a `Database` never holds the file between
calls: each operation opens a connection, does its work in one transaction and closes it. A lock
conflict at open is retried with backoff until `busy_timeout` seconds have passed, then `Busy`.
"""

from __future__ import annotations

import os
import random

try:
    import fcntl
except ImportError:  # Windows: DuckDB's own lock only
    fcntl = None  # type: ignore[assignment]
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from .errors import Busy, SalespipeError, ValidationError

DEFAULT_BUSY_TIMEOUT = 5.0
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock")


def migrations() -> list[tuple[int, str, str]]:
    """The schema migrations shipped with the package: (version, name, sql), in order."""
    folder = resources.files("salespipe") / "sql" / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.name, entry.read_text()))
    return sorted(found)


SCHEMA_VERSION = max(v for v, _, _ in migrations())


def default_path() -> Path:
    """SALESPIPE_DB, else data/salespipe.duckdb under the nearest folder (cwd or above) with data/."""
    env = os.environ.get("SALESPIPE_DB")
    if env:
        return Path(env)
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "data").is_dir():
            return folder / "data" / "salespipe.duckdb"
    return here / "data" / "salespipe.duckdb"


def _is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and any(m in str(exc) for m in _LOCK_MARKERS)


class _Engine:
    """One in-memory DuckDB instance per process, to which database files are attached per call.

    Starting a DuckDB instance costs ~15 ms; ATTACH + DETACH of a file costs ~2 ms and takes and
    releases the file's lock just the same, so short-lived access stays cheap.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._pid = 0

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None or self._pid != os.getpid():  # a forked child needs its own instance
            self._con = duckdb.connect(":memory:")
            self._con.execute("SET enable_progress_bar = false")
            self._pid = os.getpid()
        return self._con


_ENGINE = _Engine()
ALIAS = "salespipe_db"


class Database:
    """A handle on a salespipe database. It does not hold the file open between calls.

    Use `sp.connect()` to get one. `db.sql(query, params)` answers ad-hoc SQL as a DataFrame;
    the stage modules (`sp.leads`, `sp.quotes`, ...) take the handle as their first argument.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float) -> None:
        self.path = str(path)
        self.memory = self.path == ":memory:"
        self.busy_timeout = float(busy_timeout)
        self._memory_con: duckdb.DuckDBPyConnection | None = None
        self._mutex = threading.RLock()
        if self.memory:
            self._memory_con = duckdb.connect(":memory:")
            self._memory_con.execute("SET enable_progress_bar = false")

    def __repr__(self) -> str:
        return f"<salespipe.Database {self.path!r} schema v{SCHEMA_VERSION}>"

    # -- connections -------------------------------------------------------------------------

    def _attach(self, con: duckdb.DuckDBPyConnection, read_only: bool, deadline: float) -> None:
        """Attach the file, retrying lock conflicts with jittered backoff until `deadline`."""
        if read_only and not os.path.exists(self.path):
            read_only = False
        literal = self.path.replace("'", "''")
        statement = f"ATTACH '{literal}' AS {ALIAS}" + (" (READ_ONLY)" if read_only else "")
        delay = 0.005
        attempts = 0
        while True:
            attempts += 1
            try:
                con.execute(statement)
                con.execute(f"USE {ALIAS}")
                return
            except duckdb.Error as exc:
                if isinstance(exc, duckdb.IOException) and not _is_lock_conflict(exc):
                    raise ValidationError(  # a directory, not a DuckDB file, no permission: not a bare DuckDB error
                        f"cannot open {self.path} as a salespipe database ({exc}): give the path of a "
                        "salespipe DuckDB file, or of a new file to create",
                        field="path",
                        value=self.path,
                    ) from exc
                if not _is_lock_conflict(exc):
                    raise
                now = time.monotonic()
                if now >= deadline:
                    raise Busy(
                        f"{self.path} stayed locked by another process for {self.busy_timeout:g} s "
                        f"({attempts} attempts): close the other writer (a notebook kernel, voila, "
                        "a CLI run) or raise busy_timeout, e.g. sp.connect(busy_timeout=30)"
                    ) from exc
                time.sleep(min(delay * random.uniform(0.5, 1.5), deadline - now))
                delay = min(delay * 2, 0.025)

    @contextmanager
    def connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection: the file is attached for the block and released after it."""
        if self.memory:
            with self._mutex:
                yield self._memory_con  # type: ignore[misc]
            return
        deadline = time.monotonic() + self.busy_timeout  # one budget for both waits
        with _ENGINE.lock, self._sidecar_lock(read_only, deadline):
            con = _ENGINE.connection()
            self._attach(con, read_only, deadline)
            try:
                yield con
            finally:
                con.execute("USE memory")
                con.execute(f"DETACH {ALIAS}")

    @contextmanager
    def _sidecar_lock(self, shared: bool, deadline: float) -> Iterator[None]:
        """Hold `<file>.lock` (flock: shared to read, exclusive to write) around an attach.

        DuckDB's own lock is a POSIX fcntl lock, which a process loses when it closes *any*
        descriptor of the file; a BSD flock on separate files cannot be lost that way, so
        salespipe processes never overlap a writer with anyone, whatever DuckDB does inside.
        `<file>.gate` is taken first and held only until the main lock is granted: a waiting
        writer closes the gate, so a stream of readers cannot starve it. Waits up to the
        deadline, then Busy. Skipped (DuckDB's lock alone) where the files cannot be created.
        """
        if fcntl is None:
            yield
            return
        try:
            gate = os.open(f"{self.path}.gate", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            yield
            return
        try:
            main = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            os.close(gate)
            yield
            return
        try:
            self._flock(gate, fcntl.LOCK_EX, deadline)
            try:
                self._flock(main, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, deadline)
            finally:
                fcntl.flock(gate, fcntl.LOCK_UN)
            yield
        finally:
            os.close(main)  # releases the flock
            os.close(gate)

    def _flock(self, fd: int, mode: int, deadline: float) -> None:
        delay = 0.0005
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                now = time.monotonic()
                if now >= deadline:
                    raise Busy(
                        f"{self.path} stayed in use by another salespipe process for {self.busy_timeout:g} s: "
                        "close the other writer (a notebook kernel, voila, a CLI run) or raise busy_timeout, "
                        "e.g. sp.connect(busy_timeout=30)"
                    ) from None
                time.sleep(min(delay * random.uniform(0.5, 1.5), deadline - now))
                delay = min(delay * 2, 0.01)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckDB transaction: everything inside commits together or not at all."""
        with self.connection() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise
            con.execute("COMMIT")

    # -- the analyst's surface --------------------------------------------------------------

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run SQL and return a DataFrame. Pure SELECTs open the file read-only.

        Bind values with `?` or `$name` placeholders: db.sql("SELECT * FROM leads WHERE owner = ?", ["maria"]).
        """
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("query must be a non-empty SQL string", field="query", value=query)
        try:
            statements = duckdb.extract_statements(query)
        except duckdb.Error as exc:
            raise ValidationError(f"the SQL does not parse: {exc}", field="query", value=query) from None
        read_only = all(s.type == duckdb.StatementType.SELECT for s in statements)
        with self.connection(read_only=read_only) as con:
            try:
                return con.execute(query, params).df() if params is not None else con.execute(query).df()
            except duckdb.Error as exc:
                raise ValidationError(f"the query failed: {exc}", field="query", value=query) from None

    def tables(self) -> list[str]:
        """Names of the tables and views an analyst can query."""
        df = self.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1")
        return df["table_name"].tolist()

    def schema_version(self) -> int:
        """The schema version stored in the database."""
        with self.connection(read_only=True) as con:
            return _stored_version(con)

    def close(self) -> None:
        """Release the in-memory database (file databases hold nothing between calls)."""
        if self._memory_con is not None:
            self._memory_con.close()
            self._memory_con = None


def _stored_version(con: duckdb.DuckDBPyConnection) -> int:
    has = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'").fetchall()[
        0
    ][0]
    if not has:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]


def migrate(db: Database) -> int:
    """Bring the schema up to this package's version; refuse a database from a newer one."""
    with db.transaction() as con:
        version = _stored_version(con)
        if version > SCHEMA_VERSION:
            raise SalespipeError(
                f"{db.path} has schema version {version}, newer than this salespipe understands "
                f"({SCHEMA_VERSION}): upgrade salespipe (pip install -U salespipe) to open it"
            )
        if version == 0:
            con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
        for number, name, sql in migrations():
            if number > version:
                con.execute(sql)
                con.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [number, name])
        return max(version, SCHEMA_VERSION)


def connect(path: str | os.PathLike[str] | None = None, *, busy_timeout: float | None = None) -> Database:
    """Open (creating or migrating) a salespipe database.

    path: a file, ":memory:" for tests, or None for SALESPIPE_DB, else data/salespipe.duckdb.
    busy_timeout: seconds to keep retrying while another process holds the file
    (default SALESPIPE_BUSY_TIMEOUT, else 5).
    """
    if path is None:
        path = default_path()
    if busy_timeout is None:
        busy_timeout = float(os.environ.get("SALESPIPE_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT))
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = Database(path, busy_timeout=busy_timeout)
    migrate(db)
    return db


SMALL_FRAME = 4096


def _plain(values: pd.Series) -> list:
    """A column as plain Python values for binding (None for every kind of missing)."""
    out = values.astype(object).tolist()
    return [None if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v) else v for v in out]


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """The frame as Arrow; columns of Decimals become decimal128(38, 6), exact (never float)."""
    columns = {}
    for name in frame.columns:
        col = frame[name]
        if col.dtype == object:
            sample = col.dropna()
            if len(sample) and isinstance(sample.iloc[0], Decimal):
                columns[name] = pa.array(_plain(col), type=pa.decimal128(38, 6))
                continue
        columns[name] = pa.Array.from_pandas(col)
    return pa.table(columns)


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> Iterator[str]:
    """Copy a DataFrame into the temp table `name` for the duration of a block.

    A registered DataFrame is re-scanned through pandas by every statement (~3 ms each); a temp
    table costs one copy, then ~0.5 ms per statement. Small frames are bound as list parameters,
    large ones copied through Arrow.
    """
    if len(frame) <= SMALL_FRAME:
        columns = list(frame.columns)
        select = ", ".join(f'unnest(${i + 1}) AS "{c}"' for i, c in enumerate(columns))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select}", [_plain(frame[c]) for c in columns])
    else:
        con.register(f"{name}_frame", _arrow(frame))
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_frame")
        finally:
            try:
                con.unregister(f"{name}_frame")
            except duckdb.Error:
                pass  # an aborted transaction refuses even this; the error above is the one to see
    try:
        yield name
    except BaseException:
        try:
            con.execute(f"DROP TABLE IF EXISTS {name}")
        except duckdb.Error:
            pass  # a DuckDB error aborted the transaction, which refuses this; its rollback drops the table
        raise  # the original error, not "transaction is aborted"
    if len(frame) > SMALL_FRAME:  # a small one is replaced by the next call; dropping costs a statement
        con.execute(f"DROP TABLE IF EXISTS {name}")


def first(result: duckdb.DuckDBPyConnection) -> tuple | None:
    """The first row of an executed query, or None; the result is consumed in full.

    (DuckDB 2 keeps a result open after fetchone(), blocking the next statement.)
    """
    rows = result.fetchall()
    return rows[0] if rows else None


def new_id(table: str, key: str, order: str) -> str:
    """SQL for new ids: one past the table's maximum, numbered in `order`.

    Deterministic (unlike sequences under parallel scans), so the same input builds the same
    database; safe because a file has one writer at a time and :memory: is behind a mutex.
    """
    return f"((SELECT coalesce(max({key}), 0) FROM {table}) + row_number() OVER (ORDER BY {order}))"
