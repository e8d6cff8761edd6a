"""The offline dashboard: one self-contained HTML page of the key numbers and every chart.

`build(db)` returns the page, `write(db, path)` saves it. The data comes from `salespipe.metrics`
only and the figures from `salespipe.charts`; plotly.js is embedded once in the page's head, so
it opens without a network (no CDN). Metric options (start, end, owner, source, product, account,
region; as_of for the pipeline) narrow every section alike.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs, get_plotlyjs_version
from tqdm.auto import tqdm

from . import charts, metrics
from .db import Database
from .errors import ValidationError

DEFAULT_PATH = Path("reports") / "dashboard.html"
WINDOW_OPTIONS = ("start", "end")
FILTER_OPTIONS = ("owner", "source", "product", "account", "region")
PIPELINE_OPTIONS = ("as_of",)
PROCESS_ORDER = ("lead", "opportunity", "quote", "order", "invoice")  # the entities of metrics.time_in_stage


class _Frames:
    """Metric frames for one report, each computed once: the common options applied to every call."""

    def __init__(self, db: Database, options: dict[str, Any]) -> None:
        self.db = db
        self.options = options
        self._cache: dict[tuple, pd.DataFrame] = {}

    def get(self, name: str, **kw: Any) -> pd.DataFrame:
        key = (name, tuple(sorted(kw.items())))
        if key not in self._cache:
            allowed = FILTER_OPTIONS + (PIPELINE_OPTIONS if name == "pipeline" else WINDOW_OPTIONS)
            options = {k: v for k, v in self.options.items() if k in allowed}
            self._cache[key] = getattr(metrics, name)(self.db, **kw, **options)
        return self._cache[key]


@dataclass(frozen=True)
class Section:
    """One chart of the page: its anchor id, heading, caption and how to draw it from the frames."""

    id: str
    heading: str
    caption: str
    draw: Callable[[_Frames], go.Figure]
    wide: bool = False


def _time_in_stage(frames: _Frames) -> pd.DataFrame:
    """time_in_stage of every entity, one frame with an `entity` column (process order)."""
    parts = [frames.get("time_in_stage", entity=e).assign(entity=e) for e in PROCESS_ORDER]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return frames.get("time_in_stage", entity="opportunity")
    frame = pd.concat(parts, ignore_index=True)
    return frame[["entity", *[c for c in frame.columns if c != "entity"]]]


SECTIONS = (
    Section(
        "funnel",
        "Funnel",
        "Leads grouped by when they were created (cohort); each stage counts the leads that ever reached it. "
        "The text gives the share of all leads; hover for the conversion from the previous stage.",
        lambda f: charts.funnel_chart(f.get("funnel", view="cohort"), title="Funnel: leads reaching each stage"),
    ),
    Section(
        "pipeline",
        "Open pipeline",
        "Open opportunities by phase: qualify (no open quote), develop (a draft quote), propose (an active quote). "
        "Weighted value = estimated value × probability.",
        lambda f: charts.pipeline_chart(f.get("pipeline"), title="Open pipeline by phase"),
    ),
    Section(
        "win-rate-owner",
        "Win rate by owner",
        "Won / (won + lost) of the opportunities each owner has, highest on top; hover for counts and won value.",
        lambda f: charts.win_rate_chart(f.get("win_rate", by="owner"), "owner", title="Win rate by owner"),
    ),
    Section(
        "win-rate-source",
        "Win rate by source",
        "Won / (won + lost) by lead source, highest on top; hover for counts and won value.",
        lambda f: charts.win_rate_chart(f.get("win_rate", by="source"), "source", title="Win rate by source"),
    ),
    Section(
        "win-rate-trend",
        "Win-rate trend",
        "Opportunities grouped by the month they were created. The dotted line also counts the still-open ones "
        "as not won, so recent months sit lower until their deals close.",
        lambda f: charts.win_rate_trend_chart(
            f.get("win_rate", period="month"), title="Win rate by month of opportunity creation"
        ),
        wide=True,
    ),
    Section(
        "cycle-time",
        "Sales cycle",
        "Days from an opportunity's creation to its close, for won, lost and all closed opportunities.",
        lambda f: charts.cycle_time_chart(f.get("cycle_time"), title="Sales cycle: days from created to closed"),
    ),
    Section(
        "time-in-stage",
        "Time in stage",
        "Days a record stays in each state · status before moving on, from lead to invoice (stays still "
        "in progress are left out).",
        lambda f: charts.time_in_stage_chart(_time_in_stage(f), title="Time in stage, lead to invoice"),
    ),
)


def _check_options(options: dict[str, Any]) -> None:
    known = WINDOW_OPTIONS + FILTER_OPTIONS + PIPELINE_OPTIONS
    for name in options:
        if name in ("by", "period", "view", "entity"):
            raise ValidationError(
                f"the report chooses {name!r} for each chart; pass only filters ({', '.join(known)})", field=name
            )
        if name not in known:
            raise ValidationError(f"unknown report option {name!r}; the report takes {', '.join(known)}", field=name)


@dataclass(frozen=True)
class KeyNumber:
    """One headline number: its key, label, the metric value and how it reads."""

    key: str
    label: str
    value: float
    text: str
    note: str


def key_numbers(frames: _Frames) -> list[KeyNumber]:
    """Leads, win rate, won value, open pipeline and median cycle days, straight from the metric frames."""
    funnel = frames.get("funnel", view="cohort")
    leads = funnel.loc[funnel["stage"] == "lead", "count"]
    n_leads = int(leads.iloc[0]) if len(leads) else 0
    rate = frames.get("win_rate")
    win_rate = float(rate["win_rate"].iloc[0]) if len(rate) else float("nan")
    won_value = float(rate["won_value"].iloc[0]) if len(rate) else 0.0
    won, lost = (int(rate["won"].iloc[0]), int(rate["lost"].iloc[0])) if len(rate) else (0, 0)
    pipe = frames.get("pipeline")
    open_value, weighted, open_count = (
        float(pipe["value"].sum()),
        float(pipe["weighted_value"].sum()),
        int(pipe["count"].sum()),
    )
    cycle = frames.get("cycle_time")
    won_cycle = cycle.loc[cycle["outcome"] == "won"]
    median = float(won_cycle["median_days"].iloc[0]) if len(won_cycle) else float("nan")
    return [
        KeyNumber("leads", "Leads", n_leads, charts.count(n_leads), "created"),
        KeyNumber("win_rate", "Win rate", win_rate, charts.pct(win_rate), f"{won:,} won / {won + lost:,} closed"),
        KeyNumber("won_value", "Won value", won_value, charts.money(won_value), f"{won:,} deals"),
        KeyNumber(
            "open_pipeline",
            "Open pipeline",
            open_value,
            charts.money(open_value),
            f"{open_count:,} opportunities · weighted {charts.money(weighted)}",
        ),
        KeyNumber(
            "median_cycle_days",
            "Median cycle",
            median,
            charts.days(median),
            "created → won, won deals",
        ),
    ]


def headline(db: Database, **metric_options: Any) -> list[KeyNumber]:
    """The key numbers (leads, win rate, won value, open pipeline, median cycle) for these filters.

    The same five the report page shows (`key_numbers`), from `metrics.summary` in one query, so
    a dashboard's tiles and the page agree; options as `build` takes them (the pipeline is always
    now: start and end do not apply to it).
    """
    _check_options(metric_options)
    allowed = {k: v for k, v in metric_options.items() if k in WINDOW_OPTIONS + FILTER_OPTIONS}
    if "as_of" in metric_options:  # the pipeline as it stood then: only the metric frames know
        return key_numbers(_Frames(db, metric_options))
    return summary_numbers(metrics.summary(db, **allowed))


def summary_numbers(summary: pd.DataFrame) -> list[KeyNumber]:
    """The five key numbers of a `metrics.summary` frame, worded as the report page words them."""
    row = summary.iloc[0]
    won, lost = int(row["won"]), int(row["lost"])
    weighted = float(row["pipeline_weighted_value"])
    return [
        KeyNumber("leads", "Leads", int(row["leads"]), charts.count(row["leads"]), "created"),
        KeyNumber(
            "win_rate",
            "Win rate",
            float(row["win_rate"]),
            charts.pct(row["win_rate"]),
            f"{won:,} won / {won + lost:,} closed",
        ),
        KeyNumber("won_value", "Won value", float(row["won_value"]), charts.money(row["won_value"]), f"{won:,} deals"),
        KeyNumber(
            "open_pipeline",
            "Open pipeline",
            float(row["pipeline_value"]),
            charts.money(row["pipeline_value"]),
            f"{int(row['pipeline_count']):,} opportunities · weighted {charts.money(weighted)}",
        ),
        KeyNumber(
            "median_cycle_days",
            "Median cycle",
            float(row["median_won_cycle_days"]),
            charts.days(row["median_won_cycle_days"]),
            "created → won, won deals",
        ),
    ]


def _date_range(frames: _Frames) -> str:
    """The months in which the leads were created, from the monthly cohort funnel."""
    monthly = frames.get("funnel", view="cohort", period="month")
    months = monthly.loc[(monthly["stage"] == "lead") & (monthly["count"] > 0), "period"]
    if months.empty:
        return "no leads"
    first, last = pd.Timestamp(months.min()), pd.Timestamp(months.max())
    return f"leads created {first:%b %Y} – {last:%b %Y}"


CSS = """
:root { --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f8fafc; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 20px 28px 16px; }
header h1 { margin: 0 0 6px; font-size: 24px; }
header .meta { color: var(--muted); display: flex; flex-wrap: wrap; gap: 6px 22px; }
header .meta b { color: var(--ink); font-weight: 600; }
main { padding: 20px 28px 40px; max-width: 1500px; margin: 0 auto; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 14px; margin-bottom: 20px; }
.kpi { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px; }
.kpi .label { color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .04em; }
.kpi .value { font-size: clamp(22px, 2.2vw, 28px); font-weight: 650; margin: 2px 0; font-variant-numeric: tabular-nums; }
.kpi .note { color: var(--muted); font-size: 13px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; align-items: start; }
@media (max-width: 1100px) { .charts { grid-template-columns: 1fr; } }
section.chart { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 6px 10px 8px;
                min-width: 0; }
section.chart.wide { grid-column: 1 / -1; }
section.chart p.caption { color: var(--muted); font-size: 13px; margin: 4px 8px 6px; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 0 0 24px; }
@media (max-width: 640px) { main, header { padding-left: 12px; padding-right: 12px; } }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _header(db: Database, frames: _Frames, options: dict[str, Any], generated: dt.datetime) -> str:
    filters = ", ".join(
        f"{k} = {v!r}" if not isinstance(v, list | tuple) else f"{k} in {list(v)!r}" for k, v in options.items()
    )
    meta = [
        f"<span>database <b>{_e(db.path)}</b></span>",
        f"<span>{_e(_date_range(frames))}</span>",
        f"<span>generated <b>{generated:%Y-%m-%d %H:%M} UTC</b></span>",
    ]
    if filters:
        meta.append(f"<span>filters <b>{_e(filters)}</b></span>")
    return f'<header><h1>Sales dashboard</h1><div class="meta">{"".join(meta)}</div></header>'


def _kpis(numbers: list[KeyNumber]) -> str:
    cards = "".join(
        f'<div class="kpi" data-key="{_e(k.key)}" data-value="{_e(repr(k.value))}">'
        f'<div class="label">{_e(k.label)}</div><div class="value">{_e(k.text)}</div>'
        f'<div class="note">{_e(k.note)}</div></div>'
        for k in numbers
    )
    return f'<div class="kpis" id="key-numbers">{cards}</div>'


def _chart(section: Section, fig: go.Figure) -> str:
    div = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=f"chart-{section.id}",
        config=charts.CONFIG,
        default_width="100%",
    )
    cls = "chart wide" if section.wide else "chart"
    return (
        f'<section class="{cls}" id="{_e(section.id)}" aria-label="{_e(section.heading)}">'
        f'{div}<p class="caption">{_e(section.caption)}</p></section>'
    )


def build(db: Database, *, progress: bool = False, **metric_options: Any) -> str:
    """The dashboard page as one HTML string (plotly.js inline, no network needed)."""
    if not isinstance(db, Database):
        raise ValidationError(f"db must be a salespipe Database (sp.connect()), got {type(db).__name__}", field="db")
    _check_options(metric_options)
    frames = _Frames(db, metric_options)
    generated = dt.datetime.now(dt.UTC)
    parts: list[str] = []
    steps = tqdm(total=len(SECTIONS) + 1, desc="report", unit="section", disable=not progress)
    with steps:
        steps.set_postfix_str("key numbers")
        header = _header(db, frames, metric_options, generated)
        kpis = _kpis(key_numbers(frames))
        steps.update()
        for section in SECTIONS:
            steps.set_postfix_str(section.id)
            parts.append(_chart(section, section.draw(frames)))
            steps.update()
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="salespipe report, plotly.js {_e(get_plotlyjs_version())}">
<title>Sales dashboard · {_e(os.path.basename(db.path))}</title>
<style>{CSS}</style>
<script>window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script>
<script>{get_plotlyjs()}</script>
</head>
<body>
{header}
<main>
{kpis}
<noscript><p>The charts need JavaScript; the key numbers above are plain text.</p></noscript>
<div class="charts">
{"".join(parts)}
</div>
</main>
<script>
// Each chart sized itself while the page was still loading: fit them to their final boxes.
window.addEventListener("load", () => document.querySelectorAll(".js-plotly-plot").forEach((el) => Plotly.Plots.resize(el)));
</script>
<footer>salespipe · data from salespipe.metrics · plotly.js {_e(get_plotlyjs_version())} embedded, works offline</footer>
</body>
</html>
"""


def check_target(path: str | os.PathLike[str]) -> Path:
    """The absolute path the page will be written to, refused early if it cannot be: a folder,
    or a place under a file or in a folder that cannot be written. Creates nothing."""
    if not isinstance(path, str | os.PathLike) or not str(path).strip():
        raise ValidationError(f"the report path must be a file path, got {path!r}", field="path", value=path)
    target = Path(path).expanduser().resolve()
    if target.is_dir():
        raise ValidationError(
            f"{target} is a folder: give the report a file name, e.g. {target / 'dashboard.html'}", field="path"
        )
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ValidationError(
            f"cannot write the report to {target}: {folder} is not a folder you can write to; give --out another path",
            field="path",
            value=str(target),
        )
    return target


def write(
    db: Database, path: str | os.PathLike[str] = DEFAULT_PATH, *, progress: bool = False, **metric_options: Any
) -> Path:
    """Build the page and save it at `path` (folders created, replaced atomically); returns the absolute path."""
    target = check_target(path)
    page = build(db, progress=progress, **metric_options)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ValidationError(
            f"cannot write the report to {target} ({exc.strerror}): give another path", field="path", value=str(target)
        ) from None
    return target
