"""Forms benchmark: what a sales-ops user waits for in the widget forms, on a 1M-lead database.

Run: .venv/bin/python bench/forms_bench.py [--db bench/data/demo_1000000.duckdb] [--repeat 15]

Works on a copy of the database (built first if missing, with
`python -m salespipe --db bench/data/demo_1000000.duckdb demo --leads 1000000 --seed 1`, ~1 min).
Each figure is the median of --repeat runs in Python, as a click in the browser runs it in the
kernel (the browser's round trip comes on top: ~20-50 ms on this machine), beside a baseline
measured in the same run:

- LeadList first page: `LeadList(db)` built and showing page 1, vs. the bare `db.sql` of the
  same page query (SELECT ... ORDER BY lead_id DESC LIMIT 25);
- a filter change (state, owner, source, a one-word and a two-word search, each in turn), vs. the
  bare `db.sql` of the same filtered page query;
- Save of a lead, click to message, vs. `sp.leads.create` alone and vs. open + 1 INSERT + close
  of the file with plain DuckDB;
- Add line with the totals refreshed, click to totals shown, vs. `sp.quotes.add_line` +
  `sp.quotes.totals` alone, and open + 1 INSERT + close.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import ipywidgets
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import salespipe as sp  # noqa: E402
from salespipe import browse  # noqa: E402
from salespipe.forms import LeadForm, LeadList, QuoteBuilder  # noqa: E402

DEFAULT_DB = ROOT / "bench" / "data" / "demo_1000000.duckdb"


def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(action: Callable[[int], object], n: int) -> float:
    samples = []
    for i in range(n):
        t = time.perf_counter()
        action(i)
        samples.append(time.perf_counter() - t)
    return ms(samples)


def floor(path: Path, n: int) -> float:
    """Open the file with plain DuckDB, one INSERT, close: what any short-lived connection pays."""

    def once(_: int) -> None:
        con = duckdb.connect(str(path))
        con.execute("CREATE TABLE IF NOT EXISTS _floor (x INTEGER)")
        con.execute("INSERT INTO _floor VALUES (1)")
        con.close()

    value = timed(once, n)
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE _floor")
    con.close()
    return value


def bare_page(db: sp.Database, **filters: object) -> pd.DataFrame:
    where, params = browse._lead_filter(
        filters.get("state"), filters.get("owner"), filters.get("source"), filters.get("search")
    )
    query = f"SELECT {', '.join(browse.LEAD_COLUMNS)} FROM leads{where} ORDER BY lead_id DESC LIMIT 25"
    return db.sql(query, params)


def run(path: Path, n: int) -> list[tuple[str, float, str, float, int | None]]:
    db = sp.connect(path)
    rows = []

    first = timed(lambda _: LeadList(db), n)
    rows.append(("LeadList first page", first, "db.sql of the page query", timed(lambda _: bare_page(db), n), 200))

    owner = browse.owners(db)[0]
    changes = [
        ("state", "open"),
        ("owner", owner),
        ("source", "partner"),
        ("search", "smith"),
        ("search", "kathryn ltd"),
    ]
    lead_list = LeadList(db)
    for field, value in changes:  # set, clear, set, clear ...: each is a filter change (and ends unfiltered)

        def change(i: int, field: str = field, value: str = value) -> None:
            lead_list.fields[field].value = value if i % 2 == 0 else ""

        def bare(i: int, field: str = field, value: str = value) -> None:
            bare_page(db, **({field: value} if i % 2 == 0 else {}))

        label = f"filter change: {field} = {value!r}"
        rows.append((label, timed(change, 2 * n), "db.sql of the page query", timed(bare, 2 * n), 200))

    form = LeadForm(db)
    samples = []
    for i in range(n):  # typing is not timed; the click is, until the message shows
        form.fields["last_name"].value = f"Bench{i}"
        form.fields["company"].value = "Contoso Ltd"
        form.fields["email"].value = f"bench{i}@contoso.com"
        form.fields["estimated_value"].value = "12,500.00"
        t = time.perf_counter()
        form.buttons["Save"].click()
        samples.append(time.perf_counter() - t)
        assert form.message.endswith("created"), form.message
    saved = ms(samples)
    api = timed(
        lambda i: sp.leads.create(db, last_name=f"Api{i}", company="Contoso Ltd", email=f"api{i}@contoso.com"), n
    )
    rows.append(("Save of a lead, click to message", saved, "leads.create alone", api, 100))

    opp = int(browse.open_opportunities(db, limit=1)["opportunity_id"].iloc[0])
    builder = QuoteBuilder(db, opportunity=opp)
    builder.buttons["New quote"].click()
    sku = builder.fields["sku"].options[0][1]
    line_samples: list[float] = []
    for _ in range(n):
        builder.fields["sku"].value = sku
        builder.fields["quantity"].value = "3"
        t = time.perf_counter()
        builder.buttons["Add line"].click()
        line_samples.append(time.perf_counter() - t)
        assert builder.message.startswith("Line "), builder.message
    quote = sp.quotes.create(db, opp)
    bare_line = timed(lambda _: (sp.quotes.add_line(db, quote, sku=sku, quantity="3"), sp.quotes.totals(db, quote)), n)
    rows.append(("Add line, totals refreshed", ms(line_samples), "add_line + totals alone", bare_line, 100))
    base = floor(path, n)
    rows.append(("(baseline for writes)", base, "open + 1 INSERT + close", base, None))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, default=DEFAULT_DB, help="the database to copy (default: the 1M-lead demo)")
    ap.add_argument("--repeat", type=int, default=15, help="runs per measurement (the median is shown)")
    args = ap.parse_args()
    if not args.db.exists():
        print(f"building {args.db} (1,000,000 demo leads, seed 1; about a minute)")
        subprocess.run(
            [sys.executable, "-m", "salespipe", "--db", str(args.db), "demo", "--leads", "1000000", "--seed", "1"],
            check=True,
        )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}, ipywidgets {ipywidgets.__version__}; "
        f"{args.db.name} ({args.db.stat().st_size / 1e6:,.0f} MB), median of {args.repeat}"
    )
    with tempfile.TemporaryDirectory(dir=args.db.parent) as tmp:
        path = Path(tmp) / "copy.duckdb"
        shutil.copy(args.db, path)
        rows = run(path, args.repeat)
    width = max(len(r[0]) for r in rows)
    for name, value, baseline_name, baseline, target in rows:
        if target is None:
            print(f"  {name:{width}s}  {value:7.1f} ms")
            continue
        verdict = f"target <= {target} ms: {'met' if value <= target else 'MISSED'}"
        print(f"  {name:{width}s}  {value:7.1f} ms   {verdict}   baseline ({baseline_name}): {baseline:6.1f} ms")


if __name__ == "__main__":
    main()
