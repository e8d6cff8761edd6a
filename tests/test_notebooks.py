"""The notebooks: stored without outputs, thin, and each runs under strict nbval on a demo database.

How outputs are checked while the notebooks stay clean: strict nbval (`--nbval`) compares every
cell's output with the one stored in the notebook, but notebooks/ holds notebooks without
outputs. So tests/notebooks/ holds a reference copy of each, with the outputs it gives on the
session's demo database (3,000 leads, seed 1: tests/_demo_db.py), written by
tests/notebooks/update_references.py. A test here holds each reference to exactly the cells of
its notebook, and another runs nbval strict on the references in a subprocess whose kernels see
SALESPIPE_DB = a copy of that demo database. Checked outputs: the database summary of
00_start_here (counts of the fixed seed), and the forms' plain-text summaries in 01 and 02 (e.g.
"<LeadList: 3,000 leads, page 1 of 120>"), beside their widget views, which nbval skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from _demo_db import demo_db_path

ROOT = Path(__file__).resolve().parents[1]
EVERY = sorted((ROOT / "notebooks").rglob("*.ipynb"))
REFERENCES = ROOT / "tests" / "notebooks"
EXPECTED = ["00_start_here.ipynb", "01_leads.ipynb", "02_quotes.ipynb"]
# the forms' notebooks; the dashboards' (03, 04) and the SQL notebook (05): test_notebooks_dashboards.py
NOTEBOOKS = [ROOT / "notebooks" / name for name in EXPECTED]
FIX = "run `.venv/bin/python tests/notebooks/update_references.py` and review the diff"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_cells(nb: nbformat.NotebookNode) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_notebooks_are_there():
    names = [p.name for p in EVERY if p.parent == ROOT / "notebooks"]
    assert names[:3] == EXPECTED and all(p.exists() for p in NOTEBOOKS)


@pytest.mark.parametrize("path", EVERY, ids=lambda p: p.name)
def test_every_notebook_is_stored_without_outputs(path):
    nb = read(path)
    nbformat.validate(nb)
    for cell in code_cells(nb):
        assert cell.outputs == [], f"{path.name}: a cell has outputs (clear them before committing)"
        assert cell.execution_count is None, f"{path.name}: a cell has an execution count"
    assert "widgets" not in nb.metadata
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_thin_they_import_and_show(path):
    source = "\n".join(c.source for c in code_cells(read(path)))
    assert "def " not in source and "class " not in source and "for " not in source
    assert len(code_cells(read(path))) <= 4
    assert "sp.connect(" in source  # SALESPIPE_DB, else data/salespipe.duckdb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_a_reference_with_its_cells_and_a_checked_output(path):
    reference = REFERENCES / path.name
    assert reference.exists(), f"no nbval reference for {path.name}: {FIX}"
    nb, ref = read(path), read(reference)
    assert [(c.cell_type, c.source) for c in ref.cells] == [(c.cell_type, c.source) for c in nb.cells], FIX
    assert "widgets" not in ref.metadata  # small references: no widget state
    checked = [
        c
        for c in code_cells(ref)
        if "NBVAL_IGNORE_OUTPUT" not in c.source
        and any(o.get("text") or "text/plain" in o.get("data", {}) for o in c.outputs)
    ]
    assert checked, f"{path.name}: no cell output for nbval to compare"
    assert reference.stat().st_size < 20_000


def test_every_notebook_runs_under_strict_nbval_against_a_demo_database(tmp_path_factory, tmp_path):
    """nbval in a subprocess: its kernels get SALESPIPE_DB; --nbval-current-env uses this venv's python."""
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path(tmp_path_factory), db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESPIPE_")}
    env["SALESPIPE_DB"] = str(db)
    references = [str(REFERENCES / p.name) for p in NOTEBOOKS]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--confcutdir", str(REFERENCES)]
        + ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(REFERENCES / "nbval-sanitize.cfg")]
        + ["--nbval-cell-timeout", "120", *references],
        cwd=REFERENCES,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    cells = sum(len(code_cells(read(p))) for p in NOTEBOOKS)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert f"{cells} passed" in run.stdout, run.stdout[-3000:]
