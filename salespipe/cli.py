"""The `salespipe` command line: init, walkthrough, demo, doctor, report.

Exit codes: 0 fine, 1 only when `doctor` found violations, 2 for usage and environment errors
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
