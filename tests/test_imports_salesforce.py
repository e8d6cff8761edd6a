"""A real Salesforce Data Export (../shared/data/salesforce-demo, MIT) imported with the `salesforce` preset.

Accounts, contacts, opportunities, leads and stage history go in through the bulk transitions, so
doctor finds the database sound, the win rate by owner is the file's won / (won + lost), converted
leads are qualified into their account, contact and opportunity, and the stage history becomes
stage events that time in stage and the pipeline as of a past date read. A dry run writes nothing,
a re-import changes nothing, and undoing the batches newest first gives back the empty database.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from _import_files import SALESFORCE, SALESFORCE_FILES
from conftest import assert_unchanged, events, rows, snapshot, value

import salespipe as sp
from salespipe import imports

pytestmark = pytest.mark.skipif(not SALESFORCE.is_dir(), reason="the Salesforce demo export is not beside the checkout")
ORDER = ("accounts", "contacts", "opportunities", "leads", "opportunity_history")
NOT_CONVERTED = [14, 15, 19]  # "Closed - Converted" with IsConverted FALSE: sample data never converted


def _import_all(db, files=SALESFORCE_FILES, **kw):
    results = {}
    for kind in ORDER:
        results[kind] = imports.load(
            db,
            kind,
            files[kind] if files is not SALESFORCE_FILES else SALESFORCE / files[kind],
            "salesforce",
            skip_invalid=kind == "leads",
            **kw,
        )
    return results


def _key(db, entity, external_id):
    return value(db, "SELECT record_id FROM import_keys WHERE entity = ? AND external_id = ?", [entity, external_id])


def test_the_demo_export_imports_whole_and_doctor_finds_it_sound(db):
    results = _import_all(db)
    counts = {k: (r.created, r.updated, r.unchanged, r.skipped, r.rejected) for k, r in results.items()}
    assert counts == {
        "accounts": (18, 0, 0, 0, 0),
        "contacts": (25, 0, 0, 0, 0),
        "opportunities": (36, 0, 0, 0, 0),
        "leads": (19, 0, 0, 0, 3),
        "opportunity_history": (21, 0, 0, 27, 0),
    }
    assert sp.doctor.run(db).empty
    assert results["leads"].rejects["row"].tolist() == NOT_CONVERTED
    assert (results["leads"].rejects["reason"].str.contains("converted flag is false")).all()
    assert not results["leads"].complete and results["opportunities"].complete
    assert rows(db, "SELECT state, count(*) FROM opportunities GROUP BY 1 ORDER BY 1") == [
        ("lost", 8),
        ("open", 16),
        ("won", 12),
    ]
    # a won deal without quotes, marked as imported
    won = _key(db, "opportunity", "006bm00000LKJNP")
    assert value(db, "SELECT count(*) FROM quotes WHERE opportunity_id = ?", [won]) == 0
    assert rows(
        db,
        "SELECT system, external_id, kind FROM v_imported_records WHERE entity = 'opportunity' AND record_id = ?",
        [won],
    ) == [("salesforce", "006bm00000LKJNP", "opportunities")]
    assert [(e["action"], e["to_state"]) for e in events(db, "opportunity", won)] == [
        ("create", "open"),
        ("close_won", "won"),
    ]


def _source_win_rate(frame: pd.DataFrame, owner: str) -> pd.DataFrame:
    closed = frame[frame["IsClosed"] == "TRUE"]
    won = closed.groupby(owner, dropna=False)["IsWon"].apply(lambda s: (s == "TRUE").sum())
    return pd.DataFrame({"won": won, "lost": closed.groupby(owner, dropna=False).size() - won})


def test_win_rate_by_owner_is_won_over_won_and_lost_of_the_source_file(db, tmp_path):
    source = pd.read_csv(SALESFORCE / "Opportunity.csv", dtype=str, keep_default_na=False)
    # the demo export has no owner column: give its deals owners (by account) to see groups
    source["OwnerId"] = source["AccountId"].map(lambda a: "005OWNER" + str(sum(map(ord, a)) % 3))
    path = tmp_path / "Opportunity.csv"
    source.to_csv(path, index=False)
    files = {k: SALESFORCE / f for k, f in SALESFORCE_FILES.items()} | {"opportunities": path}
    _import_all(db, files)
    got = sp.metrics.win_rate(db, by="owner").set_index("owner")
    expected = _source_win_rate(source, "OwnerId")
    assert sorted(got.index) == sorted(expected.index)
    for owner, row in expected.iterrows():
        assert (got.loc[owner, "won"], got.loc[owner, "lost"]) == (row["won"], row["lost"])
        assert got.loc[owner, "win_rate"] == pytest.approx(row["won"] / (row["won"] + row["lost"]))


def test_without_an_owner_column_every_deal_falls_in_one_group_with_the_files_rate(db):
    _import_all(db)
    got = sp.metrics.win_rate(db, by="owner")
    assert len(got) == 1 and got["owner"].isna().all()
    assert (got["won"].iloc[0], got["lost"].iloc[0], got["open"].iloc[0]) == (12, 8, 16)
    assert got["win_rate"].iloc[0] == pytest.approx(12 / 20)


def test_converted_leads_are_qualified_into_the_account_contact_and_opportunity_the_crm_made(db):
    _import_all(db)
    lead = _key(db, "lead", "00Qbm00000Orxk5")  # Bertha Boxer, converted into Farmers Coop. of Florida
    row = rows(
        db, "SELECT state, account_id, contact_id, opportunity_id, closed_at FROM leads WHERE lead_id = ?", [lead]
    )[0]
    assert row == (
        "qualified",
        _key(db, "account", "001bm00001ZM1Ly"),
        _key(db, "contact", "003bm00000zbyRu"),
        _key(db, "opportunity", "006bm00000LKgOn"),
        dt.datetime(2026, 2, 24),
    )
    assert value(db, "SELECT lead_id FROM opportunities WHERE opportunity_id = ?", [row[3]]) == lead
    # the funnel sees it qualified, and its deal lost
    stages = rows(db, "SELECT qualified_at, lost_at FROM lead_stages WHERE lead_id = ?", [lead])[0]
    assert stages[0] == dt.datetime(2026, 2, 24) and stages[1] is not None
    assert value(db, "SELECT count(*) FROM leads WHERE state = 'qualified'") == 5
    assert value(db, "SELECT count(*) FROM leads WHERE state = 'disqualified'") == 3


def test_stage_history_becomes_stage_events_before_the_close(db):
    results = _import_all(db)
    # Jackson Controls: Prospecting 02/24/26 02:15, Closed Lost 02/24/26 02:20, CloseDate 03/31/26. The file's
    # CloseDate closes the deal; the CRM's stage changes before it are stage events, Closed Lost included
    opp = _key(db, "opportunity", "006bm00000LKg0b")
    trail = [(e["action"], e["to_state"], e["at"], e["note"]) for e in events(db, "opportunity", opp)]
    assert trail == [
        ("create", "open", dt.datetime(2026, 2, 24), None),
        ("stage", "open", dt.datetime(2026, 2, 24, 2, 15), "Prospecting"),
        ("stage", "open", dt.datetime(2026, 2, 24, 2, 20), "Closed Lost"),
        ("close_lost", "lost", dt.datetime(2026, 3, 31), None),
    ]
    stays = rows(
        db, "SELECT stage, entered_at, left_at FROM v_crm_stage_stays WHERE opportunity_id = ? ORDER BY 2", [opp]
    )
    assert stays == [
        ("Prospecting", dt.datetime(2026, 2, 24, 2, 15), dt.datetime(2026, 2, 24, 2, 20)),
        ("Closed Lost", dt.datetime(2026, 2, 24, 2, 20), dt.datetime(2026, 3, 31)),
    ]
    skipped = results["opportunity_history"].skipped_rows
    assert len(skipped) == 27 and skipped["reason"].str.contains("at or after the opportunity closed").all()
    # the pipeline as it stood: before the demo's deals were created, then after
    assert sp.metrics.pipeline(db, as_of="2026-02-22")["count"].sum() == 0
    assert sp.metrics.pipeline(db, as_of="2026-02-25")["count"].sum() == 17
    assert sp.metrics.time_in_stage(db)["count"].sum() > 0
    assert sp.doctor.run(db).empty


def test_a_dry_run_writes_nothing_and_says_what_would_happen(db):
    before = snapshot(db)
    result = imports.load(db, "accounts", SALESFORCE / "Account.csv", "salesforce", dry_run=True)
    assert (result.created, result.batch_id, result.dry_run) == (18, None, True)
    assert "dry run: nothing was written" in str(result)
    assert_unchanged(before, snapshot(db))


def test_importing_the_export_again_changes_nothing(db):
    _import_all(db)
    before = {k: v for k, v in snapshot(db).items() if not k.startswith("import_")}
    again = _import_all(db)
    assert {k: (r.created, r.updated) for k, r in again.items()} == dict.fromkeys(ORDER, (0, 0))
    assert again["opportunities"].unchanged == 36 and again["opportunity_history"].unchanged == 21
    assert_unchanged(before, {k: v for k, v in snapshot(db).items() if not k.startswith("import_")})


def test_undoing_the_batches_newest_first_gives_back_the_empty_database(db):
    empty = {k: v for k, v in snapshot(db).items() if not k.startswith("import_")}
    _import_all(db)
    batches = imports.batches(db)["batch_id"].tolist()
    with pytest.raises(sp.ValidationError, match="undo that one first|points to it") as info:
        imports.undo(db, batches[-1])  # the accounts, while the deals point to them
    assert info.value.failures
    for batch in batches:
        imports.undo(db, batch)
        assert sp.doctor.run(db).empty
    assert_unchanged(empty, {k: v for k, v in snapshot(db).items() if not k.startswith("import_")})
    assert imports.batches(db)["undone_at"].notna().all()


def test_null_lookups_import_as_empty(db, tmp_path):
    contacts = pd.read_csv(SALESFORCE / "Contact.csv", dtype=str, keep_default_na=False).head(2)
    contacts.loc[0, "AccountId"] = "000000000000000AAA"
    path = tmp_path / "Contact.csv"
    contacts.to_csv(path, index=False)
    imports.load(db, "accounts", SALESFORCE / "Account.csv", "salesforce")
    imports.load(db, "contacts", path, "salesforce")
    assert rows(db, "SELECT last_name, account_id IS NULL FROM contacts ORDER BY contact_id") == [
        ("Gonzalez", True),
        ("Forbes", False),
    ]
