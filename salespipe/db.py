"""Connecting, the schema and its migrations, and short-lived transactions.

A DuckDB file admits one writer process, and a reader in another process blocks it too. Every
JupyterLab kernel and voila visitor is a process, so a `Database` does not hold the file between
calls: each operation attaches it, does its work in one transaction and lets it go. After a write
the file stays attached for a moment (`salespipe.engine`: at most `LINGER` seconds idle, and never
once another process waits), so the checkpoint runs after the call returns. A lock conflict at
open is retried with backoff until `busy_timeout` seconds have passed, then `Busy`.
"""

from __future__ import annotations

import math
import numbers
import os
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from .engine import ALIAS, ENGINE, detach, lock_files, unlock_files
from .errors import Busy, NotFound, ReadOnly, SalespipeError, ValidationError
from .schema import SCHEMA_VERSION, NotASalespipeDatabase, migrate, migrations, pending, too_new, version_of
from .statements import begin

__all__ = ["SCHEMA_VERSION", "Database", "connect", "migrate", "migrations"]

DEFAULT_BUSY_TIMEOUT = 5.0
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock")
_HOLDER_RE = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
_READER_HINT = "would be able to open this database in read-only mode"
_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file


def default_path() -> Path:
    """SALESPIPE_DB, else data/salespipe.duckdb under the nearest folder (cwd or above) with data/."""
    env = os.environ.get("SALESPIPE_DB")
    if env and env.strip():
        return Path(env.strip()).expanduser()
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "data").is_dir():
            return folder / "data" / "salespipe.duckdb"
    return here / "data" / "salespipe.duckdb"


def _is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and any(m in str(exc) for m in _LOCK_MARKERS)


def database_path(path: object) -> str:
    """A database path as given by a user: str or PathLike, `~` expanded first; ':memory:' as is."""
    if path is None:
        path = default_path()
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise ValidationError(
            f"path must be a file path (a str or pathlib.Path) or ':memory:', got {type(path).__name__} {path!r}",
            field="path",
            value=path,
        )
    text = os.fspath(path)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if text == ":memory:":
        return text
    if not text.strip() or "\x00" in text:
        raise ValidationError(f"path {text!r} is not a file path", field="path", value=text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            f"path {text!r} holds characters that cannot be encoded (a lone surrogate)", field="path", value=text
        ) from None
    return str(Path(text).expanduser())


def busy_seconds(value: object) -> float:
    """busy_timeout in seconds: the argument, else SALESPIPE_BUSY_TIMEOUT, else 5. A finite number >= 0."""
    field = "busy_timeout"
    if value is None:
        env = os.environ.get("SALESPIPE_BUSY_TIMEOUT")
        if env is None or not env.strip():
            return DEFAULT_BUSY_TIMEOUT
        value, field = env.strip(), "SALESPIPE_BUSY_TIMEOUT"
    seconds = None
    if isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            pass
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        seconds = float(value)
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise ValidationError(
            f"{field} must be a number of seconds >= 0 (e.g. 5 or 30), got {value!r}", field=field, value=value
        )
    return seconds


def _looks_like_duckdb(path: str) -> bool:
    """True for a DuckDB database file (its magic bytes), or an empty file DuckDB would initialize."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return True  # unreadable: let DuckDB say why
    return len(head) == 0 or head[8:12] == _DUCKDB_MAGIC


def _holder(exc: BaseException, read_only: bool) -> str:
    """Who holds the file, from DuckDB's lock error: 'a reader (program, PID n)' or 'a writer (...)'."""
    text = str(exc)
    found = _HOLDER_RE.search(text)
    who = f" ({found['program']}, PID {found['pid']})" if found else ""
    if not read_only and _READER_HINT in text:
        return f"a reader{who}"
    return f"a writer{who}"


# Rows per row group when salespipe writes; None keeps DuckDB's default (122,880). Smaller groups
# make the checkpoint at detach cheaper for an update of an old row (it rewrites the updated
# columns of the whole group) but dearer for every write (it rewrites the pointers of every group
# of each table it touches), and DuckDB does not keep the size in the file: a plain DuckDB write
# merges small groups back. bench/row_groups_bench.py measures both sides; the default won.
ROW_GROUP_ROWS: int | None = None


class Database:
    """A handle on a salespipe database. It does not hold the file open between calls.

    Use `sp.connect()` to get one. `db.sql(query, params)` answers ad-hoc SQL as a DataFrame;
    the stage modules (`sp.leads`, `sp.quotes`, ...) take the handle as their first argument.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float, read_only: bool = False) -> None:
        self.path = str(path)
        self.memory = self.path == ":memory:"
        self.busy_timeout = float(busy_timeout)
        self.read_only = bool(read_only)
        self._memory_con: duckdb.DuckDBPyConnection | None = None
        self._mutex = threading.RLock()
        if self.memory:
            self._memory_con = duckdb.connect(":memory:")
            self._memory_con.execute("SET enable_progress_bar = false")

    def __repr__(self) -> str:
        mode = ", read-only" if self.read_only else ""
        return f"<salespipe.Database {self.path!r} schema v{SCHEMA_VERSION}{mode}>"

    # -- connections -------------------------------------------------------------------------

    def _attach(self, con: duckdb.DuckDBPyConnection, read_only: bool, deadline: float) -> None:
        """Attach the file, retrying lock conflicts with jittered backoff until `deadline`."""
        if read_only and not os.path.exists(self.path):
            if self.read_only:
                raise NotFound("database", self.path, hint="it was moved or deleted since sp.connect")
            read_only = False
        literal = self.path.replace("'", "''")
        statement = f"ATTACH '{literal}' AS {ALIAS}"
        if read_only:
            statement += " (READ_ONLY)"
        elif ROW_GROUP_ROWS is not None:
            statement += f" (ROW_GROUP_SIZE {int(ROW_GROUP_ROWS)})"
        delay = 0.005
        attempts = 0
        while True:
            attempts += 1
            try:
                con.execute(statement)
                con.execute(f"USE {ALIAS}")
                return
            except duckdb.ResourceInUseException as exc:
                raise Busy(
                    f"{self.path} is already open in this process through another DuckDB connection "
                    "(duckdb.connect): close that connection (con.close()), or query through db.sql(...), "
                    "which opens the file per call and never holds it"
                ) from exc
            except duckdb.Error as exc:
                if not _is_lock_conflict(exc):
                    raise self._open_error(exc, read_only) from exc
                now = time.monotonic()
                if now >= deadline:
                    raise self._busy(exc, read_only, attempts) from exc
                time.sleep(min(delay * random.uniform(0.5, 1.5), deadline - now))
                delay = min(delay * 2, 0.025)

    def _open_error(self, exc: duckdb.Error, read_only: bool) -> SalespipeError:
        """A typed error for a file DuckDB cannot open: a folder, not a database, no permission."""
        text = str(exc)
        if not read_only and ("Permission denied" in text or "Read-only file system" in text):
            return ReadOnly(
                f"cannot write to {self.path}: the file or its folder is read-only ({text.splitlines()[0]}); "
                "open it with sp.connect(path, read_only=True) to read it, or copy it somewhere writable"
            )
        return ValidationError(
            f"cannot open {self.path} as a salespipe database ({text.splitlines()[0]}): give the path of a "
            "salespipe DuckDB file, or of a new file to create",
            field="path",
            value=self.path,
        )

    def _busy(self, exc: BaseException, read_only: bool, attempts: int) -> Busy:
        holder = _holder(exc, read_only)
        if holder.startswith("a reader"):
            release = (
                "close that connection (con.close(), or quit the DuckDB CLI); to read beside salespipe, "
                "query through sp.connect(path, read_only=True).sql(...), which holds the file only while a "
                "query runs; or raise busy_timeout to wait longer"
            )
        else:
            release = (
                "close it or let it finish (a notebook kernel holding duckdb.connect, a DuckDB CLI, "
                "another program), or raise busy_timeout, e.g. sp.connect(busy_timeout=30)"
            )
        action = "read" if read_only else "write"
        return Busy(
            f"{self.path} is held by {holder} in another process, so salespipe could not {action} it "
            f"(waited {self.busy_timeout:g} s, {attempts} attempts): {release}"
        )

    @contextmanager
    def connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection: the file is attached for the block and let go after it.

        After a clean write block the file stays attached for the next call of this process to
        reuse (`salespipe.engine`); a read-only handle never reuses it, so DuckDB refuses its writes.
        """
        if not read_only and self.read_only:
            raise ReadOnly(
                f"this handle on {self.path} is read-only (sp.connect(..., read_only=True)): "
                "open it with sp.connect(path) to change data"
            )
        if self.memory:
            with self._mutex:
                yield self._memory_con  # type: ignore[misc]
            return
        deadline = time.monotonic() + self.busy_timeout  # one budget for both waits
        with ENGINE.lock:
            if ENGINE.attached is not None and ENGINE.attached[0] == os.getpid():
                # only this thread can hold the lock, so this is a block inside its own block
                raise SalespipeError(
                    f"{ENGINE.attached[1]} is already open on this thread (a salespipe call inside a `with "
                    "db.connection()` or `db.transaction()` block): salespipe opens the file per call, so "
                    "make the call after the block, or run SQL inside it on the connection it gave you"
                )
            # still attached from a write a moment ago; a read-only handle attaches read-only anew
            con = None if self.read_only else ENGINE.reuse(self.path)
            kept = con is not None
            if not kept:
                ENGINE.let_go()  # whatever file is still kept: one file is attached at a time
                files = lock_files(self.path, read_only, deadline, self.busy_timeout)
                try:
                    con = ENGINE.connection()
                    self._attach(con, read_only, deadline)
                except BaseException:
                    unlock_files(files)
                    raise
                since = time.monotonic()
            ENGINE.attached = (os.getpid(), self.path)
            clean = False
            try:
                yield con
                clean = True
            finally:
                ENGINE.attached = None
                if kept:
                    if clean:
                        ENGINE.touch()
                    else:
                        ENGINE.let_go()
                elif clean and not read_only:
                    ENGINE.keep(self.path, files, since)  # the checkpoint runs after the call returns
                else:
                    try:
                        detach(con)
                    finally:
                        unlock_files(files)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckDB transaction: everything inside commits together or not at all."""
        with self.connection() as con, begin(con):
            yield con

    # -- the analyst's surface --------------------------------------------------------------

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run SQL and return a DataFrame. Pure SELECTs open the file read-only.

        Bind values with `?` or `$name` placeholders: db.sql("SELECT * FROM leads WHERE owner = ?", ["maria"]).
        """
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("query must be a non-empty SQL string", field="query", value=query)
        try:
            statements = duckdb.extract_statements(query)
        except (duckdb.Error, UnicodeError, TypeError) as exc:  # TypeError: text DuckDB cannot take (a surrogate)
            raise ValidationError(f"the SQL does not parse: {exc}", field="query", value=query) from None
        read_only = all(s.type == duckdb.StatementType.SELECT for s in statements)
        if self.read_only and not read_only:
            raise ReadOnly(
                f"this handle on {self.path} is read-only (sp.connect(..., read_only=True)) and runs SELECTs only: "
                "open it with sp.connect(path) to change data"
            )
        with self.connection(read_only=read_only) as con:
            try:
                return con.execute(query, params).df() if params is not None else con.execute(query).df()
            except (duckdb.Error, UnicodeError, TypeError, ValueError, OverflowError) as exc:
                # a DuckDB error, or parameters DuckDB cannot bind (a lone surrogate, an int past 64 bits)
                raise ValidationError(f"the query failed: {exc}", field="query", value=query) from None

    def tables(self) -> list[str]:
        """Names of the tables and views an analyst can query."""
        df = self.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1")
        return df["table_name"].tolist()

    def schema_version(self) -> int:
        """The schema version stored in the database (0 for an empty file)."""
        with self.connection(read_only=True) as con:
            return version_of(self.path, con)

    def _version_and_pending(self) -> tuple[int, list[int]]:
        with self.connection(read_only=True) as con:
            version = version_of(self.path, con)
            return version, (pending(con) if version else [])

    def close(self) -> None:
        """Let go of the file now, or release the in-memory database.

        A file stays attached for a moment after a write (`salespipe.engine`); close() detaches and
        checkpoints it at once, so plain DuckDB in this process can open it next.
        """
        if not self.memory:
            ENGINE.settle()
        if self._memory_con is not None:
            self._memory_con.close()
            self._memory_con = None


@contextmanager
def _no_new_sidecars(path: str) -> Iterator[None]:
    """On a refusal, remove the lock files this call created: nothing is left beside a foreign file."""
    fresh = [f for f in (f"{path}.gate", f"{path}.lock") if not os.path.exists(f)]
    try:
        yield
    except SalespipeError as exc:
        if not isinstance(exc, Busy):  # a Busy means another process is using them
            for f in fresh:
                try:
                    os.unlink(f)
                except OSError:
                    pass
        raise


def connect(
    path: str | os.PathLike[str] | None = None, *, busy_timeout: float | None = None, read_only: bool = False
) -> Database:
    """Open a salespipe database, creating or migrating its schema when needed.

    path: a file (`~` is expanded), ":memory:" for tests, or None for SALESPIPE_DB, else
    data/salespipe.duckdb. busy_timeout: seconds to keep retrying while another process holds
    the file (default SALESPIPE_BUSY_TIMEOUT, else 5).
    read_only: never create, migrate or write; every call opens the file read-only, so it works
    on a read-only file or folder and beside outside readers (the DuckDB CLI, another
    `duckdb.connect(path, read_only=True)`). Dashboards, reports and `doctor` use it.
    The schema version is checked with a read-only open: the write lock is taken only to migrate.
    """
    path = database_path(path)
    timeout = busy_seconds(busy_timeout)
    if not isinstance(read_only, bool):
        raise ValidationError(f"read_only must be True or False, got {read_only!r}", field="read_only", value=read_only)
    if path == ":memory:":
        if read_only:
            raise ValidationError("read_only needs a database file; ':memory:' starts empty", field="read_only")
        db = Database(path, busy_timeout=timeout)
        migrate(db)
        return db
    if os.path.isdir(path):
        raise ValidationError(
            f"{path} is a folder: give the path of a database file inside it", field="path", value=path
        )
    exists = os.path.exists(path)
    if exists and not _looks_like_duckdb(path):
        raise ValidationError(
            f"{path} is not a DuckDB database file: give the path of a salespipe database, or of a new file",
            field="path",
            value=path,
        )
    if read_only:
        if not exists:
            raise NotFound("database", path, hint="no database at this path; create one with sp.connect(path)")
        db = Database(path, busy_timeout=timeout, read_only=True)
        with _no_new_sidecars(path):
            version, missing = db._version_and_pending()
            if version == 0:
                raise NotASalespipeDatabase("has no salespipe schema (an empty DuckDB file)", path)
            if version > SCHEMA_VERSION:
                raise too_new(db, version)
            if missing:
                raise SalespipeError(
                    f"{path} has schema version {version}, older than this salespipe ({SCHEMA_VERSION}): open it "
                    "once read-write to migrate it (sp.connect(path) or `salespipe init`), then read-only"
                )
        return db
    db = Database(path, busy_timeout=timeout)
    if exists:
        with _no_new_sidecars(path):
            version, missing = db._version_and_pending()  # read-only: no write lock for a current file
        if version > SCHEMA_VERSION:
            raise too_new(db, version)
        if version and not missing:
            return db
    else:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValidationError(
                f"cannot create the folder for {path} ({exc.strerror}): give a path in a folder you can write to",
                field="path",
                value=path,
            ) from None
    migrate(db)
    return db
