"""Several processes on one database file (DESIGN.md, "Multi-process").

Two writer processes and two reader processes on one file at the same time all succeed, and
nothing is lost. A process holding the file makes calls wait up to busy_timeout, then raise
Busy with a message that says what to do; a holder that lets go within the budget is waited for.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from _helpers import Child, scalar

import salespipe as sp

N = 100  # leads per writer
READS = 100  # read loops per reader, at least: they go on until the writers are done
TAGS = ("Alpha", "Beta")


@pytest.fixture
def path(tmp_path):
    """A migrated database file with no process attached to it."""
    file = tmp_path / "sales.duckdb"
    sp.connect(file)
    return file


@pytest.mark.slow
def test_two_writers_and_two_readers_at_once_all_succeed_and_nothing_is_lost(path, tmp_path):
    start, stop = tmp_path / "go", tmp_path / "stop"
    children = [Child.worker("writer", path, start, tag, N) for tag in TAGS]
    children += [Child.worker("reader", path, start, stop, READS) for _ in range(2)]
    try:
        for child in children:
            child.expect("READY", timeout=60)  # imported and connected: start them all together
        start.touch()
        results = [child.expect_json("DONE", timeout=120) for child in children[:2]]
        stop.touch()
        results += [child.expect_json("DONE", timeout=30) for child in children[2:]]
        for child in children:
            assert child.wait(timeout=10) == 0, child.output()
    finally:
        for child in children:
            child.kill()

    writers, readers = results[:2], results[2:]
    db = sp.connect(path)
    created = {tag: w["created"] for tag, w in zip(TAGS, writers)}
    qualified = [lead for w in writers for lead in w["qualified"]]
    assert scalar(db, "SELECT count(*) FROM leads") == 2 * N
    found = db.sql("SELECT lead_id, last_name, owner, state FROM leads ORDER BY lead_id")
    expected = {(lead, f"{tag}-{i}") for tag, ids in created.items() for i, lead in enumerate(ids)}
    assert set(zip(found["lead_id"].tolist(), found["last_name"].tolist())) == expected
    assert found["last_name"].is_unique and found["lead_id"].is_unique
    assert sorted(found.loc[found["state"] == "qualified", "lead_id"].tolist()) == sorted(qualified)
    assert len(qualified) == 2 * (N // 10)

    events = db.sql("SELECT entity, action, count(*) AS n FROM events GROUP BY ALL")
    counts = {(e, a): int(n) for e, a, n in events.itertuples(index=False)}
    assert counts == {
        ("lead", "create"): 2 * N,
        ("lead", "qualify"): len(qualified),
        ("opportunity", "create"): len(qualified),
    }
    assert scalar(db, "SELECT count(*) FROM opportunities") == len(qualified)
    # both writers used the same 3 companies and 7 emails: one account and one contact each, however the
    # qualifications of the two processes interleaved
    picked = [i for i in range(N) if i % 10 == 9]
    companies = sorted({f"Shared Company {i % 3} Ltd" for i in picked})
    emails = sorted({f"person{i % 7}@example.com" for i in picked})
    assert db.sql("SELECT name FROM accounts ORDER BY name")["name"].tolist() == companies
    assert db.sql("SELECT email FROM contacts ORDER BY email")["email"].tolist() == emails
    assert sp.doctor.run(db).empty

    for r in readers:
        assert len(r["counts"]) >= READS
        assert r["counts"] == sorted(r["counts"])  # the readers also checked it as they went
        assert r["counts"][-1] == 2 * N  # the last read came after both writers were done
        # the reader really ran alongside the writers: it saw the count grow
        assert len({c for c in r["counts"] if 0 < c < 2 * N}) > 1, r["counts"]


def _busy(call) -> tuple[sp.Busy, float]:
    t = time.monotonic()
    with pytest.raises(sp.Busy) as info:
        call()
    return info.value, time.monotonic() - t


def test_a_process_holding_the_file_makes_calls_raise_busy_after_the_budget(path):
    db = sp.connect(path, busy_timeout=0.5)
    holder = Child.worker("hold", path, 60)
    try:
        holder.expect("HELD")
        calls = {
            "read": lambda: db.sql("SELECT count(*) FROM leads"),
            "write": lambda: sp.leads.create(db, last_name="Blocked"),
            "connect": lambda: sp.connect(path, busy_timeout=0.5),
        }
        for what, call in calls.items():
            error, elapsed = _busy(call)
            assert 0.45 <= elapsed < 1.5, f"{what}: Busy after {elapsed:.2f} s for a 0.5 s budget"
            message = str(error)
            assert str(path) in message, message
            assert "held by a writer (" in message and f"PID {holder.pid})" in message, message  # who holds it
            assert "close it" in message and "busy_timeout" in message, message  # what to do
            assert isinstance(error, sp.SalespipeError)
        assert holder.proc.poll() is None  # still holding: the Busy was real
    finally:
        holder.kill()
    # the holder is gone: the same handle works again and nothing was written meanwhile
    assert db.sql("SELECT count(*) AS n FROM leads")["n"].iloc[0] == 0
    sp.leads.create(db, last_name="After")
    assert scalar(db, "SELECT count(*) FROM leads") == 1


def test_a_holder_that_lets_go_within_the_budget_is_waited_for(path):
    db = sp.connect(path, busy_timeout=10)
    holder = Child.worker("hold", path, 1.5)
    try:
        holder.expect("HELD")
        began = time.time()
        lead = sp.leads.create(db, last_name="Patient")
        ended = time.time()
        released = holder.expect_json("RELEASING")
        assert holder.wait() == 0, holder.output()
    finally:
        holder.kill()
    assert began < released < ended, "the call did not wait for the holder to let go"
    assert ended - released < 1, f"took {ended - released:.2f} s to notice the holder had let go"
    assert db.sql("SELECT lead_id, last_name FROM leads").to_dict("records") == [
        {"lead_id": lead, "last_name": "Patient"}
    ]


def test_an_outside_reader_blocks_writes_but_not_connect_reads_doctor_or_metrics(path):
    """sp.connect checks the schema read-only, so an outside reader (the DuckDB CLI, a
    duckdb.connect(read_only=True) in a notebook) no longer makes it fail with Busy."""
    db = sp.connect(path, busy_timeout=0.5)
    sp.leads.create(db, last_name="Existing")
    holder = Child.worker("hold", path, 60, "ro")
    try:
        holder.expect("HELD")
        assert sp.connect(path, busy_timeout=0.5).path == str(path)  # a current file: no write lock needed
        reader = sp.connect(path, read_only=True, busy_timeout=0.5)
        assert db.sql("SELECT count(*) AS n FROM leads")["n"].iloc[0] == 1  # readers share the file
        assert reader.sql("SELECT count(*) AS n FROM leads")["n"].iloc[0] == 1
        assert sp.doctor.run(reader).empty
        assert sp.metrics.funnel(reader)["count"].iloc[0] == 1
        error, elapsed = _busy(lambda: sp.leads.create(db, last_name="Blocked"))  # a write waits for the reader
        assert 0.45 <= elapsed < 1.5
        message = str(error)
        assert "held by a reader (" in message and f"PID {holder.pid})" in message, message  # who holds it
        assert "con.close()" in message and "read_only=True" in message, message  # how to release it
        assert "busy_timeout" in message, message
    finally:
        holder.kill()
    assert scalar(db, "SELECT count(*) FROM leads") == 1
    sp.leads.create(db, last_name="After")
    assert scalar(db, "SELECT count(*) FROM leads") == 2


HOLD_SIDECAR = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1] + ".lock", os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("HELD", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold_sidecar(path, seconds: float) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_SIDECAR, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "HELD"
    return child


def test_a_salespipe_writer_elsewhere_makes_others_wait_on_the_lock_file_then_busy(path):
    """Writers are serialized by `<file>.lock` (flock), which DuckDB's fcntl lock cannot lose."""
    db = sp.connect(path, busy_timeout=0.4)
    child = _hold_sidecar(path, 30)
    try:
        t = time.monotonic()
        with pytest.raises(sp.Busy, match="busy_timeout"):
            sp.leads.create(db, last_name="Waiting")
        assert 0.35 <= time.monotonic() - t < 3
        with pytest.raises(sp.Busy):
            db.sql("SELECT count(*) FROM leads")  # readers wait for a writer too
    finally:
        child.kill()
        child.wait()
    assert scalar(sp.connect(path), "SELECT count(*) FROM leads") == 0


def test_a_released_lock_file_lets_the_waiting_call_through(path):
    db = sp.connect(path, busy_timeout=10)
    child = _hold_sidecar(path, 0.5)
    try:
        t = time.monotonic()
        lead = sp.leads.create(db, last_name="Patient")
        assert time.monotonic() - t >= 0.3  # it waited for the holder, then went through
        assert scalar(db, "SELECT count(*) FROM leads WHERE lead_id = ?", [lead]) == 1
    finally:
        child.kill()
        child.wait()


def test_a_read_only_handle_reads_beside_a_salespipe_writer_and_never_writes(path):
    db = sp.connect(path)
    reader = sp.connect(path, read_only=True)
    lead = sp.leads.create(db, last_name="Seen")
    assert reader.sql("SELECT lead_id FROM leads")["lead_id"].tolist() == [lead]
    for write in (
        lambda: sp.leads.create(reader, last_name="Refused"),
        lambda: reader.sql("DELETE FROM leads"),
        lambda: sp.leads.qualify(reader, lead),
    ):
        with pytest.raises(sp.ReadOnly, match="read-only"):
            write()
    assert scalar(db, "SELECT count(*) FROM leads") == 1
