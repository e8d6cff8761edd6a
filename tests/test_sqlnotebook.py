"""Spec of the ad-hoc SQL surface for notebooks (salespipe.sqlnotebook, notebooks/05_adhoc_sql.ipynb).

PerQueryConnection is a DB-API connection that opens the salespipe file read-only for each query
and releases it before returning: it answers like db.sql, refuses writes before touching the file,
and holds nothing between queries, so a writer in another process is never locked out. The SQL
notebook's own queries run in a real kernel while a writer in another process saves leads, and
both succeed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from _demo_db import demo_db_path
from _helpers import Child
from nbclient import NotebookClient

import salespipe as sp
from salespipe.sqlnotebook import PerQueryConnection

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_adhoc_sql.ipynb"


@pytest.fixture
def copy(tmp_path_factory, tmp_path):
    target = tmp_path / "sql.duckdb"
    shutil.copy(demo_db_path(tmp_path_factory), target)
    return target


def test_a_query_answers_like_db_sql(copy):
    con = PerQueryConnection(copy)
    db = sp.connect(copy, read_only=True)
    query = "SELECT owner, count(*) AS n FROM leads GROUP BY owner ORDER BY n DESC, owner"
    cur = con.cursor().execute(query)
    assert [d[0] for d in cur.description] == ["owner", "n"]
    expected = db.sql(query)
    assert cur.fetchone() == tuple(expected.iloc[0])
    assert cur.fetchmany(2) == [tuple(r) for r in expected.iloc[1:3].itertuples(index=False)]
    assert cur.fetchall() == [tuple(r) for r in expected.iloc[3:].itertuples(index=False)]
    assert cur.fetchone() is None and cur.rowcount == len(expected)
    assert con.execute("SELECT count(*) FROM leads WHERE owner = ?", [expected["owner"].iloc[0]]).fetchall() == [
        (int(expected["n"].iloc[0]),)
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM leads",
        "INSERT INTO owners VALUES ('x', 'y', now())",
        "CREATE TABLE mine AS SELECT 1",
        "ATTACH 'x.db'",
    ],
)
def test_writes_are_refused_before_the_file_is_opened(copy, statement):
    before = sp.connect(copy, read_only=True).sql("SELECT count(*) AS n FROM leads")["n"].iloc[0]
    with pytest.raises(sp.ReadOnly, match="only reads"):
        PerQueryConnection(copy).cursor().execute(statement)
    assert sp.connect(copy, read_only=True).sql("SELECT count(*) AS n FROM leads")["n"].iloc[0] == before


def test_a_bad_query_is_a_validation_error_that_says_why(copy):
    with pytest.raises(sp.ValidationError, match="Table with name nope does not exist"):
        PerQueryConnection(copy).cursor().execute("SELECT * FROM nope")


def test_nothing_is_held_between_queries(copy):
    con = PerQueryConnection(copy)
    con.cursor().execute("SELECT count(*) FROM events").fetchall()
    opener = Child(sys.executable, "-c", f"import duckdb; duckdb.connect({str(copy)!r}).close(); print('OPENED')")
    try:
        assert opener.expect("OPENED", timeout=60) == ""  # read-write, from another process, right away
        assert opener.wait(timeout=30) == 0
    finally:
        opener.kill()


def test_a_read_write_handle_is_turned_into_a_read_only_one(copy):
    writer = sp.connect(copy)
    con = PerQueryConnection(writer)
    assert con.db is not writer and con.db.read_only and con.path == writer.path
    assert "read-only, opened per query" in repr(con)


@pytest.mark.slow
def test_the_sql_notebooks_queries_run_while_a_writer_in_another_process_saves(copy, tmp_path, monkeypatch):
    monkeypatch.setenv("SALESPIPE_DB", str(copy))
    monkeypatch.setenv("PLOOMBER_STATS_ENABLED", "false")
    start = tmp_path / "go"
    writer = Child.worker("writer", copy, start, "Analyst", 80)
    rounds = []
    try:
        writer.expect("READY", timeout=60)
        start.touch()
        for _ in range(2):  # the whole notebook, twice, while the writer saves lead after lead
            nb = nbformat.read(NOTEBOOK, as_version=4)
            NotebookClient(
                nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
            ).execute()
            errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
            assert errors == []
            rounds.append(nb)
        done = writer.expect_json("DONE", timeout=180)
        assert writer.wait(timeout=30) == 0, writer.output()
    finally:
        writer.kill()
    assert len(done["created"]) == 80 and done["slowest"] < 2.0, done["slowest"]
    counts = [
        next(
            o for o in next(c for c in nb.cells if c.get("id") == "counts").outputs if o.output_type == "execute_result"
        )
        for nb in rounds
    ]
    assert all("leads" in c["data"]["text/plain"] for c in counts)
    assert sp.connect(copy).sql("SELECT count(*) AS n FROM leads WHERE owner = 'Analyst'")["n"].iloc[0] == 80
