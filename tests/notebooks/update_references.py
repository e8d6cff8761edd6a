"""Rebuild the nbval references in tests/notebooks/ from the notebooks in notebooks/.

    .venv/bin/python tests/notebooks/update_references.py      (or: make notebook-references)

Why references live here: the notebooks in notebooks/ are stored without outputs (users open
clean notebooks, and a test checks it), but strict nbval compares every cell's output with a
stored one. So each notebook has a copy here with the outputs it gives on the test suite's demo
database (`sp.demo.generate(leads=3000, seed=1)`, as tests/_demo_db.py builds it): the same
cells (tests/test_notebooks.py checks that they match the notebook's), widget state stripped
(metadata.widgets would be megabytes; nbval skips widget views anyway, and compares the forms'
plain-text summaries, e.g. "<LeadList: 3,000 leads, page 1 of 120>"). Run this after changing a
notebook or what it prints, and review the diff.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import salespipe as sp  # noqa: E402

HERE = Path(__file__).resolve().parent
DEMO = {"leads": 3000, "seed": 1}  # what tests/_demo_db.py builds


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop or fix what differs from run to run and is never compared, so a rebuild's diff is the change.

    Widget state and execution timings go; widget model ids (random, skipped by nbval) become
    zeros; text that nbval-sanitize.cfg rewrites is stored rewritten.
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view:
                view["model_id"] = "0" * 32
            if "text" in output:
                output["text"] = sanitize(output["text"])
            if "text/plain" in output.get("data", {}):
                output["data"]["text/plain"] = sanitize(output["data"]["text/plain"])
    return nb


def sanitize(text: str) -> str:
    """Apply the replacements of nbval-sanitize.cfg (the ones nbval applies before comparing)."""
    config = configparser.ConfigParser()
    config.read(HERE / "nbval-sanitize.cfg")
    for section in config.sections():
        text = re.sub(config[section]["regex"], config[section]["replace"], text)
    return text


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        demo = Path(scratch) / "demo.duckdb"
        sp.demo.generate(sp.connect(demo), progress=False, **DEMO)
        for source in sorted((ROOT / "notebooks").glob("*.ipynb")):
            db = Path(scratch) / f"{source.stem}.duckdb"
            shutil.copy(demo, db)
            os.environ["SALESPIPE_DB"] = str(db)
            nb = nbformat.read(source, as_version=4)
            NotebookClient(
                nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
            ).execute()
            nbformat.write(strip(nb), HERE / source.name)
            print(f"wrote {(HERE / source.name).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
