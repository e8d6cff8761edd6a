"""Argument checks shared by every public function. Each raises ValidationError naming the field."""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np
import pandas as pd

from .errors import ValidationError

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The same rule in SQL, for bulk checks.
EMAIL_SQL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MAX_TEXT = 1000
CENT = Decimal("0.01")


def text(value: object, field: str, *, required: bool = False, max_len: int = MAX_TEXT) -> str | None:
    """A trimmed string, None for empty; required fields must be non-empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        value = None
    elif not isinstance(value, str):
        raise ValidationError(f"{field} must be text, got {type(value).__name__} {value!r}", field=field, value=value)
    else:
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
        try:
            d = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise ValidationError(f"{field} {value!r} is not a number", field=field, value=value) from None
    else:
        raise ValidationError(f"{field} must be a number, got {type(value).__name__}", field=field, value=value)
    if not d.is_finite():
        raise ValidationError(f"{field} must be a finite number, got {value!r}", field=field, value=value)
    return d


def money(value: object, field: str, *, optional: bool = False) -> Decimal | None:
    """A non-negative amount with at most 2 decimal places, as Decimal."""
    if value is None and optional:
        return None
    d = _decimal(value, field)
    if d < 0:
        raise ValidationError(f"{field} must not be negative, got {d}", field=field, value=value)
    if d != d.quantize(CENT, rounding=ROUND_HALF_UP):
        raise ValidationError(f"{field} {d} has more than 2 decimal places", field=field, value=value)
    if d >= Decimal("1e15"):
        raise ValidationError(f"{field} {d} is too large", field=field, value=value)
    return d.quantize(CENT)


def quantity(value: object, field: str = "quantity") -> Decimal:
    """A quantity > 0 with at most 4 decimal places."""
    d = _decimal(value, field)
    if d <= 0:
        raise ValidationError(f"{field} must be greater than 0, got {d}", field=field, value=value)
    if d != d.quantize(Decimal("0.0001")) or d >= Decimal("1e12"):
        raise ValidationError(f"{field} {d} has more than 4 decimal places or is too large", field=field, value=value)
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
    """A record id: a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral | np.integer):
        raise ValidationError(f"{field} must be an integer id, got {value!r}", field=field, value=value)
    if int(value) <= 0:
        raise ValidationError(f"{field} must be a positive id, got {value}", field=field, value=value)
    return int(value)


def idents(values: object, field: str) -> list[int]:
    """A non-empty list of distinct record ids."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValidationError(f"{field} must be a list of ids, got {values!r}", field=field, value=values)
    if isinstance(values, np.ndarray | pd.Series | pd.Index) and np.issubdtype(np.asarray(values).dtype, np.integer):
        out = np.asarray(values, dtype=np.int64).tolist()
        if out and min(out) <= 0:
            raise ValidationError(f"{field} must hold positive ids", field=field)
    else:
        out = [ident(v, field) for v in values]
    if len(set(out)) != len(out):
        raise ValidationError(f"{field} lists the same id more than once", field=field)
    return out


def choice(value: object, field: str, allowed: Sequence[str]) -> str:
    """One of a fixed set of names."""
    if value not in allowed:
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


def flag(value: object, field: str) -> bool:
    """A real bool (not a truthy string)."""
    if not isinstance(value, bool | np.bool_):
        raise ValidationError(f"{field} must be True or False, got {value!r}", field=field, value=value)
    return bool(value)


def timestamp(value: object, field: str = "at") -> dt.datetime:
    """A point in time as a naive UTC datetime; None means now. Naive input is taken as UTC."""
    if value is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(
                f"{field} {value!r} is not an ISO date or datetime", field=field, value=value
            ) from None
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            raise ValidationError(f"{field} must be a datetime, got NaT", field=field, value=value)
        value = value.to_pydatetime()
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{field} must be a datetime, got {value!r}", field=field, value=value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
