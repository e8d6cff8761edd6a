"""Reading the values of an export, one column at a time, with the engine's own checks.

Every converter takes a column (a pyarrow array, or a list of cell values from a workbook) and
returns the values as a pyarrow array plus the failures `(index, field, message)`. Each value is
read by the function a single call uses (`check.text`, `check.email`, `check.money`,
`check.timestamp`, `check.probability`), so an import reads "1,200.50", "  Closed Lost " or
"2024-05-01T09:30Z" exactly as a form does. Fast paths cover the shapes those functions return
unchanged (clean ASCII text, plain amounts, ISO times) with vectorized pyarrow, and hand every
other value to the function itself.

Dates and times: salespipe.imports.dates (decided per column, never per row).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import check
from ..errors import ValidationError

Failure = tuple[int, str, str]

_CLEAN_TEXT = r"^[!-~](?:[ -~]{0,998}[!-~])?$"  # printable ASCII, no space at either end: check.text keeps it as is
_PLAIN_MONEY = r"^\d{1,15}(?:\.\d{1,2})?$"
_SMALL_INT = r"^\d{1,3}$"
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


from .dates import date_column, serial_date  # noqa: E402,F401  (one place to find every converter)
