"""A stage history file's amount, probability and close date become the deal's field history
(Salesforce's OpportunityHistory has one row per change of any of them): in time order, before
the close, so `pipeline(as_of=)` sees the values that stood then, and undo gives back exactly the
field history there was before.
"""

from __future__ import annotations

import datetime as dt

import pytest
from _import_files import csv_file, mapping_file
from conftest import rows, snapshot

import salespipe as sp
from salespipe import imports

DEALS = """
system = "testcrm"
[columns]
external_id = "Id"
topic = "Name"
stage = "Stage"
owner = "Owner"
estimated_value = "Amount"
probability = "Probability"
created_at = "Created"
closed_at = "Closed"
[stages]
"Closed Won" = "won"
"Closed Lost" = "lost"
"*" = "open"
"""
HISTORY = """
system = "testcrm"
[columns]
external_id = "Opportunity"
stage = "Stage"
at = "When"
estimated_value = "Amount"
probability = "Probability"
estimated_close_date = "Close Date"
[stages]
"Closed Won" = "won"
"Closed Lost" = "lost"
"*" = "open"
"""
DEALS_ROWS = [
    ["1", "Laptops", "Closed Won", "maria", "1200", "100", "2024-01-05", "2024-03-01"],
    ["2", "Docks", "Negotiation", "li", "300", "40", "2024-01-06", ""],
]
HISTORY_ROWS = [
    ["1", "Prospecting", "2024-01-05", "1000", "10", "2024-04-30"],
    ["1", "Negotiation", "2024-02-01", "1200", "60", "2024-03-31"],
    ["1", "Negotiation", "2024-02-15", "1200", "80", "2024-03-31"],  # same stage: still a field change
    ["2", "Prospecting", "2024-01-06", "250", "10", "2024-06-30"],
    ["2", "Negotiation", "2024-02-10", "300", "40", "2024-06-30"],
]
LATER = dt.datetime(2024, 6, 1)


@pytest.fixture
def imported(db, tmp_path):
    """The deals imported, then their history: (the history's result, every table before it)."""
    deals = csv_file(
        tmp_path / "deals.csv",
        ["Id", "Name", "Stage", "Owner", "Amount", "Probability", "Created", "Closed"],
        DEALS_ROWS,
    )
    imports.load(db, "opportunities", deals, mapping_file(tmp_path, DEALS, "deals.toml"), at=LATER)
    before = snapshot(db)
    history = csv_file(
        tmp_path / "history.csv", ["Opportunity", "Stage", "When", "Amount", "Probability", "Close Date"], HISTORY_ROWS
    )
    result = imports.load(db, "opportunity_history", history, mapping_file(tmp_path, HISTORY, "history.toml"), at=LATER)
    return result, before


def _opp(db, external_id):
    return rows(
        db, "SELECT record_id FROM import_keys WHERE entity = 'opportunity' AND external_id = ?", [external_id]
    )[0][0]


def _changes(db, opportunity, field):
    return rows(
        db,
        """SELECT old_value, new_value, "at" FROM field_changes WHERE entity = 'opportunity' AND entity_id = ?
           AND field = ? ORDER BY change_id""",
        [opportunity, field],
    )


def test_the_history_rows_become_field_changes_in_time_order_before_the_close(db, imported):
    won = _opp(db, "1")
    assert _changes(db, won, "probability") == [
        ("10", "60", dt.datetime(2024, 2, 1)),
        ("60", "80", dt.datetime(2024, 2, 15)),
        ("80", "100", dt.datetime(2024, 3, 1)),  # the close's own change, after the history
    ]
    assert _changes(db, won, "estimated_value") == [("1000.00", "1200.00", dt.datetime(2024, 2, 1))]
    assert _changes(db, won, "estimated_close_date") == [("2024-04-30", "2024-03-31", dt.datetime(2024, 2, 1))]
    # the deals file had no close dates: the deal takes the history's last one
    assert rows(db, "SELECT estimated_close_date FROM opportunities WHERE opportunity_id = ?", [won]) == [
        (dt.date(2024, 3, 31),)
    ]
    assert sp.doctor.run(db).empty


def test_an_open_deal_whose_file_differs_from_its_last_history_row_ends_at_the_files_value(db, tmp_path):
    deals = csv_file(
        tmp_path / "deals.csv",
        ["Id", "Name", "Stage", "Owner", "Amount", "Probability", "Created", "Closed"],
        [["2", "Docks", "Negotiation", "li", "350", "50", "2024-01-06", ""]],
    )
    imports.load(db, "opportunities", deals, mapping_file(tmp_path, DEALS, "deals.toml"), at=LATER)
    history = csv_file(
        tmp_path / "history.csv",
        ["Opportunity", "Stage", "When", "Amount", "Probability", "Close Date"],
        HISTORY_ROWS[3:],
    )
    imports.load(db, "opportunity_history", history, mapping_file(tmp_path, HISTORY, "history.toml"), at=LATER)
    assert _changes(db, _opp(db, "2"), "probability") == [
        ("10", "40", dt.datetime(2024, 2, 10)),
        ("40", "50", LATER),  # where the deal stands now, dated the import
    ]
    assert sp.doctor.run(db).empty


def test_pipeline_as_of_a_date_uses_the_imported_values_that_stood_then(db, imported):
    weighted = {
        day: sp.metrics.pipeline(db, as_of=day)["weighted_value"].sum()
        for day in (dt.date(2024, 1, 20), dt.date(2024, 2, 5), dt.date(2024, 2, 20))
    }
    # deal 1: 1000 x 10% then 1200 x 60% then 1200 x 80%; deal 2: 250 x 10% then 300 x 40%
    assert weighted == {
        dt.date(2024, 1, 20): pytest.approx(100 + 25),
        dt.date(2024, 2, 5): pytest.approx(720 + 25),
        dt.date(2024, 2, 20): pytest.approx(960 + 120),
    }


def test_importing_the_history_again_changes_nothing(db, imported, tmp_path):
    before = snapshot(db)
    history = csv_file(
        tmp_path / "again.csv", ["Opportunity", "Stage", "When", "Amount", "Probability", "Close Date"], HISTORY_ROWS
    )
    again = imports.load(db, "opportunity_history", history, mapping_file(tmp_path, HISTORY, "history.toml"), at=LATER)
    assert again.created == again.updated == 0
    after = snapshot(db)
    for name in before:
        if not name.startswith("import_"):
            assert before[name].equals(after[name]), name


def test_undo_gives_back_the_field_history_there_was(db, imported):
    result, before = imported
    imports.undo(db, result.batch_id)
    after = snapshot(db)
    for name, table in before.items():
        if not name.startswith("import_"):
            assert table.equals(after[name]), name
    assert sp.doctor.run(db).empty
