"""Values in an export are read as a form reads them, and dates are decided per column.

Each column converter gives exactly what the engine's single-value check gives for every value
(the vectorized fast paths included); dates take ISO, M/D/YYYY or D/M/YYYY with or without a time
(AM/PM too), `15 Apr, 2021 00:02:00`, `Apr 15, 2021` and Excel serial numbers, and a column is read
one way: an ambiguous column asks for dates = "mdy" or "dmy", a column mixing the two is refused.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

import salespipe as sp
from salespipe import check
from salespipe.imports import values as V


def _engine(convert, values, field="f"):
    out = []
    for v in values:
        try:
            out.append(convert(v, field))
        except sp.ValidationError:
            out.append("REFUSED")
    return out


def _column(result, n, *, money=False):
    values, problems = result
    out = values.to_pylist() if hasattr(values, "to_pylist") else list(values)
    if money:  # amounts come out as exact decimal text for DuckDB's cast: compare their values
        out = [None if v is None else Decimal(v) for v in out]
    for i, _, _ in problems:
        out[i] = "REFUSED"
    assert len(out) == n
    return out


TRICKY_TEXT = [
    "Closed Lost ",
    "Closed Lost",
    "  NYC Schools\u00a0",
    "\u2003x\u2003",
    "",
    "   ",
    "a\u00a0b",
    "x" * 1000,
    "x" * 1001,
    "\x1cgroup\x1f",
    "tab\t",
    "Müller",
    "ok",
    " lead",
    "\u200bzero-width",
    "a\nb\n",
]


def test_text_is_trimmed_of_every_unicode_space_exactly_as_check_text_trims_it():
    rng = random.Random(7)
    alphabet = "ab Z\u00a0\u2003\t\n\x1c-é€"
    noise = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(400)]
    values = TRICKY_TEXT + noise
    expected = _engine(check.text, values)
    assert _column(V.text_column(pa.array(values), "f"), len(values)) == expected  # the pyarrow fast path
    assert _column(V.text_column(values, "f"), len(values)) == expected  # workbook cells
    assert V.text_column(pa.array(["Closed Lost ", "Closed Lost"]), "stage")[0].to_pylist() == ["Closed Lost"] * 2


def test_emails_are_read_as_check_email_reads_them():
    values = ["ada@contoso.com", " ada@contoso.com ", "no-at-sign", "a b@c.de", "ü@ß.de", "", "x@y"]
    assert _column(V.email_column(pa.array(values), "email"), len(values)) == _engine(check.email, values)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1200", "1200.00"),
        ("1200.5", "1200.50"),
        ("1,200.50", "1200.50"),
        ("1 200,50", "1200.50"),
        ("1.200,50", "1200.50"),
        ("12,50", "12.50"),
        ("$22,700.00", "22700.00"),
        ("USD 1,200.00", "1200.00"),
        ("1.234,56 €", "1234.56"),
        ("3166924283.34", "3166924283.34"),
        ("1,200", "REFUSED"),  # 1200 or 1.2? as check.money says
        ("-5", "REFUSED"),
        ("1.005", "REFUSED"),  # more than 2 decimals is never rounded away
        ("abc", "REFUSED"),
        ("", None),
    ],
)
def test_amounts_are_read_as_check_money_reads_them_after_the_currency_sign(given, expected):
    expected = Decimal(expected) if expected not in (None, "REFUSED") else expected
    assert _column(V.money_column(pa.array([given]), "amount"), 1, money=True) == [expected]
    if not any(c in given for c in "$€U") and given:
        assert _engine(check.money, [given])[0] == expected


def test_the_decimal_option_settles_a_comma_or_a_dot():
    comma = V.money_column(pa.array(["1,200", "1.200", "1.234,5", "12"]), "amount", decimal=",")
    assert _column(comma, 4, money=True) == [Decimal("1.2"), Decimal(1200), Decimal("1234.5"), Decimal(12)]
    dot = V.money_column(pa.array(["1,200", "1,234.5", "12,50"]), "amount", decimal=".")
    assert _column(dot, 3) == ["1200.00", "1234.50", "REFUSED"]


def test_typed_amounts_are_exact():
    result = V.money_column(pa.array([3166924283.34, 12, None], type=pa.float64()), "amount")
    assert _column(result, 3, money=True) == [Decimal("3166924283.34"), Decimal(12), None]


def test_probabilities_are_whole_percents_or_fractions():
    assert _column(V.probability_column(pa.array(["10", "", "100", "150", "12.5"]), "p"), 5) == [
        10,
        None,
        100,
        "REFUSED",
        "REFUSED",
    ]
    fractions = V.probability_column(pa.array(["0.8", "1", "0", "0.333", "80"]), "p", fraction=True)
    assert _column(fractions, 5) == [80, 100, 0, "REFUSED", "REFUSED"]
    assert _column(V.probability_column(pa.array(["10%"]), "p"), 1) == [10]


def test_flags_read_the_usual_spellings():
    values = ["TRUE", "FALSE", "true", "0", "1", "yes", "No", "maybe", ""]
    assert _column(V.flag_column(pa.array(values), "f"), 9) == [
        True,
        False,
        True,
        False,
        True,
        True,
        False,
        "REFUSED",
        None,
    ]


def test_ids_keep_their_text_and_lose_only_what_names_nothing():
    ids = [
        "000000000000000AAA",
        "006bm00000LKJNNAA5",
        "006bm00000LKJNN",
        " 42 ",
        "8.26839E+17",
        "{ABCDEF01-2345-6789-ABCD-EF0123456789}",
        "00123",
    ]
    values = _column(V.id_column(pa.array(ids), "id", null_ids=("000000000000000AAA",), style="salesforce"), 7)
    assert values == [
        None,
        "006bm00000LKJNN",
        "006bm00000LKJNN",
        "42",
        "REFUSED",
        "abcdef01-2345-6789-abcd-ef0123456789",
        "00123",
    ]  # leading zeros kept
    assert _column(V.id_column([12345678901, 7.0], "id"), 2) == ["12345678901", "7"]


def _dates(values, **kw):
    stamps, problems = V.date_column(pa.array(values), "closed_at", "Close Date", **kw)
    out = [None if np.isnat(s) else s.astype("datetime64[us]").item() for s in stamps]
    for i, _, _ in problems:
        out[i] = "REFUSED"
    return out


def test_iso_dates_are_read_by_the_engines_own_check_timestamp():
    values = [
        "2024-05-01",
        "2024-05-01 09:30",
        "2024-05-01T09:30:15.5",
        "2024-05-01T09:30:00Z",
        "2024-05-01T11:30:00+02:00",
        "2024-02-30",
    ]
    assert _dates(values) == _engine(check.timestamp, values)


def test_month_first_dates_with_and_without_time_in_one_column():
    assert _dates(["1/19/2024 3:41", "2/29/2024", "12/31/2024 11:59:59 PM", "02/24/26 02:18 AM", ""]) == [
        dt.datetime(2024, 1, 19, 3, 41),
        dt.datetime(2024, 2, 29),
        dt.datetime(2024, 12, 31, 23, 59, 59),
        dt.datetime(2026, 2, 24, 2, 18),
        None,
    ]


def test_day_first_dates_are_recognised_by_a_day_past_12():
    assert _dates(["25.03.2024", "03.01.2024", "13-02-2024 08:00"]) == [
        dt.datetime(2024, 3, 25),
        dt.datetime(2024, 1, 3),
        dt.datetime(2024, 2, 13, 8),
    ]


def test_an_ambiguous_column_asks_for_the_order_and_the_option_settles_it():
    with pytest.raises(sp.ValidationError, match='dates = "mdy"') as info:
        _dates(["01/03/2016", "02/04/2016"])
    assert "Close Date" in str(info.value)
    assert _dates(["01/03/2016"], dates="dmy") == [dt.datetime(2016, 3, 1)]
    assert _dates(["01/03/2016"], dates="mdy") == [dt.datetime(2016, 1, 3)]
    assert _dates(["05/05/2016"]) == [dt.datetime(2016, 5, 5)]  # the same either way: no question


def test_a_column_is_never_switched_per_row():
    with pytest.raises(sp.ValidationError, match="mixes day-first dates"):
        _dates(["25/03/2016", "03/25/2016"])
    # with the order given, the row that does not fit it is refused, not re-read
    assert _dates(["25/03/2016", "03/25/2016"], dates="dmy") == [dt.datetime(2016, 3, 25), "REFUSED"]


def test_month_names_serial_numbers_and_impossible_dates():
    assert _dates(
        [
            "15 Apr, 2021 00:02:00",
            "Apr 15, 2021",
            "1 Sept 2021",
            "45321",
            "45321.75",
            "31 Foo 2021",
            "2/30/2024",
            "13/13/2024",
        ]
    ) == [
        dt.datetime(2021, 4, 15, 0, 2),
        dt.datetime(2021, 4, 15),
        dt.datetime(2021, 9, 1),
        dt.datetime(2024, 1, 30),
        dt.datetime(2024, 1, 30, 18),
        "REFUSED",
        "REFUSED",
        "REFUSED",
    ]


def test_typed_cells_and_excel_serials_from_workbooks():
    stamps, problems = V.date_column(
        [dt.datetime(2024, 1, 19, 3, 41, 12), dt.date(2024, 2, 29), 45321, None, "x"], "created_at", "Created On"
    )
    assert stamps[:3].tolist() == [
        dt.datetime(2024, 1, 19, 3, 41, 12),
        dt.datetime(2024, 2, 29),
        dt.datetime(2024, 1, 30),
    ]
    assert np.isnat(stamps[3]) and [p[0] for p in problems] == [4]


def test_a_timezone_shifts_times_and_never_dates():
    times = _dates(["2024-01-19 03:41:00", "2024-07-01 12:00:00", "2024-07-01T12:00:00Z"], timezone="Europe/Berlin")
    assert times == [dt.datetime(2024, 1, 19, 2, 41), dt.datetime(2024, 7, 1, 10), dt.datetime(2024, 7, 1, 12)]
    assert _dates(["2024-01-19", "2024-07-01"], timezone="Europe/Berlin") == [
        dt.datetime(2024, 1, 19),
        dt.datetime(2024, 7, 1),
    ]
    assert _dates(["2024-03-31 02:30:00", "2024-03-31 05:00:00"], timezone="Europe/Berlin")[0] == "REFUSED"
