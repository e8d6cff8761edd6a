"""The per-process DuckDB instance that database files are attached to, and when a file is let go.

Each call attaches the file to one in-memory DuckDB of the process (~5 ms, against ~15 ms to start
an instance) behind salespipe's lock files, and lets it go after. Letting go of a file a call wrote
is a checkpoint: DuckDB rewrites the row groups the transaction touched, most of a write's cost on
a big file (~90 ms of a `qualify` at 1M leads). The commit is durable before that, since DuckDB
syncs its write-ahead log at COMMIT. So after a write the call returns at the commit and the file
stays attached for `LINGER` seconds: a call in that window (a form re-reading what it wrote, a
script's next action) reuses the attachment; after it, at once when another process waits at the
gate, and after `MAX_HOLD` seconds of reuse in any case, a background thread detaches the file,
which checkpoints it, and releases the lock files. Nothing else can open the file in between, so
no reader sees a half-done checkpoint, and a SIGKILL at any moment loses nothing committed: the
next open replays the log.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass

try:
    import fcntl
except ImportError:  # Windows: DuckDB's own lock only
    fcntl = None  # type: ignore[assignment]

import duckdb

from .errors import Busy, SalespipeError

ALIAS = "salespipe_db"
LINGER = 0.05  # seconds a file stays attached after a write, for the next call to reuse
MAX_HOLD = 1.0  # seconds of reuse after which the file is let go (checkpointed) before the next call
_POLL = 0.005  # how often the background thread looks for a waiter at the gate


@dataclass
class _Held:
    """A file attached after a write, waiting for the next call or for its checkpoint."""

    path: str
    files: tuple[int, int] | None  # the gate and lock descriptors, None where they could not be made
    since: float  # monotonic time of the attach
    idle_until: float  # monotonic time after which it is let go


class Engine:
    """One in-memory DuckDB instance per process; the file attached to it now, if any.

    `lock` is held by a call for its whole block and by the background thread while it detaches,
    so the two never use the connection at once.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.attached: tuple[int, str] | None = None  # (pid, file) of the block running now
        self.held: _Held | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._pid = 0
        self._watching = False  # a background thread watches `held`; read and set under `lock`

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None or self._pid != os.getpid():  # a forked child needs its own instance
            self._con = duckdb.connect(":memory:")
            self._con.execute("SET enable_progress_bar = false")
            self._pid = os.getpid()
        return self._con

    # -- a file kept after a write ---------------------------------------------------------

    def reuse(self, path: str) -> duckdb.DuckDBPyConnection | None:
        """The connection with `path` still attached from a write, if it may serve the next call.

        Call with `lock` held. Any other file kept attached is let go first (checkpointed), and so
        is this one when another process waits for it or it has been held `MAX_HOLD` seconds.
        """
        held = self.held
        if held is None:
            return None
        if held.path != path or _waited_for(held.files) or time.monotonic() - held.since > MAX_HOLD:
            self.let_go()
            return None
        return self.connection()

    def keep(self, path: str, files: tuple[int, int] | None, since: float) -> None:
        """Keep `path` attached for `LINGER` seconds after a write; the background thread lets it go."""
        self.held = _Held(path, files, since, time.monotonic() + LINGER)
        if not self._watching:
            # not a daemon: an exiting interpreter waits for the checkpoint instead of cutting it
            threading.Thread(target=self._watch, name="salespipe-checkpoint").start()
            self._watching = True

    def touch(self) -> None:
        """A call reused the kept file: it stays `LINGER` seconds more (within `MAX_HOLD`)."""
        if self.held is not None:
            self.held.idle_until = time.monotonic() + LINGER

    def let_go(self) -> None:
        """Detach the kept file now (DuckDB checkpoints it) and release its lock files. Under `lock`."""
        held = self.held
        if held is None:
            return
        try:
            detach(self.connection())
        except BaseException:
            self._con.close()  # type: ignore[union-attr]  # the instance lets go of the file as it closes
            self._con = None
            raise
        finally:
            self.held = None  # only now: while it is set, the file is still attached
            unlock_files(held.files)

    def _watch(self) -> None:
        """The background thread: let the kept file go when idle, waited for, or held too long."""
        while True:
            time.sleep(_POLL)
            with self.lock:
                held = self.held
                now = time.monotonic()
                if held is None:
                    self._watching = False
                    return
                if now >= held.idle_until or now - held.since > MAX_HOLD or _waited_for(held.files):
                    self._watching = False
                    try:
                        self.let_go()
                    except duckdb.Error:
                        pass  # the commits are in the log; the next open replays it
                    return

    def settle(self) -> None:
        """Let go of a kept file now: after it, plain DuckDB in this process can open it."""
        with self.lock:
            if self.attached is not None and self.attached[0] == os.getpid():
                raise SalespipeError(
                    f"{self.attached[1]} is open on this thread (inside a `with db.connection()` or "
                    "`db.transaction()` block): close it after the block"
                )
            self.let_go()

    def after_fork(self) -> None:
        """In a forked child: a fresh lock and no file; the parent keeps its own and its locks."""
        self.lock = threading.RLock()
        self.attached = None
        if self.held is not None and self.held.files is not None:
            for fd in self.held.files:  # the child's copies: the parent's keep the flock
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.held = None
        self._watching = False


def detach(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("USE memory")
    con.execute(f"DETACH {ALIAS}")


ENGINE = Engine()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=ENGINE.after_fork)


# -- salespipe's lock files ----------------------------------------------------------------


def lock_files(path: str, shared: bool, deadline: float, busy_timeout: float) -> tuple[int, int] | None:
    """Take `<file>.lock` (flock: shared to read, exclusive to write) behind `<file>.gate`.

    DuckDB's own lock is a POSIX fcntl lock, which a process loses when it closes *any*
    descriptor of the file; a BSD flock on separate files cannot be lost that way, so
    salespipe processes never overlap a writer with anyone, whatever DuckDB does inside.
    `<file>.gate` is taken first and held only until the main lock is granted: a waiting
    process holds the gate, so a stream of readers cannot starve a writer, and a process that
    kept the file after a write sees someone waits and lets go. Waits up to the deadline, then
    Busy. None (DuckDB's lock alone) where the files cannot be created.
    """
    if fcntl is None:
        return None
    try:
        gate = os.open(f"{path}.gate", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return None
    try:
        main = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        os.close(gate)
        return None
    try:
        _flock(gate, fcntl.LOCK_EX, deadline, path, busy_timeout)
        try:
            _flock(main, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, deadline, path, busy_timeout)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
    except BaseException:
        os.close(main)
        os.close(gate)
        raise
    return gate, main


def unlock_files(files: tuple[int, int] | None) -> None:
    if files is not None:
        gate, main = files
        os.close(main)  # releases the flock
        os.close(gate)


def _waited_for(files: tuple[int, int] | None) -> bool:
    """True when another process holds the gate: it waits for the main lock this process holds."""
    if files is None or fcntl is None:
        return False
    try:
        fcntl.flock(files[0], fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(files[0], fcntl.LOCK_UN)
    return False


def _flock(fd: int, mode: int, deadline: float, path: str, busy_timeout: float) -> None:
    delay = 0.0005
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            now = time.monotonic()
            if now >= deadline:
                raise Busy(
                    f"{path} is held by {_flock_holder(fd, mode)} in another salespipe process "
                    f"(waited {busy_timeout:g} s): let it finish, close the notebook kernel, voila "
                    "or CLI run that holds it, or raise busy_timeout, e.g. sp.connect(busy_timeout=30)"
                ) from None
            time.sleep(min(delay * random.uniform(0.5, 1.5), deadline - now))
            delay = min(delay * 2, 0.01)


def _flock_holder(fd: int, mode: int) -> str:
    """'readers' when a shared lock is free to take (only readers hold it), else 'a writer'."""
    if mode & fcntl.LOCK_EX:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return "a writer"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return "readers (a dashboard, a report, a query)"
    return "a writer"
