"""Re-imports and undo: records are keyed by (source system, entity, external id), so importing a
file again updates what changed and moves a deal that moved on through the real transition; undo
removes what a batch created and restores what it updated, and refuses records changed since.
"""

from __future__ import annotations

import datetime as dt

import pytest
from _import_files import DEALS_MAPPING, deals, mapping_file
from conftest import assert_refused, events, make_product, rows, snapshot, value

import salespipe as sp
from salespipe import facts, imports

GOOD = [
    ["1", "Laptops", "Closed Won", "maria", "1200.50", "2024-01-05", "2024-02-01"],
    ["2", "Docks", "Negotiation", "li", "300", "2024-01-06", ""],
]
LATER = dt.datetime(2024, 6, 1)


@pytest.fixture
def mapping(tmp_path):
    return mapping_file(tmp_path, DEALS_MAPPING)


def _import(db, tmp_path, rows_, mapping, name="d.csv", **kw):
    return imports.load(db, "opportunities", deals(tmp_path / name, rows_), mapping, at=LATER, **kw)


def _opp(db, external_id):
    return value(
        db, "SELECT record_id FROM import_keys WHERE entity = 'opportunity' AND external_id = ?", [external_id]
    )


def _tables(db):
    return {k: v for k, v in snapshot(db).items() if not k.startswith("import_")}


def test_changed_fields_update_and_the_rest_is_unchanged(db, tmp_path, mapping):
    _import(db, tmp_path, GOOD, mapping)
    before = len(events(db))
    changed = [GOOD[0], ["2", "Docking stations", "Negotiation", "sam", "350", "2024-01-06", ""]]
    result = _import(db, tmp_path, changed, mapping, name="e.csv")
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    assert rows(
        db, "SELECT topic, owner, estimated_value FROM opportunities WHERE opportunity_id = ?", [_opp(db, "2")]
    ) == [("Docking stations", "sam", 350)]
    assert len(events(db)) == before  # a field edit is no state change
    assert sp.doctor.run(db).empty


def test_a_re_import_writes_the_field_history_and_undo_removes_it(db, tmp_path, mapping):
    _import(db, tmp_path, GOOD, mapping)
    opp = _opp(db, "2")
    changed = [GOOD[0], ["2", "Docks", "Negotiation", "sam", "350", "2024-01-06", ""]]
    batch = _import(db, tmp_path, changed, mapping, name="e.csv").batch_id
    assert rows(
        db,
        """SELECT field, old_value, new_value, "at" FROM field_changes WHERE entity = 'opportunity'
           AND entity_id = ? ORDER BY change_id""",
        [opp],
    ) == [("owner", "li", "sam", LATER), ("estimated_value", "300.00", "350.00", LATER)]
    stood = sp.metrics.pipeline(db, as_of=dt.date(2024, 5, 1), by="owner")
    assert stood.groupby("owner")["value"].sum().to_dict() == {"li": 300}  # what stood before the re-import
    now = sp.metrics.pipeline(db, by="owner")
    assert now.groupby("owner")["value"].sum().to_dict() == {"sam": 350}
    assert sp.doctor.run(db).empty
    imports.undo(db, batch)
    assert value(db, "SELECT count(*) FROM field_changes WHERE entity_id = ?", [opp]) == 0
    assert sp.doctor.run(db).empty


def test_a_deal_won_in_the_crm_since_moves_through_close_won(db, tmp_path, mapping):
    _import(db, tmp_path, GOOD, mapping)
    moved = [GOOD[0], ["2", "Docks", "Closed Won", "li", "300", "2024-01-06", "2024-03-10"]]
    assert _import(db, tmp_path, moved, mapping, name="e.csv").updated == 1
    trail = [(e["action"], e["to_state"], e["at"]) for e in events(db, "opportunity", _opp(db, "2"))]
    assert trail[-1] == ("close_won", "won", dt.datetime(2024, 3, 10))
    assert rows(
        db, "SELECT actual_value, probability FROM opportunities WHERE opportunity_id = ?", [_opp(db, "2")]
    ) == [(300, 100)]
    assert sp.doctor.run(db).empty


def test_a_re_import_and_its_undo_after_a_facts_refresh_keep_the_stored_outcomes_exact(db, tmp_path):
    with_value = mapping_file(
        tmp_path,
        DEALS_MAPPING.replace('estimated_value = "Amount"\n', 'estimated_value = "Amount"\nactual_value = "Amount"\n'),
    )
    _import(db, tmp_path, GOOD, with_value)
    facts.refresh(db)  # each opportunity's outcome now stands in fact_product_outcomes
    corrected = [["1", "Laptops", "Closed Won", "maria", "1500.00", "2024-01-05", "2024-02-01"], GOOD[1]]
    batch = _import(db, tmp_path, corrected, with_value, name="e.csv").batch_id
    assert len(events(db, "opportunity", _opp(db, "1"))) == 2  # create, close_won: the new amount is no event
    assert sp.metrics.win_rate(db, by="product")["won_value"].tolist() == [1500.0]
    assert sp.doctor.run(db).empty
    imports.undo(db, batch)
    assert sp.metrics.win_rate(db, by="product")["won_value"].tolist() == [1200.5]
    assert sp.doctor.run(db).empty


def test_lost_then_open_again_reopens_at_the_imports_time(db, tmp_path, mapping):
    _import(db, tmp_path, [["2", "Docks", "Closed Lost", "li", "300", "2024-01-06", "2024-02-10"]], mapping)
    _import(db, tmp_path, [["2", "Docks", "Negotiation", "li", "300", "2024-01-06", ""]], mapping, name="e.csv")
    trail = [(e["action"], e["at"]) for e in events(db, "opportunity", _opp(db, "2"))]
    assert trail == [("create", dt.datetime(2024, 1, 6)), ("close_lost", dt.datetime(2024, 2, 10)), ("reopen", LATER)]
    assert sp.doctor.run(db).empty


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        (["1", "Laptops", "Closed Lost", "maria", "1200.50", "2024-01-05", "2024-02-01"], "won is final"),
        (["1", "Laptops", "Closed Won", "maria", "1200.50", "2024-01-05", "2024-02-02"], "history is fixed"),
    ],
)
def test_what_the_state_machine_cannot_do_is_rejected_per_row(db, tmp_path, mapping, row, needle):
    _import(db, tmp_path, GOOD, mapping)
    error = assert_refused(
        db, lambda: _import(db, tmp_path, [row, GOOD[1]], mapping, name="e.csv"), imports.ImportRejected
    )
    assert needle in error.rejects["reason"].iloc[0] and error.rejects["row"].iloc[0] == 2


def test_a_move_dated_before_the_records_last_change_is_rejected(db, tmp_path, mapping):
    _import(db, tmp_path, [["2", "Docks", "Closed Lost", "li", "300", "2024-01-06", "2024-02-10"]], mapping)
    _import(db, tmp_path, [["2", "Docks", "Negotiation", "li", "300", "2024-01-06", ""]], mapping, name="e.csv")
    won_before = [["2", "Docks", "Closed Won", "li", "300", "2024-01-06", "2024-05-01"]]  # before the reopening
    error = assert_refused(db, lambda: _import(db, tmp_path, won_before, mapping, name="f.csv"), imports.ImportRejected)
    assert "history runs forward" in error.rejects["reason"].iloc[0]


def test_undo_restores_what_a_re_import_updated_and_removes_its_events(db, tmp_path, mapping):
    _import(db, tmp_path, GOOD, mapping)
    before = _tables(db)
    moved = [GOOD[0], ["2", "Docking stations", "Closed Won", "sam", "350", "2024-01-06", "2024-03-10"]]
    batch = _import(db, tmp_path, moved, mapping, name="e.csv").batch_id
    undone = imports.undo(db, batch)
    assert (undone.removed, undone.restored, undone.events_removed) == (0, 1, 1)
    assert _tables(db).keys() == before.keys()
    for name in before:
        assert before[name].equals(_tables(db)[name]), name
    assert sp.doctor.run(db).empty


def test_undo_refuses_records_changed_since_and_lists_them(db, tmp_path, mapping):
    batch = _import(db, tmp_path, GOOD, mapping).batch_id
    sp.opportunities.set_probability(db, _opp(db, "2"), 60)
    error = assert_refused(db, lambda: imports.undo(db, batch), sp.ValidationError, "changed since")
    assert error.failures == [(_opp(db, "2"), "opportunity", f"its row differs from what batch {batch} left")]
    sp.opportunities.close_lost(db, _opp(db, "2"), at=LATER)
    error = assert_refused(db, lambda: imports.undo(db, batch), sp.ValidationError)
    assert any("it has events after the batch (close_lost" in why for _, _, why in error.failures)


def test_undo_refuses_a_deal_someone_quoted_since(db, tmp_path, mapping):
    batch = _import(db, tmp_path, GOOD, mapping).batch_id
    sp.quotes.create(db, _opp(db, "2"), lines=[(make_product(db), 1)], at=LATER)
    error = assert_refused(db, lambda: imports.undo(db, batch), sp.ValidationError)
    assert any("quote 1 points to it" in why for _, _, why in error.failures)


def test_a_later_batch_must_be_undone_first(db, tmp_path, mapping):
    first = _import(db, tmp_path, GOOD, mapping).batch_id
    changed = [GOOD[0], ["2", "Docks", "Negotiation", "sam", "300", "2024-01-06", ""]]
    second = _import(db, tmp_path, changed, mapping, name="e.csv").batch_id
    error = assert_refused(db, lambda: imports.undo(db, first), sp.ValidationError)
    assert any(f"batch {second} changed it: undo that one first" in why for _, _, why in error.failures)
    imports.undo(db, second)
    imports.undo(db, first)
    assert value(db, "SELECT count(*) FROM opportunities") == 0
    assert_refused(db, lambda: imports.undo(db, first), sp.ValidationError, "undone already")
    assert_refused(db, lambda: imports.undo(db, 999), sp.NotFound, "import batch")


def test_undo_after_the_fact_tables_moved_on_leaves_time_in_stage_exact(db, tmp_path, mapping):
    _import(db, tmp_path, GOOD, mapping)
    facts.refresh(db)
    batch = _import(
        db,
        tmp_path,
        [GOOD[0], ["2", "Docks", "Closed Lost", "li", "300", "2024-01-06", "2024-03-01"]],
        mapping,
        name="e.csv",
    ).batch_id
    facts.refresh(db)  # the fact table now holds the stays the batch made
    imports.undo(db, batch)
    assert sp.doctor.run(db).empty
    sp.opportunities.close_lost(db, _opp(db, "2"), at=LATER)  # a new event after the undo is seen too
    assert sp.doctor.run(db).empty
    assert sp.metrics.time_in_stage(db)["count"].sum() == 2


def test_leads_move_as_the_crm_moved_them(db, tmp_path):
    mapping = {
        "system": "testcrm",
        "columns": {
            "external_id": "Id",
            "last_name": "Name",
            "stage": "Status",
            "closed_at": "Closed",
            "created_at": "Created",
            "owner": "Owner",
        },
        "stages": {"New": "open", "Dead": "disqualified:no_longer_interested", "Working": "open:contacted"},
    }
    header = ["Id", "Name", "Status", "Closed", "Created", "Owner"]
    from _import_files import csv_file

    def load(rows_, name):
        return imports.load(db, "leads", csv_file(tmp_path / name, header, rows_), mapping, at=LATER)

    load(
        [["L1", "Ada", "New", "", "2024-01-01", "maria"], ["L2", "Bob", "Dead", "2024-02-01", "2024-01-02", "li"]],
        "a.csv",
    )
    assert rows(db, "SELECT last_name, state, status FROM leads ORDER BY 1") == [
        ("Ada", "open", "new"),
        ("Bob", "disqualified", "no_longer_interested"),
    ]
    load(
        [["L1", "Ada", "Dead", "2024-03-01", "2024-01-01", "sam"], ["L2", "Bob", "Working", "", "2024-01-02", "li"]],
        "b.csv",
    )
    assert rows(db, "SELECT last_name, owner, state FROM leads ORDER BY 1") == [
        ("Ada", "sam", "disqualified"),
        ("Bob", "li", "open"),
    ]
    assert rows(db, "SELECT owner, state FROM lead_stages ORDER BY lead_id") == [
        ("sam", "disqualified"),
        ("li", "open"),
    ]
    assert sp.doctor.run(db).empty
