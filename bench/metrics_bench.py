"""Dashboard query set: salespipe.metrics on DuckDB vs. pandas in memory vs. SQLite, same data.

Run: .venv/bin/python bench/metrics_bench.py --leads 1000000 [--leads 10000000] [--repeat 5]

For each size it builds (or reuses) a demo database under bench/data/, then times the set the
dashboard opens with — funnel by month x source, win rate by owner, pipeline by phase — three
ways over the same data, and checks that the three give the same numbers:

- salespipe: the public functions, through a `sp.connect()` handle (attach, query, detach);
- pandas: the needed columns of the raw tables loaded into DataFrames first (not timed), then
  vectorized merges and groupbys;
- SQLite: the same tables copied into an SQLite file with indexes on the join keys (not timed),
  then the same questions in SQL.

Each timing is the median of --repeat runs. Results and ratios are printed as a table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import salespipe as sp  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
TARGET_SECONDS, TARGET_VS_PANDAS, TARGET_VS_SQLITE = 1.0, 3.0, 30.0


def demo_db(leads: int) -> Path:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"demo_{leads}.duckdb"
    if not path.exists():
        print(f"generating {leads:,} demo leads into {path} (once; reused by later runs)")
        tmp = path.with_suffix(".tmp.duckdb")
        for p in (tmp, Path(f"{tmp}.wal")):
            p.unlink(missing_ok=True)
        summary = sp.demo.generate(sp.connect(tmp), leads=leads, seed=1, progress=True)
        print(f"  generated in {summary.seconds:.1f} s")
        tmp.rename(path)
        for side in (".gate", ".lock"):  # the temporary file's lock files: the new name gets its own
            Path(f"{tmp}{side}").unlink(missing_ok=True)
    return path


# -- salespipe ---------------------------------------------------------------------------------


def run_salespipe(db: sp.Database) -> dict[str, pd.DataFrame]:
    return {
        "funnel": sp.metrics.funnel(db, period="month", by="source"),
        "win_rate": sp.metrics.win_rate(db, by="owner"),
        "pipeline": sp.metrics.pipeline(db),
    }


# -- pandas ------------------------------------------------------------------------------------


def load_frames(db: sp.Database) -> dict[str, pd.DataFrame]:
    return {
        "leads": db.sql("SELECT lead_id, created_at, source, state, opportunity_id FROM leads"),
        "opps": db.sql(
            "SELECT opportunity_id, owner, state, estimated_value, probability, actual_value FROM opportunities"
        ),
        "quotes": db.sql("SELECT opportunity_id, state FROM quotes"),
        "invoices": db.sql("SELECT opportunity_id, state FROM invoices"),
    }


def run_pandas(f: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    leads, opps, quotes, invoices = f["leads"], f["opps"], f["quotes"], f["invoices"]
    quoted = pd.Index(quotes["opportunity_id"].unique())
    invoiced = pd.Index(invoices["opportunity_id"].unique())
    paid = pd.Index(invoices.loc[invoices["state"] == "paid", "opportunity_id"].unique())
    won = pd.Index(opps.loc[opps["state"] == "won", "opportunity_id"])
    opp = leads["opportunity_id"]
    stages = pd.DataFrame(
        {
            "period": leads["created_at"].dt.to_period("M").dt.start_time,
            "source": leads["source"],
            "lead": 1,
            "qualified": (leads["state"] == "qualified").astype(int),
            "quoted": opp.isin(quoted).astype(int),
            "won": opp.isin(won).astype(int),
            "invoiced": opp.isin(invoiced).astype(int),
            "paid": opp.isin(paid).astype(int),
        }
    )
    funnel = stages.groupby(["period", "source"], sort=True).sum().stack().rename("count").reset_index()
    funnel = funnel.rename(columns={"level_2": "stage"})

    o = opps.assign(
        won=(opps["state"] == "won").astype(int),
        lost=(opps["state"] == "lost").astype(int),
        open=(opps["state"] == "open").astype(int),
        won_value=opps["actual_value"].where(opps["state"] == "won", 0.0),
    )
    win = o.groupby("owner", sort=True)[["won", "lost", "open", "won_value"]].sum().reset_index()
    win["win_rate"] = win["won"] / (win["won"] + win["lost"])

    open_opps = opps[opps["state"] == "open"]
    q = quotes[quotes["opportunity_id"].isin(open_opps["opportunity_id"])]
    active = pd.Index(q.loc[q["state"] == "active", "opportunity_id"].unique())
    draft = pd.Index(q.loc[q["state"] == "draft", "opportunity_id"].unique())
    phase = np.where(
        open_opps["opportunity_id"].isin(active),
        "propose",
        np.where(open_opps["opportunity_id"].isin(draft), "develop", "qualify"),
    )
    value = open_opps["estimated_value"].fillna(0.0)
    pipe = (
        pd.DataFrame(
            {"phase": phase, "count": 1, "value": value, "weighted_value": value * open_opps["probability"] / 100}
        )
        .groupby("phase")
        .sum()
        .reset_index()
    )
    return {"funnel": funnel, "win_rate": win, "pipeline": pipe}


# -- SQLite ------------------------------------------------------------------------------------

SQLITE_QUERIES = {
    "funnel": """
        SELECT strftime('%Y-%m-01', l.created_at) AS period, l.source,
               count(*) AS lead, sum(l.state = 'qualified') AS qualified,
               sum(q.opportunity_id IS NOT NULL) AS quoted, sum(o.state = 'won') AS won,
               sum(i.opportunity_id IS NOT NULL) AS invoiced, sum(coalesce(i.paid, 0)) AS paid
        FROM leads l
        LEFT JOIN opportunities o ON o.opportunity_id = l.opportunity_id
        LEFT JOIN (SELECT DISTINCT opportunity_id FROM quotes) q ON q.opportunity_id = l.opportunity_id
        LEFT JOIN (SELECT opportunity_id, max(state = 'paid') AS paid FROM invoices GROUP BY opportunity_id) i
               ON i.opportunity_id = l.opportunity_id
        GROUP BY 1, 2 ORDER BY 1, 2""",
    "win_rate": """
        SELECT owner, sum(state = 'won') AS won, sum(state = 'lost') AS lost, sum(state = 'open') AS open,
               sum(CASE WHEN state = 'won' THEN actual_value ELSE 0 END) AS won_value
        FROM opportunities GROUP BY owner ORDER BY owner""",
    "pipeline": """
        SELECT CASE WHEN max(q.state = 'active') THEN 'propose' WHEN max(q.state = 'draft') THEN 'develop'
                    ELSE 'qualify' END AS phase, o.opportunity_id, o.estimated_value, o.probability
        FROM opportunities o LEFT JOIN quotes q ON q.opportunity_id = o.opportunity_id
        WHERE o.state = 'open' GROUP BY o.opportunity_id""",
}


def load_sqlite(frames: dict[str, pd.DataFrame], path: Path) -> sqlite3.Connection:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    names = {"leads": "leads", "opps": "opportunities", "quotes": "quotes", "invoices": "invoices"}
    for key, table in names.items():
        df = frames[key].copy()
        for col in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[col]):
                df[col] = df[col].dt.strftime("%Y-%m-%d %H:%M:%S")
        df.to_sql(table, con, index=False, chunksize=200_000)
    con.executescript(
        """CREATE INDEX leads_opp ON leads(opportunity_id);
           CREATE UNIQUE INDEX opp_id ON opportunities(opportunity_id);
           CREATE INDEX opp_state ON opportunities(state);
           CREATE INDEX quotes_opp ON quotes(opportunity_id);
           CREATE INDEX invoices_opp ON invoices(opportunity_id);
           ANALYZE;"""
    )
    con.commit()
    return con


def run_sqlite(con: sqlite3.Connection) -> dict[str, pd.DataFrame]:
    out = {name: pd.read_sql_query(sql, con) for name, sql in SQLITE_QUERIES.items() if name != "pipeline"}
    per_opp = pd.read_sql_query(SQLITE_QUERIES["pipeline"], con)
    out["pipeline"] = pd.read_sql_query(
        f"""SELECT phase, count(*) AS count, sum(coalesce(estimated_value, 0)) AS value,
                   sum(coalesce(estimated_value, 0) * probability / 100.0) AS weighted_value
            FROM ({SQLITE_QUERIES["pipeline"]}) GROUP BY phase ORDER BY phase""",
        con,
    )
    del per_opp
    return out


# -- agreement ---------------------------------------------------------------------------------


def check_agreement(
    ours: dict[str, pd.DataFrame], pandas_: dict[str, pd.DataFrame], sqlite_: dict[str, pd.DataFrame]
) -> None:
    """The three ways must give the same numbers (totals per question)."""
    f = ours["funnel"].groupby("stage")["count"].sum()
    p = pandas_["funnel"].groupby("stage")["count"].sum()
    s = sqlite_["funnel"][["lead", "qualified", "quoted", "won", "invoiced", "paid"]].sum()
    for stage in ("lead", "qualified", "quoted", "won", "invoiced", "paid"):
        assert int(f[stage]) == int(p[stage]) == int(s[stage]), (stage, f[stage], p[stage], s[stage])
    w = ours["win_rate"].set_index("owner")
    pw = pandas_["win_rate"].set_index("owner")
    sw = sqlite_["win_rate"].set_index("owner")
    for col in ("won", "lost"):
        assert (w[col] == pw[col]).all() and (w[col] == sw[col]).all(), col
    assert np.allclose(w["won_value"], pw["won_value"]) and np.allclose(w["won_value"], sw["won_value"])
    pl = ours["pipeline"].set_index("phase")
    for other in (pandas_["pipeline"], sqlite_["pipeline"]):
        o = other.set_index("phase")
        for phase in o.index:
            assert int(pl.loc[phase, "count"]) == int(o.loc[phase, "count"]), phase
            assert np.isclose(pl.loc[phase, "value"], o.loc[phase, "value"]), phase


def timed(fn, repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leads", type=int, action="append", help="demo size (repeatable); default 1,000,000")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sizes = args.leads or [1_000_000]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}, pandas {pd.__version__}, sqlite {sqlite3.sqlite_version}"
    )
    rows = []
    for leads in sizes:
        path = demo_db(leads)
        db = sp.connect(path)
        t_sp, ours = timed(lambda db=db: run_salespipe(db), args.repeat)
        frames = load_frames(db)
        t_pd, theirs = timed(lambda frames=frames: run_pandas(frames), args.repeat)
        con = load_sqlite(frames, DATA / f"demo_{leads}.sqlite")
        t_sq, lite = timed(lambda con=con: run_sqlite(con), max(1, min(args.repeat, 3)))
        con.close()
        check_agreement(ours, theirs, lite)
        rows.append((leads, t_sp, t_pd, t_sq))
        del frames, theirs
    print("\ndashboard set (funnel by month x source + win rate by owner + pipeline by phase), median seconds:")
    print(f"{'leads':>12} {'salespipe':>10} {'pandas':>10} {'sqlite':>10} {'vs pandas':>10} {'vs sqlite':>10}  targets")
    for leads, t_sp, t_pd, t_sq in rows:
        ok = (
            ("ok" if t_sp <= TARGET_SECONDS else "MISSED")
            + f" <={TARGET_SECONDS:g}s, "
            + ("ok" if t_pd / t_sp >= TARGET_VS_PANDAS else "MISSED")
            + f" >={TARGET_VS_PANDAS:g}x, "
            + ("ok" if t_sq / t_sp >= TARGET_VS_SQLITE else "MISSED")
            + f" >={TARGET_VS_SQLITE:g}x"
        )
        print(f"{leads:>12,} {t_sp:>10.3f} {t_pd:>10.3f} {t_sq:>10.3f} {t_pd / t_sp:>9.1f}x {t_sq / t_sp:>9.1f}x  {ok}")
    print("(all three agree on every count and value)")


if __name__ == "__main__":
    main()
