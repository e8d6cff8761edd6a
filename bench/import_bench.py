"""Benchmark: importing CRM exports of 1,000,000 rows (issue 9), beside DuckDB's own read_csv.

    .venv/bin/python bench/import_bench.py [--rows 1000000] [--repeat 2]

Builds two Salesforce Data Export-style files in bench/data/ (once): Lead.csv (open, working and
not-converted leads) and Opportunity.csv (60% closed, won or lost, with account names: ~50,000
accounts are created from them). Each run, on a fresh database file, times

- a --dry-run of the leads (target <= 15 s), then their import, with validation (target <= 30 s);
- a --dry-run of the opportunities (target <= 15 s);
- the import of the opportunities with their outcomes, transitions and events (target <= 60 s);

and, in the same run, the baseline: DuckDB's read_csv of each file into a table (no checks).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import salespipe as sp  # noqa: E402
from salespipe import imports  # noqa: E402

DATA = ROOT / "bench" / "data"
TARGETS = {"leads": 30.0, "leads (dry run)": 15.0, "opportunities (dry run)": 15.0, "opportunities": 60.0}


def build_leads(path: Path, rows: int) -> None:
    con = duckdb.connect()
    con.execute(
        f"""COPY (
            SELECT '00Q' || lpad(i::VARCHAR, 12, '0') || 'EAB' AS Id, 'Ada' || (i % 977) AS FirstName,
                   'Lovelace' || i AS LastName, 'ada' || i || '@example.com' AS Email,
                   'Company ' || (i % 50000) || ' Ltd' AS Company, (['Web', 'Phone Inquiry', 'Partner Referral',
                   'Trade Show'])[1 + i % 4] AS LeadSource, '005OWNER' || (i % 40) AS OwnerId,
                   (['Open - Not Contacted', 'Working - Contacted', 'Closed - Not Converted'])[1 + i % 3] AS Status,
                   'FALSE' AS IsConverted,
                   strftime(TIMESTAMP '2023-01-01' + INTERVAL (i % 700) DAY + INTERVAL (i % 86400) SECOND,
                            '%Y-%m-%d %H:%M:%S') AS CreatedDate,
                   strftime(TIMESTAMP '2025-01-01' + INTERVAL (i % 300) DAY, '%Y-%m-%d %H:%M:%S') AS LastModifiedDate
            FROM range({rows}) t(i)) TO '{path}' (HEADER, DELIMITER ',')"""
    )


def build_opportunities(path: Path, rows: int) -> None:
    con = duckdb.connect()
    con.execute(
        f"""COPY (
            SELECT '006' || lpad(i::VARCHAR, 12, '0') || 'AA5' AS Id, 'Deal ' || i AS Name,
                   'Company ' || (i % 50000) || ' Ltd' AS "Account Name",
                   CASE WHEN i % 10 < 3 THEN 'Closed Won' WHEN i % 10 < 6 THEN 'Closed Lost'
                        ELSE (['Prospecting', 'Qualification', 'Negotiation/Review'])[1 + i % 3] END AS StageName,
                   CASE WHEN i % 10 < 6 THEN 'TRUE' ELSE 'FALSE' END AS IsClosed,
                   CASE WHEN i % 10 < 3 THEN 'TRUE' ELSE 'FALSE' END AS IsWon,
                   ((i % 900) * 100 + 1000)::VARCHAR || '.00' AS Amount, (i % 10 * 10)::VARCHAR AS Probability,
                   strftime(DATE '2024-03-01' + INTERVAL (i % 500) DAY, '%Y-%m-%d') AS CloseDate,
                   strftime(TIMESTAMP '2023-01-01' + INTERVAL (i % 400) DAY + INTERVAL (i % 86400) SECOND,
                            '%Y-%m-%d %H:%M:%S') AS CreatedDate,
                   '005OWNER' || (i % 40) AS OwnerId,
                   (['Web', 'Partner', 'Trade Show'])[1 + i % 3] AS LeadSource
            FROM range({rows}) t(i)) TO '{path}' (HEADER, DELIMITER ',')"""
    )


def baseline(path: Path) -> float:
    """DuckDB's read_csv of the file into an in-memory table: no checks, no transitions."""
    con = duckdb.connect()
    started = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', all_varchar = true)")
    return time.perf_counter() - started


def one_run(leads: Path, opportunities: Path, run: int, doctor: bool = False) -> dict[str, float]:
    target = DATA / f"import_bench_{run}.duckdb"
    for suffix in ("", ".wal", ".lock", ".gate"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    db = sp.connect(target)
    out = {}
    started = time.perf_counter()
    result = imports.load(db, "leads", leads, "salesforce", dry_run=True)
    out["leads (dry run)"] = time.perf_counter() - started
    print(f"  leads dry run: {result.created:,} would be created in {out['leads (dry run)']:.1f} s", flush=True)
    started = time.perf_counter()
    result = imports.load(db, "leads", leads, "salesforce")
    out["leads"] = time.perf_counter() - started
    print(f"  leads: {result.created:,} created in {out['leads']:.1f} s", flush=True)
    started = time.perf_counter()
    result = imports.load(db, "opportunities", opportunities, "salesforce", dry_run=True)
    out["opportunities (dry run)"] = time.perf_counter() - started
    print(f"  opportunities dry run: {result.created:,} would be created in {out['opportunities (dry run)']:.1f} s")
    started = time.perf_counter()
    result = imports.load(db, "opportunities", opportunities, "salesforce")
    out["opportunities"] = time.perf_counter() - started
    events = int(db.sql("SELECT count(*) AS n FROM events")["n"][0])
    print(f"  opportunities: {result.created:,} created in {out['opportunities']:.1f} s ({events:,} events in all)")
    if doctor:
        started = time.perf_counter()
        found = sp.doctor.run(db)
        print(f"  doctor: {len(found)} violations ({time.perf_counter() - started:.1f} s)")
    for suffix in ("", ".wal", ".lock", ".gate"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--doctor", action="store_true", help="run doctor on the first run's database (slow)")
    args = ap.parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    leads, opportunities = DATA / f"Lead_{args.rows}.csv", DATA / f"Opportunity_{args.rows}.csv"
    if not leads.exists():
        build_leads(leads, args.rows)
    if not opportunities.exists():
        build_opportunities(opportunities, args.rows)
    print(
        f"{leads.name}: {leads.stat().st_size / 1e6:.0f} MB, {opportunities.name}: "
        f"{opportunities.stat().st_size / 1e6:.0f} MB"
    )
    runs, bases = [], {"leads": [], "opportunities": []}
    for run in range(1, args.repeat + 1):
        print(f"run {run}:", flush=True)
        bases["leads"].append(baseline(leads))
        bases["opportunities"].append(baseline(opportunities))
        runs.append(one_run(leads, opportunities, run, doctor=args.doctor and run == 1))
    print("\n| what | seconds (each run) | target | baseline: DuckDB read_csv of the same file |")
    print("|---|---|---|---|")
    for name, target in TARGETS.items():
        times = " / ".join(f"{r[name]:.1f}" for r in runs)
        base = " / ".join(f"{b:.2f}" for b in bases["leads" if name.startswith("leads") else "opportunities"])
        met = "met" if max(r[name] for r in runs) <= target else "**missed**"
        print(f"| {name}, {args.rows:,} rows | {times} | <= {target:.0f} s: {met} | {base} s |")
    print(f"\nmedian leads import: {statistics.median(r['leads'] for r in runs):.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
