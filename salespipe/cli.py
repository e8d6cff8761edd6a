"""The `salespipe` command line: init, walkthrough, doctor."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import doctor, walkthrough
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


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="salespipe", description="The sales process over DuckDB.")
    ap.add_argument("--db", default=None, help=f"database file (default: SALESPIPE_DB or {default_path()})")
    ap.add_argument("--busy-timeout", type=float, default=None, help="seconds to wait for another process's lock")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or migrate the database schema").set_defaults(func=cmd_init)
    sub.add_parser("walkthrough", help="run one deal from lead to paid invoice and print each step").set_defaults(
        func=cmd_walkthrough
    )
    d = sub.add_parser("doctor", help="check every invariant and list violations (exit 1 if any)")
    d.add_argument("--limit", type=int, default=20, help="violations shown per check")
    d.set_defaults(func=cmd_doctor)
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
