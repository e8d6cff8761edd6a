"""Match-key indexes benchmark: `leads.qualify` with and without schema v12's indexes, interleaved.

Run: .venv/bin/python bench/match_keys_bench.py --on bench/data/demo_1000000.duckdb [--samples 60]
     .venv/bin/python bench/match_keys_bench.py --leads 20000     (a small file made here)

Two copies of one file, one with the indexes on contacts.email_key and accounts.name_key
(migration 0012) and one with them dropped; the calls alternate between the copies, so both
sides see the same machine. Each side qualifies the same leads: the newest open ones (as most
leads are qualified soon after they come in), then the oldest. Printed: the medians, and the
contact lookup alone (the statement qualify runs, for 200 leads' emails) on each copy, read-only.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import engine_bench  # noqa: E402

import salespipe as sp  # noqa: E402

LOOKUP = "SELECT min(contact_id), arg_min(account_id, contact_id) FROM contacts WHERE email_key = ?"


def interleaved(dbs: dict[str, sp.Database], leads: list[int]) -> dict[str, float]:
    """Median ms of qualifying `leads` on each database, the calls alternating."""
    times: dict[str, list[float]] = {name: [] for name in dbs}
    for lead in leads:
        for name, db in dbs.items():
            started = time.perf_counter()
            sp.leads.qualify(db, lead)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def lookup_ms(path: Path, keys: list[str]) -> float:
    """Median ms of the contact lookup alone, on one open connection."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        samples = []
        for key in keys:
            started = time.perf_counter()
            con.execute(LOOKUP, [key]).fetchall()
            samples.append(time.perf_counter() - started)
    finally:
        con.close()
    return statistics.median(samples) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--on", type=Path, help="the database to copy (e.g. a 1M-lead demo)")
    ap.add_argument("--leads", type=int, default=20_000, help="without --on: leads of a file made here")
    ap.add_argument("--samples", type=int, default=60, help="leads qualified per side and kind")
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the copies")
    args = ap.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}"
    )
    folder = args.tmp or (args.on.resolve().parent if args.on else None)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        with_idx, without = Path(tmp) / "with.duckdb", Path(tmp) / "without.duckdb"
        if args.on:
            shutil.copy(args.on, with_idx)
        else:
            sp.leads.create_many(sp.connect(with_idx), engine_bench.lead_frame(args.leads))
        sp.connect(with_idx).close()  # migrated (the indexes exist) and checkpointed: the file alone is whole
        shutil.copy(with_idx, without)
        con = duckdb.connect(str(without))
        con.execute("DROP INDEX contacts_email_key")
        con.execute("DROP INDEX accounts_name_key")
        con.close()
        dbs = {"with the indexes": sp.connect(with_idx), "without": sp.connect(without)}
        size = with_idx.stat().st_size / 2**20
        print(f"file: {args.on or f'{args.leads:,} leads made here'} ({size:,.0f} MB), {args.samples} leads per row")
        first = dbs["with the indexes"]
        newest = first.sql(
            "SELECT lead_id FROM leads WHERE state = 'open' ORDER BY lead_id DESC LIMIT ?", [args.samples]
        )["lead_id"].tolist()
        oldest = first.sql("SELECT lead_id FROM leads WHERE state = 'open' ORDER BY lead_id LIMIT ?", [args.samples])[
            "lead_id"
        ].tolist()
        keys = first.sql("SELECT email_key(email) AS k FROM leads WHERE email IS NOT NULL USING SAMPLE 200 ROWS")[
            "k"
        ].tolist()  # the emails of leads: found or not, as qualify looks them up
        rows = [
            (
                "contact lookup alone",
                {"with the indexes": lookup_ms(with_idx, keys), "without": lookup_ms(without, keys)},
            ),
            ("leads.qualify, the newest open leads", interleaved(dbs, newest)),
            ("leads.qualify, the oldest open leads", interleaved(dbs, oldest)),
        ]
    print("\n| | with the indexes | without |")
    print("|---|---|---|")
    for what, ms in rows:
        print(f"| {what} | {ms['with the indexes']:.1f} ms | {ms['without']:.1f} ms |")


if __name__ == "__main__":
    main()
