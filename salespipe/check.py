"""Argument checks shared by every public function. Each raises ValidationError naming the field."""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np
import pandas as pd

from .db import Database
from .errors import ValidationError

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The same rule in SQL, for bulk checks.
EMAIL_SQL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MAX_TEXT = 1000
CENT = Decimal("0.01")


INT64_MAX = 2**63 - 1


def database(db: object) -> Database:
    """The handle every public function takes first: a salespipe Database from sp.connect()."""
    if not isinstance(db, Database):
        raise ValidationError(
            f"db must be a salespipe database from sp.connect(), got {type(db).__name__} {db!r:.60}",
            field="db",
            value=db,
        )
    return db


MAX_MONEY = Decimal("1e15")  # every amount, and every document total, stays below this (DECIMAL(18,2) holds 1e16)


def _storable(value: str, field: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            f"{field} holds a character that cannot be stored (a lone surrogate, e.g. from a broken paste): "
            "retype or clean the text",
            field=field,
            value=value,
        ) from None


def text(value: object, field: str, *, required: bool = False, max_len: int = MAX_TEXT) -> str | None:
    """A trimmed string (every kind of Unicode whitespace), None for empty; required fields must be non-empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        value = None
    elif not isinstance(value, str):
        raise ValidationError(f"{field} must be text, got {type(value).__name__} {value!r}", field=field, value=value)
    else:
        _storable(value, field)
        value = value.strip() or None
    if value is None and required:
        raise ValidationError(f"{field} is required", field=field, value=value)
    if value is not None and len(value) > max_len:
        raise ValidationError(f"{field} is longer than {max_len} characters", field=field, value=value)
    return value


def email(value: object, field: str = "email") -> str | None:
    """An email address that looks like one (name@domain.tld), or None."""
    value = text(value, field)
    if value is not None and not EMAIL_RE.match(value):
        raise ValidationError(
            f"{field} {value!r} does not look like an email address (name@domain.tld)", field=field, value=value
        )
    return value


# A number as people type it: digits with an optional sign, decimal point or comma, and
# thousands separators (comma, dot, space or apostrophe) in groups of exactly three.
_PLAIN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_GROUPED = re.compile(
    r"(?P<sign>[+-]?)(?P<head>\d{1,3})(?P<groups>(?:(?P<sep>[,. \u00a0\u202f'])\d{3})(?:(?P=sep)\d{3})*)(?:(?P<dec>[.,])(?P<frac>\d+))?"
)


def parse_number(raw: str, field: str) -> Decimal:
    """Text to Decimal, as typed into a form or a CSV cell, with no guessing.

    "1200.50", "1,200.50", "1 200,50", "1.200,50" and "12,50" (a decimal comma) are read; a
    separator counts as a thousands separator only between groups of exactly three digits, and a
    comma as a decimal comma only where no thousands reading exists. "1,200" (1200 or 1.2?),
    "1,5,0" and other shapes are a ValidationError naming the field.
    """
    text = raw.strip().replace("\u2212", "-")  # the Unicode minus sign
    if not text:
        raise ValidationError(f"{field} is empty: give a number", field=field, value=raw)
    if _PLAIN.fullmatch(text):
        return Decimal(text)
    if re.fullmatch(r"[+-]?\d+,\d+", text):  # one comma and no other separator
        head, frac = text.split(",")
        if len(frac) != 3 or head.lstrip("+-").startswith("0"):
            return Decimal(f"{head}.{frac}")  # a decimal comma: no thousands reading exists
        raise ValidationError(
            f"{field} {raw!r} is ambiguous: {head}{frac} or {head}.{frac}? Write it without the comma "
            f"({head}{frac}) or with a decimal point ({head}.{frac})",
            field=field,
            value=raw,
        )
    found = _GROUPED.fullmatch(text)
    if found and found["dec"] != found["sep"] and not found["head"].startswith("0"):
        digits = found["head"] + found["groups"].replace(found["sep"], "")
        frac = f".{found['frac']}" if found["frac"] is not None else ""
        return Decimal(f"{found['sign']}{digits}{frac}")
    raise ValidationError(
        f"{field} {raw!r} is not a number (write it like 1200.50, 1,200.50 or 1200,50)", field=field, value=raw
    )


def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValidationError(f"{field} must be a number, got {value!r}", field=field, value=value)
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, numbers.Integral):
        d = Decimal(int(value))
    elif isinstance(value, numbers.Real):
        if not math.isfinite(float(value)):
            raise ValidationError(f"{field} must be a finite number, got {value!r}", field=field, value=value)
        d = Decimal(repr(float(value)))
    elif isinstance(value, str):
        _storable(value, field)
        try:
            d = parse_number(value, field)
        except InvalidOperation:  # an exponent too large for Decimal
            raise ValidationError(f"{field} {value!r} is not a number", field=field, value=value) from None
    else:
        raise ValidationError(f"{field} must be a number, got {type(value).__name__}", field=field, value=value)
    if not d.is_finite():
        raise ValidationError(f"{field} must be a finite number, got {value!r}", field=field, value=value)
    return d


def missing(value: object) -> bool:
    """None, NaN, NA, NaT or a blank string: no value given."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, str) and not value.strip()


def money(value: object, field: str, *, optional: bool = False) -> Decimal | None:
    """A non-negative amount below 1,000,000,000,000,000 with at most 2 decimal places, as Decimal.

    optional: a missing value (None, NaN, a blank string) is None."""
    if optional and missing(value):
        return None
    d = _decimal(value, field)
    if d < 0:
        raise ValidationError(f"{field} must not be negative, got {d}", field=field, value=value)
    if d >= MAX_MONEY:
        raise ValidationError(
            f"{field} {d} is too large (amounts stay below 1,000,000,000,000,000.00)", field=field, value=value
        )
    if d != d.quantize(CENT, rounding=ROUND_HALF_UP):
        raise ValidationError(f"{field} {d} has more than 2 decimal places", field=field, value=value)
    return d.quantize(CENT)


def quantity(value: object, field: str = "quantity") -> Decimal:
    """A quantity > 0 and below 1,000,000,000,000 with at most 4 decimal places."""
    d = _decimal(value, field)
    if d <= 0:
        raise ValidationError(f"{field} must be greater than 0, got {d}", field=field, value=value)
    if d >= Decimal("1e12"):
        raise ValidationError(f"{field} {d} is too large (below 1,000,000,000,000)", field=field, value=value)
    if d != d.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP):
        raise ValidationError(f"{field} {d} has more than 4 decimal places", field=field, value=value)
    return d


def percent(value: object, field: str) -> Decimal:
    """A percentage from 0 to 100 with at most 4 decimal places (stored as DECIMAL(9,4))."""
    d = _decimal(value, field)
    if not Decimal(0) <= d <= Decimal(100):
        raise ValidationError(f"{field} must be between 0 and 100, got {d}", field=field, value=value)
    if d != d.quantize(Decimal("0.0001")):
        raise ValidationError(f"{field} {d} has more than 4 decimal places", field=field, value=value)
    return d


def ident(value: object, field: str) -> int:
    """A record id: a positive 64-bit integer."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral | np.integer):
        raise ValidationError(f"{field} must be an integer id, got {value!r}", field=field, value=value)
    if int(value) <= 0:
        raise ValidationError(f"{field} must be a positive id, got {value}", field=field, value=value)
    if int(value) > INT64_MAX:
        raise ValidationError(f"{field} {value} is not an id (ids fit in 64 bits)", field=field, value=value)
    return int(value)


def idents(values: object, field: str) -> list[int]:
    """A list of distinct record ids (an empty one asks for nothing, and nothing is done)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValidationError(f"{field} must be a list of ids, got {values!r}", field=field, value=values)
    if isinstance(values, np.ndarray | pd.Series | pd.Index) and np.issubdtype(np.asarray(values).dtype, np.integer):
        array = np.asarray(values)
        if array.dtype == np.uint64 and len(array) and array.max() > INT64_MAX:
            raise ValidationError(f"{field} holds a value that is not an id (ids fit in 64 bits)", field=field)
        out = array.astype(np.int64).tolist()
        if out and min(out) <= 0:
            raise ValidationError(f"{field} must hold positive ids", field=field)
    else:
        out = [ident(v, field) for v in values]
    if len(set(out)) != len(out):
        raise ValidationError(f"{field} lists the same id more than once", field=field)
    return out


def choice(value: object, field: str, allowed: Sequence[str]) -> str:
    """One of a fixed set of names."""
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(f"{field} must be one of {', '.join(allowed)}; got {value!r}", field=field, value=value)
    return value  # type: ignore[return-value]


def choices(value: object, field: str, allowed: Sequence[str], n: int) -> str | list[str]:
    """One of a fixed set of names for all n rows, or a sequence of them with one per row."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        return choice(value, field, allowed)
    values = list(value)
    if len(values) != n:
        raise ValidationError(f"{field} has {len(values)} values for {n} rows", field=field)
    return [choice(v, field, allowed) for v in values]


def per_id(values: Iterable, field: str, n: int) -> list:
    """A list with one value for each of n ids (the values are checked by the caller)."""
    out = list(values)
    if len(out) != n:
        raise ValidationError(f"{field} has {len(out)} values for {n} ids", field=field)
    return out


def probability(value: object, field: str = "probability") -> int:
    """A win probability: a whole number of percent from 0 to 100."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral | np.integer):
        raise ValidationError(f"{field} must be a whole number 0-100, got {value!r}", field=field, value=value)
    if not 0 <= int(value) <= 100:
        raise ValidationError(f"{field} must be between 0 and 100, got {value}", field=field, value=value)
    return int(value)


def flag(value: object, field: str) -> bool:
    """A real bool (not a truthy string)."""
    if not isinstance(value, bool | np.bool_):
        raise ValidationError(f"{field} must be True or False, got {value!r}", field=field, value=value)
    return bool(value)


def timestamp(value: object, field: str = "at") -> dt.datetime:
    """A point in time as a naive UTC datetime; None means now. Naive input is taken as UTC.

    Takes a datetime, a date, a pandas Timestamp, a numpy datetime64 or an ISO-8601 string
    (date only, with time, fractional seconds, a UTC offset or Z).
    """
    if value is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if value is pd.NaT or (isinstance(value, np.datetime64) and np.isnat(value)):
        raise ValidationError(f"{field} must be a datetime, got NaT (a missing time)", field=field, value=value)
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, str):
        _storable(value, field)
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(
                f"{field} {value!r} is not an ISO date or datetime (e.g. 2026-11-01 or 2026-11-01T09:30:00Z)",
                field=field,
                value=value,
            ) from None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime(warn=False)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{field} must be a datetime, got {value!r}", field=field, value=value)
    if value.tzinfo is not None:
        try:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        except (OverflowError, ValueError):
            raise ValidationError(f"{field} {value!r} is out of range", field=field, value=value) from None
    return value


# -- columns: the single-value checks applied to every value of a bulk column --------------------

Failure = tuple[int, str, str]  # (row, field, message)


def each(values: Iterable, field: str, convert: Callable[[object, str], object]) -> tuple[list, list[Failure]]:
    """`convert(value, field)` for every value: (converted values, None where refused), (row, field, message).

    Bulk calls check through the same functions as single ones, so both read text, money and
    times exactly alike.
    """
    out: list = []
    problems: list[Failure] = []
    for row, value in enumerate(values):
        try:
            out.append(convert(value, field))
        except ValidationError as exc:
            out.append(None)
            problems.append((row, field, str(exc)))
    return out, problems


def money_column(values: pd.Series, field: str, *, optional: bool = False) -> tuple[object, list[Failure]]:
    """A column of amounts checked as `money` checks one: an int64 array (a fast path for integer
    columns) or a list of Decimal/None, and the failures."""
    if pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any():
        array = values.to_numpy()
        if array.dtype == np.uint64 and len(array) and array.max() > INT64_MAX:
            array = array.astype(object)
        else:
            array = array.astype(np.int64)
        bad = np.flatnonzero((array < 0) | (array >= int(MAX_MONEY)))
        problems: list[Failure] = []
        for row in bad.tolist():
            try:
                money(int(array[row]), field)
            except ValidationError as exc:
                problems.append((row, field, str(exc)))
        return array, problems
    return each(values.tolist(), field, lambda v, f: money(v, f, optional=optional))


def timestamp_column(values: pd.Series, field: str) -> tuple[np.ndarray, list[Failure]]:
    """A column of times checked as `timestamp` checks one (missing values refused): datetime64[us]."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = pd.DatetimeIndex(values)
        if stamps.tz is not None:
            stamps = stamps.tz_convert("UTC").tz_localize(None)
        missing_rows = np.flatnonzero(stamps.isna())
        problems = [(int(r), field, f"{field} is missing: give a date or datetime") for r in missing_rows]
        return stamps.to_numpy(dtype="datetime64[us]"), problems

    def one(value: object, name: str) -> dt.datetime:
        if missing(value):
            raise ValidationError(f"{name} is missing: give a date or datetime", field=name)
        return timestamp(value, name)

    out, problems = each(values.tolist(), field, one)
    return np.array([np.datetime64("NaT") if v is None else v for v in out], dtype="datetime64[us]"), problems
