"""Row-group size benchmark: the single actions of engine_bench on one file laid out in several sizes.

Run: .venv/bin/python bench/row_groups_bench.py --on bench/data/demo_1000000.duckdb [--sizes 16384 32768 122880]

DuckDB's checkpoint at the end of every salespipe write rewrites the updated columns of each row
group an update touched, and the pointers of every row group of each table the write touched.
Smaller groups make the first cheaper and the second dearer. For each size this copies the file
with `COPY FROM DATABASE` into groups of that size (122,880 is DuckDB's default), sets
`salespipe.db.ROW_GROUP_ROWS` so salespipe's writes keep that size, and times `leads.create`,
`leads.qualify`, `quotes.create_order` and `invoices.record_payment` beside the bare open +
INSERT + close of the same copy (engine_bench.bench_existing), all in one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import engine_bench  # noqa: E402

import salespipe as sp  # noqa: E402

DEFAULT = 122_880


def relayout(source: Path, target: Path, rows: int) -> float:
    """Copy every table, view and comment of `source` into `target` in row groups of `rows`; seconds."""
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
    con.execute(f"ATTACH '{target}' AS dst (ROW_GROUP_SIZE {rows})")
    con.execute("COPY FROM DATABASE src TO dst")
    con.close()
    return time.perf_counter() - started


def largest_group(path: Path, table: str) -> tuple[int, int]:
    """(row groups, largest group in rows) of one table."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        groups, largest = con.execute(
            f"SELECT count(DISTINCT row_group_id), max(\"count\") FROM pragma_storage_info('{table}')"
        ).fetchall()[0]
    finally:
        con.close()
    return int(groups), int(largest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--on", type=Path, required=True, help="the database to lay out (e.g. a 1M-lead demo)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[16_384, 32_768, DEFAULT], help="rows per row group")
    ap.add_argument("--single", type=int, default=40, help="samples per single action")
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the copies (default: next to --on)")
    args = ap.parse_args()
    if any(size % 2048 for size in args.sizes):
        ap.error("DuckDB takes row-group sizes that are multiples of 2,048")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}; file {args.on} ({args.on.stat().st_size / 2**20:,.0f} MB)"
    )
    results = []
    folder = args.tmp or args.on.resolve().parent
    for size in args.sizes:
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            laid = Path(tmp) / f"rows_{size}.duckdb"
            seconds = relayout(args.on, laid, size)
            groups = {t: largest_group(laid, t) for t in ("leads", "events")}
            sp.db.ROW_GROUP_ROWS = None if size == DEFAULT else size
            rows = engine_bench.bench_existing(laid, Path(tmp), args.single)
            results.append((size, laid.stat().st_size, seconds, groups, rows))
            print(f"  {size:>7,} rows per group: laid out in {seconds:.1f} s", flush=True)
    names = [name for name, _, _ in results[0][4]]
    print("\n| rows per group | file MB | groups in leads / events | " + " | ".join(names) + " |")
    print("|---" * (3 + len(names)) + "|")
    for size, size_bytes, _, groups, rows in results:
        cells = " | ".join(f"{ms:.1f} ms" for _, ms, _ in rows)
        print(f"| {size:,} | {size_bytes / 2**20:,.0f} | {groups['leads'][0]:,} / {groups['events'][0]:,} | {cells} |")


if __name__ == "__main__":
    main()
