"""Layering: what may import what. Metrics read tables and views, never a stage module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "salespipe"
STAGES = {"leads", "opportunities", "quotes", "orders", "invoices", "catalog", "team", "documents"}


def _imported(module: Path) -> set[str]:
    """The salespipe modules a file imports (relative imports and `salespipe.x` alike)."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level >= 1 and node.module:  # `from .x import` (or `from ..x import` in a subpackage)
                found.add(node.module.split(".")[0])
            elif node.level >= 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("salespipe."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("salespipe."))
    return found


READERS = ["metrics", "metric_scope", "lookups", "facts", "charts", "report", "sqlnotebook"]
DASHBOARDS = sorted(p.stem for p in (PACKAGE / "dashboards").glob("*.py"))


@pytest.mark.parametrize("reader", READERS + [f"dashboards/{d}" for d in DASHBOARDS])
def test_the_readers_import_no_stage_module(reader):
    assert _imported(PACKAGE / f"{reader}.py") & STAGES == set()


@pytest.mark.parametrize("module", DASHBOARDS)
def test_the_dashboards_run_no_sql_of_their_own(module):
    """Every number a dashboard shows comes from salespipe.metrics: no query text, no connection."""
    source = (PACKAGE / "dashboards" / f"{module}.py").read_text()
    for sql in ("SELECT ", ".execute(", ".sql(", "import duckdb", ".connection("):
        assert sql not in source, f"dashboards/{module}.py: {sql!r}"


def test_the_check_finds_a_stage_import(tmp_path):
    planted = tmp_path / "m.py"
    planted.write_text("from .leads import DEFAULT_PROBABILITY\nfrom . import quotes, machine\n")
    assert _imported(planted) & STAGES == {"leads", "quotes"}
