"""Helpers for the multi-process, kill and CLI tests: child processes and table fingerprints.

Child processes run tests/_workers.py (or any command) with stdout and stderr merged and read
line by line on a thread, so a test can wait for a line with a timeout and never hangs.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

from salespipe.engine import ENGINE

TESTS = Path(__file__).resolve().parent
WORKERS = TESTS / "_workers.py"


def child_env() -> dict[str, str]:
    """The environment for a child: this one without salespipe settings that would change its behaviour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESPIPE_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Child:
    """A subprocess whose output lines are collected as they come."""

    def __init__(self, *args: object, cwd: Path | None = None) -> None:
        self.args = [str(a) for a in args]
        self.proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=cwd,
            env=child_env(),
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def worker(cls, *args: object, cwd: Path | None = None) -> Child:
        return cls(sys.executable, WORKERS, *args, cwd=cwd)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        self._drain()
        return "\n".join(self.lines)

    def _drain(self) -> None:
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is not None:
                self.lines.append(line)

    def expect(self, prefix: str, timeout: float = 30.0) -> str:
        """Wait for a line starting with `prefix` and return the rest of it."""
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.args[2:]} printed no {prefix!r} in {timeout} s:\n{self.output()}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait()
                raise AssertionError(
                    f"{self.args[2:]} exited ({self.proc.returncode}) without printing {prefix!r}:\n{self.output()}"
                )
            self.lines.append(line)
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def expect_json(self, prefix: str, timeout: float = 30.0) -> object:
        return json.loads(self.expect(prefix, timeout))

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the exit and the last of the output; kill on timeout (and fail)."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.args[2:]} did not finish in {timeout} s:\n{self.output()}") from None
        self._reader.join(timeout=5)
        self._drain()
        return rc

    def sigkill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)

    def kill(self) -> None:
        """Stop the child if it still runs (cleanup; safe to call twice)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def raw_rows(path: Path | str, query: str) -> list[tuple]:
    """Rows of a query against a database file with plain DuckDB (no salespipe in between)."""
    ENGINE.settle()  # a file salespipe wrote a moment ago is still attached to this process
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def tables(db) -> dict[str, list[tuple]]:
    """Every base table of a salespipe database, rows sorted: equal fingerprints, equal data."""
    with db.connection(read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY 1"
            ).fetchall()
        ]
        return {name: con.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall() for name in names}


def scalar(db, query: str, params: list | None = None):
    """The single value of a query, as DuckDB returns it (Decimal for money)."""
    with db.connection(read_only=True) as con:
        found = con.execute(query, params or []).fetchall()
    assert len(found) == 1 and len(found[0]) == 1, found
    return found[0][0]
