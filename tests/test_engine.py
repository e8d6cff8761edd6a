"""When a file is let go after a write (salespipe/engine.py; DESIGN.md, "Multi-process").

A write returns at its COMMIT, which DuckDB has synced to the write-ahead log; the file stays
attached for LINGER seconds so the next call reuses it, and a background thread then detaches it
(the checkpoint) and releases the lock files. It is let go at once when another process waits at
the gate, after MAX_HOLD seconds of reuse, on close(), and after a failed block.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time

import duckdb
import pytest
from _helpers import Child, raw_rows, scalar

import salespipe as sp
from salespipe import engine
from salespipe.db import Database
from salespipe.engine import ENGINE


@pytest.fixture
def attaches(monkeypatch):
    """The number of times a file is attached (opened) by this process."""
    count = [0]
    real = Database._attach

    def counting(self, *args, **kw):
        count[0] += 1
        return real(self, *args, **kw)

    monkeypatch.setattr(Database, "_attach", counting)
    return count


@pytest.fixture
def long_linger(monkeypatch):
    """A file stays attached for 30 s after a write unless something lets it go earlier."""
    monkeypatch.setattr(engine, "LINGER", 30.0)
    monkeypatch.setattr(engine, "MAX_HOLD", 60.0)
    yield
    ENGINE.settle()


def _wait_until(condition, timeout: float = 10.0) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.005)
    return time.monotonic() - start


def _wal(path) -> bool:
    return os.path.exists(f"{path}.wal")


def test_calls_right_after_a_write_reuse_the_attached_file(tmp_path, attaches):
    db = sp.connect(tmp_path / "sales.duckdb")
    db.close()  # connect() wrote the schema; start from a file let go
    attaches[0] = 0
    lead = sp.leads.create(db, last_name="First", company="Reuse Ltd")
    sp.leads.qualify(db, lead)  # within LINGER: no second open
    assert scalar(db, "SELECT state FROM leads WHERE lead_id = ?", [lead]) == "qualified"
    assert attaches[0] == 1
    assert ENGINE.held is not None and ENGINE.held.path == db.path


def test_an_idle_file_is_checkpointed_and_released_after_linger(tmp_path):
    path = tmp_path / "sales.duckdb"
    db = sp.connect(path)
    lead = sp.leads.create(db, last_name="Idle")
    _wait_until(lambda: ENGINE.held is None, timeout=engine.LINGER + 5)
    assert not _wal(path)  # the checkpoint ran: everything is in the file itself
    child = Child.worker("hold", path, "0")  # plain DuckDB in another process opens it at once
    assert child.wait() == 0, child.output()
    assert raw_rows(path, "SELECT lead_id FROM leads") == [(lead,)]


def test_another_process_waiting_at_the_gate_gets_the_file_at_once(tmp_path, long_linger, attaches):
    path = tmp_path / "sales.duckdb"
    db = sp.connect(path)
    sp.leads.create(db, last_name="Kept")
    assert ENGINE.held is not None
    code = (
        "import time, salespipe as sp; t = time.monotonic(); db = sp.connect(sys.argv[1]); "
        "sp.leads.create(db, last_name='Other'); print('WROTE', time.monotonic() - t)"
    )
    child = Child(sys.executable, "-c", "import sys; " + code, path)
    waited = float(child.expect("WROTE", timeout=20))
    assert child.wait() == 0, child.output()
    assert waited < 5  # not the 30 s of LINGER: the parent let go as soon as the child waited
    assert ENGINE.held is None
    attaches[0] = 0
    assert scalar(db, "SELECT count(*) FROM leads") == 2  # the parent sees the child's write, opening anew
    assert attaches[0] == 1


def test_a_file_in_constant_use_is_let_go_after_max_hold(tmp_path, monkeypatch, attaches):
    monkeypatch.setattr(engine, "LINGER", 30.0)
    monkeypatch.setattr(engine, "MAX_HOLD", 0.2)
    db = sp.connect(tmp_path / "sales.duckdb")
    attaches[0] = 0
    end = time.monotonic() + 0.7
    while time.monotonic() < end:
        sp.leads.create(db, last_name="Busy")
        time.sleep(0.01)
    assert 2 <= attaches[0] <= 6  # reopened about every 0.2 s, not once per call and not never
    _wait_until(lambda: ENGINE.held is None, timeout=5)  # and the last hold ends by itself too


def test_close_checkpoints_at_once_so_plain_duckdb_can_open_the_file(tmp_path, long_linger):
    path = tmp_path / "sales.duckdb"
    db = sp.connect(path)
    lead = sp.leads.create(db, last_name="Closed")
    assert ENGINE.held is not None and _wal(path)
    db.close()
    assert ENGINE.held is None and not _wal(path)
    con = duckdb.connect(str(path))  # in this very process
    try:
        assert con.execute("SELECT lead_id FROM leads").fetchall() == [(lead,)]
    finally:
        con.close()
    assert scalar(db, "SELECT count(*) FROM leads") == 1  # and the handle still works after close()


def test_close_inside_a_block_is_refused_and_the_block_goes_on(tmp_path, long_linger):
    db = sp.connect(tmp_path / "sales.duckdb")
    sp.leads.create(db, last_name="Block")
    with db.connection() as con:
        with pytest.raises(sp.SalespipeError, match="close it after the block"):
            db.close()
        assert con.execute("SELECT count(*) FROM leads").fetchall() == [(1,)]
    db.close()
    assert ENGINE.held is None


def test_a_failed_block_lets_the_file_go_and_keeps_nothing_of_it(tmp_path, long_linger):
    path = tmp_path / "sales.duckdb"
    db = sp.connect(path)
    sp.leads.create(db, last_name="Before")
    assert ENGINE.held is not None
    with pytest.raises(RuntimeError), db.transaction() as con:
        con.execute("UPDATE leads SET owner = 'someone else'")
        raise RuntimeError("the caller gave up")
    assert ENGINE.held is None  # let go, not kept in a state nobody checked
    assert raw_rows(path, "SELECT last_name, owner FROM leads") == [("Before", None)]


def test_a_refused_action_after_a_write_changes_nothing_and_the_next_call_works(tmp_path, long_linger):
    db = sp.connect(tmp_path / "sales.duckdb")
    lead = sp.leads.create(db, last_name="Twice", company="Twice Ltd")
    sp.leads.qualify(db, lead)
    with pytest.raises(sp.InvalidTransition):
        sp.leads.qualify(db, lead)  # refused inside a reused attachment
    assert ENGINE.held is None  # any error inside a block lets the file go, refusals too
    assert scalar(db, "SELECT count(*) FROM opportunities") == 1
    assert sp.doctor.run(db).empty


def test_a_read_only_handle_never_writes_through_a_kept_file(tmp_path, long_linger):
    path = tmp_path / "sales.duckdb"
    db = sp.connect(path)
    sp.leads.create(db, last_name="Writer")
    assert ENGINE.held is not None
    ro = sp.connect(path, read_only=True)
    assert scalar(ro, "SELECT count(*) FROM leads") == 1
    assert ENGINE.held is None  # the read-only handle attached the file read-only, anew
    with ro.connection(read_only=True) as con, pytest.raises(duckdb.Error, match="read-only"):
        con.execute("DELETE FROM leads")
    assert scalar(db, "SELECT count(*) FROM leads") == 1


def test_one_file_is_kept_at_a_time(tmp_path, long_linger):
    one, two = sp.connect(tmp_path / "one.duckdb"), sp.connect(tmp_path / "two.duckdb")
    sp.leads.create(one, last_name="One")
    sp.leads.create(two, last_name="Two")  # lets one.duckdb go first
    assert ENGINE.held is not None and ENGINE.held.path == two.path
    assert not _wal(tmp_path / "one.duckdb")
    assert scalar(one, "SELECT last_name FROM leads") == "One"
    assert scalar(two, "SELECT last_name FROM leads") == "Two"


def test_a_process_that_exits_right_after_a_write_checkpoints_first(tmp_path):
    path = tmp_path / "sales.duckdb"
    sp.connect(path).close()
    code = "import sys, salespipe as sp; sp.leads.create(sp.connect(sys.argv[1]), last_name='Exit'); print('DONE')"
    child = Child(sys.executable, "-c", code, path)
    child.expect("DONE", timeout=20)
    assert child.wait() == 0, child.output()
    assert not _wal(path)  # the interpreter waited for the checkpoint thread
    assert raw_rows(path, "SELECT last_name FROM leads") == [("Exit",)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_holds_nothing_of_what_its_parent_kept(tmp_path, long_linger):
    """A child forked while the file is kept starts with no file; when it exits, closing its copies
    of the lock descriptors, the parent still holds the lock (a flock belongs to the open file)."""
    path = tmp_path / "sales.duckdb"
    db = sp.connect(path)
    sp.leads.create(db, last_name="Parent")
    assert ENGINE.held is not None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no DuckDB work here, a forked DuckDB is not safe to use
        try:
            os.close(read)
            os.write(write, b"clean" if ENGINE.held is None and ENGINE.attached is None else b"held")
        finally:
            os._exit(0)
    os.close(write)
    assert os.waitpid(pid, 0)[1] == 0
    answer = os.read(read, 10)
    os.close(read)
    assert answer == b"clean"
    assert ENGINE.held is not None
    probe = os.open(f"{path}.lock", os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # still the parent's
    finally:
        os.close(probe)
    assert scalar(db, "SELECT count(*) FROM leads") == 1
