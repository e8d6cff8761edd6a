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
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("salespipe."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("salespipe."))
    return found


@pytest.mark.parametrize("reader", ["metrics", "charts", "report"])
def test_the_readers_import_no_stage_module(reader):
    assert _imported(PACKAGE / f"{reader}.py") & STAGES == set()


def test_the_check_finds_a_stage_import(tmp_path):
    planted = tmp_path / "m.py"
    planted.write_text("from .leads import DEFAULT_PROBABILITY\nfrom . import quotes, machine\n")
    assert _imported(planted) & STAGES == {"leads", "quotes"}
