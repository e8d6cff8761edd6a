"""Several writer processes plus dashboard readers on one database file (issue 10 §2).

Run: .venv/bin/python bench/writers_bench.py --on bench/data/demo_1000000.duckdb
         [--writers 1 2 4 8] [--readers 2] [--seconds 60] [--repeat 1] [--json PATH]
     without --on, the --leads N demo (default 1,000,000) is built (or reused) under bench/data/.

For each writer count, on a fresh copy of the file (copied into a temporary folder and deleted
after, so every configuration starts from the same data):

- each writer is a spawned process that loops full deals through the public API on its own
  `sp.connect(path)` handle (which attaches the file per call, never holding it):
  leads.create, leads.qualify, quotes.create (one line of a demo product), quotes.activate,
  quotes.create_order, orders.fulfill, orders.create_invoice, invoices.totals (a read, for the
  balance), invoices.record_payment of the balance;
- each reader is a spawned process that loops the dashboard metrics on
  `sp.connect(path, read_only=True)`: funnel by month, win rate by owner, pipeline.

Every process waits at one barrier, then runs for --seconds. The default busy timeout is used
(none is passed). A transition is one successful call of a state-changing public action (the
eight writer actions above except invoices.totals); a `Busy` is counted, the deal abandoned,
and the writer goes on with the next deal. Afterwards the copy is checked: the bench's leads and
paid invoices in the file match what the writers reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import queue
import random
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import salespipe as sp  # noqa: E402

ACTIONS = (
    "leads.create",
    "leads.qualify",
    "quotes.create",
    "quotes.activate",
    "quotes.create_order",
    "orders.fulfill",
    "orders.create_invoice",
    "invoices.totals",
    "invoices.record_payment",
)
READS = frozenset({"invoices.totals"})  # timed, but not a transition
DOMAIN = "writers-bench.example"  # every bench lead's email ends with it


# -- the processes -----------------------------------------------------------------------------


def deal(db: sp.Database, tag: str, state: dict[str, Any], rng: random.Random, setup: dict[str, list[str]]) -> tuple:
    """The steps of one full deal: (action, call, the key its result is kept under in state)."""
    return (
        (
            "leads.create",
            lambda: sp.leads.create(
                db,
                first_name="Bench",
                last_name=f"Writer {tag}",
                email=f"{tag}@{DOMAIN}",
                company=f"Bench {tag} Ltd",
                topic="writers bench",
                source=rng.choice(setup["sources"]),
                owner=rng.choice(setup["owners"]),
                estimated_value=Decimal(rng.randrange(1_000, 100_000)),
            ),
            "lead",
        ),
        ("leads.qualify", lambda: sp.leads.qualify(db, state["lead"]).opportunity_id, "opp"),
        (
            "quotes.create",
            lambda: sp.quotes.create(db, state["opp"], lines=[(rng.choice(setup["skus"]), rng.randint(1, 20))]),
            "quote",
        ),
        ("quotes.activate", lambda: sp.quotes.activate(db, state["quote"]), None),
        ("quotes.create_order", lambda: sp.quotes.create_order(db, state["quote"]), "order"),
        ("orders.fulfill", lambda: sp.orders.fulfill(db, state["order"]), None),
        ("orders.create_invoice", lambda: sp.orders.create_invoice(db, state["order"]), "invoice"),
        ("invoices.totals", lambda: sp.invoices.totals(db, state["invoice"]).balance, "balance"),
        ("invoices.record_payment", lambda: sp.invoices.record_payment(db, state["invoice"], state["balance"]), None),
    )


def writer(path: str, index: int, setup: dict[str, list[str]], seconds: float, barrier: Any, out: Any) -> None:
    """Loop full deals until the time is up; put the samples on `out`."""
    samples: dict[str, list[float]] = {a: [] for a in ACTIONS}
    busy: dict[str, int] = {}
    errors: list[str] = []
    deals = transitions = 0
    rng = random.Random(index)
    elapsed = 0.0
    try:
        db = sp.connect(path)
        barrier.wait()
        start = time.perf_counter()
        deadline = start + seconds
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            tag = f"w{index}-{n}"
            state: dict[str, Any] = {}
            steps = deal(db, tag, state, rng, setup)
            done = True
            for action, call, keep in steps:
                if time.perf_counter() >= deadline:
                    done = False
                    break
                t = time.perf_counter()
                try:
                    result = call()
                except sp.Busy:
                    busy[action] = busy.get(action, 0) + 1
                    done = False
                    break
                except sp.SalespipeError as exc:  # not expected: keep the first few, go on
                    if len(errors) < 5:
                        errors.append(f"{action}: {type(exc).__name__}: {exc}")
                    done = False
                    break
                samples[action].append(time.perf_counter() - t)
                transitions += action not in READS
                if keep:
                    state[keep] = result
            deals += done
        elapsed = time.perf_counter() - start
    except Exception as exc:  # a crash is reported, not hidden in a child's stderr
        barrier.abort()  # before the start: let nobody wait for this process
        errors.append(f"writer crashed: {type(exc).__name__}: {exc}")
    out.put(
        {
            "role": "writer",
            "index": index,
            "samples": samples,
            "busy": busy,
            "errors": errors,
            "deals": deals,
            "transitions": transitions,
            "elapsed": elapsed,
        }
    )


def reader(path: str, index: int, seconds: float, barrier: Any, out: Any) -> None:
    """Loop the dashboard metrics read-only until the time is up; put the loop times on `out`."""
    loops: list[float] = []
    busy, errors = 0, []
    try:
        db = sp.connect(path, read_only=True)
        barrier.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            try:
                sp.metrics.funnel(db, period="month")
                sp.metrics.win_rate(db, by="owner")
                sp.metrics.pipeline(db)
            except sp.Busy:
                busy += 1
                continue
            except sp.SalespipeError as exc:
                if len(errors) < 5:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            loops.append(time.perf_counter() - t)
    except Exception as exc:
        barrier.abort()
        errors.append(f"reader crashed: {type(exc).__name__}: {exc}")
    out.put({"role": "reader", "index": index, "loops": loops, "busy": busy, "errors": errors})


# -- one configuration -------------------------------------------------------------------------


def percentiles(values: list[float], scale: float) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50) * scale, float(p99) * scale


def run_config(source: Path, writers: int, readers: int, seconds: float, setup: dict[str, list[str]]) -> dict:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="writers_bench_") as tmp:
        path = Path(tmp) / source.name
        shutil.copy(source, path)
        if Path(f"{source}.wal").exists():
            shutil.copy(f"{source}.wal", f"{path}.wal")
        barrier = ctx.Barrier(writers + readers + 1)
        out = ctx.Queue()
        procs = [ctx.Process(target=writer, args=(str(path), i, setup, seconds, barrier, out)) for i in range(writers)]
        procs += [ctx.Process(target=reader, args=(str(path), i, seconds, barrier, out)) for i in range(readers)]
        for p in procs:
            p.start()
        try:
            barrier.wait(timeout=300)  # every child imported and connected
        except Exception:
            time.sleep(2)
            for p in procs:
                p.terminate()
            while not out.empty():
                for e in out.get()["errors"]:
                    print(f"  error: {e}")
            raise SystemExit("the processes did not all reach the start barrier") from None
        results: list[dict] = []
        limit = time.monotonic() + seconds + 300
        while len(results) < len(procs) and time.monotonic() < limit:
            try:
                results.append(out.get(timeout=1))
            except queue.Empty:
                if not any(p.is_alive() for p in procs) and out.empty():
                    break
        for p in procs:
            p.join(timeout=30)
        db = sp.connect(path, read_only=True)
        in_file = db.sql(
            f"""SELECT (SELECT count(*) FROM leads WHERE email LIKE '%@{DOMAIN}') AS leads,
                       (SELECT count(*) FROM invoices i JOIN opportunities o USING (opportunity_id)
                        JOIN leads l ON l.lead_id = o.lead_id
                        WHERE l.email LIKE '%@{DOMAIN}' AND i.state = 'paid') AS paid"""
        ).iloc[0]
    return summarize(writers, readers, seconds, results, int(in_file["leads"]), int(in_file["paid"]))


def summarize(writers: int, readers: int, seconds: float, results: list[dict], leads: int, paid: int) -> dict:
    ws = sorted((r for r in results if r["role"] == "writer"), key=lambda r: r["index"])
    rs = sorted((r for r in results if r["role"] == "reader"), key=lambda r: r["index"])
    actions = {}
    for a in ACTIONS:
        values = [s for w in ws for s in w["samples"][a]]
        p50, p99 = percentiles(values, 1000)
        actions[a] = {"n": len(values), "p50_ms": p50, "p99_ms": p99, "busy": sum(w["busy"].get(a, 0) for w in ws)}
    loops = [s for r in rs for s in r["loops"]]
    r50, r99 = percentiles(loops, 1)
    deals = [w["deals"] for w in ws]
    return {
        "writers": writers,
        "readers": readers,
        "seconds": seconds,
        "processes_reported": f"{len(ws)}/{writers} writers, {len(rs)}/{readers} readers",
        "transitions": sum(w["transitions"] for w in ws),
        "transitions_per_s": sum(w["transitions"] / w["elapsed"] for w in ws if w["elapsed"] > 0),
        "deals_completed": sum(deals),
        "deals_per_writer": deals,
        "actions": actions,
        "busy_writers": sum(sum(w["busy"].values()) for w in ws),
        "busy_readers": sum(r["busy"] for r in rs),
        "reader_loops": [len(r["loops"]) for r in rs],
        "reader_p50_s": r50,
        "reader_p99_s": r99,
        "errors": [e for x in ws + rs for e in x["errors"]],
        "check": {
            "leads_created": actions["leads.create"]["n"],
            "leads_in_file": leads,
            "paid_reported": actions["invoices.record_payment"]["n"],
            "paid_in_file": paid,
        },
    }


# -- output ------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def show(r: dict) -> None:
    print(
        f"\n{r['writers']} writer(s), {r['readers']} reader(s), {r['seconds']:g} s ({r['processes_reported']})\n"
        f"  transitions/s {r['transitions_per_s']:.1f} ({r['transitions']:,} transitions), "
        f"deals completed {r['deals_completed']:,}, Busy: writers {r['busy_writers']}, readers {r['busy_readers']}"
    )
    print(f"  {'action':26s} {'calls':>7s} {'p50 ms':>8s} {'p99 ms':>8s} {'Busy':>5s}")
    for a, s in r["actions"].items():
        name = f"{a} (read)" if a in READS else a
        print(f"  {name:26s} {s['n']:7d} {fmt(s['p50_ms'], 1):>8s} {fmt(s['p99_ms'], 1):>8s} {s['busy']:5d}")
    print(
        f"  readers: loops {r['reader_loops']} (funnel + win_rate + pipeline), "
        f"p50 {fmt(r['reader_p50_s'], 3)} s, p99 {fmt(r['reader_p99_s'], 3)} s"
    )
    deals = r["deals_per_writer"] or [0]
    fair = min(deals) > 0 and all(n > 0 for n in r["reader_loops"]) and len(r["reader_loops"]) == r["readers"]
    print(
        f"  no starvation: deals per writer min {min(deals)} / max {max(deals)}"
        f" (min/max {min(deals) / max(max(deals), 1):.2f}), reader loops > 0: "
        f"{all(n > 0 for n in r['reader_loops'])} -> {'ok' if fair else 'STARVED'}"
    )
    c = r["check"]
    ok = c["leads_created"] == c["leads_in_file"] and c["paid_reported"] == c["paid_in_file"]
    print(
        f"  in the file: {c['leads_in_file']} bench leads (reported {c['leads_created']}), "
        f"{c['paid_in_file']} paid (reported {c['paid_reported']}) -> {'ok' if ok else 'MISMATCH'}"
    )
    for e in r["errors"]:
        print(f"  error: {e}")


def show_summary(runs: list[dict]) -> None:
    print(f"\n{'run':>3s} {'writers':>7s} {'readers':>7s} {'trans/s':>8s} {'deals':>6s} {'Busy w':>6s} {'Busy r':>6s} "
          f"{'reader loops':>12s} {'reader p50 s':>12s} {'reader p99 s':>12s}")  # fmt: skip
    for r in runs:
        print(
            f"{r['run']:3d} {r['writers']:7d} {r['readers']:7d} {r['transitions_per_s']:8.1f} {r['deals_completed']:6d} "
            f"{r['busy_writers']:6d} {r['busy_readers']:6d} {sum(r['reader_loops']):12d} "
            f"{fmt(r['reader_p50_s'], 3):>12s} {fmt(r['reader_p99_s'], 3):>12s}"
        )
    four = [r for r in runs if r["writers"] == 4]
    if four:
        busy = sum(r["busy_writers"] + r["busy_readers"] for r in four)
        print(f"target: no Busy at 4 writers -> {'met' if busy == 0 else f'MISSED ({busy} Busy)'}")


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "salespipe_busy_timeout": os.environ.get("SALESPIPE_BUSY_TIMEOUT", "default (5 s)"),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--on", type=Path, help="database file to run on (a copy of it, per configuration)")
    ap.add_argument("--leads", type=int, default=1_000_000, help="demo size to build or reuse when --on is absent")
    ap.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4, 8], help="writer counts to run")
    ap.add_argument("--readers", type=int, default=2, help="reader processes in every configuration")
    ap.add_argument("--seconds", type=float, default=60.0, help="run time of each configuration")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each configuration")
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = ap.parse_args()
    if min(args.writers) < 1 or args.readers < 0 or args.seconds <= 0 or args.repeat < 1:
        ap.error("--writers must be >= 1, --readers >= 0, --seconds > 0, --repeat >= 1")
    if args.on is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from metrics_bench import demo_db

        source = demo_db(args.leads)
    else:
        source = args.on.expanduser()
        if not source.is_file():
            ap.error(f"--on {source}: no such file")
    info = machine()
    print(
        f"machine: {info['platform']}, {info['cpus']} CPUs, Python {info['python']}, duckdb {info['duckdb']}; "
        f"{info['date']}; busy timeout {info['salespipe_busy_timeout']}"
    )
    db = sp.connect(source, read_only=True)
    setup = {
        "skus": sp.catalog.products(db)["sku"].tolist(),
        "owners": sp.team.owners(db)["owner"].tolist() or ["bench"],
        "sources": db.sql("SELECT DISTINCT source FROM leads WHERE source IS NOT NULL ORDER BY 1")["source"].tolist()
        or ["web"],
    }
    if not setup["skus"]:
        raise SystemExit(f"{source} has no products on its default price list: use a demo database")
    print(f"on a copy of {source} ({source.stat().st_size / 1e6:,.0f} MB) per configuration")
    print("transition = one successful call of a state-changing public action (invoices.totals is a read)")
    runs = []
    for writers in args.writers:
        for k in range(args.repeat):
            r = run_config(source, writers, args.readers, args.seconds, setup)
            r["run"] = k + 1
            runs.append(r)
            show(r)
    show_summary(runs)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "source": str(source), "runs": runs}, indent=2))
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
