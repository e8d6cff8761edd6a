"""Reading the values of an export, one column at a time, with the engine's own checks.

Every converter takes a column (a pyarrow array, or a list of cell values from a workbook) and
returns the values as a pyarrow array plus the failures `(index, field, message)`. Each value is
read by the function a single call uses (`check.text`, `check.email`, `check.money`,
`check.timestamp`, `check.probability`), so an import reads "1,200.50", "  Closed Lost " or
"2024-05-01T09:30Z" exactly as a form does. Fast paths cover the shapes those functions return
unchanged (clean ASCII text, plain amounts, ISO times) with vectorized pyarrow, and hand every
other value to the function itself.

Dates are decided per column, never per row: a column of `3/4/2024`-style dates is read
month-first or day-first as a whole (an ambiguous column is an error that asks for
`dates = "dmy"` or `"mdy"`); ISO dates, `15 Apr, 2021 00:02:00`, `Apr 15, 2021` and Excel serial
numbers are read too, with or without a time.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import check
from ..errors import ValidationError

Failure = tuple[int, str, str]

_CLEAN_TEXT = r"^[!-~](?:[ -~]{0,998}[!-~])?$"  # printable ASCII, no space at either end: check.text keeps it as is
_PLAIN_MONEY = r"^\d{1,15}(?:\.\d{1,2})?$"
_SMALL_INT = r"^\d{1,3}$"
_ISO_FAST = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?$"
_CURRENCY = re.compile(r"^\s*(?:([$€£¥₹]|[A-Z]{3})\s*)?(.*?)\s*([$€£¥₹]|[A-Z]{3})?\s*$")
_SCIENTIFIC_ID = re.compile(r"^\d(?:\.\d+)?[eE]\+\d+$")
_GUID = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
TRUE = {"true", "t", "yes", "y", "1", "1.0", "wahr", "vrai", "ja", "x"}
FALSE = {"false", "f", "no", "n", "0", "0.0", "falsch", "faux", "nein"}


def is_text(col: object) -> bool:
    return not isinstance(col, list) and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type))


def _values(col: object) -> list:
    return col if isinstance(col, list) else col.to_pylist()


def _blank(v: object) -> bool:
    return check.missing(v)


def by_distinct(col: object, field: str, convert: Callable[[object, str], object], kind: pa.DataType | None = None):
    """`convert(value, field)` once per distinct value, broadcast to every row (for low-cardinality
    columns: stages, owners, flags). Missing values stay None without a call."""
    problems: list[Failure] = []
    if isinstance(col, list):
        cache: dict = {}
        out = []
        for i, v in enumerate(col):
            if _blank(v):
                out.append(None)
                continue
            key = (type(v), v)
            if key not in cache:
                try:
                    cache[key] = (convert(v, field), None)
                except ValidationError as exc:
                    cache[key] = (None, str(exc))
            value, error = cache[key]
            if error:
                problems.append((i, field, error))
            out.append(value)
        return pa.array(out, type=kind), problems
    encoded = col.combine_chunks().dictionary_encode() if isinstance(col, pa.ChunkedArray) else col.dictionary_encode()
    converted, errors = [], []
    for v in encoded.dictionary.to_pylist():
        if _blank(v):
            converted.append(None)
            errors.append(None)
            continue
        try:
            converted.append(convert(v, field))
            errors.append(None)
        except ValidationError as exc:
            converted.append(None)
            errors.append(str(exc))
    indices = encoded.indices
    values = pc.take(pa.array(converted, type=kind), indices)
    bad = [i for i, e in enumerate(errors) if e]
    if bad:
        rows = np.flatnonzero(np.isin(indices.to_numpy(zero_copy_only=False), bad))
        index = indices.to_numpy(zero_copy_only=False)
        problems = [(int(r), field, errors[index[r]]) for r in rows]
    return values, problems


# -- text ----------------------------------------------------------------------------------------


def text_column(col: object, field: str) -> tuple[pa.Array, list[Failure]]:
    """Text as check.text reads it: trimmed of any Unicode whitespace (non-breaking spaces too), '' is None."""
    if is_text(col):
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        clean = pc.fill_null(pc.match_substring_regex(col, _CLEAN_TEXT), False)
        empty = pc.fill_null(pc.equal(col, ""), True)
        if pc.all(pc.or_(clean, empty)).as_py():
            return pc.if_else(empty, pa.scalar(None, pa.string()), col), []
        values = col.to_pylist()
        fix = np.flatnonzero(~np.asarray(pc.or_(clean, empty).to_numpy(zero_copy_only=False), dtype=bool))
        problems: list[Failure] = []
        for i in fix.tolist():
            try:
                values[i] = check.text(values[i], field)
            except ValidationError as exc:
                values[i] = None
                problems.append((i, field, str(exc)))
        out = pa.array(values, type=pa.string())
        return pc.if_else(empty, pa.scalar(None, pa.string()), out), problems
    values = []
    problems = []
    for i, v in enumerate(_values(col)):
        if _blank(v):
            values.append(None)
            continue
        if isinstance(v, bool):
            v = "TRUE" if v else "FALSE"
        elif isinstance(v, float) and v.is_integer():
            v = str(int(v))
        elif isinstance(v, numbers.Number | dt.date):
            v = str(v)
        try:
            values.append(check.text(v, field))
        except ValidationError as exc:
            values.append(None)
            problems.append((i, field, str(exc)))
    return pa.array(values, type=pa.string()), problems


def email_column(col: object, field: str) -> tuple[pa.Array, list[Failure]]:
    """Emails as check.email reads them."""
    values, problems = text_column(col, field)
    looks = pc.fill_null(pc.match_substring_regex(values, check.EMAIL_SQL_RE), True)
    if pc.all(looks).as_py():
        return values, problems
    bad = np.flatnonzero(~np.asarray(looks.to_numpy(zero_copy_only=False), dtype=bool))
    out = values.to_pylist()
    for i in bad.tolist():
        try:
            out[i] = check.email(out[i], field)  # the Unicode-aware rule decides, and words the refusal
        except ValidationError as exc:
            out[i] = None
            problems.append((i, field, str(exc)))
    return pa.array(out, type=pa.string()), problems


def id_column(col: object, field: str, *, null_ids: tuple[str, ...] = (), style: str | None = None):
    """External ids: trimmed text; the source's null ids (Salesforce's 000000000000000AAA) are empty;
    GUIDs lower-case without braces; Salesforce ids 15 characters (an 18-character id names the same
    record); numbers as whole numbers; ids Excel turned into 8.26839E+17 are refused."""
    nulls = {n.lower() for n in null_ids}

    def one(v: object, name: str) -> str | None:
        if isinstance(v, bool):
            raise ValidationError(f"{name} must be an id, got {v!r}", field=name, value=v)
        if isinstance(v, float):
            if not v.is_integer():
                raise ValidationError(f"{name} {v!r} is not an id", field=name, value=v)
            v = str(int(v))
        elif isinstance(v, numbers.Integral):
            v = str(int(v))
        text = check.text(v, name, max_len=255)
        if text is None or text.lower() in nulls:
            return None
        if _SCIENTIFIC_ID.match(text):
            raise ValidationError(
                f"{name} {text!r} is a number Excel shortened (scientific notation): the real id is lost; "
                "export again and keep ids as text",
                field=name,
                value=text,
            )
        if text.endswith(".0") and text[:-2].isdigit():
            text = text[:-2]
        guid = _GUID.match(text)
        if guid:
            return guid[1].lower()
        if style == "salesforce" and len(text) == 18 and text.isalnum():
            return text[:15]
        return text

    if not is_text(col):
        return by_distinct(col, field, one, pa.string())
    return _id_text(col, field, one, nulls, style)


_ID_FAST = r"^[!-~]{1,255}$"  # printable ASCII without spaces: check.text keeps it as it is
_ID_SLOW = r"^\d(?:\.\d+)?[eE]\+\d+$|^\d+\.0$|^\{|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-.*[A-F]"


def _id_text(col: object, field: str, one: Callable, nulls: set[str], style: str | None):
    """ids of a text column: the shapes `one` keeps as they are pass vectorized, the rest go through `one`."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    fast = pc.and_(
        pc.fill_null(pc.match_substring_regex(col, _ID_FAST), False),
        pc.invert(pc.fill_null(pc.match_substring_regex(col, _ID_SLOW), True)),
    )
    if nulls:
        fast = pc.and_(fast, pc.invert(pc.is_in(pc.utf8_lower(col), value_set=pa.array(sorted(nulls)))))
    empty = pc.fill_null(pc.equal(col, ""), True)
    out = col
    if style == "salesforce":  # an 18-character id names the same record as its first 15 characters
        long = pc.and_(fast, pc.fill_null(pc.match_substring_regex(col, r"^[0-9A-Za-z]{18}$"), False))
        out = pc.if_else(long, pc.utf8_slice_codeunits(col, 0, 15), col)
    out = pc.if_else(empty, pa.scalar(None, pa.string()), out)
    rest = np.flatnonzero(~np.asarray(pc.or_(fast, empty).to_numpy(zero_copy_only=False), dtype=bool))
    if not len(rest):
        return out, []
    values = out.to_pylist()
    picked = col.take(pa.array(rest, type=pa.int64())).to_pylist()
    problems: list[Failure] = []
    for i, v in zip(rest.tolist(), picked, strict=True):
        try:
            values[i] = one(v, field)
        except ValidationError as exc:
            values[i] = None
            problems.append((i, field, str(exc)))
    return pa.array(values, type=pa.string()), problems


# -- numbers -------------------------------------------------------------------------------------


def _with_decimal(text: str, decimal: str | None, field: str) -> str:
    """A number written with `decimal` as its decimal mark, rewritten plainly for check.money."""
    if decimal is None:
        return text
    sep = "." if decimal == "," else ","
    grouped = rf"^[+-]?\d{{1,3}}(?:[{re.escape(sep)} \u00a0\u202f']\d{{3}})+(?:{re.escape(decimal)}\d+)?$"
    plain = rf"^[+-]?\d+(?:{re.escape(decimal)}\d+)?$"
    if re.fullmatch(grouped, text) or re.fullmatch(plain, text):
        digits = re.sub(r"[.,' \u00a0\u202f]", lambda m: "." if m.group() == decimal else "", text)
        return digits
    raise ValidationError(
        f"{field} {text!r} is not a number written with {decimal!r} as the decimal mark", field=field, value=text
    )


def money_value(v: object, field: str, decimal: str | None = None) -> str:
    """One amount as check.money reads it, after taking off a currency sign or code: as exact decimal text."""
    if isinstance(v, str):
        found = _CURRENCY.match(v)
        if found and (found[1] or found[3]) and not (found[1] and found[3]):
            v = found[2]
        v = _with_decimal(v.strip(), decimal, field)
    return str(check.money(v, field))


def money_column(col: object, field: str, *, decimal: str | None = None) -> tuple[pa.Array, list[Failure]]:
    """Amounts as exact decimal text (DuckDB casts it to DECIMAL(18,2)); empty is None."""
    if is_text(col):
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        plain = pc.fill_null(pc.match_substring_regex(col, _PLAIN_MONEY), False)
        empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(col), ""), True)
        if pc.all(pc.or_(plain, empty)).as_py():
            return pc.if_else(empty, pa.scalar(None, pa.string()), col), []
        values = col.to_pylist()
        fix = np.flatnonzero(~np.asarray(pc.or_(plain, empty).to_numpy(zero_copy_only=False), dtype=bool))
        problems: list[Failure] = []
        for i in fix.tolist():
            try:
                values[i] = money_value(values[i], field, decimal)
            except ValidationError as exc:
                values[i] = None
                problems.append((i, field, str(exc)))
        out = pa.array(values, type=pa.string())
        return pc.if_else(empty, pa.scalar(None, pa.string()), out), problems
    return by_distinct(col, field, lambda v, f: money_value(v, f, decimal), pa.string())


def probability_value(v: object, field: str, fraction: bool = False) -> int:
    """A probability as a whole percent 0-100 (check.probability); `fraction`: 0.8 means 80."""
    if isinstance(v, str):
        text = v.strip().removesuffix("%").strip()
        d = check.parse_number(text, field)
    elif isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ValidationError(f"{field} must be a number, got {v!r}", field=field, value=v)
    else:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValidationError(f"{field} must be a finite number, got {v!r}", field=field, value=v)
        d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    if fraction:
        if not Decimal(0) <= d <= Decimal(1):
            raise ValidationError(f"{field} {v!r} is not a fraction from 0 to 1", field=field, value=v)
        d = d * 100
    if d != d.to_integral_value():
        raise ValidationError(f"{field} {v!r} is not a whole percent", field=field, value=v)
    return check.probability(int(d), field)


def probability_column(col: object, field: str, *, fraction: bool = False) -> tuple[pa.Array, list[Failure]]:
    if is_text(col) and not fraction:
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        small = pc.fill_null(pc.match_substring_regex(col, _SMALL_INT), False)
        empty = pc.fill_null(pc.equal(col, ""), True)
        if pc.all(pc.or_(small, empty)).as_py():
            ints = pc.cast(pc.if_else(empty, pa.scalar(None, pa.string()), col), pa.int32())
            over = pc.fill_null(pc.greater(ints, 100), False)
            if not pc.any(over).as_py():
                return ints, []
    return by_distinct(col, field, lambda v, f: probability_value(v, f, fraction), pa.int32())


def flag_value(v: object, field: str) -> bool:
    """TRUE/FALSE, true/false, 1/0, yes/no (and a few translations) as a bool."""
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, numbers.Real) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        word = v.strip().lower()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
    raise ValidationError(f"{field} {v!r} is neither true nor false (TRUE/FALSE, 1/0, yes/no)", field=field, value=v)


def flag_column(col: object, field: str) -> tuple[pa.Array, list[Failure]]:
    return by_distinct(col, field, flag_value, pa.bool_())


# -- dates ---------------------------------------------------------------------------------------

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
