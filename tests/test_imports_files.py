"""The files CRMs and Excel really produce import alike (../shared/data/FORMATS.md): Dynamics 365's
Export to Excel (hidden columns, the hiddenSheet token, rows hidden by a filter, typed datetimes, the
user's time zone), its Windows-1252 CSV re-save, a logical-name dump as Parquet, HubSpot's deals
export, a European CSV; and `detect` names the preset that fits each, with its reasons.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from _import_files import (
    EUROPEAN_MAPPING,
    GUIDS,
    csv_file,
    dynamics_cp1252_csv,
    dynamics_parquet,
    dynamics_xlsx,
    european_csv,
    hubspot_csv,
    mapping_file,
)
from conftest import rows, value

import salespipe as sp
from salespipe import imports


def _opportunities(db):
    return rows(
        db,
        """SELECT k.external_id, o.topic, a.name, o.owner, o.estimated_value, o.actual_value, o.probability,
                  o.created_at, o.closed_at, o.state, o.status
           FROM opportunities o JOIN import_keys k ON k.entity = 'opportunity' AND k.record_id = o.opportunity_id
           LEFT JOIN accounts a ON a.account_id = o.account_id ORDER BY k.external_id""",
    )


def test_dynamics_export_to_excel_maps_headers_through_the_hidden_token_and_reads_hidden_rows(db, tmp_path):
    path = dynamics_xlsx(tmp_path / "Opportunities.xlsx")
    result = imports.load(db, "opportunities", path, "dynamics", timezone="Europe/Berlin")
    assert (result.created, result.rejected) == (6, 0)  # the two Lost rows the filter hid are there
    assert any("hiddenSheet token" in note for note in result.notes)
    got = {r[0]: r[1:] for r in _opportunities(db)}
    # "Deal" is the topic and "Angelegt am" the creation time: found by their logical names
    assert got[GUIDS[0]] == (
        "50 laptops",
        "Contoso Ltd",
        "Maria Campos",
        Decimal("60000.00"),
        Decimal("58000.00"),
        100,
        dt.datetime(2024, 1, 19, 2, 41, 12),
        dt.datetime(2024, 2, 29),
        "won",
        "won",
    )
    # Created On was Berlin time (shifted to UTC); Actual Close Date a date (never shifted)
    assert got[GUIDS[1]][6:] == (dt.datetime(2024, 1, 20, 8, 5), dt.datetime(2024, 3, 15), "lost", "out_sold")
    assert got[GUIDS[2]][0] == "Tablets\nfor the sales team" and got[GUIDS[2]][3] == Decimal("3166924283.34")
    assert (
        got[GUIDS[3]][8:] == ("open", "on_hold") and got[GUIDS[3]][7] is None
    )  # an open deal's close date is not a close
    assert got[GUIDS[4]][9] == "canceled"
    assert got[GUIDS[5]][4] == Decimal("2500.00")  # won without Actual Revenue: the estimate, as Dataverse does
    # lookups by display name: one account per customer, created once
    assert value(db, "SELECT count(*) FROM accounts") == 3
    assert sp.doctor.run(db).empty


def test_the_same_workbook_without_its_token_reads_by_english_display_headers(db, tmp_path):
    import openpyxl

    path = dynamics_xlsx(tmp_path / "Opportunities.xlsx")
    book = openpyxl.load_workbook(path)
    del book["hiddenSheet"]
    ws = book["Opportunities"]
    for cell in ws[1]:
        cell.value = {"Deal": "Topic", "Angelegt am": "Created On", "Est. revenue": "Est. Revenue"}.get(
            cell.value, cell.value
        )
    book.save(path)
    result = imports.load(db, "opportunities", path, "dynamics")
    assert result.created == 6 and not any("token" in n for n in result.notes)
    assert rows(db, "SELECT count(*) FROM opportunities WHERE topic = '50 laptops'") == [(1,)]


def test_the_excel_re_saved_windows_1252_csv_with_a_line_break_in_a_cell(db, tmp_path):
    path = dynamics_cp1252_csv(tmp_path / "Opportunities.csv")
    result = imports.load(db, "opportunities", path, "dynamics")
    assert result.created == 3 and "windows-1252" in result.read_as
    assert any("not UTF-8" in note for note in result.notes)
    got = {r[0]: r[1:] for r in _opportunities(db)}
    assert got[GUIDS[0]][:2] == ("50 laptops – Müller", "Müller GmbH")
    assert got[GUIDS[1]][0] == "Docking stations\nfor Café Zürich"  # the bare LF inside quotes, between CRLF records
    assert got[GUIDS[0]][6] == dt.datetime(2024, 1, 19, 3, 41)  # 1/19/2024 3:41: no padding, no seconds
    with pytest.raises(sp.ValidationError, match="not utf-8"):
        imports.load(
            db,
            "opportunities",
            path,
            {"system": "dynamics", "columns": {"external_id": "Topic"}, "options": {"encoding": "utf-8"}},
        )


def test_a_logical_name_dump_as_parquet_names_the_same_records_by_their_guids(db, tmp_path):
    imports.load(db, "opportunities", dynamics_parquet(tmp_path / "opportunity.parquet"), "dynamics")
    got = {r[0]: r[1:] for r in _opportunities(db)}
    assert sorted(got) == sorted(GUIDS[:3])  # upper case and {braces} are the same GUID
    assert got[GUIDS[1]][8:] == ("lost", "canceled")  # statecode 2, statuscode 4
    assert got[GUIDS[2]][3] == Decimal("3166924283.34")
    # the Excel export of the same org then updates the three deals instead of duplicating them
    again = imports.load(db, "opportunities", dynamics_xlsx(tmp_path / "o.xlsx"), "dynamics", timezone="Europe/Berlin")
    assert again.created == 3 and again.created + again.updated + again.unchanged == 6
    assert value(db, "SELECT count(*) FROM opportunities") == 6
    assert sp.doctor.run(db).empty


def test_hubspot_deals_with_trailing_spaces_and_fractional_probabilities(db, tmp_path):
    result = imports.load(db, "opportunities", hubspot_csv(tmp_path / "deals.csv"), "hubspot")
    assert (result.created, result.rejected) == (5, 0)
    got = {r[0]: r[1:] for r in _opportunities(db)}
    assert got["18293847562"][0] == "NYC Schools\u00a0upsell" and got["18293847562"][8] == "lost"  # "Closed Lost "
    assert got["18293847564"][5] == 80  # 0.8
    assert got["18293847561"][4] == Decimal("2388.00")  # won at its amount
    rate = sp.metrics.win_rate(db, by="owner").set_index("owner")
    assert (rate.loc["Ana Lima", "won"], rate.loc["Ana Lima", "lost"], rate.loc["Ben Ode", "lost"]) == (1, 1, 1)
    reason = value(db, "SELECT note FROM events WHERE action = 'close_lost' ORDER BY event_id LIMIT 1")
    assert reason == "lost reason: Went with a competitor"


def test_a_european_csv_with_semicolons_decimal_commas_and_day_first_dates(db, tmp_path):
    mapping = mapping_file(tmp_path, EUROPEAN_MAPPING)
    result = imports.load(db, "opportunities", european_csv(tmp_path / "deals.csv"), mapping)
    assert result.read_as == "utf-8 (with BOM), semicolon-separated" and result.system == "europe-crm"
    got = {r[0]: r[1:] for r in _opportunities(db)}
    assert got["D-1"][3:5] == (Decimal("1234.56"), Decimal("1234.56"))
    assert got["D-2"][3] == Decimal("12.50")
    assert got["D-1"][6:8] == (dt.datetime(2024, 1, 3), dt.datetime(2024, 3, 25))


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_any_delimiter_reads_the_same(db, tmp_path, delimiter):
    header = ["Id", "Name", "Stage", "Closed"]
    path = csv_file(
        tmp_path / "d.txt", header, [["1", "A, B; C", "Won", "2024-01-02"], ["2", "D", "Open", ""]], delimiter=delimiter
    )
    mapping = {
        "columns": {"external_id": "Id", "topic": "Name", "stage": "Stage", "closed_at": "Closed"},
        "stages": {"Won": "won", "Open": "open"},
    }
    imports.load(db, "opportunities", path, mapping)
    assert rows(db, "SELECT topic, state FROM opportunities ORDER BY 1") == [("A, B; C", "won"), ("D", "open")]


@pytest.mark.parametrize(
    ("builder", "preset", "why"),
    [
        (dynamics_xlsx, "dynamics_opportunities", "hiddenSheet token names the Dynamics entity 'opportunity'"),
        (dynamics_cp1252_csv, "dynamics_opportunities", "telling columns"),
        (dynamics_parquet, "dynamics_opportunities", "telling columns"),
        (hubspot_csv, "hubspot_opportunities", "Deal Stage"),
    ],
)
def test_detect_names_the_preset_that_fits_and_why(tmp_path, builder, preset, why):
    suffix = {dynamics_xlsx: ".xlsx", dynamics_parquet: ".parquet"}.get(builder, ".csv")
    found = imports.detect(builder(tmp_path / f"export{suffix}"))
    assert found.preset == preset and found.kind == "opportunities"
    assert any(why in reason for reason in found.reasons), found.reasons
    assert f"--mapping {preset}" in str(found)


def test_detect_says_when_nothing_fits(tmp_path):
    path = csv_file(tmp_path / "x.csv", ["alpha", "beta"], [["1", "2"]])
    found = imports.detect(path)
    assert found.preset is None and "no preset fits" in str(found)


def test_dynamics_leads_keep_modified_on_in_utc_while_created_on_moves_from_the_users_zone(db, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.append(
        [
            "(Do Not Modify) Lead",
            "(Do Not Modify) Row Checksum",
            "(Do Not Modify) Modified On",
            "Topic",
            "Last Name",
            "Company Name",
            "Status",
            "Status Reason",
            "Created On",
        ]
    )
    ws.append(
        [
            GUIDS[0],
            "x",
            dt.datetime(2024, 6, 1, 12, 0),
            "Laptops",
            "Lovelace",
            "Contoso",
            "Disqualified",
            "No Longer Interested",
            dt.datetime(2024, 6, 1, 10, 0),
        ]
    )
    ws.append(
        [
            GUIDS[1],
            "x",
            dt.datetime(2024, 6, 2, 12, 0),
            "Docks",
            "Hopper",
            "Fabrikam",
            "Open",
            "Contacted",
            dt.datetime(2024, 6, 2, 9, 30),
        ]
    )
    path = tmp_path / "Leads.xlsx"
    book.save(path)
    assert imports.detect(path).preset == "dynamics_leads"
    imports.load(db, "leads", path, "dynamics", timezone="Europe/Berlin")
    assert rows(db, "SELECT last_name, state, status, created_at, closed_at FROM leads ORDER BY lead_id") == [
        ("Lovelace", "disqualified", "no_longer_interested", dt.datetime(2024, 6, 1, 8), dt.datetime(2024, 6, 1, 12)),
        ("Hopper", "open", "contacted", dt.datetime(2024, 6, 2, 7, 30), None),
    ]
    assert sp.doctor.run(db).empty
