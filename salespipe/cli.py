"""The `salespipe` command line: init, walkthrough, doctor."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import demo, doctor, walkthrough
from .db import SCHEMA_VERSION, connect, default_path
from .errors import SalespipeError


def _db(args: argparse.Namespace):
    return connect(args.db, busy_timeout=args.busy_timeout)


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
    print(f"generating {args.leads:,} leads of sales history (seed {args.seed}) into {db.path}")
    summary = demo.generate(db, leads=args.leads, seed=args.seed, end=args.end, progress=True)
    print(
        f"done in {summary.seconds:.1f} s: {summary.qualified:,} qualified, {summary.quotes:,} quotes, "
        f"{summary.opportunities_won:,} won, {summary.opportunities_lost:,} lost, {summary.invoices:,} invoices, "
        f"{summary.payments:,} payments"
    )
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    db = _db(args)
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


def cmd_report(args: argparse.Namespace) -> int:
    from . import report  # plotly only for this command

    db = _db(args)
    path = report.write(db, args.out, progress=True)
    print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KB); open it in a browser, no network needed")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="salespipe", description="The sales process over DuckDB.")
    ap.add_argument("--db", default=None, help=f"database file (default: SALESPIPE_DB or {default_path()})")
    ap.add_argument("--busy-timeout", type=float, default=None, help="seconds to wait for another process's lock")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or migrate the database schema").set_defaults(func=cmd_init)
    sub.add_parser("walkthrough", help="run one deal from lead to paid invoice and print each step").set_defaults(
        func=cmd_walkthrough
    )
    g = sub.add_parser("demo", help="generate realistic demo sales history through the bulk actions")
    g.add_argument("--leads", type=int, default=50_000, help="number of leads (default 50,000)")
    g.add_argument("--seed", type=int, default=42, help="random seed: the same seed builds the same database")
    g.add_argument("--end", default=None, help="last day of the history, ISO date (default 2026-11-01)")
    g.add_argument("--if-empty", action="store_true", help="do nothing if the database already has leads")
    g.set_defaults(func=cmd_demo)
    d = sub.add_parser("doctor", help="check every invariant and list violations (exit 1 if any)")
    d.add_argument("--limit", type=int, default=20, help="violations shown per check")
    d.set_defaults(func=cmd_doctor)
    r = sub.add_parser("report", help="write the dashboard (key numbers and charts) as one offline HTML page")
    r.add_argument("--db", default=argparse.SUPPRESS, help="database file (as the global --db)")
    r.add_argument("--out", default="reports/dashboard.html", help="the HTML file (default reports/dashboard.html)")
    r.set_defaults(func=cmd_report)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except SalespipeError as exc:
        print(f"salespipe: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
