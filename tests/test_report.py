"""The offline dashboard page: self-contained, one chart per section, key numbers from the metrics."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _demo_db import demo_db_path
from plotly.offline import get_plotlyjs, get_plotlyjs_version

import salespipe as sp
from salespipe import metrics, report

ROOT = Path(__file__).resolve().parents[1]
BANNER = f"* plotly.js v{get_plotlyjs_version()}"  # the library's own header comment


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory) -> Path:
    return demo_db_path(tmp_path_factory)


@pytest.fixture(scope="module")
def demo(demo_path):
    return sp.connect(demo_path)


@pytest.fixture(scope="module")
def page(demo) -> str:
    return report.build(demo)


def key_numbers(page: str) -> dict[str, tuple[float, str]]:
    """data-key -> (data-value, the shown text) of each key-number card."""
    found = re.findall(
        r'<div class="kpi" data-key="([^"]+)" data-value="([^"]+)">.*?<div class="value">([^<]*)</div>', page
    )
    return {key: (float(value), html.unescape(text)) for key, value, text in found}


def outside_plotlyjs(page: str) -> str:
    """The page without the embedded library (whose source mentions URLs it never fetches here)."""
    return page.replace(get_plotlyjs(), "")


def test_plotlyjs_is_embedded_exactly_once(page):
    assert page.count(BANNER) == 1
    assert page.count(get_plotlyjs()) == 1
    assert page.count("Plotly.newPlot(") == len(report.SECTIONS)


def test_no_cdn_and_no_remote_scripts(page):
    assert 'src="http' not in page
    assert "src='http" not in page
    assert re.search(r"<script[^>]*\bsrc=", page) is None
    assert re.search(r"<link[^>]*\bhref=", page) is None
    assert "cdn." not in outside_plotlyjs(page)
    assert "http" not in outside_plotlyjs(page).replace("http-equiv", "")


def test_one_chart_div_per_chart(page):
    assert page.count('class="plotly-graph-div"') == len(report.SECTIONS)
    for section in report.SECTIONS:
        assert page.count(f'id="chart-{section.id}"') == 1
    assert len({s.id for s in report.SECTIONS}) == len(report.SECTIONS)
    assert [s.id for s in report.SECTIONS] == [
        "funnel",
        "pipeline",
        "win-rate-owner",
        "win-rate-source",
        "win-rate-trend",
        "cycle-time",
        "time-in-stage",
    ]


def test_key_numbers_equal_the_metric_values(demo, page):
    numbers = key_numbers(page)
    funnel = metrics.funnel(demo, view="cohort")
    rate = metrics.win_rate(demo)
    pipe = metrics.pipeline(demo)
    cycle = metrics.cycle_time(demo)
    leads = int(funnel.loc[funnel["stage"] == "lead", "count"].iloc[0])
    won_median = float(cycle.loc[cycle["outcome"] == "won", "median_days"].iloc[0])
    assert numbers == {
        "leads": (leads, f"{leads:,}"),
        "win_rate": (rate["win_rate"][0], f"{rate['win_rate'][0]:.1%}"),
        "won_value": (rate["won_value"][0], f"{rate['won_value'][0]:,.0f}"),
        "open_pipeline": (pipe["value"].sum(), f"{pipe['value'].sum():,.0f}"),
        "median_cycle_days": (won_median, f"{won_median:,.1f} days"),
    }
    assert leads == 3000


def test_header_names_the_database_the_date_range_and_when(demo, page):
    assert f"database <b>{html.escape(demo.path)}</b>" in page
    monthly = metrics.funnel(demo, period="month")
    months = monthly.loc[(monthly["stage"] == "lead") & (monthly["count"] > 0), "period"]
    assert f"leads created {months.min():%b %Y} – {months.max():%b %Y}" in page
    assert re.search(r"generated <b>\d{4}-\d\d-\d\d \d\d:\d\d UTC</b>", page)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_filters_narrow_every_number_and_are_shown(demo):
    owner = metrics.win_rate(demo, by="owner")["owner"][0]
    page = report.build(demo, owner=owner, start="2025-01-01")
    funnel = metrics.funnel(demo, owner=owner, start="2025-01-01")
    rate = metrics.win_rate(demo, owner=owner, start="2025-01-01")
    pipe = metrics.pipeline(demo, owner=owner)
    numbers = key_numbers(page)
    assert numbers["leads"][0] == funnel.loc[funnel["stage"] == "lead", "count"].iloc[0]
    assert numbers["win_rate"][0] == rate["win_rate"][0]
    assert numbers["open_pipeline"][0] == pipe["value"].sum()
    assert html.escape(f"owner = {owner!r}") in page


@pytest.mark.parametrize("option", ["by", "period", "colour"])
def test_options_the_report_does_not_take_are_refused(demo, option):
    with pytest.raises(sp.ValidationError) as err:
        report.build(demo, **{option: "owner"})
    assert err.value.field == option


def test_an_empty_database_still_gives_a_page(db):
    page = report.build(db)
    numbers = key_numbers(page)
    assert numbers["leads"] == (0, "0")
    assert numbers["win_rate"][1] == "n/a"
    assert page.count('class="plotly-graph-div"') == len(report.SECTIONS)
    assert "no data" in page and "no leads" in page


def test_write_creates_folders_and_returns_the_absolute_path(demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = report.write(demo, "out/sub/dash.html")
    assert path == (tmp_path / "out" / "sub" / "dash.html").resolve()
    assert path.is_absolute() and path.read_text(encoding="utf-8").count(BANNER) == 1
    assert [p.name for p in path.parent.iterdir()] == ["dash.html"]  # no temporary file left
    assert report.write(demo) == (tmp_path / "reports" / "dashboard.html").resolve()


def test_cli_report_writes_the_file(demo_path, tmp_path):
    out = tmp_path / "reports" / "dashboard.html"
    done = subprocess.run(
        [sys.executable, "-m", "salespipe", "report", "--db", str(demo_path), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert out.is_file() and out.stat().st_size > 1_000_000
    assert str(out.resolve()) in done.stdout
    assert f"({out.stat().st_size / 1024:,.0f} KB)" in done.stdout
    assert out.read_text(encoding="utf-8").count('class="plotly-graph-div"') == len(report.SECTIONS)


def test_cli_report_takes_the_global_db_option_too(demo_path, tmp_path):
    out = tmp_path / "d.html"
    done = subprocess.run(
        [sys.executable, "-m", "salespipe", "--db", str(demo_path), "report", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"database <b>{html.escape(str(demo_path))}</b>" in out.read_text(encoding="utf-8")


def test_makefile_demo_generates_reports_and_checks():
    makefile = (ROOT / "Makefile").read_text()
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "-m salespipe demo --leads 50000 --if-empty" in demo
    assert demo.index("salespipe demo") < demo.index("salespipe report") < demo.index("salespipe doctor")
    assert "walkthrough" not in demo
