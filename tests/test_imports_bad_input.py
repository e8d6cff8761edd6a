"""Bad input, as the issue lists it: every row is checked, a file imports all or nothing, and what
failed is said per row (row, column, value, reason) in the error, the rejects file and the summary.

Only external_id, stage, and closed_at for closed records are required; other empty values import as
empty. --skip-invalid imports the valid rows (never reported as a complete import); --dry-run writes
nothing. Every refusal is a typed SalespipeError and leaves every table as it was.
"""

from __future__ import annotations

import csv

import pytest
from _import_files import DEALS_MAPPING, deals, mapping_file
from conftest import assert_refused, rows, snapshot, value

import salespipe as sp
from salespipe import imports

GOOD = [
    ["1", "Laptops", "Closed Won", "maria", "1,200.50", "2024-01-05", "2024-02-01"],
    ["2", "Docks", "Negotiation", "li", "", "2024-01-06", ""],
]


@pytest.fixture
def mapping(tmp_path):
    return mapping_file(tmp_path, DEALS_MAPPING)


def _load(db, path, mapping, **kw):
    return imports.load(db, "opportunities", path, mapping, **kw)


def test_a_valid_file_imports_and_empty_values_import_as_empty(db, tmp_path, mapping):
    result = _load(db, deals(tmp_path / "d.csv", GOOD), mapping)
    assert (result.created, result.rejected, result.complete) == (2, 0, True)
    assert rows(db, "SELECT topic, owner, estimated_value, actual_value, state FROM opportunities ORDER BY 1") == [
        ("Docks", "li", None, None, "open"),
        ("Laptops", "maria", 1200.50, 1200.50, "won"),
    ]


BAD_ROWS = [
    (["3", "Unknown", "Pending Legal", "maria", "5", "2024-01-05", ""], "Stage", "unknown stage 'Pending Legal'"),
    (["4", "No close", "Closed Lost", "maria", "5", "2024-01-05", ""], "Closed", "a closed record needs closed_at"),
    (["1", "Twin", "Negotiation", "li", "5", "2024-01-05", ""], "Id", "on more than one row"),
    (["", "No id", "Negotiation", "li", "5", "2024-01-05", ""], "Id", "id in the CRM is empty"),
    (["5", "Bad money", "Negotiation", "li", "1,2,3", "2024-01-05", ""], "Amount", "is not a number"),
    (["6", "Bad date", "Negotiation", "li", "5", "next tuesday", ""], "Created", "is not a date"),
    (["7", "Early", "Closed Won", "li", "5", "2024-03-01", "2024-02-01"], "Closed", "is before created_at"),
    (["8", "", "", "li", "5", "2024-01-05", ""], "Stage", "stage is empty"),
]


@pytest.mark.parametrize(("bad", "column", "reason"), BAD_ROWS, ids=[b[2] for b in BAD_ROWS])
def test_an_invalid_row_refuses_the_whole_file_and_says_which_row_and_why(db, tmp_path, mapping, bad, column, reason):
    path = deals(tmp_path / "d.csv", [*GOOD, bad])
    rejects = tmp_path / "rejects.csv"
    error = assert_refused(db, lambda: _load(db, path, mapping, rejects=rejects), imports.ImportRejected)
    row = 4  # the header is row 1
    found = error.rejects[error.rejects["row"] == row]
    assert len(found) >= 1 and found["column"].iloc[0] == column, error.rejects.to_string()
    assert reason in found["reason"].iloc[0]
    assert "nothing was imported" in str(error) and "--skip-invalid" in str(error)
    assert error.failures and all(len(f) == 3 for f in error.failures)
    with open(rejects, newline="", encoding="utf-8-sig") as fh:
        written = list(csv.DictReader(fh))
    assert list(written[0]) == ["row", "column", "value", "reason", "field", "external_id"]
    assert any(int(w["row"]) == row and reason in w["reason"] for w in written)


def test_skip_invalid_imports_the_valid_rows_and_never_calls_it_complete(db, tmp_path, mapping):
    bad = [r for r, _, _ in BAD_ROWS if r[0] not in ("1", "")]
    path = deals(tmp_path / "d.csv", [*GOOD, *bad])
    result = _load(db, path, mapping, skip_invalid=True)
    assert (result.created, result.rejected, result.complete) == (2, len(bad), False)
    assert "PARTIAL IMPORT" in str(result)
    assert value(db, "SELECT count(*) FROM opportunities") == 2
    assert sp.doctor.run(db).empty


def test_a_dry_run_reports_the_rejected_rows_and_writes_nothing(db, tmp_path, mapping):
    path = deals(tmp_path / "d.csv", [*GOOD, BAD_ROWS[0][0]])
    before = snapshot(db)
    result = _load(db, path, mapping, dry_run=True)
    assert (result.created, result.rejected, result.complete, result.batch_id) == (2, 1, False, None)
    assert before.keys() == snapshot(db).keys()
    assert_refused(db, lambda: _load(db, path, mapping), imports.ImportRejected, before=before)


def test_a_missing_required_column_is_refused_before_any_row(db, tmp_path):
    path = deals(tmp_path / "d.csv", GOOD)
    text = DEALS_MAPPING.replace('stage = "Stage"', 'stage = "Deal Stage"')
    error = assert_refused(db, lambda: _load(db, path, mapping_file(tmp_path, text, "m2.toml")), sp.ValidationError)
    assert "no column 'Deal Stage'" in str(error) and "the file's columns: 'Id'" in str(error)
    no_stage = {"columns": {"external_id": "Id"}}
    assert_refused(db, lambda: _load(db, path, no_stage), sp.ValidationError, "stage: the mapping names no column")


def test_references_to_records_in_neither_the_file_nor_the_database_are_rejected(db, tmp_path):
    path = deals(tmp_path / "d.csv", GOOD)
    mapping = {
        "system": "testcrm",
        "columns": {"external_id": "Id", "stage": "Stage", "account_external_id": "Owner"},
        "stages": {"*": "open"},
    }
    error = assert_refused(db, lambda: _load(db, path, mapping), imports.ImportRejected)
    assert error.rejects["reason"].str.contains("'maria' is neither in this file nor in the database").any()


@pytest.mark.parametrize(
    ("mapping", "needle"),
    [
        ({"columns": {"external_id": "Id", "colour": "Name"}}, "'colour' is not a field of opportunities"),
        ({"columns": {"external_id": "Id", "stage": "Stage"}, "stages": {"Won": "victory"}}, "names no state"),
        ({"columns": {"external_id": "Id", "stage": "Stage"}}, "no [stages] table"),
        ({"columns": {"external_id": "Id"}, "options": {"dates": "ymd"}}, "option dates must be one of"),
        ({"columns": {"external_id": "Id"}, "options": {"speed": "fast"}}, "unknown option"),
        ({"columns": {}}, "has no [columns]"),
        ("no-such-preset", "neither a preset"),
    ],
)
def test_a_bad_mapping_is_refused_naming_what_is_wrong(db, tmp_path, mapping, needle):
    path = deals(tmp_path / "d.csv", GOOD)
    error = assert_refused(db, lambda: _load(db, path, mapping), sp.ValidationError)
    assert needle in str(error)


def test_an_ambiguous_date_column_asks_for_the_order(db, tmp_path, mapping):
    path = deals(tmp_path / "d.csv", [["1", "A", "Negotiation", "li", "5", "01/03/2024", ""]])
    error = assert_refused(db, lambda: _load(db, path, mapping), sp.ValidationError, 'dates = "mdy"')
    assert "Created" in str(error)
    assert _load(db, path, mapping, dates="dmy").created == 1
    assert str(value(db, "SELECT created_at FROM opportunities")) == "2024-03-01 00:00:00"


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda db, p, m: imports.load(db, "deals", p, m), "kind must be one of"),
        (lambda db, p, m: imports.load(db, "opportunities", p.parent / "nope.csv", m), "no file at"),
        (lambda db, p, m: imports.load(db, "opportunities", p.parent, m), "is a folder"),
        (lambda db, p, m: imports.load(db, "opportunities", p, m, rejects=p.parent), "is a folder"),
        (lambda db, p, m: imports.load(db, "opportunities", p, m, timezone="Mars/Olympus"), "not a time zone"),
        (lambda db, p, m: imports.load(db, "opportunities", p, m, dry_run="yes"), "True or False"),
        (lambda db, p, m: imports.load("db", "opportunities", p, m), "sp.connect"),
    ],
)
def test_bad_arguments_are_typed_errors(db, tmp_path, mapping, call, needle):
    path = deals(tmp_path / "d.csv", GOOD)
    assert_refused(db, lambda: call(db, path, mapping), sp.ValidationError, needle)


def test_an_empty_or_broken_file_is_a_typed_error(db, tmp_path, mapping):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_refused(db, lambda: _load(db, empty, mapping), sp.ValidationError, "is empty")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    assert_refused(db, lambda: _load(db, broken, mapping), sp.ValidationError, "not a readable .xlsx")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text('Id,Name,Stage\n1,"A",Won\n2,B,Won,extra\n')
    assert_refused(db, lambda: _load(db, ragged, mapping), sp.ValidationError, "not a well-formed")


def test_ids_excel_mangled_are_refused_not_imported(db, tmp_path, mapping):
    path = deals(tmp_path / "d.csv", [["8.26839E+17", "A", "Negotiation", "li", "5", "2024-01-05", ""]])
    error = assert_refused(db, lambda: _load(db, path, mapping), imports.ImportRejected)
    assert "Excel shortened" in error.rejects["reason"].iloc[0]
