"""Side by side (issue 8, section 4): a form, a dashboard and the SQL notebook in three real kernels
at once, plus two voila visitors of one dashboard, all on one database file. Everything works
together, and a lead saved in the form shows up in the dashboard, in the SQL notebook and on both
visitors' pages after Refresh.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest
from _demo_db import demo_db_path
from _kernels import Kernel
from _voila import ARGS, CHROMIUM, ROOT, OfflinePage, Voila, require_browser

import salespipe as sp

sync_api = require_browser()
NOTEBOOKS = ROOT / "notebooks"
LEADS_TILE = ".sp-kpi[data-key='leads'] .value"


def _leads_on(page: OfflinePage) -> str:
    return page.page.locator(LEADS_TILE).inner_text()


@pytest.mark.slow
def test_a_lead_saved_in_the_form_shows_everywhere_after_refresh(tmp_path, tmp_path_factory):
    db_path = tmp_path / "side.duckdb"
    shutil.copy(demo_db_path(tmp_path_factory), db_path)
    before = int(sp.connect(db_path, read_only=True).sql("SELECT count(*) AS n FROM leads")["n"].iloc[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESPIPE_")}
    env.update(SALESPIPE_DB=str(db_path), PLOOMBER_STATS_ENABLED="false")

    voila = Voila(db_path, tmp_path / "voila.log")
    kernels: list[Kernel] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        visitors = [OfflinePage(browser), OfflinePage(browser)]
        try:
            for visitor in visitors:  # two managers open the funnel dashboard at the same time
                visitor.page.goto(voila.url("03_funnel_dashboard.ipynb"))
            form, dashboard, sql = (Kernel(env, NOTEBOOKS) for _ in range(3))
            kernels += [form, dashboard, sql]

            form.run_notebook(NOTEBOOKS / "01_leads.ipynb")  # the lead form and list, as sales ops open them
            dashboard.run_notebook(NOTEBOOKS / "03_funnel_dashboard.ipynb")
            sql.run_notebook(NOTEBOOKS / "05_adhoc_sql.ipynb")
            for visitor in visitors:
                visitor.charts(3)
            assert len({v.kernel_id() for v in visitors}) == 2, "each visitor has a kernel of its own"

            count = "print(next(k for k in dash.numbers if k.key == 'leads').value)"
            assert int(dashboard.run(count)) == before
            assert f"| {before} |" in sql.run("%sql SELECT count(*) AS n FROM leads")
            assert _leads_on(visitors[0]) == _leads_on(visitors[1]) == f"{before:,}"

            # typed into the form and saved with its button, in its own kernel
            saved = form.run(
                "for name, value in dict(first_name='Grace', last_name='Hopper', company='Side By Side Inc',\n"
                "                        source='event').items():\n"
                "    form.fields[name].value = value\n"
                "sp.team.add_owner(db, 'side.by.side', 'Europe')  # a new rep joins the team\n"
                "form.refresh()\n"
                "form.fields['owner'].value = 'side.by.side'\n"
                "form.buttons['Save'].click()\nprint(form.message)"
            )
            found = re.search(r"Lead (\d+) created", saved)
            assert found, saved
            lead = int(found[1])

            assert int(dashboard.run(count)) == before, "a dashboard shows the data it last read"
            dashboard.run("dash.buttons['Refresh'].click()")
            assert int(dashboard.run(count)) == before + 1
            assert "side.by.side" in dashboard.run("print(dash.filters['owner'].options)")
            dashboard.run("dash.filters['owner'].value = 'side.by.side'")
            assert dashboard.run("print(list(dash.figures['funnel'].data[0].x))").startswith("[1, ")

            assert f"| {before + 1} |" in sql.run("%sql SELECT count(*) AS n FROM leads")
            row = sql.run(f"%sql SELECT lead_id, owner FROM leads WHERE lead_id = {lead}")
            assert re.search(rf"\|\s+{lead}\s+\|\s+side\.by\.side\s+\|", row)

            for visitor in visitors:
                visitor.page.locator("button.sp-refresh").click()
                visitor.page.wait_for_function(
                    "([sel, want]) => document.querySelector(sel)?.textContent === want",
                    arg=[LEADS_TILE, f"{before + 1:,}"],
                    timeout=60_000,
                )
            assert all(v.attempted == [] for v in visitors)
        finally:
            for visitor in visitors:
                visitor.close()
            browser.close()
            for kernel in kernels:
                kernel.shutdown()
            voila.stop()
    assert sp.doctor.run(sp.connect(db_path)).empty
