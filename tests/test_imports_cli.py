"""`salespipe import` and `salespipe export` follow the command line's conventions.

--db and --busy-timeout go before or after the command; arguments are checked before any file is
created; exit 0 when everything was imported, 1 when rows were rejected (a partial import under
--skip-invalid, or a dry run that found invalid rows), 2 when the import was refused (nothing
written) and for usage and environment errors, with a message and never a traceback. `export`
opens the database read-only and writes every table and view for BI tools.
"""

from __future__ import annotations

import csv
import os

import duckdb
import pandas as pd
import pytest
from _import_files import DEALS_MAPPING, SALESFORCE, deals, hubspot_csv, mapping_file
from test_cli import run

import salespipe as sp
from salespipe import cli, export

GOOD = [["1", "Laptops", "Closed Won", "maria", "1200", "2024-01-05", "2024-02-01"]]
BAD = ["2", "Unknown", "Pending Legal", "li", "5", "2024-01-05", ""]


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def files(tmp_path):
    mapping = mapping_file(tmp_path, DEALS_MAPPING)
    return tmp_path, mapping


def test_an_import_prints_a_summary_a_sales_ops_person_can_read_and_exits_0(files, capsys):
    folder, mapping = files
    path, db = deals(folder / "d.csv", GOOD), folder / "s.duckdb"
    assert cli.main(["import", "opportunities", str(path), "--mapping", str(mapping), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "testcrm opportunities from d.csv (utf-8, comma-separated, 1 rows)" in out
    assert "1 created, 0 updated, 0 unchanged, 0 skipped, 0 rejected" in out
    assert "undo it with `salespipe import undo 1`" in out
    assert cli.main(["--db", str(db), "import", "list"]) == 0
    assert "opportunities" in capsys.readouterr().out
    assert cli.main(["import", "undo", "1", "--db", str(db)]) == 0
    assert "batch 1 undone: 1 records removed" in capsys.readouterr().out
    assert sp.connect(db, read_only=True).sql("SELECT count(*) AS n FROM opportunities")["n"][0] == 0


def test_invalid_rows_refuse_the_import_with_exit_2_and_skip_invalid_exits_1(files, capsys):
    folder, mapping = files
    path, db, rejects = deals(folder / "d.csv", [*GOOD, BAD]), folder / "s.duckdb", folder / "rejects.csv"
    args = ["import", "opportunities", str(path), "--mapping", str(mapping), "--db", str(db), "--rejects", str(rejects)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "REFUSED, nothing was imported: 1 rows are invalid" in err
    assert "row 3, Stage = 'Pending Legal': unknown stage" in err and f"every problem is in {rejects}" in err
    with open(rejects, encoding="utf-8-sig") as fh:
        assert [r["row"] for r in csv.DictReader(fh)] == ["3"]
    assert cli.main([*args, "--dry-run"]) == 1  # the dry run says what would fail, writing nothing
    assert "dry run: nothing was written" in capsys.readouterr().out
    assert sp.connect(db).sql("SELECT count(*) AS n FROM opportunities")["n"][0] == 0
    assert cli.main([*args, "--skip-invalid"]) == 1
    out = capsys.readouterr().out
    assert "PARTIAL IMPORT: 1 rows were rejected" in out and "rejected row 3" in out


def test_a_dry_run_on_a_missing_database_creates_nothing(files, capsys):
    folder, mapping = files
    path = deals(folder / "d.csv", GOOD)
    before = _files(folder)
    assert (
        cli.main(
            [
                "import",
                "opportunities",
                str(path),
                "--mapping",
                str(mapping),
                "--dry-run",
                "--db",
                str(folder / "new.duckdb"),
            ]
        )
        == 0
    )
    assert "checking against an empty one" in capsys.readouterr().err
    assert _files(folder) == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["import", "opportunities", "{missing}", "--mapping", "hubspot"], "no file at"),
        (["import", "opportunities", "{file}", "--mapping", "no-such"], "neither a preset"),
        (["import", "opportunities", "{file}"], "--mapping"),
        (["import", "deals", "{file}", "--mapping", "hubspot"], "invalid choice"),
        (["import", "opportunities", "{file}", "--mapping", "hubspot", "--dates", "ymd"], "invalid choice"),
        (["import", "opportunities", "{file}", "--mapping", "hubspot", "--rejects", "{folder}"], "is a folder"),
        (["import", "undo", "1"], "no database at this path"),
        (["import", "undo", "x"], "not a whole number"),
        (["import"], "say what to import"),
        (["export", "{file}"], "is a file"),
        (["export", "{folder}/out"], "no database at this path"),
        (["export", "{folder}/out", "--format", "xml"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_before_any_file_is_created(tmp_path, args, needle):
    data = tmp_path / "data"
    data.mkdir()
    file = hubspot_csv(data / "deals.csv")
    args = [a.format(missing=data / "nope.csv", file=file, folder=data) for a in args]
    done = run("--db", tmp_path / "never.duckdb", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and needle in done.stderr, done.stderr
    assert _files(tmp_path) == ["data"] and _files(data) == ["deals.csv"]


def test_db_and_busy_timeout_go_before_or_after_the_import_command(files, capsys):
    folder, mapping = files
    path, db = deals(folder / "d.csv", GOOD), folder / "s.duckdb"
    assert (
        cli.main(
            ["--db", str(db), "import", "opportunities", str(path), "--mapping", str(mapping), "--busy-timeout", "2"]
        )
        == 0
    )
    assert cli.main(["import", "--db", str(db), "opportunities", str(path), "--mapping", str(mapping)]) == 0
    assert "0 created, 0 updated, 1 unchanged" in capsys.readouterr().out


def test_detect_says_which_preset_fits_and_how_to_import_with_it(capsys):
    assert cli.main(["import", "--detect", str(SALESFORCE / "Opportunity.csv")]) == 0
    out = capsys.readouterr().out
    assert "salesforce_opportunities (opportunities)" in out
    assert "its ids start with 006" in out and "salespipe import opportunities" in out


def test_undo_refused_lists_every_record_changed_since(files, capsys):
    folder, mapping = files
    db = folder / "s.duckdb"
    path = deals(folder / "d.csv", [*GOOD, ["2", "Docks", "Negotiation", "li", "5", "2024-01-05", ""]])
    assert cli.main(["import", "opportunities", str(path), "--mapping", str(mapping), "--db", str(db)]) == 0
    handle = sp.connect(db)
    sp.opportunities.set_probability(handle, 2, 70)
    assert cli.main(["import", "undo", "1", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "cannot be undone: 1 of its records changed since" in err
    assert "  opportunity 2: its row differs from what batch 1 left" in err


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_every_table_and_view_read_only(files, capsys, fmt):
    folder, mapping = files
    db = folder / "s.duckdb"
    assert (
        cli.main(
            ["import", "opportunities", str(deals(folder / "d.csv", GOOD)), "--mapping", str(mapping), "--db", str(db)]
        )
        == 0
    )
    os.chmod(db, 0o444)  # read-only: export never writes the database
    try:
        assert cli.main(["export", str(folder / "bi"), "--format", fmt, "--db", str(db)]) == 0
    finally:
        os.chmod(db, 0o644)
    assert "wrote" in capsys.readouterr().out
    written = _files(folder / "bi")
    names = {n.rsplit(".", 1)[0] for n in written} - {"_columns"}
    handle = sp.connect(db, read_only=True)
    expected = {name for name, _ in export.relations(handle)}
    assert {"leads", "events", "import_batches", "v_opportunity_facts", "v_win_rate"} <= expected
    assert not any(name.endswith("_rebuilt") for name in expected)
    assert names == expected
    con = duckdb.connect()
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    opps = con.execute(f"SELECT topic, state FROM {reader}('{folder / 'bi' / ('opportunities.' + fmt)}')").fetchall()
    assert opps == [("Laptops", "won")]
    facts = (
        pd.read_parquet(folder / "bi" / "v_opportunity_facts.parquet")
        if fmt == "parquet"
        else pd.read_csv(folder / "bi" / "v_opportunity_facts.csv")
    )
    assert facts["outcome"].tolist() == ["won"]
    dictionary = pd.read_csv(folder / "bi" / "_columns.csv")
    assert dictionary.loc[dictionary["table_name"] == "v_win_rate", "comment"].notna().all()


def test_an_error_during_an_import_lands_on_its_own_line_not_on_the_progress_bar(files, capsys, monkeypatch):
    import re
    import sys

    def fail(*args, **kwargs):
        raise sp.ValidationError("a planted failure")

    folder, mapping = files
    monkeypatch.setattr(sys.modules["salespipe.imports.load"], "_parse", fail)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    path = deals(folder / "d.csv", GOOD)
    assert (
        cli.main(["import", "opportunities", str(path), "--mapping", str(mapping), "--db", str(folder / "s.duckdb")])
        == 2
    )
    err = capsys.readouterr().err
    assert "import opportunities" in err  # the bar was there
    assert re.search(r"[\r\n]salespipe: a planted failure", err), err  # the bar's line was ended or cleared first
