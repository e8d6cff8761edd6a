"""The command line: `python -m salespipe --db FILE init | walkthrough | doctor`, and the console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from _helpers import Child, child_env

import salespipe as sp
from salespipe import cli, doctor, walkthrough
from salespipe.engine import ENGINE

SCRIPT = Path(sys.executable).parent / "salespipe"


def run(*args: object, script: bool = False) -> subprocess.CompletedProcess:
    """`python -m salespipe ARGS` (or the console script) in a child process."""
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "salespipe"]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, timeout=60, env=child_env())


def raw(path: Path, *statements: str) -> None:
    """Change a database file behind salespipe's back, with plain DuckDB."""
    ENGINE.settle()  # salespipe lets go of a file it just wrote (salespipe/engine.py)
    con = duckdb.connect(str(path))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


@pytest.fixture
def built(tmp_path):
    """A database file the walkthrough built (in this process: faster than through the CLI)."""
    path = tmp_path / "built.duckdb"
    db = sp.connect(path)
    ids = walkthrough.run(db, say=lambda line: None)
    return path, ids


def test_init_creates_the_schema_and_says_its_version(tmp_path, capsys):
    path = tmp_path / "new" / "sales.duckdb"
    done = run("--db", path, "init")
    assert done.returncode == 0, done.stderr
    assert f"schema version {sp.SCHEMA_VERSION}" in done.stdout
    assert path.exists()
    assert sp.connect(path).schema_version() == sp.SCHEMA_VERSION
    assert cli.main(["--db", str(path), "init"]) == 0  # idempotent (the same main(), in this process)
    assert capsys.readouterr().out == done.stdout


@pytest.mark.slow
def test_walkthrough_walks_every_stage_then_doctor_passes(tmp_path):
    path = tmp_path / "walk.duckdb"
    done = run("--db", path, "walkthrough")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for stage in (
        "catalog: added LAPTOP-15",
        "lead 1:",
        "qualified lead 1: account",
        "opportunity",
        "(revision 1)",
        "activated",
        "revised: revision 2",
        "order",
        "fulfilled; invoice",
        "paid 20,000.00, balance",
        "it is paid (complete)",
        "lost to Northwind",
        "disqualified (cannot_contact)",
        "doctor: all invariants hold",
    ):
        assert stage in out, f"{stage!r} missing from:\n{out}"
    db = sp.connect(path)
    assert db.sql("SELECT state FROM invoices")["state"].tolist() == ["paid"]
    assert set(db.sql("SELECT state FROM opportunities")["state"]) == {"won", "lost"}

    checked = run("--db", path, "doctor")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"all {len(doctor.CHECKS)} invariant checks pass" in checked.stdout


def test_doctor_exits_1_and_lists_the_violations(built):
    path, ids = built
    raw(path, f"UPDATE leads SET contact_id = 999999 WHERE lead_id = {ids['lead']}")
    done = run("--db", path, "doctor")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 violations of 1 checks" in done.stdout
    assert "qualified_lead_links:" in done.stdout
    assert f"lead {ids['lead']}: contact 999999 does not exist" in done.stdout


def test_doctor_limits_the_violations_shown_per_check(built, capsys):
    path, _ = built
    raw(path, "UPDATE leads SET state = 'limbo'")  # three leads in an unknown state
    assert cli.main(["--db", str(path), "doctor", "--limit", "1"]) == 1  # the same main(), in this process
    out = capsys.readouterr().out
    assert "lead_state_known:" in out and "lead_state_matches_events:" in out
    assert out.count("limbo (") == 2, out  # one line of each check, not three
    # lead_stages (the funnel's fact table) no longer matches the leads either: a third check
    assert "lead_stages_current:" in out
    assert out.count("... and 2 more") == 3, out


def test_a_database_from_a_newer_schema_is_refused_with_exit_2(tmp_path, capsys):
    path = tmp_path / "future.duckdb"
    sp.connect(path)
    raw(path, "UPDATE schema_version SET version = 999 WHERE version = (SELECT max(version) FROM schema_version)")
    done = run("--db", path, "init")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "schema version 999" in done.stderr and "upgrade salespipe" in done.stderr, done.stderr
    for command in ("walkthrough", "doctor"):  # the same main(), in this process
        assert cli.main(["--db", str(path), command]) == 2, command
        err = capsys.readouterr().err
        assert err.startswith("salespipe: ") and "upgrade salespipe" in err, err
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT max(version) FROM schema_version").fetchall() == [(999,)]
        assert con.execute("SELECT count(*) FROM leads").fetchall() == [(0,)]  # the walkthrough wrote nothing
    finally:
        con.close()


def test_a_path_that_is_not_a_database_is_refused_with_exit_2(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    done = run("--db", text, "init")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert f"{text} is not a DuckDB database file" in done.stderr, done.stderr
    assert text.read_text() == "not a database\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no lock files beside it
    assert cli.main(["--db", str(tmp_path), "doctor"]) == 2  # a directory
    assert f"{tmp_path} is a folder" in capsys.readouterr().err


@pytest.mark.slow
def test_a_locked_database_exits_2_with_what_to_do(tmp_path):
    path = tmp_path / "locked.duckdb"
    sp.connect(path)
    holder = Child.worker("hold", path, 60)
    try:
        holder.expect("HELD")
        done = run("--db", path, "--busy-timeout", "0.3", "doctor")
    finally:
        holder.kill()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "held by a writer" in done.stderr and "busy_timeout" in done.stderr


def test_usage_errors_exit_2(capsys):
    done = run()
    assert done.returncode == 2
    assert "usage: salespipe" in done.stderr
    assert cli.main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_the_console_script_works(tmp_path):
    assert SCRIPT.exists(), f"{SCRIPT} is not installed: pip install -e ."
    path = tmp_path / "script.duckdb"
    done = run("--db", path, "init", script=True)
    assert done.returncode == 0, done.stderr
    assert f"schema version {sp.SCHEMA_VERSION}" in done.stdout


def test_help_lists_the_commands(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("init", "walkthrough", "doctor", "--db", "--busy-timeout"):
        assert command in out


def test_db_defaults_to_salespipe_db_then_the_data_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    chosen = tmp_path / "chosen.duckdb"
    monkeypatch.setenv("SALESPIPE_DB", str(chosen))
    assert cli.main(["init"]) == 0
    assert chosen.exists() and not (tmp_path / "data" / "salespipe.duckdb").exists()
    monkeypatch.delenv("SALESPIPE_DB")
    assert cli.main(["init"]) == 0
    assert (tmp_path / "data" / "salespipe.duckdb").exists()
    assert "data/salespipe.duckdb: schema version" in capsys.readouterr().out
