"""The dashboard page in a real browser with the network cut: every chart renders, nothing is fetched.

Needs the chromium binary (/usr/bin/chromium, e.g. `apt-get install -y chromium`) and the Python
package playwright (`pip install playwright`; its own browser download is not used). Skipped
when either is missing, except under CI=true, where that fails. Leaves a screenshot at reports/dashboard.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from _demo_db import demo_db_path

import salespipe as sp
from salespipe import report

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("SALESPIPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def _missing(reason: str) -> None:
    """Skip with the reason; under CI=true a missing browser is a failure, not a skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    from playwright import sync_api
except ImportError:
    _missing("the playwright package is not installed")
if not Path(CHROMIUM).is_file():
    _missing(f"no chromium binary at {CHROMIUM} (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Open the written report offline; yield (page, network requests attempted, page errors)."""
    db = sp.connect(demo_db_path(tmp_path_factory))
    path = report.write(db, tmp_path_factory.mktemp("report") / "dashboard.html")
    attempted: list[str] = []
    errors: list[str] = []

    def only_files(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.route("**/*", only_files)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(report.SECTIONS)}",
                timeout=30_000,
            )
            page.wait_for_timeout(500)  # the resize on load settles
            yield page, attempted, errors
        finally:
            browser.close()


def test_no_network_request_is_attempted_and_no_script_error(rendered):
    _, attempted, errors = rendered
    assert attempted == []
    assert errors == []


def test_every_chart_rendered_with_at_least_one_trace(rendered):
    page, _, _ = rendered
    plots = page.eval_on_selector_all(
        ".js-plotly-plot",
        """els => els.map(el => ({
            id: el.id,
            traces: (el.data || []).length,
            drawn: el.querySelectorAll('.main-svg .trace').length,
            title: (el.querySelector('.gtitle') || {}).textContent || '',
        }))""",
    )
    assert [p["id"] for p in plots] == [f"chart-{s.id}" for s in report.SECTIONS]
    for plot in plots:
        assert plot["traces"] >= 1, plot
        assert plot["drawn"] >= 1, plot
        assert plot["title"], plot


def test_charts_fit_their_cards_and_key_numbers_show(rendered):
    page, _, _ = rendered
    boxes = page.eval_on_selector_all(
        "section.chart",
        """els => els.map(el => {
            const card = el.getBoundingClientRect();
            const svg = el.querySelector('.main-svg').getBoundingClientRect();
            return {id: el.id, card: [card.left, card.right], svg: [svg.left, svg.right, svg.width, svg.height]};
        })""",
    )
    for box in boxes:
        left, right, width, height = box["svg"]
        assert box["card"][0] <= left and right <= box["card"][1] + 1, box  # nothing spills out of its card
        assert width > 300 and height > 250, box
    for width in (1400, 900, 420):  # a wide screen, a laptop half screen, a phone
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(200)
        spill = "els => els.filter(el => el.scrollWidth > el.clientWidth).map(el => el.dataset.key)"
        assert page.eval_on_selector_all(".kpi", spill) == [], width
    page.set_viewport_size({"width": 1400, "height": 900})
    page.wait_for_timeout(500)
    cards = page.locator(".kpi .value").all_inner_texts()
    assert len(cards) == 5 and all(text.strip() for text in cards)


def test_no_button_sends_the_chart_anywhere(rendered):
    page, _, _ = rendered
    titles = page.eval_on_selector_all(".modebar-btn", "els => els.map(el => el.getAttribute('data-title'))")
    assert "Download plot as a PNG" in titles
    assert not [t for t in titles if t and ("share" in t.lower() or "cloud" in t.lower() or "edit" in t.lower())]


def test_screenshot(rendered):
    page, _, _ = rendered
    out = ROOT / "reports" / "dashboard.png"
    out.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 50_000
