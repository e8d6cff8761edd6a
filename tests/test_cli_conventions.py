"""The command line behaves as users expect (the hardening issue, part 6).

Options go before or after the subcommand; `doctor` and `report` never create or migrate;
exit codes are 0 fine, 1 only for violations found by `doctor`, 2 for usage and environment
errors, always with a one-line message and never a traceback; arguments are checked before any
file is created.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from test_cli import run

import salespipe as sp
from salespipe import cli, demo, walkthrough

COMMANDS = ("init", "walkthrough", "demo", "doctor", "facts", "report", "import", "export")


def _files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _clean_error(done, *needles: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_salespipe_alone_lists_the_commands_and_exits_2():
    done = run()
    _clean_error(done, "usage: salespipe")
    for command in COMMANDS:
        assert command in done.stderr, done.stderr


@pytest.mark.parametrize("command", ["init", "doctor", "report"])
def test_db_and_busy_timeout_work_after_the_subcommand(command, tmp_path, capsys):
    path = tmp_path / "after.duckdb"
    sp.connect(path)
    extra = ["--out", str(tmp_path / "r.html")] if command == "report" else []
    assert cli.main([command, "--db", str(path), "--busy-timeout", "2", *extra]) == 0, capsys.readouterr()
    assert str(path) in capsys.readouterr().out
    assert cli.main(["--db", str(path), command, "--busy-timeout", "2", *extra]) == 0  # mixed, before and after


def test_an_option_after_the_subcommand_wins_over_one_before(tmp_path, capsys):
    before, after = tmp_path / "before.duckdb", tmp_path / "after.duckdb"
    assert cli.main(["--db", str(before), "init", "--db", str(after)]) == 0
    assert after.exists() and not before.exists()


@pytest.mark.parametrize("command", ["doctor", "report"])
def test_doctor_and_report_never_create_a_database(command, tmp_path):
    missing = tmp_path / "missing.duckdb"
    done = (
        run(command, "--db", missing, "--out", tmp_path / "r.html")
        if command == "report"
        else run(command, "--db", missing)
    )
    _clean_error(done, "no database at this path", str(missing))
    assert _files(tmp_path) == []


@pytest.mark.parametrize("command", ["doctor", "report"])
def test_doctor_and_report_refuse_a_duckdb_file_that_is_not_salespipes_and_leave_it_alone(command, tmp_path):
    theirs = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(theirs))
    con.execute("CREATE TABLE sales (id INTEGER)")
    con.close()
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for path in (theirs, empty):
        extra = ["--out", str(tmp_path / "r.html")] if command == "report" else []
        done = run(command, "--db", path, *extra)
        _clean_error(done, "not a salespipe database" if path == theirs else "no salespipe schema")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no lock files, nothing migrated


def test_doctor_exits_1_only_for_violations(tmp_path):
    path = tmp_path / "s.duckdb"
    sp.connect(path)
    assert run("doctor", "--db", path).returncode == 0
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO leads (lead_id, last_name, created_at, state, status) VALUES (1, 'Ghost', now(), 'open', 'new')"
    )
    con.close()
    assert run("doctor", "--db", path).returncode == 1  # a lead with no events: a violation
    _clean_error(run("doctor", "--db", path, "--limit", "0"), "--limit", "must be greater than 0")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["demo", "--leads", "0"], "--leads: must be greater than 0"),
        (["demo", "--leads", "5"], "--leads: must be at least 10"),
        (["demo", "--leads", "many"], "--leads: 'many' is not a whole number"),
        (["demo", "--end", "31/12/2026"], "--end: '31/12/2026' is not an ISO date"),
        (["demo", "--seed", "x"], "--seed: invalid int value"),
        (["init", "--busy-timeout", "abc"], "--busy-timeout: 'abc' is not a number of seconds"),
        (["--busy-timeout", "-1", "init"], "--busy-timeout: '-1' is not a number of seconds"),
    ],
)
def test_bad_arguments_exit_2_before_any_file_is_created(args, needle, tmp_path):
    path = tmp_path / "never.duckdb"
    done = run("--db", path, *args)
    _clean_error(done, needle)
    assert _files(tmp_path) == []


def test_an_unwritable_report_path_exits_2_before_the_report_is_built(tmp_path):
    path = tmp_path / "s.duckdb"
    sp.connect(path)
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    for out, needle in ((a_file / "r.html", "is not a folder you can write to"), (tmp_path, "is a folder")):
        _clean_error(run("report", "--db", path, "--out", out), needle)
    assert a_file.read_text() == "x"


def test_demo_into_a_database_that_has_products_already_works(tmp_path, capsys):
    path = tmp_path / "s.duckdb"
    db = sp.connect(path)
    sp.catalog.add_product(db, sku=demo.PRODUCTS[0][0], name="Our own laptop", unit_price="5.00")
    walkthrough.run(db, say=lambda line: None)  # LAPTOP-15 and DOCK-1 at other prices, and a deal
    assert cli.main(["demo", "--db", str(path), "--leads", "300", "--seed", "3"]) == 0, capsys.readouterr().err
    assert sp.doctor.run(db).empty
    assert sp.catalog.products(db).set_index("sku").loc[demo.PRODUCTS[0][0], "name"] == "Our own laptop"


def test_an_error_during_demo_lands_on_its_own_line_not_on_the_progress_bar(tmp_path, capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise sp.ValidationError("a planted failure")

    monkeypatch.setattr(demo, "_history", fail)
    assert cli.main(["demo", "--db", str(tmp_path / "s.duckdb"), "--leads", "20"]) == 2
    err = capsys.readouterr().err
    assert "\nsalespipe: a planted failure" in err, err  # the bar's line was ended first
    assert "demo data" in err  # the bar was there


def test_walkthrough_reports_its_own_events_and_dates_nothing_in_the_future(tmp_path):
    path = tmp_path / "walk.duckdb"
    first, second = run("walkthrough", "--db", path), run("walkthrough", "--db", path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    said = [next(line for line in done.stdout.splitlines() if "events recorded" in line) for done in (first, second)]
    assert said[0] == said[1], said  # the second walk counts its own events, not the table's
    db = sp.connect(path, read_only=True)
    total = int(db.sql("SELECT count(*) AS n FROM events")["n"].iloc[0])
    assert said[0].strip().startswith(f"{total // 2} events recorded for this walk"), said
    latest = db.sql('SELECT max("at") AS t FROM events')["t"].iloc[0]
    assert latest.to_pydatetime() <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
    future = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=10)
    with pytest.raises(sp.ValidationError, match="in the future") as info:
        walkthrough.run(db, start=future)
    assert info.value.field == "start"
