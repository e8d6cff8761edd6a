"""The notebooks under nbval: 03 and 04 (dashboards) and 05 (ad-hoc SQL) run in a real kernel on the
session's demo database (3,000 leads, seed 1), with checked outputs.

How the outputs are checked while the committed notebooks stay output-free: nbval compares a
cell's outputs only when the notebook it runs holds outputs for that cell (an unexecuted cell
is run but not compared). So the committed notebooks carry no outputs, and the expected ones live
here, in tests/notebook_outputs.json (notebook -> cell id -> outputs, for the fixed-seed demo
database). The test copies each notebook, writes the expected outputs into the copy's checked
cells, and runs strict nbval on the copies in a subprocess (`--nbval-current-env`, this venv's
kernel). The other cells run too and must not raise; the dashboards' widget cells are not
compared (widget contents never are: their figures are checked in test_dashboards.py).
After a deliberate change to what a checked cell prints: `python tests/test_notebooks.py --capture`,
then review the diff of notebook_outputs.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = Path(__file__).resolve().parent / "notebook_outputs.json"
CHECKED = {
    "03_funnel_dashboard.ipynb": ["dashboard"],
    "04_win_rate_dashboard.ipynb": ["dashboard"],
    "05_adhoc_sql.ipynb": ["counts", "win-rate", "open-deals", "uncontacted", "stages", "frame", "read-only"],
}


def _env(db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESPIPE_")}
    env.update(SALESPIPE_DB=str(db_path), PLOOMBER_STATS_ENABLED="false", PYTHONUNBUFFERED="1")
    return env


def _with_expected(name: str, expected: dict, target: Path) -> Path:
    """A copy of the notebook whose checked cells hold the expected outputs (and a run count)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cells = {c.get("id"): c for c in nb.cells}
    for n, (cell_id, outputs) in enumerate(expected[name].items(), 1):
        cell = cells[cell_id]
        cell.outputs = [
            nbformat.from_dict(
                {**o, "execution_count": n} if "data" in o and o["output_type"] == "execute_result" else o
            )
            for o in outputs
        ]
        cell.execution_count = n
    path = target / name
    nbformat.write(nb, path)
    return path


def _nbval(paths: list[Path], db_path: Path, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env"]
    return subprocess.run(
        [*command, *map(str, paths)], cwd=cwd, env=_env(db_path), capture_output=True, text=True, timeout=900
    )


# -- the committed notebooks ------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CHECKED))
def test_the_committed_notebooks_hold_no_outputs_and_stay_thin(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert "widgets" not in nb.metadata and nb.metadata.kernelspec.name == "python3"
    if "dashboard" in name:  # import, create, show: no logic
        assert len(code) == 2 and sum(len(c.source.splitlines()) for c in code) <= 8


def test_every_checked_cell_exists_and_has_expected_outputs():
    expected = json.loads(EXPECTED.read_text())
    assert set(expected) == set(CHECKED)
    for name, cell_ids in CHECKED.items():
        ids = {c.get("id") for c in nbformat.read(NOTEBOOKS / name, as_version=4).cells}
        assert set(cell_ids) <= ids and list(expected[name]) == cell_ids
        assert all(expected[name][cell] for cell in cell_ids), f"{name}: a checked cell with no output"


# -- nbval ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from _demo_db import demo_db_path

    return demo_db_path(tmp_path_factory)


@pytest.mark.slow
def test_nbval_runs_the_notebooks_and_their_checked_outputs_match(demo, tmp_path):
    expected = json.loads(EXPECTED.read_text())
    copies = [_with_expected(name, expected, tmp_path) for name in CHECKED]
    done = _nbval(copies, demo, tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    cells = sum(len([c for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code"]) for p in copies)
    assert f"{cells} passed" in done.stdout


@pytest.mark.slow
def test_nbval_fails_when_a_checked_output_differs(demo, tmp_path):
    expected = json.loads(EXPECTED.read_text())
    name = "04_win_rate_dashboard.ipynb"
    (output,) = expected[name]["dashboard"]
    output["data"]["text/markdown"] = output["data"]["text/markdown"].replace("3,000 leads", "3,001 leads")
    done = _nbval([_with_expected(name, expected, tmp_path)], demo, tmp_path)
    assert done.returncode == 1 and "Cell outputs differ" in done.stdout and "3,001 leads" in done.stdout


# -- regenerating the expected outputs --------------------------------------------------------


def capture(db_path: Path) -> dict:
    """Run each notebook on `db_path` and keep the outputs of its checked cells."""
    from nbclient import NotebookClient

    os.environ.update(_env(db_path))
    found = {}
    for name, cell_ids in CHECKED.items():
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
        cells = {c.get("id"): c for c in nb.cells}
        found[name] = {
            cid: [{k: v for k, v in o.items() if k != "execution_count"} for o in cells[cid].outputs]
            for cid in cell_ids
        }
    return found


if __name__ == "__main__":
    if sys.argv[1:] != ["--capture"]:
        raise SystemExit("usage: python tests/test_notebooks.py --capture")
    import tempfile

    sys.path.insert(0, str(ROOT))
    import salespipe as sp

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "demo.duckdb"
        sp.demo.generate(sp.connect(path), leads=3000, seed=1, progress=False)  # as tests/_demo_db.py builds it
        EXPECTED.write_text(json.dumps(capture(path), indent=1, ensure_ascii=False, sort_keys=False) + "\n")
    print(f"wrote {EXPECTED}")
