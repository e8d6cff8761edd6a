"""From a file's columns to the checked fields of each row: values read per column, lists of
columns coalesced (the first non-empty wins), stages turned into states, required values checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import machine
from ..errors import ValidationError
from . import values as V
from .mapping import ENTITY, TYPES, Mapping, lookup
from .read import DO_NOT_MODIFY, Source

# (row index, field, source column, message)
Problem = tuple[int, str, str, str]

DEFAULT_STATUS = {"open": None, "won": "won", "lost": "out_sold", "qualified": "qualified", "disqualified": "lost"}


@dataclass
class Parsed:
    """The rows' fields (pyarrow arrays, datetime64 for times) and every problem found."""

    n: int
    fields: dict[str, object]
    columns: dict[str, list[str]]
    problems: list[Problem] = field(default_factory=list)

    def get(self, name: str) -> object:
        return self.fields.get(name)

    def column_of(self, name: str) -> str:
        return " / ".join(self.columns.get(name, [])) or "(none)"

    def bad_rows(self) -> np.ndarray:
        return np.unique(np.asarray([p[0] for p in self.problems], dtype=np.int64))


def _read_one(source: Source, header: str, name: str, mapping: Mapping, options: dict) -> tuple[object, list]:
    col = source.columns[header]
    type_ = TYPES[name]
    if type_ == "text":
        return V.text_column(col, name)
    if type_ == "email":
        return V.email_column(col, name)
    if type_ == "id":
        nulls = tuple(options.get("null_ids", ()))
        return V.id_column(col, name, null_ids=nulls, style=options.get("ids"))
    if type_ == "money":
        return V.money_column(col, name, decimal=options.get("decimal"))
    if type_ == "probability":
        return V.probability_column(col, name, fraction=options.get("probability") == "fraction")
    if type_ == "flag":
        return V.flag_column(col, name)
    if type_ == "date":
        # Dynamics' "(Do Not Modify) Modified On" is UTC whatever the exporting user's zone
        zone = None if header.lower().startswith(DO_NOT_MODIFY) else options.get("timezone")
        return V.date_column(col, name, header, dates=options.get("dates"), timezone=zone)
    raise AssertionError(type_)


def _missing_mask(values: object) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return np.isnat(values) if values.dtype.kind == "M" else np.zeros(len(values), dtype=bool)
    return np.asarray(pc.is_null(values).to_numpy(zero_copy_only=False), dtype=bool)


def _take(values: object, mask: np.ndarray, other: object) -> object:
    """values where mask, else other."""
    if isinstance(values, np.ndarray):
        return np.where(mask, values, other)
    return pc.if_else(pa.array(mask), values, other)


def read_fields(source: Source, mapping: Mapping, columns: dict[str, list[str]], options: dict) -> Parsed:
    """Every mapped field of every row, read per column; a list of columns takes, per row, the
    first one with a value (a refused value is a problem, not a reason to look further)."""
    parsed = Parsed(len(source), {}, columns)
    for name, headers in columns.items():
        result = None
        refused = np.zeros(len(source), dtype=bool)
        for header in headers:
            values, problems = _read_one(source, header, name, mapping, options)
            use = np.ones(len(source), dtype=bool) if result is None else _missing_mask(result) & ~refused
            for i, _, message in problems:
                if use[i]:
                    parsed.problems.append((i, name, header, message))
                    refused[i] = True
            result = values if result is None else _take(result, ~use, values)
        parsed.fields[name] = result
    return parsed


def _text(parsed: Parsed, name: str) -> list:
    values = parsed.get(name)
    return [None] * parsed.n if values is None else values.to_pylist()


def _flags(parsed: Parsed, name: str) -> list:
    values = parsed.get(name)
    return [None] * parsed.n if values is None else values.to_pylist()


def states(parsed: Parsed, mapping: Mapping) -> None:
    """`state` and `status` of each row from its stage (and the flags IsClosed/IsWon, converted),
    as the mapping's [stages] and [statuses] say; unknown stages and contradictions are problems."""
    kind = mapping.kind
    entity = ENTITY[kind]
    known = machine.STATES[entity]
    codes, uniques = _combinations(
        [parsed.get(n) for n in ("stage", "status", "is_closed", "is_won", "converted")], parsed.n
    )
    results = [_state(mapping, entity, known, *key) for key in uniques]
    state_out = pc.take(pa.array([r[0] for r in results], type=pa.string()), pa.array(codes))
    status_out = pc.take(pa.array([r[1] for r in results], type=pa.string()), pa.array(codes))
    bad = [k for k, r in enumerate(results) if r[2]]
    if bad:
        for i in np.flatnonzero(np.isin(codes, bad)).tolist():
            name, message = results[codes[i]][2]
            parsed.problems.append((i, name, parsed.column_of(name), message))
    parsed.fields["state"] = state_out
    parsed.fields["status"] = status_out


def _combinations(columns: list, n: int) -> tuple[np.ndarray, list[tuple]]:
    """The distinct combinations of values across `columns` (pyarrow arrays, or None for absent ones):
    a code per row and the combinations, vectorized (dictionary codes combined in mixed radix)."""
    key = np.zeros(n, dtype=np.int64)
    dictionaries = []
    for col in columns:
        if col is None:
            dictionaries.append([None])
            continue
        encoded = (col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col).dictionary_encode()
        values = encoded.dictionary.to_pylist() + [None]
        indices = pc.fill_null(encoded.indices, len(values) - 1).to_numpy(zero_copy_only=False).astype(np.int64)
        key = key * len(values) + indices
        dictionaries.append(values)
    unique, codes = np.unique(key, return_inverse=True)
    combos = []
    for k in unique.tolist():
        parts = []
        for values in reversed(dictionaries):
            k, r = divmod(k, len(values))
            parts.append(values[r])
        combos.append(tuple(reversed(parts)))
    return codes.astype(np.int64), combos


def _state(mapping: Mapping, entity: str, known: dict, stage, status_text, is_closed, is_won, converted):
    """(state, status, problem) for one combination of stage, status and flags."""
    if stage is None:
        return None, None, ("stage", "stage is empty: every record needs one")
    target = lookup(mapping.stages, stage)
    state, _, status = (target or "").partition(":")
    if entity == "opportunity" and (is_won is not None or is_closed is not None):
        # IsClosed/IsWon decide; a stage the mapping calls won or lost must agree with them (a stage it
        # calls open, or does not know, may be an org's own closed stage such as No-Bid)
        flagged = "won" if is_won else "lost" if is_closed else "open" if is_closed is False else None
        if target and state in ("won", "lost") and flagged is not None and state != flagged:
            return (
                None,
                None,
                (
                    "stage",
                    f"stage {stage!r} means {state} but the closed/won flags say {flagged}: the file contradicts itself",
                ),
            )
        if flagged is None and state == "won":
            return None, None, ("stage", f"stage {stage!r} means won but the won flag is false")
        if flagged is not None:
            if state != flagged:
                status = ""
            state = flagged
    if entity == "lead" and converted is not None:
        if converted:
            state, status = "qualified", ""
        elif state == "qualified":
            return (
                None,
                None,
                (
                    "stage",
                    f"stage {stage!r} says qualified (converted), but the converted flag is false: the lead was never "
                    "converted into an account, contact or opportunity; map this stage to open or disqualified, or fix "
                    "the lead in the CRM",
                ),
            )
    if not state:
        shown = ", ".join(repr(k) for k in list(mapping.stages)[:12] if k != "*")
        return (
            None,
            None,
            (
                "stage",
                f"unknown stage {stage!r}: add it to the mapping's [stages] (as open, won or lost; it knows {shown})"
                if entity == "opportunity"
                else f"unknown stage {stage!r}: add it to the mapping's [stages] (as open, qualified or disqualified; "
                f"it knows {shown})",
            ),
        )
    if not status and status_text is not None and mapping.statuses:
        mapped = lookup(mapping.statuses, status_text)
        if mapped is None:
            return None, None, ("status", f"unknown status {status_text!r}: add it to the mapping's [statuses]")
        if mapped not in known[state]:
            owner = next((s for s, sts in known.items() if mapped in sts), "?")
            return (
                None,
                None,
                (
                    "status",
                    f"status {status_text!r} ({mapped}) belongs to {owner}, but stage {stage!r} means {state}",
                ),
            )
        status = mapped
    if not status:
        status = DEFAULT_STATUS[state] or known[state][0]
    return state, status, None


def require(parsed: Parsed, name: str, message: str, rows: np.ndarray | None = None) -> None:
    """A problem for each row (of `rows`, default all) where field `name` is missing."""
    values = parsed.get(name)
    missing = np.ones(parsed.n, dtype=bool) if values is None else _missing_mask(values)
    if rows is not None:
        keep = np.zeros(parsed.n, dtype=bool)
        keep[rows] = True
        missing &= keep
    already = {(p[0], p[1]) for p in parsed.problems}
    parsed.problems += [
        (int(i), name, parsed.column_of(name), message)
        for i in np.flatnonzero(missing)
        if (int(i), name) not in already
    ]


def duplicates(parsed: Parsed, row_numbers: np.ndarray, name: str = "external_id") -> None:
    """Every row whose external id another row of the file has too (rows numbered as the file shows them)."""
    ids = parsed.get(name)
    if ids is None:
        return
    series = pd.Series(ids.to_pandas(), dtype=object)
    twice = series.notna() & series.duplicated(keep=False)
    if not twice.any():
        return
    groups: dict[str, list[int]] = {}
    for i, v in zip(np.flatnonzero(twice.to_numpy()).tolist(), series[twice].tolist(), strict=True):
        groups.setdefault(v, []).append(i)
    for v, rows in groups.items():
        for i in rows:
            others = ", ".join([str(int(row_numbers[r])) for r in rows if r != i][:5])
            parsed.problems.append(
                (i, name, parsed.column_of(name), f"external id {v!r} is on more than one row (also row {others})")
            )


def closed_rows(parsed: Parsed, closed: tuple[str, ...]) -> np.ndarray:
    state = parsed.get("state")
    mask = pc.fill_null(pc.is_in(state, value_set=pa.array(list(closed))), False)
    return np.flatnonzero(np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool))


def order_times(parsed: Parsed, mapping: Mapping, closed: tuple[str, ...], at: np.datetime64) -> None:
    """created_at and closed_at of each row: a closed record needs closed_at; a missing created_at
    is closed_at for a closed record, else the import's time; a close before the creation is a
    problem unless the mapping says closed_before_created = "move_created"."""
    n = parsed.n
    created = parsed.get("created_at")
    if created is None:
        created = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    closed_at = parsed.get("closed_at")
    if closed_at is None:
        closed_at = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    is_closed = np.zeros(n, dtype=bool)
    is_closed[closed_rows(parsed, closed)] = True
    parsed.fields["closed_at"] = np.where(is_closed, closed_at, np.datetime64("NaT"))
    require(parsed, "closed_at", "a closed record needs closed_at (when it was closed)", np.flatnonzero(is_closed))
    given = ~np.isnat(created)
    parsed.fields["created_given"] = given
    filled = np.where(given, created, np.where(is_closed & ~np.isnat(closed_at), closed_at, at))
    early = is_closed & given & ~np.isnat(closed_at) & (closed_at < filled)
    if early.any():
        if mapping.options.get("closed_before_created") == "move_created":
            filled = np.where(early, closed_at, filled)
            parsed.fields["moved_created"] = early
        else:
            for i in np.flatnonzero(early):
                parsed.problems.append(
                    (
                        int(i),
                        "closed_at",
                        parsed.column_of("closed_at"),
                        f"closed_at {str(closed_at[i])[:19].replace('T', ' ')} is before created_at "
                        f"{str(filled[i])[:19].replace('T', ' ')}: map another column, or set closed_before_created = "
                        '"move_created" in the mapping\'s [options] to date the creation at the close',
                    )
                )
    parsed.fields["created_at"] = filled


def check_columns(parsed: Parsed) -> None:
    """A file-level refusal when a required column came out empty on every row (a wrong mapping)."""
    ids = parsed.get("external_id")
    refused = any(p[1] == "external_id" for p in parsed.problems)
    if ids is not None and parsed.n and not refused and pc.all(pc.is_null(ids)).as_py():
        raise ValidationError(
            f"column {parsed.column_of('external_id')} (external_id) is empty on every row: map the column that "
            "holds each record's id in the CRM",
            field="external_id",
        )
