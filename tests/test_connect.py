"""Opening a database: paths, settings, read-only handles and files that are not salespipe's.

`sp.connect(path)` checks the schema version with a read-only open and takes the write lock only
to create or migrate; `sp.connect(path, read_only=True)` never creates, migrates or writes, so it
works on a read-only file or folder and beside outside readers. Every refusal is typed and
leaves the file exactly as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from _helpers import child_env, scalar

import salespipe as sp
from salespipe import db as dbmod


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- the path --------------------------------------------------------------------------------


def test_a_tilde_is_expanded_before_anything_else(tmp_path, monkeypatch):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(elsewhere)
    db = sp.connect("~/sales.duckdb")
    sp.leads.create(db, last_name="Home")
    assert db.path == str(home / "sales.duckdb")
    db.close()  # the checkpoint: no write-ahead log left beside it
    assert _files(home) == ["sales.duckdb", "sales.duckdb.gate", "sales.duckdb.lock"]  # the locks beside it
    assert _files(elsewhere) == []  # no literal ./~/ folder
    monkeypatch.setenv("SALESPIPE_DB", "~/sales.duckdb")
    assert scalar(sp.connect(), "SELECT count(*) FROM leads") == 1  # SALESPIPE_DB too


@pytest.mark.parametrize("path", [123, 1.5, b"/tmp/x.duckdb", ["a"], "", "   ", "bad\udcffname.duckdb", "a\x00b"])
def test_a_path_that_is_not_a_path_is_a_validation_error(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(sp.ValidationError, match="path") as info:
        sp.connect(path)
    assert info.value.field == "path"
    assert _files(tmp_path) == []


def test_a_folder_or_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path):
    with pytest.raises(sp.ValidationError, match="is a folder"):
        sp.connect(tmp_path)
    text = tmp_path / "notes.duckdb"
    text.write_text("a text file\n" * 3)
    for read_only in (False, True):
        with pytest.raises(sp.ValidationError, match="not a DuckDB database file"):
            sp.connect(text, read_only=read_only)
    assert text.read_text() == "a text file\n" * 3
    assert _files(tmp_path) == ["notes.duckdb"]  # no lock files beside a file that is not a database


def test_a_duckdb_file_whose_tables_clash_is_not_migrated_into(tmp_path):
    path = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE leads (id INTEGER, name VARCHAR); INSERT INTO leads VALUES (1, 'theirs')")
    con.close()
    before = path.read_bytes()
    for read_only in (False, True):
        with pytest.raises(sp.ValidationError, match="not a salespipe database") as info:
            sp.connect(path, read_only=read_only)
        assert "leads" in str(info.value) and info.value.field == "path"
    assert path.read_bytes() == before


def test_a_migration_that_clashes_changes_nothing_and_says_so(tmp_path):
    """A v4 database where an analyst made a table with the name migration 5 needs for a view."""
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    for number, name, sql in dbmod.migrations():
        if number <= 4:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [number, name])
    con.execute("CREATE TABLE v_opportunity_outcomes AS SELECT 42 AS mine")
    con.close()
    with pytest.raises(sp.SalespipeError, match="clash with salespipe's schema; nothing was changed"):
        sp.connect(path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT max(version) FROM schema_version").fetchall() == [(4,)]
        assert con.execute("SELECT mine FROM v_opportunity_outcomes").fetchall() == [(42,)]
    finally:
        con.close()


# -- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", ["x", -1, float("nan"), float("inf"), True, [5], "5s"])
def test_a_busy_timeout_that_is_not_seconds_is_a_validation_error(timeout, tmp_path):
    with pytest.raises(sp.ValidationError, match="busy_timeout must be a number of seconds") as info:
        sp.connect(tmp_path / "s.duckdb", busy_timeout=timeout)
    assert info.value.field == "busy_timeout"
    assert _files(tmp_path) == []


def test_busy_timeout_from_the_environment_is_checked_too(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESPIPE_BUSY_TIMEOUT", "abc")
    with pytest.raises(sp.ValidationError, match="SALESPIPE_BUSY_TIMEOUT must be a number") as info:
        sp.connect(tmp_path / "s.duckdb")
    assert info.value.field == "SALESPIPE_BUSY_TIMEOUT"
    monkeypatch.setenv("SALESPIPE_BUSY_TIMEOUT", " 2.5 ")
    assert sp.connect(tmp_path / "s.duckdb").busy_timeout == 2.5
    assert sp.connect(tmp_path / "s.duckdb", busy_timeout="7").busy_timeout == 7.0  # the argument wins


def test_read_only_must_be_a_bool_and_needs_a_file():
    with pytest.raises(sp.ValidationError, match="read_only must be True or False"):
        sp.connect(":memory:", read_only="yes")
    with pytest.raises(sp.ValidationError, match="read_only needs a database file"):
        sp.connect(":memory:", read_only=True)


# -- read-only handles ------------------------------------------------------------------------


def test_read_only_never_creates_a_database(tmp_path):
    with pytest.raises(sp.NotFound, match="no database at this path"):
        sp.connect(tmp_path / "missing.duckdb", read_only=True)
    assert _files(tmp_path) == []


def test_read_only_refuses_an_empty_or_an_old_database_without_touching_it(tmp_path):
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(sp.ValidationError, match="no salespipe schema"):
        sp.connect(empty, read_only=True)
    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    number, name, sql = dbmod.migrations()[0]
    con.execute(sql)
    con.execute("INSERT INTO schema_version VALUES (1, ?, now()::TIMESTAMP)", [name])
    con.close()
    before = old.read_bytes()
    with pytest.raises(sp.SalespipeError, match="older than this salespipe.*open it once read-write"):
        sp.connect(old, read_only=True)
    assert old.read_bytes() == before
    assert sp.connect(old).schema_version() == sp.SCHEMA_VERSION  # read-write migrates it


def test_a_read_only_handle_reads_everything_and_writes_nothing(tmp_path):
    path = tmp_path / "s.duckdb"
    writer = sp.connect(path)
    lead = sp.leads.create(writer, last_name="Read", company="Only Ltd")
    db = sp.connect(path, read_only=True)
    assert "read-only" in repr(db)
    assert db.sql("SELECT last_name FROM leads")["last_name"].tolist() == ["Read"]
    assert sp.leads.get(db, lead)["company"] == "Only Ltd"
    assert sp.doctor.run(db).empty
    assert sp.metrics.win_rate(db).columns.size > 0
    for write in (
        lambda: sp.leads.create(db, last_name="No"),
        lambda: sp.leads.qualify(db, lead),
        lambda: sp.catalog.add_product(db, sku="X", name="x", unit_price="1.00"),
        lambda: db.sql("UPDATE leads SET owner = 'x'"),
        lambda: db.sql("CREATE TABLE mine (a INTEGER)"),
    ):
        with pytest.raises(sp.ReadOnly, match="read-only"):
            write()
    assert scalar(writer, "SELECT count(*) FROM leads") == 1


def test_a_connect_on_a_current_file_takes_no_write_lock(tmp_path):
    """Beside an outside reader in this process's own engine a write-lock attempt would fail: it is not made."""
    path = tmp_path / "s.duckdb"
    sp.connect(path).close()  # created, and checkpointed at once
    before = path.stat().st_mtime_ns, path.read_bytes()
    sp.connect(path)
    sp.connect(path, read_only=True)
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


def test_a_duckdb_connection_open_in_this_process_gives_busy_with_what_to_do(tmp_path):
    path = tmp_path / "s.duckdb"
    db = sp.connect(path)
    db.close()  # salespipe keeps a file it just wrote for a moment; close() lets go of it now
    con = duckdb.connect(str(path))
    try:
        with pytest.raises(sp.Busy, match=r"already open in this process.*con\.close\(\).*db\.sql"):
            sp.leads.create(db, last_name="Blocked")
        with pytest.raises(sp.Busy, match="already open in this process"):
            db.sql("SELECT count(*) FROM leads")
    finally:
        con.close()
    sp.leads.create(db, last_name="Fine")


def test_a_salespipe_call_inside_an_open_block_says_to_make_it_after_and_leaves_the_block_working(tmp_path):
    path = tmp_path / "s.duckdb"
    db = sp.connect(path)
    with db.transaction() as con:
        con.execute("INSERT INTO owners VALUES ('ana', 'West', TIMESTAMP '2026-01-05 09:00')")
        started = time.monotonic()
        with pytest.raises(sp.SalespipeError, match=r"already open on this thread.*after the block"):
            sp.leads.create(db, last_name="Nested")
        with pytest.raises(sp.SalespipeError, match="already open on this thread"):
            db.sql("SELECT count(*) FROM leads")
        assert time.monotonic() - started < 1  # refused at once, not after the busy timeout
        assert con.execute("SELECT count(*) FROM leads").fetchall() == [(0,)]  # the block's connection still works
    other = sp.connect(tmp_path / "other.duckdb")
    with db.connection(read_only=True), pytest.raises(sp.SalespipeError, match=rf"{path.name} is already open"):
        sp.metrics.funnel(other)
    assert scalar(db, "SELECT count(*) FROM owners WHERE owner = 'ana'") == 1  # the outer transaction committed
    assert scalar(db, "SELECT count(*) FROM leads") == 0
    sp.leads.create(db, last_name="After")  # and the file is free again
    assert scalar(db, "SELECT count(*) FROM leads") == 1


# -- a read-only folder -----------------------------------------------------------------------

READ_ONLY_CHILD = """
import sys
import salespipe as sp
from salespipe import cli
path = sys.argv[1]
db = sp.connect(path, read_only=True)
print("leads", int(db.sql("SELECT count(*) AS n FROM leads")["n"].iloc[0]))
print("doctor", len(sp.doctor.run(db)))
print("funnel", int(sp.metrics.funnel(db)["count"].iloc[0]))
rw = sp.connect(path)  # a current schema: opened without writing
try:
    sp.leads.create(rw, last_name="Nope")
except sp.ReadOnly as exc:
    print("write refused:", exc)
print("cli doctor", cli.main(["doctor", "--db", path]))
print("cli report", cli.main(["report", "--db", path, "--out", sys.argv[2]]))
"""


def _in_read_only_folder(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """Run READ_ONLY_CHILD with `folder` read-only: a read-only bind mount as root, chmod otherwise."""
    command = [sys.executable, "-c", READ_ONLY_CHILD, *args]
    if os.geteuid() == 0:
        unshare = shutil.which("unshare")
        if unshare is None:
            pytest.skip("running as root without unshare: cannot make a read-only folder")
        script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
        command = [unshare, "-m", "sh", "-c", script, "sh", str(folder), *command]
        done = subprocess.run(command, capture_output=True, text=True, env=child_env(), timeout=120)
        if "mount:" in done.stderr and "Traceback" not in done.stderr:
            pytest.skip(f"cannot make a read-only bind mount here: {done.stderr.strip()}")
        return done
    folder.chmod(0o555)
    try:
        return subprocess.run(command, capture_output=True, text=True, env=child_env(), timeout=120)
    finally:
        folder.chmod(0o755)


def test_a_database_in_a_read_only_folder_is_read_checked_and_reported(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    path = folder / "s.duckdb"
    db = sp.connect(path)
    sp.leads.create(db, last_name="Shared")
    db.close()
    for extra in folder.glob("*.*[ke]"):  # the lock files: a folder someone else prepared has none
        extra.unlink()
    before = _files(folder), path.read_bytes()
    done = _in_read_only_folder(folder, str(path), str(tmp_path / "report.html"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    out = done.stdout
    assert "leads 1" in out and "doctor 0" in out and "funnel 1" in out, out
    assert "write refused: cannot write to" in out and "read-only" in out, out
    assert "cli doctor 0" in out and "cli report 0" in out, out
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert (_files(folder), path.read_bytes()) == before


def _largest_group(db, table: str) -> int:
    return scalar(db, f"SELECT max(\"count\") FROM pragma_storage_info('{table}')")


def test_writes_use_duckdbs_row_groups_unless_row_group_rows_is_set(tmp_path, monkeypatch):
    """bench/row_groups_bench.py sets db.ROW_GROUP_ROWS; by default salespipe keeps DuckDB's size."""
    frame = pd.DataFrame({"last_name": [f"Group{i}" for i in range(5000)], "company": "Groups Ltd"})
    default = sp.connect(tmp_path / "default.duckdb")
    sp.leads.create_many(default, frame)
    assert _largest_group(default, "leads") == 5000  # one group: DuckDB's default holds 122,880 rows
    monkeypatch.setattr(sp.db, "ROW_GROUP_ROWS", 2048)
    small = sp.connect(tmp_path / "small.duckdb")
    sp.leads.create_many(small, frame)
    assert _largest_group(small, "leads") == 2048
    assert scalar(small, "SELECT count(*) FROM leads") == 5000 and sp.doctor.run(small).empty
