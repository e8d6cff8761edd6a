"""`imports.load`: read a file, check every row, then write it in one transaction (or nothing).

1. The file is read (text in any encoding, .xlsx, Parquet) and each mapped column is read with the
   engine's checks (salespipe.imports.values); states come from stages, required values are checked,
   duplicate external ids refused.
2. What only the database knows is checked inside the transaction: references to records in
   neither the file nor the database, moves the state machine refuses, times before a record's
   last change.
3. Any problem refuses the whole file (ImportRejected, with every row's problem) unless
   skip_invalid, which writes the valid rows and reports the rest as rejected; dry_run stops
   before writing. The batch is recorded for undo (salespipe.imports.undo).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import time
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from .. import check
from ..db import Database
from ..errors import ValidationError
from . import deals, history, parse, people, read
from . import mapping as maps
from .batch import Batch, drop_temp_tables

KINDS = maps.KINDS
HANDLERS = {
    "accounts": (people.check_accounts, people.count_accounts, people.write_accounts, "_acc"),
    "contacts": (people.check_contacts, people.count_contacts, people.write_contacts, "_con"),
    "leads": (people.check_leads, people.count_leads, people.write_leads, "_lead"),
    "opportunities": (deals.check, deals.counts, deals.write, "_opp"),
    "opportunity_history": (history.check, history.counts, history.write, "_hist"),
}
CLOSED = {"leads": ("qualified", "disqualified"), "opportunities": ("won", "lost")}
REJECT_COLUMNS = ["row", "column", "value", "reason", "field", "external_id"]


@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do). `complete` is False when rows were rejected."""

    kind: str
    system: str
    mapping: str
    file: str
    rows: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    rejected: int
    batch_id: int | None
    dry_run: bool
    rejects: pd.DataFrame
    skipped_rows: pd.DataFrame
    read_as: str
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.rejected == 0

    def __str__(self) -> str:
        head = f"{self.system} {self.kind} from {os.path.basename(self.file)} ({self.read_as}, {self.rows:,} rows)"
        verb = "would be" if self.dry_run else "were"
        lines = [
            head,
            f"  {self.created:,} created, {self.updated:,} updated, {self.unchanged:,} unchanged, "
            f"{self.skipped:,} skipped, {self.rejected:,} rejected",
        ]
        if self.dry_run:
            lines.append(f"  dry run: nothing was written (these {verb} the counts)")
        elif self.batch_id is not None:
            lines.append(f"  batch {self.batch_id}: undo it with `salespipe import undo {self.batch_id}`")
        if self.rejected and not self.dry_run:
            lines.append(f"  PARTIAL IMPORT: {self.rejected:,} rows were rejected and not imported (--skip-invalid)")
        lines += [f"  note: {n}" for n in self.notes]
        if len(self.skipped_rows):
            reasons = self.skipped_rows["reason"].str.replace(r"\d{4}-\d\d-\d\d[ T][\d:.]+", "<time>", regex=True)
            for reason, n in reasons.value_counts().head(5).items():
                lines.append(f"  skipped {n:,}: {reason}")
        return "\n".join(lines)


class ImportRejected(ValidationError):
    """A file with invalid rows, refused whole: nothing was written. `.rejects` lists every problem
    (row, column, value, reason, field, external_id); `.failures` (row, field, message); `.result`
    the counts as they would have been."""

    def __init__(self, result: ImportResult) -> None:
        shown = result.rejects.head(5)
        first = "; ".join(f"row {r.row} {r.column}: {r.reason}" for r in shown.itertuples())
        more = f" (and {len(result.rejects) - 5:,} more problems)" if len(result.rejects) > 5 else ""
        super().__init__(
            f"{result.rejected:,} of {result.rows:,} rows of {os.path.basename(result.file)} are invalid, so nothing "
            f"was imported: {first}{more}. Fix them, or import the valid rows with --skip-invalid "
            "(skip_invalid=True); --rejects PATH writes every problem to a CSV file",
            field=str(shown.iloc[0]["field"]) if len(shown) else None,
            failures=[(int(r.row), r.field, r.reason) for r in result.rejects.itertuples()][:100_000],
        )
        self.result = result
        self.rejects = result.rejects


def rejects_path(rejects: object) -> Path | None:
    if rejects is None:
        return None
    path = Path(read.file_path(rejects, "rejects"))
    if path.is_dir():
        raise ValidationError(f"rejects {path} is a folder: give a file path such as rejects.csv", field="rejects")
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
        raise ValidationError(f"rejects {path}: {path.parent} is not a folder you can write to", field="rejects")
    return path


def _options(m: maps.Mapping, dates: object, timezone: object) -> dict:
    options = dict(m.options)
    if dates is not None:
        options["dates"] = check.choice(dates, "dates", ("mdy", "dmy"))
    if timezone is not None:
        options["timezone"] = check.text(timezone, "timezone", required=True)
    zone = options.get("timezone")
    if zone:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"timezone {zone!r} is not a time zone name such as Europe/Berlin or America/New_York",
                field="timezone",
                value=zone,
            ) from None
    return options


def load(
    db: Database,
    kind: str,
    path: str | os.PathLike[str],
    mapping: str | os.PathLike[str] | dict,
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    rejects: str | os.PathLike[str] | None = None,
    dates: str | None = None,
    timezone: str | None = None,
    at: object = None,
    actor: str | None = None,
    progress: bool = False,
) -> ImportResult:
    """Import a CRM export of `kind` (leads, accounts, contacts, opportunities, opportunity_history).

    mapping: a preset (salesforce, dynamics, hubspot, or e.g. salesforce_leads), a TOML mapping
    file, or the same as a dict. All or nothing: any invalid row raises ImportRejected (a
    ValidationError listing every row's problem) and writes nothing, unless skip_invalid imports the
    valid rows. dry_run checks everything and writes nothing. rejects: a CSV file for every problem
    (row, column, value, reason). dates ("mdy"/"dmy") and timezone override the mapping's options;
    at: the import's time (default now) for reopenings and records without a creation time.
    """
    db = check.database(db)
    kind = check.choice(kind, "kind", KINDS)
    dry_run, skip_invalid = check.flag(dry_run, "dry_run"), check.flag(skip_invalid, "skip_invalid")
    progress = check.flag(progress, "progress")
    target = rejects_path(rejects)
    when = check.timestamp(at)
    read.file_path(path, "path")
    m = maps.load(mapping, kind)
    options = _options(m, dates, timezone)
    actor = check.text(actor, "actor") or f"import ({m.system})"
    started = time.perf_counter()
    with tqdm(total=4, desc=f"import {kind}", unit="step", disable=not progress, leave=False) as bar:
        bar.set_postfix_str("reading")
        source = read.read(
            path, encoding=options.get("encoding"), delimiter=options.get("delimiter"), sheet=options.get("sheet")
        )
        bar.update()
        bar.set_postfix_str("checking values")
        parsed = _parse(source, m, options, kind, when)
        bar.update()
        bar.set_postfix_str("checking against the database")
        outcome = _run(db, kind, source, parsed, m, when, actor, dry_run, skip_invalid)
        bar.update()
    result = ImportResult(
        kind=kind,
        system=m.system,
        mapping=m.name,
        file=str(path),
        rows=len(source),
        batch_id=outcome["batch"],
        dry_run=dry_run,
        rejects=outcome["rejects"],
        skipped_rows=outcome["skipped_rows"],
        read_as=_read_as(source),
        notes=source.notes + outcome["notes"],
        seconds=time.perf_counter() - started,
        **{k: outcome[k] for k in ("created", "updated", "unchanged", "skipped", "rejected")},
    )
    if target is not None:
        _write_rejects(result.rejects, target)
    if result.rejected and not skip_invalid and not dry_run:
        raise ImportRejected(result)
    return result


def _read_as(source: read.Source) -> str:
    if source.format == "csv":
        name = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(source.delimiter, source.delimiter)
        return f"{source.encoding}, {name}-separated"
    if source.format == "xlsx":
        return f"Excel workbook, sheet {source.sheet!r}"
    return "Parquet"


def _parse(source: read.Source, m: maps.Mapping, options: dict, kind: str, when: dt.datetime) -> parse.Parsed:
    columns = m.resolve(source)
    parsed = parse.read_fields(source, m, columns, options)
    parse.check_columns(parsed)
    stamp = np.datetime64(when, "us")
    if kind in ("leads", "opportunities", "opportunity_history"):
        parse.states(parsed, m)
    if kind in CLOSED:
        parse.order_times(parsed, m, CLOSED[kind], stamp)
    elif kind != "opportunity_history":
        created = parsed.get("created_at")
        given = np.zeros(parsed.n, dtype=bool) if created is None else ~np.isnat(created)
        base = np.full(parsed.n, stamp) if created is None else np.where(given, created, stamp)
        parsed.fields["created_at"] = base.astype("datetime64[us]")
    if kind == "accounts":
        parse.require(parsed, "name", "an account needs a name")
    if kind == "contacts":
        first, last = parsed.get("first_name"), parsed.get("last_name")
        nameless = np.ones(parsed.n, dtype=bool)
        for values in (first, last):
            if values is not None:
                nameless &= parse._missing_mask(values)
        parsed.problems += [
            (int(i), "last_name", parsed.column_of("last_name"), "a contact needs a first or last name")
            for i in np.flatnonzero(nameless)
        ]
    if kind == "leads":
        nameless = np.ones(parsed.n, dtype=bool)
        for name in ("last_name", "company"):
            if parsed.get(name) is not None:
                nameless &= parse._missing_mask(parsed.get(name))
        parsed.problems += [
            (int(i), "last_name", parsed.column_of("last_name"), "a lead needs a last_name or a company")
            for i in np.flatnonzero(nameless)
        ]
    if kind == "opportunity_history":
        parse.require(parsed, "at", "a stage change needs its time")
    else:
        parse.duplicates(parsed, source.row_numbers)
    parse.require(parsed, "external_id", "the record's id in the CRM is empty")
    return parsed


STATE_FLAGS = ("converted", "is_closed", "is_won")


def _frame_fields(kind: str) -> tuple[str, ...]:
    """The fields of `_in`: the mapping's, with `stage` read into `state` (the flags it is read
    with go into it too); a history row keeps its stage label beside its state."""
    out: list[str] = []
    for name in maps.FIELDS[kind]:
        if name == "stage":
            out += ["stage", "state"] if kind == "opportunity_history" else ["state"]
        elif name not in STATE_FLAGS:
            out.append(name)
    return tuple(out)


FRAME_FIELDS = {kind: _frame_fields(kind) for kind in maps.FIELDS}
# how a field's values are stored in `_in` (text otherwise: money stays exact as written)
ARROW_TYPES = {"date": pa.timestamp("us"), "probability": pa.int32()}
TYPES = {name: ARROW_TYPES[kind] for name, kind in maps.TYPES.items() if kind in ARROW_TYPES}


def _frame(parsed: parse.Parsed, kind: str, keep: np.ndarray) -> pa.Table:
    """The valid rows as the table `_in`: _i (the row's index in the file) and the kind's fields."""
    index = pa.array(np.flatnonzero(keep), type=pa.int64())
    columns = {"_i": index}
    for name in FRAME_FIELDS[kind]:
        values = parsed.get(name)
        kind_type = TYPES.get(name, pa.string())
        if values is None:
            columns[name] = pa.nulls(len(index), type=kind_type)
        elif isinstance(values, np.ndarray):
            columns[name] = pa.array(values[keep], type=kind_type, from_pandas=True)
        else:
            columns[name] = values.filter(pa.array(keep)).cast(kind_type)
    return pa.table(columns)


def _run(db, kind, source, parsed, m, when, actor, dry_run, skip_invalid) -> dict:
    bad = parsed.bad_rows()
    keep = np.ones(parsed.n, dtype=bool)
    keep[bad] = False
    ctx = deals.Context(system=m.system, mapped=set(parsed.columns), at=when, actor=actor)
    frame = _frame(parsed, kind, keep)
    outcome: dict = {"batch": None, "notes": []}
    opened = db.connection(read_only=True) if dry_run else db.transaction()
    with opened as con:
        try:
            problems, skipped = _check_and_write(
                con, kind, source, parsed, m, when, dry_run, skip_invalid, ctx, frame, outcome
            )
        finally:
            drop_temp_tables(con)
    moved = parsed.get("moved_created")
    if moved is not None and moved.any():
        outcome["notes"].append(
            f"{int(moved.sum()):,} records closed before the CRM created them (common after a data migration): "
            'their creation is dated at the close (closed_before_created = "move_created")'
        )
    outcome["rejects"] = _rejects_frame(source, parsed, problems)
    outcome["skipped_rows"] = _rejects_frame(
        source, parsed, [(i, f, parsed.column_of(f), msg) for i, f, msg in skipped]
    )
    return outcome


def _check_and_write(con, kind, source, parsed, m, when, dry_run, skip_invalid, ctx, frame, outcome):
    """Inside the transaction (or the read-only connection of a dry run): check, count, write."""
    check_rows, count, write, table = HANDLERS[kind]
    con.register("_in_frame", frame)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _in AS SELECT * FROM _in_frame")
    finally:
        con.unregister("_in_frame")
    found = check_rows(con, ctx)
    problems = list(parsed.problems) + [(i, f, parsed.column_of(f), msg) for i, f, msg in found]
    rejected_rows = {p[0] for p in problems}
    if found:
        con.execute(f"DELETE FROM {table} WHERE _i IN (SELECT unnest(?::BIGINT[]))", [sorted(rejected_rows)])
    would = count(con, ctx)
    skipped = history.skipped(con) if kind == "opportunity_history" else []
    writing = not dry_run and (skip_invalid or not rejected_rows)
    if writing:
        ctx.batch = Batch(con, m.system)
        done = write(con, ctx)
        would = {**would, **{k: done[k] for k in ("created", "updated", "unchanged") if k in done}}
        if done.get("accounts_created"):
            outcome["notes"].append(f"{done['accounts_created']:,} accounts created from the names in the file")
    counts = {
        "created": would["created"],
        "updated": would["updated"],
        "unchanged": would["unchanged"],
        "skipped": would.get("skipped", 0),
        "rejected": len(rejected_rows),
        "rows": parsed.n,
    }
    if writing:
        ctx.batch.finish(kind=kind, file=str(source.path), mapping=m.name, actor=ctx.actor, at=when, counts=counts)
        outcome["batch"] = ctx.batch.id
    outcome.update(counts)
    return problems, skipped


def _rejects_frame(source: read.Source, parsed: parse.Parsed, problems: list) -> pd.DataFrame:
    """One row per problem: row number (the header is row 1), source column, its value there, reason, field, id."""
    if not problems:
        return pd.DataFrame(columns=REJECT_COLUMNS)
    problems = sorted(problems, key=lambda p: (p[0], p[1]))
    cells: dict[str, list] = {}
    ids = parsed.get("external_id")
    ids = ids.to_pylist() if ids is not None else [None] * parsed.n
    id_column = (parsed.columns.get("external_id") or [None])[0]
    raw_ids = read.column_values(source.columns[id_column]) if id_column else None
    rows = []
    for i, name, column, message in problems:
        header = column.split(" / ")[0] if column in source.columns or " / " in column else None
        if header not in source.columns:
            header = None
        if header is not None and header not in cells:
            cells[header] = read.column_values(source.columns[header])
        value = cells[header][i] if header is not None else None
        external = ids[i] if ids[i] is not None else (raw_ids[i] if raw_ids else None)
        rows.append(
            (
                int(source.row_numbers[i]),
                column,
                "" if value is None else str(value),
                message,
                name,
                "" if external is None else str(external),
            )
        )
    return pd.DataFrame(rows, columns=REJECT_COLUMNS)


def _write_rejects(rejects: pd.DataFrame, path: Path) -> None:
    """The rejects as CSV (UTF-8 with a BOM, so Excel opens it right): row, column, value, reason, field, external_id."""
    try:
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            writer = csv.writer(fh)
            writer.writerow(REJECT_COLUMNS)
            writer.writerows(rejects[REJECT_COLUMNS].itertuples(index=False, name=None))
    except OSError as exc:
        raise ValidationError(f"cannot write the rejects file {path}: {exc.strerror}", field="rejects") from None
