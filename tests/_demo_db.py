"""One demo database file per test session, shared by the report tests (generating it takes seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

import salespipe as sp

_BUILT: dict[str, Path] = {}


def demo_db_path(factory: pytest.TempPathFactory) -> Path:
    """A file database holding `sp.demo.generate(leads=3000, seed=1)`, built once per session."""
    if "path" not in _BUILT:
        path = factory.mktemp("demo") / "demo.duckdb"
        db = sp.connect(path)
        sp.demo.generate(db, leads=3000, seed=1, progress=False)
        db.close()  # checkpointed: the tests copy the file alone, without a write-ahead log
        _BUILT["path"] = path
    return _BUILT["path"]
