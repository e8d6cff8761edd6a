"""The `salespipe` command line: init, walkthrough, demo, doctor, facts, report, import, export.

Exit codes: 0 fine, 1 only when `doctor` found violations or an import rejected rows (a partial
import under --skip-invalid, or a dry run that found invalid rows), 2 for usage and environment errors
(a message on stderr, never a traceback). `--db` and `--busy-timeout` go before or after the
subcommand. Arguments are checked before any file is created; `doctor` and `report` open the
database read-only and never create or migrate it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence

from . import demo, doctor, walkthrough
from .db import SCHEMA_VERSION, busy_seconds, connect, database_path, default_path
from .errors import NotFound, SalespipeError, ValidationError


def _db(args: argparse.Namespace, *, read_only: bool = False):
    return connect(args.db, busy_timeout=args.busy_timeout, read_only=read_only)


def cmd_init(args: argparse.Namespace) -> int:
    db = _db(args)
    print(f"{db.path}: schema version {db.schema_version()} (this salespipe: {SCHEMA_VERSION})")
    return 0


def cmd_walkthrough(args: argparse.Namespace) -> int:
    db = _db(args)
    print(f"walking one deal from lead to paid invoice on {db.path}\n")
    walkthrough.run(db, say=lambda line: print(f"  {line}"))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    db = _db(args)
    if args.if_empty and db.sql("SELECT count(*) AS n FROM leads")["n"][0] > 0:
        print(f"{db.path} already holds data; keeping it (drop --if-empty to add more)")
        return 0
    print(f"generating {args.leads:,} leads of sales history (seed {args.seed}) into {db.path}", flush=True)
    summary = demo.generate(db, leads=args.leads, seed=args.seed, end=args.end, progress=True)
    print(
        f"done in {summary.seconds:.1f} s: {summary.qualified:,} qualified, {summary.quotes:,} quotes, "
        f"{summary.opportunities_won:,} won, {summary.opportunities_lost:,} lost, {summary.invoices:,} invoices, "
        f"{summary.payments:,} payments"
    )
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    db = _db(args, read_only=True)
    found = doctor.run(db, progress=sys.stderr.isatty())
    if found.empty:
        print(f"{db.path}: all {len(doctor.CHECKS)} invariant checks pass")
        return 0
    print(f"{db.path}: {len(found)} violations of {found['check'].nunique()} checks")
    for chk, group in found.groupby("check", sort=False):
        print(f"\n{chk}:")
        for row in group.head(args.limit).itertuples():
            print(f"  {row.entity} {row.id}: {row.detail}")
        if len(group) > args.limit:
            print(f"  ... and {len(group) - args.limit} more")
    return 1


def cmd_facts(args: argparse.Namespace) -> int:
    from . import facts

    path = database_path(args.db) if args.db else str(default_path())
    if not os.path.exists(path):
        raise NotFound("database", path, hint="no database at this path; give --db PATH of a salespipe database")
    db = _db(args)
    print(f"{db.path}: {facts.refresh(db)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from . import report  # plotly only for this command

    target = report.check_target(args.out)  # before opening anything
    db = _db(args, read_only=True)
    path = report.write(db, target, progress=True)
    print(
        f"wrote {path} ({path.stat().st_size / 1024:,.0f} KB) from {db.path}; open it in a browser, no network needed"
    )
    return 0


def _existing_db(args: argparse.Namespace) -> str:
    """The database path, which must exist (for commands that never create one)."""
    path = database_path(args.db) if args.db else str(default_path())
    if not os.path.exists(path):
        raise NotFound("database", path, hint="no database at this path; give --db PATH of a salespipe database")
    return path


def cmd_import(args: argparse.Namespace) -> int:
    from . import imports
    from .imports import mapping as maps
    from .imports.load import rejects_path

    if args.detect is not None:
        if args.import_command is not None:
            raise ValidationError("--detect FILE takes no other command: run `salespipe import --detect FILE` alone")
        print(imports.detect(args.detect))
        return 0
    if args.import_command is None:
        raise ValidationError(
            "say what to import: salespipe import leads|accounts|contacts|opportunities|opportunity_history FILE "
            "--mapping MAPPING, or salespipe import --detect FILE, salespipe import undo BATCH, salespipe import list"
        )
    if args.import_command == "list":
        _existing_db(args)
        found = imports.batches(_db(args, read_only=True))
        if found.empty:
            print("no import batches yet")
        else:
            print(found.to_string(index=False))
        return 0
    if args.import_command == "undo":
        _existing_db(args)
        try:
            print(imports.undo(_db(args), args.batch))
        except ValidationError as exc:
            if not exc.failures:
                raise
            print(f"salespipe: {exc}", file=sys.stderr)
            for record, entity, why in exc.failures:
                print(f"  {entity} {record}: {why}", file=sys.stderr)
            return 2
        return 0
    kind = args.import_command
    # everything checked before a database file is created
    if not os.path.isfile(args.file):
        raise ValidationError(f"no file at {args.file}: check the path", field="path")
    maps.load(args.mapping, kind)
    rejects_path(args.rejects)
    path = database_path(args.db) if args.db else str(default_path())
    if args.dry_run and not os.path.exists(path):
        print(f"no database at {path} yet: checking against an empty one", file=sys.stderr)
        db = connect(":memory:")
    else:
        db = _db(args, read_only=False)
    try:
        result = imports.load(
            db,
            kind,
            args.file,
            args.mapping,
            dry_run=args.dry_run,
            skip_invalid=args.skip_invalid,
            rejects=args.rejects,
            dates=args.dates,
            timezone=args.timezone,
            progress=sys.stderr.isatty(),
        )
    except imports.ImportRejected as exc:
        print(f"salespipe: {exc.result}", file=sys.stderr)
        print(f"salespipe: REFUSED, nothing was imported: {exc.result.rejected:,} rows are invalid", file=sys.stderr)
        for row in exc.rejects.head(args.limit).itertuples():
            print(f"  row {row.row}, {row.column} = {row.value!r}: {row.reason}", file=sys.stderr)
        _more(exc.rejects, args)
        return 2
    print(result)
    if result.rejected:
        for row in result.rejects.head(args.limit).itertuples():
            print(f"  rejected row {row.row}, {row.column} = {row.value!r}: {row.reason}")
        _more(result.rejects, args, out=sys.stdout)
        return 1
    return 0


def _more(rejects, args: argparse.Namespace, out=None) -> None:
    out = out or sys.stderr
    if len(rejects) > args.limit:
        print(f"  ... and {len(rejects) - args.limit:,} more", file=out)
    if args.rejects:
        print(f"  every problem is in {args.rejects}", file=out)
    elif len(rejects):
        print("  write every problem to a CSV file with --rejects PATH", file=out)


def cmd_export(args: argparse.Namespace) -> int:
    from . import export

    folder = export.check_folder(args.folder)  # before opening anything
    _existing_db(args)
    db = _db(args, read_only=True)
    written = export.write(db, folder, format=args.format, progress=sys.stderr.isatty())
    size = sum(p.stat().st_size for p in written)
    print(
        f"wrote {len(written) - 1} tables and views and _columns.csv ({size / 1024:,.0f} KB) to {folder} from {db.path}"
    )
    return 0


def _add_import(sub, after: list) -> None:
    from .imports.mapping import KINDS

    i = sub.add_parser(
        "import",
        parents=after,
        help="import a CRM export (Salesforce, Dynamics 365, HubSpot, any CSV/Excel/Parquet); undo, list, --detect",
    )
    i.add_argument("--detect", metavar="FILE", help="say which preset fits FILE, and why")
    what = i.add_subparsers(dest="import_command", metavar="KIND|undo|list")
    for kind in KINDS:
        k = what.add_parser(kind, parents=after, help=f"import {kind.replace('_', ' ')} from FILE")
        k.add_argument("file", metavar="FILE", help="the export: CSV/TSV/semicolon text, .xlsx or Parquet")
        k.add_argument("--mapping", required=True, help="a preset (salesforce, dynamics, hubspot) or a TOML mapping")
        k.add_argument(
            "--dry-run", action="store_true", help="check everything and say what would happen; write nothing"
        )
        k.add_argument("--skip-invalid", action="store_true", help="import the valid rows, reject the others (exit 1)")
        k.add_argument("--rejects", metavar="PATH", help="write every problem (row, column, value, reason) to this CSV")
        k.add_argument("--dates", choices=("mdy", "dmy"), help="month-first or day-first for 3/4/2024-style dates")
        k.add_argument("--timezone", metavar="ZONE", help="the zone of times without one (e.g. Europe/Berlin)")
        k.add_argument("--limit", type=_positive, default=10, help="problems shown (default 10)")
    u = what.add_parser("undo", parents=after, help="undo an import batch (refused if its records changed since)")
    u.add_argument("batch", type=_positive, metavar="BATCH", help="the batch id (salespipe import list)")
    what.add_parser("list", parents=after, help="list the import batches")
    i.set_defaults(func=cmd_import)


def _positive(text: str) -> int:
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def _leads(text: str) -> int:
    value = _positive(text)
    if value < demo.MIN_LEADS:
        raise argparse.ArgumentTypeError(f"must be at least {demo.MIN_LEADS}, got {value}")
    return value


def _date(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date such as 2026-11-01") from None


def _seconds(text: str) -> float:
    try:
        return busy_seconds(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0") from None


def _path(text: str) -> str:
    try:
        return database_path(text)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(suppress: bool) -> argparse.ArgumentParser:
    """--db and --busy-timeout, accepted before the subcommand and after it (SUPPRESS keeps the first)."""
    common = argparse.ArgumentParser(add_help=False)
    default = argparse.SUPPRESS if suppress else None
    common.add_argument(
        "--db", type=_path, default=default, help=f"database file (default: SALESPIPE_DB or {default_path()})"
    )
    common.add_argument(
        "--busy-timeout",
        type=_seconds,
        default=default,
        metavar="SECONDS",
        help="seconds to wait while another process holds the file (default: SALESPIPE_BUSY_TIMEOUT or 5)",
    )
    return common


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="salespipe",
        description="The Dynamics 365 sales process over DuckDB: demo data, checks and reports.",
        parents=[_common(suppress=False)],
    )
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    after = [_common(suppress=True)]
    sub.add_parser("init", parents=after, help="create or migrate the database schema").set_defaults(func=cmd_init)
    sub.add_parser(
        "walkthrough", parents=after, help="run one deal from lead to paid invoice and print each step"
    ).set_defaults(func=cmd_walkthrough)
    g = sub.add_parser("demo", parents=after, help="generate realistic demo sales history through the bulk actions")
    g.add_argument("--leads", type=_leads, default=50_000, help="number of leads (default 50,000)")
    g.add_argument("--seed", type=int, default=42, help="random seed: the same seed builds the same database")
    g.add_argument("--end", type=_date, default=None, help="last day of the history, ISO date (default 2026-11-01)")
    g.add_argument("--if-empty", action="store_true", help="do nothing if the database already has leads")
    g.set_defaults(func=cmd_demo)
    d = sub.add_parser("doctor", parents=after, help="check every invariant and list violations (exit 1 if any)")
    d.add_argument("--limit", type=_positive, default=20, help="violations shown per check (default 20)")
    d.set_defaults(func=cmd_doctor)
    sub.add_parser(
        "facts", parents=after, help="bring the dashboards' fact tables up to date (fast dashboards on big files)"
    ).set_defaults(func=cmd_facts)
    r = sub.add_parser(
        "report", parents=after, help="write the dashboard (key numbers and charts) as one offline HTML page"
    )
    r.add_argument("--out", default="reports/dashboard.html", help="the HTML file (default reports/dashboard.html)")
    r.set_defaults(func=cmd_report)
    _add_import(sub, after)
    e = sub.add_parser("export", parents=after, help="write every table and analyst view as Parquet or CSV, read-only")
    e.add_argument("folder", metavar="DIR", help="the folder to write into (created if missing)")
    e.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="file format (default parquet)")
    e.set_defaults(func=cmd_export)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    ap = parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage error (2) or the help (0)
        return int(exc.code or 0)
    if args.command is None:
        ap.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except SalespipeError as exc:
        print(f"salespipe: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nsalespipe: interrupted; every finished step is saved, the one running was rolled back", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
