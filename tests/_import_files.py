"""Synthetic CRM export files with the traits of real ones (../shared/data/FORMATS.md), for the import tests.

Real exports from public repositories mostly carry no license, so these reproduce their traits
instead: Dynamics 365's Export to Excel (hidden GUID/checksum/modified columns, the veryHidden
`hiddenSheet` token mapping logical names to renamed display headers, an autofilter hiding the Lost
rows, typed datetimes), the same export re-saved by Excel as Windows-1252 CSV (CRLF records, a bare
LF inside a quoted cell), a logical-name dump as Parquet, HubSpot's deals export (every field
quoted, trailing spaces on stage labels, fractional probabilities), and a European Excel CSV
(semicolons, decimal commas, day-first dates). The Salesforce files are the real demo export.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SALESFORCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "salesforce-demo"
if not SALESFORCE.is_dir():  # a checkout beside shared/ (CI: a fresh clone with shared/ beside it)
    SALESFORCE = Path("/work/shared/data/salesforce-demo")
SALESFORCE_FILES = {
    "accounts": "Account.csv",
    "contacts": "Contact.csv",
    "opportunities": "Opportunity.csv",
    "leads": "Lead.csv",
    "opportunity_history": "OpportunityHistory.csv",
}

GUIDS = [f"{i:08x}-aaaa-4bbb-8ccc-{i:012x}" for i in range(1, 7)]
# (guid, topic, customer, status, status reason, est. revenue, actual revenue, actual close, created on, owner, prob)
DYNAMICS_ROWS = [
    (
        GUIDS[0],
        "50 laptops",
        "Contoso Ltd",
        "Won",
        "Won",
        60000.0,
        58000.0,
        dt.datetime(2024, 2, 29),
        dt.datetime(2024, 1, 19, 3, 41, 12),
        "Maria Campos",
        80,
    ),
    (
        GUIDS[1],
        "Docking stations",
        "Fabrikam, Inc.",
        "Lost",
        "Out-Sold",
        12000.0,
        0.0,
        dt.datetime(2024, 3, 15),
        dt.datetime(2024, 1, 20, 9, 5, 0),
        "Li Wei",
        None,
    ),
    (
        GUIDS[2],
        "Tablets\nfor the sales team",
        "Contoso Ltd",
        "Open",
        "In Progress",
        3166924283.34,
        None,
        None,
        dt.datetime(2024, 2, 1, 14, 0, 0),
        "Maria Campos",
        40,
    ),
    (
        GUIDS[3],
        "Monitors",
        "Adventure Works",
        "Open",
        "On Hold",
        8000.0,
        None,
        dt.datetime(2024, 6, 1),
        dt.datetime(2024, 2, 3, 8, 30, 0),
        "Li Wei",
        None,
    ),
    (
        GUIDS[4],
        "Printers",
        "Fabrikam, Inc.",
        "Lost",
        "Canceled",
        5000.0,
        0.0,
        dt.datetime(2024, 4, 2),
        dt.datetime(2024, 2, 10, 16, 45, 0),
        "Maria Campos",
        10,
    ),
    (
        GUIDS[5],
        "Headsets",
        "Adventure Works",
        "Won",
        "Won",
        2500.0,
        None,
        dt.datetime(2024, 4, 20),
        dt.datetime(2024, 3, 1, 11, 0, 0),
        "Li Wei",
        100,
    ),
]
# logical name -> the display header this org shows (renamed, localised, misspelt: the token decides)
DYNAMICS_HEADERS = {
    "name": "Deal",
    "customerid": "Potential Customer",
    "statecode": "Status",
    "statuscode": "Status Reason",
    "estimatedvalue": "Est. revenue",
    "actualvalue": "Actual Revenue",
    "actualclosedate": "Actual Close Date",
    "createdon": "Angelegt am",
    "ownerid": "Owner",
    "closeprobability": "Probability",
}


def dynamics_xlsx(path: Path, rows: list[tuple] = DYNAMICS_ROWS, *, hide_lost: bool = True) -> Path:
    """Dynamics 365's Export to Excel of opportunities."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Opportunities"
    header = ["(Do Not Modify) Opportunity", "(Do Not Modify) Row Checksum", "(Do Not Modify) Modified On"]
    header += list(DYNAMICS_HEADERS.values())
    ws.append(header)
    for guid, topic, customer, state, reason, est, actual, close, created, owner, prob in rows:
        ws.append(
            [
                guid,
                "x" * 88,
                dt.datetime(2024, 6, 1, 12, 0),
                topic,
                customer,
                state,
                reason,
                est,
                actual,
                close,
                created,
                owner,
                prob,
            ]
        )
    for column in "ABC":
        ws.column_dimensions[column].hidden = True
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "m/d/yyyy h:mm"
    if hide_lost:  # an autofilter left on, hiding every Lost row (as a real file did)
        ws.auto_filter.ref = f"A1:M{len(rows) + 1}"
        for r, values in enumerate(rows, start=2):
            if values[3] == "Lost":
                ws.row_dimensions[r].hidden = True
    hidden = book.create_sheet("hiddenSheet")
    query = "&".join(f"{k}={urllib.parse.quote(v)}" for k, v in DYNAMICS_HEADERS.items())
    hidden["A1"] = f"opportunity:QUJDREVGR0g=:{query}"
    hidden["A2"] = "Open,Won,Lost"
    hidden["A3"] = "In Progress,On Hold,Won,Canceled,Out-Sold"
    hidden.sheet_state = "veryHidden"
    book.save(path)
    return path


def dynamics_cp1252_csv(path: Path) -> Path:
    """The same export re-saved by Excel as CSV: Windows-1252, CRLF records, a bare LF inside a quoted
    cell, English display headers, `1/19/2024 3:41` datetimes and `2/29/2024` dates."""
    lines = [
        "(Do Not Modify) Opportunity,(Do Not Modify) Row Checksum,(Do Not Modify) Modified On,Topic,"
        "Potential Customer,Status,Status Reason,Est. Revenue,Actual Revenue,Actual Close Date,Created On,Owner,"
        "Probability",
        f"{GUIDS[0]},abc,6/1/2024 12:00,50 laptops – Müller,Müller GmbH,Won,Won,60000,58000,2/29/2024,"
        "1/19/2024 3:41,Maria Campos,80",
        f'{GUIDS[1]},abc,6/1/2024 12:00,"Docking stations\nfor Café Zürich",Café Zürich,Lost,Out-Sold,12000,0,'
        "3/15/2024,1/20/2024 9:05,Li Wei,",
        f"{GUIDS[2]},abc,6/1/2024 12:00,Tablets,Müller GmbH,Open,In Progress,3166924283.34,,,2/1/2024 14:00,"
        "Maria Campos,40",
    ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def dynamics_parquet(path: Path) -> Path:
    """A logical-name dump (Synapse Link): numeric statecode/statuscode, createdon in UTC, typed columns."""
    table = pa.table(
        {
            "opportunityid": [GUIDS[0].upper(), "{" + GUIDS[1] + "}", GUIDS[2]],
            "name": ["50 laptops", "Docking stations", "Tablets"],
            "customeridname": ["Contoso Ltd", "Fabrikam, Inc.", "Contoso Ltd"],
            "owneridname": ["Maria Campos", "Li Wei", "Maria Campos"],
            "statecode": pa.array([1, 2, 0], type=pa.int32()),
            "statuscode": pa.array([3, 4, 1], type=pa.int32()),
            "estimatedvalue": pa.array(
                [Decimal("60000.00"), Decimal("12000.00"), Decimal("3166924283.34")], type=pa.decimal128(18, 2)
            ),
            "actualvalue": pa.array([Decimal("58000.00"), None, None], type=pa.decimal128(18, 2)),
            "actualclosedate": pa.array(
                [dt.datetime(2024, 2, 29), dt.datetime(2024, 3, 15), None], type=pa.timestamp("us")
            ),
            "createdon": pa.array(
                [dt.datetime(2024, 1, 19, 2, 41, 12), dt.datetime(2024, 1, 20, 8, 5), dt.datetime(2024, 2, 1, 13, 0)],
                type=pa.timestamp("us", tz="UTC"),
            ),
            "closeprobability": pa.array([80, None, 40], type=pa.int64()),
        }
    )
    pq.write_table(table, path)
    return path


HUBSPOT_HEADER = [
    "Record ID",
    "Deal Name",
    "Deal Stage",
    "Pipeline",
    "Amount",
    "Close Date",
    "Create Date",
    "Deal owner",
    "Deal probability",
    "Is Closed Won",
    "Closed Lost Reason",
]
HUBSPOT_ROWS = [
    [
        "18293847561",
        "NYC Schools renewal",
        "Closed Won",
        "Sales Pipeline",
        "2388.0",
        "2024-08-27 11:15",
        "2024-06-01 09:00",
        "Ana Lima",
        "1.0",
        "true",
        "",
    ],
    [
        "18293847562",
        "NYC Schools\u00a0upsell ",
        "Closed Lost ",
        "Sales Pipeline",
        "1200.0",
        "2024-09-02 16:40",
        "2024-06-03 10:00",
        "Ana Lima",
        "0.0",
        "false",
        "Went with a competitor",
    ],
    [
        "18293847563",
        "Boston pilot",
        "Closed Lost",
        "Partner Pipeline",
        "800.0",
        "2024-09-05 08:00",
        "2024-07-01 12:30",
        "Ben Ode",
        "0.0",
        "false",
        "Budget",
    ],
    [
        "18293847564",
        "Chicago rollout",
        "Contract Sent",
        "Sales Pipeline",
        "15000.0",
        "",
        "2024-07-15 15:15",
        "Ben Ode",
        "0.8",
        "false",
        "",
    ],
    [
        "18293847565",
        "Denver trial",
        "Appointment Scheduled ",
        "Partner Pipeline",
        "",
        "",
        "2024-08-01 09:45",
        "Ana Lima",
        "0.2",
        "false",
        "",
    ],
]


def hubspot_csv(path: Path, rows: list[list[str]] = HUBSPOT_ROWS) -> Path:
    """HubSpot's deals export, every field quoted."""

    def quote(v: str) -> str:
        return '"' + v.replace('"', '""') + '"'

    text = "\n".join(",".join(quote(v) for v in row) for row in [HUBSPOT_HEADER, *rows]) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def european_csv(path: Path) -> Path:
    """A European Excel CSV of deals: semicolons, decimal commas, day-first dates, a UTF-8 BOM."""
    text = (
        "Deal ID;Name;Stage;Amount;Created;Closed;Owner\r\n"
        "D-1;Kältetechnik;won;1.234,56;03.01.2024;25.03.2024;Jörg\r\n"
        "D-2;Wärmepumpen;lost;12,5;04.01.2024;13.02.2024;Jörg\r\n"
        "D-3;Lüftung;open;980;05.01.2024;;Anke\r\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return path


EUROPEAN_MAPPING = """
system = "europe-crm"
[columns]
external_id = "Deal ID"
topic = "Name"
stage = "Stage"
estimated_value = "Amount"
created_at = "Created"
closed_at = "Closed"
owner = "Owner"
[stages]
won = "won"
lost = "lost"
open = "open"
[options]
decimal = ","
dates = "dmy"
"""


def csv_file(path: Path, header: list[str], rows: list[list[str]], *, delimiter: str = ",") -> Path:
    """A plain CSV (quoted where needed)."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


DEALS_MAPPING = """
system = "testcrm"
[columns]
external_id = "Id"
topic = "Name"
stage = "Stage"
owner = "Owner"
estimated_value = "Amount"
created_at = "Created"
closed_at = "Closed"
[stages]
"Closed Won" = "won"
"Closed Lost" = "lost"
"Negotiation" = "open"
"Prospecting" = "open"
"""
DEALS_HEADER = ["Id", "Name", "Stage", "Owner", "Amount", "Created", "Closed"]


def deals(path: Path, rows: list[list[str]]) -> Path:
    """A small deals CSV for DEALS_MAPPING."""
    return csv_file(path, DEALS_HEADER, rows)


def mapping_file(folder: Path, text: str, name: str = "mapping.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
