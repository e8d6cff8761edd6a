"""Reading dates and times, decided per column, never per row.

A column of `3/4/2024`-style dates is read month-first or day-first as a whole: the mapping's
`dates` option decides, else the values (a day past 12 tells), and a column that reads both ways
is an error asking for `dates = "dmy"` or `"mdy"`; one mixing the two orders is refused. ISO values
go through the engine's own `check.timestamp`; `15 Apr, 2021 00:02:00`, `Apr 15, 2021`, Excel serial
numbers and typed workbook or Parquet cells are read too, with or without a time (AM/PM too).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import check
from ..errors import ValidationError

Failure = tuple[int, str, str]
_ISO_FAST = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?$"


def _blank(v: object) -> bool:
    return check.missing(v)


_TIME = r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*([AaPp]\.?[Mm]\.?)?)?"
_SLASH = re.compile(rf"^(\d{{1,2}})[/.\-](\d{{1,2}})[/.\-](\d{{4}}|\d{{2}}){_TIME}$")
_YMD = re.compile(rf"^(\d{{4}})[/.](\d{{1,2}})[/.](\d{{1,2}}){_TIME}$")
_DMON = re.compile(rf"^(\d{{1,2}})[ \-]([A-Za-z]{{3,9}})\.?[ ,\-]+(\d{{4}}){_TIME}$")
_MOND = re.compile(rf"^([A-Za-z]{{3,9}})\.?[ \-](\d{{1,2}}),?[ \-](\d{{4}}){_TIME}$")
_SERIAL = re.compile(r"^\d{1,7}(?:\.\d+)?$")
MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        1,
    )
    for name in names
}
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_ORDERS = {"mdy": "M/D/YYYY", "dmy": "D/M/YYYY"}


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:  # as strptime's %y reads them: 69-99 are 1969-1999, 00-68 are 2000-2068
        y += 1900 if y >= 69 else 2000
    return y


def _clock(groups: tuple, field: str, value: str) -> tuple[int, int, int, int]:
    hour, minute, second, frac, ampm = groups
    if hour is None:
        return 0, 0, 0, 0
    h, m, s = int(hour), int(minute), int(second or 0)
    if ampm:
        if not 1 <= h <= 12:
            raise ValidationError(f"{field} {value!r}: {h} is not an hour on a 12-hour clock", field=field, value=value)
        h = (h % 12) + (12 if ampm[0] in "pP" else 0)
    micro = int((frac or "0").ljust(6, "0"))
    return h, m, s, micro


def _build(y: int, mo: int, d: int, clock: tuple, field: str, value: str, shape: str) -> dt.datetime:
    try:
        return dt.datetime(y, mo, d, *clock)
    except ValueError:
        raise ValidationError(f"{field} {value!r} is not a real date ({shape})", field=field, value=value) from None


def serial_date(v: float, field: str) -> dt.datetime:
    """An Excel serial number (days since 1899-12-30, the fraction the time of day)."""
    if not 1 <= v < 2958466:
        raise ValidationError(f"{field} {v!r} is not an Excel date number", field=field, value=v)
    return EXCEL_EPOCH + dt.timedelta(days=float(v))


def _slash_order(values: list[str], field: str, header: str, dates: str | None) -> str:
    """Month-first or day-first for a whole column: the option, else what the values allow."""
    if dates is not None:
        return dates
    need_dmy = need_mdy = None
    ambiguous = None
    for v in values:
        found = _SLASH.match(v)
        if not found:
            continue
        a, b = int(found[1]), int(found[2])
        if a > 12 and b <= 12:
            need_dmy = need_dmy or v
        elif b > 12 and a <= 12:
            need_mdy = need_mdy or v
        elif a != b and a <= 12 and b <= 12:
            ambiguous = ambiguous or v
    if need_dmy and need_mdy:
        raise ValidationError(
            f"column {header!r} ({field}) mixes day-first dates ({need_dmy}) and month-first dates ({need_mdy}): "
            'a column is read one way; fix the file, or give dates = "dmy" or "mdy" to refuse the others',
            field=field,
        )
    if need_dmy:
        return "dmy"
    if need_mdy or not ambiguous:
        return "mdy"
    raise ValidationError(
        f"column {header!r} ({field}) has dates such as {ambiguous} that read as month/day or day/month, and no "
        'value tells which: give dates = "mdy" (month first, as in the US) or dates = "dmy" (day first) in the '
        "mapping's [options], or --dates on the command line",
        field=field,
    )


def _parse_text_date(v: str, field: str, order: str) -> tuple[dt.datetime, bool]:
    """One text date in the column's shape: (naive datetime, whether it carried its own UTC offset)."""
    s = v.strip()
    if s[:4].isdigit() and len(s) >= 10 and s[4] == "-":  # ISO: read by the engine's own check.timestamp
        try:
            zoned = dt.datetime.fromisoformat(s).tzinfo is not None
        except ValueError:
            zoned = None
        if zoned is not None:
            return check.timestamp(s, field), zoned
    found = _SLASH.match(s)
    if found:
        a, b, y = int(found[1]), int(found[2]), _year(found[3])
        mo, d = (a, b) if order == "mdy" else (b, a)
        return _build(y, mo, d, _clock(found.groups()[3:], field, s), field, s, _ORDERS[order]), False
    found = _YMD.match(s)
    if found:
        y, mo, d = int(found[1]), int(found[2]), int(found[3])
        return _build(y, mo, d, _clock(found.groups()[3:], field, s), field, s, "YYYY/MM/DD"), False
    for pattern, day_first in ((_DMON, True), (_MOND, False)):
        found = pattern.match(s)
        if found:
            day, month = (found[1], found[2]) if day_first else (found[2], found[1])
            mo = MONTHS.get(month.lower())
            if mo is None:
                break
            shape = "15 Apr 2021" if day_first else "Apr 15, 2021"
            return _build(int(found[3]), mo, int(day), _clock(found.groups()[3:], field, s), field, s, shape), False
    if _SERIAL.match(s):
        return serial_date(float(s), field), False
    raise ValidationError(
        f"{field} {v!r} is not a date (ISO 2024-05-01, {_ORDERS[order]}, 15 Apr 2021, with or without a time, "
        "or an Excel date number)",
        field=field,
        value=v,
    )


def date_column(
    col: object, field: str, header: str, *, dates: str | None = None, timezone: str | None = None
) -> tuple[np.ndarray, list[Failure]]:
    """Times as naive UTC datetime64[us] (NaT where missing or refused), and the failures.

    timezone: the zone of values without one (Dynamics' Created On is the exporting user's local
    time); a column whose values all fall at midnight holds dates, which are never shifted.
    """
    problems: list[Failure] = []
    n = len(col)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    own_zone = np.zeros(n, dtype=bool)
    if not isinstance(col, list) and (pa.types.is_timestamp(col.type) or pa.types.is_date(col.type)):
        stamps = pd.DatetimeIndex(col.to_pandas())
        if stamps.tz is not None:
            stamps = stamps.tz_convert("UTC").tz_localize(None)
            own_zone[:] = True
        out = stamps.to_numpy(dtype="datetime64[us]")
    elif not isinstance(col, list) and (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        for i, v in enumerate(col.to_pylist()):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            try:
                out[i] = serial_date(v, field)
            except ValidationError as exc:
                problems.append((i, field, str(exc)))
    else:
        texts: dict[str, list[int]] = {}
        values = col if isinstance(col, list) else None
        if values is None:
            col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            fast = pc.fill_null(pc.match_substring_regex(col, _ISO_FAST), False)
            if pc.any(fast).as_py():
                parsed = pd.to_datetime(
                    pd.Series(pc.if_else(fast, col, pa.scalar(None, pa.string())).to_pandas()),
                    format="ISO8601",
                    errors="coerce",
                ).to_numpy(dtype="datetime64[us]")
                ok = ~np.isnat(parsed)
                out[ok] = parsed[ok]
                rest = np.flatnonzero(~ok)
            else:
                rest = np.arange(n)
            picked = col.take(pa.array(rest, type=pa.int64())).to_pylist() if len(rest) else []
            for i, v in zip(rest.tolist(), picked, strict=True):
                if v is not None and v.strip():
                    texts.setdefault(v, []).append(i)
        else:
            for i, v in enumerate(values):
                if _blank(v):
                    continue
                if isinstance(v, dt.datetime | pd.Timestamp):
                    try:
                        out[i] = check.timestamp(v, field)
                        own_zone[i] = getattr(v, "tzinfo", None) is not None
                    except ValidationError as exc:
                        problems.append((i, field, str(exc)))
                elif isinstance(v, dt.date):
                    out[i] = dt.datetime(v.year, v.month, v.day)
                elif isinstance(v, numbers.Real) and not isinstance(v, bool):
                    try:
                        out[i] = serial_date(v, field)
                    except ValidationError as exc:
                        problems.append((i, field, str(exc)))
                else:
                    texts.setdefault(str(v), []).append(i)
        if texts:
            order = _slash_order(list(texts), field, header, dates)
            for v, rows in texts.items():
                try:
                    stamp, zoned = _parse_text_date(v, field, order)
                except ValidationError as exc:
                    problems += [(i, field, str(exc)) for i in rows]
                    continue
                out[rows] = stamp
                own_zone[rows] = zoned
    if timezone:
        out, shifted = _from_zone(out, own_zone, timezone, field)
        problems += shifted
    return out, problems


def _from_zone(out: np.ndarray, own_zone: np.ndarray, zone: str, field: str) -> tuple[np.ndarray, list[Failure]]:
    """Values without a zone of their own, read in `zone`, to UTC; a column of midnights holds dates, left as they are."""
    valid = ~np.isnat(out)
    local = valid & ~own_zone
    if not local.any():
        return out, []
    stamps = pd.DatetimeIndex(out[local])
    if (stamps == stamps.normalize()).all():
        return out, []
    try:
        utc = stamps.tz_localize(zone, ambiguous="NaT", nonexistent="NaT").tz_convert("UTC").tz_localize(None)
    except Exception as exc:  # pytz/zoneinfo raise several kinds for an unknown zone
        raise ValidationError(
            f"timezone {zone!r} is not a time zone name (such as Europe/Berlin or America/New_York): {exc}",
            field="timezone",
            value=zone,
        ) from None
    result = out.copy()
    rows = np.flatnonzero(local)
    result[rows] = utc.to_numpy(dtype="datetime64[us]")
    gone = rows[np.isnat(result[rows])]
    problems = [
        (
            int(i),
            field,
            f"{field} {pd.Timestamp(out[i])} does not exist or is ambiguous in {zone} (a daylight-saving change)",
        )
        for i in gone
    ]
    return result, problems
