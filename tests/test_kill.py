"""Atomicity against a hard kill (DESIGN.md, "Atomic").

A process killed with SIGKILL in the middle of qualify_many over 20,000 leads leaves either all
of them qualified or none, and doctor passes afterwards. The kill lands either at a known point
inside the open transaction (a hook in the child prints MIDWAY and sleeps) or at a random moment
of a normal run.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess

import pandas as pd
import pytest
from _helpers import Child, scalar, tables

import salespipe as sp
from salespipe.engine import ENGINE

N = 20_000
EARLIER = 300  # leads qualified before, so the 20,000 also match accounts and contacts that already exist

pytestmark = pytest.mark.slow


def _frame(n: int, offset: int) -> pd.DataFrame:
    """Leads with repeated companies (spelled differently) and emails, some without either."""
    spellings = ("Company {} Inc", "company {}, inc.", "COMPANY {} LLC", "Company {}")
    rows = []
    for i in range(offset, offset + n):
        rows.append(
            {
                "first_name": "Kim",
                "last_name": None if i % 13 == 0 else f"Kill{i}",
                "email": None if i % 7 == 0 else f"Person{i % 4000}@Example.com ",
                "company": None if i % 11 == 0 else spellings[i % 4].format(i % 1500),
                "topic": "kill test",
                "source": "import",
                "owner": "maria",
                "estimated_value": "1000.00",
            }
        )
    frame = pd.DataFrame(rows)
    frame.loc[frame["last_name"].isna() & frame["company"].isna(), "company"] = "Fallback Ltd"
    return frame


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A database file: EARLIER leads qualified, then N open leads made with create_many."""
    path = tmp_path_factory.mktemp("kill") / "base.duckdb"
    db = sp.connect(path)
    earlier = sp.leads.create_many(db, _frame(EARLIER, 0))
    sp.leads.qualify_many(db, earlier)
    ids = sp.leads.create_many(db, _frame(N, EARLIER))
    assert len(ids) == N
    assert scalar(db, "SELECT count(*) FROM leads WHERE state = 'open'") == N
    assert sp.doctor.run(db).empty
    return path


def _copy(base, tmp_path):
    path = tmp_path / "sales.duckdb"
    ENGINE.settle()  # this process may still be checkpointing its last write: never copy a file mid-way
    shutil.copy(base, path)
    if os.path.exists(f"{base}.wal"):
        shutil.copy(f"{base}.wal", f"{path}.wal")
    return path


def _counts(db) -> dict[str, int]:
    found = {t: scalar(db, f"SELECT count(*) FROM {t}") for t in ("leads", "accounts", "contacts", "opportunities")}
    found["events"] = scalar(db, "SELECT count(*) FROM events")
    found["qualified"] = scalar(db, "SELECT count(*) FROM leads WHERE state = 'qualified'")
    return found


def _assert_reusable(db, before: dict[str, int]) -> None:
    """The database still works after the kill: qualifying the leads now succeeds in full."""
    open_ids = db.sql("SELECT lead_id FROM leads WHERE state = 'open'")["lead_id"].tolist()
    if open_ids:
        sp.leads.qualify_many(db, open_ids)
    after = _counts(db)
    assert after["qualified"] == before["qualified"] + N
    assert after["opportunities"] == before["opportunities"] + N
    assert after["events"] == before["events"] + 2 * N  # a qualify event per lead, a create per opportunity
    assert sp.doctor.run(db).empty


def _kill_after(child: Child, delay: float) -> Child:
    """SIGKILL the child `delay` seconds after it printed START, unless it has exited by then."""
    try:
        child.expect("START", timeout=60)
        # wait on the child itself, so the kill never lands after it has exited
        try:
            child.proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            child.sigkill()
    finally:
        child.kill()
    return child


@pytest.mark.parametrize("hook", ["after_core", "after_apply"])
def test_sigkill_inside_the_transaction_leaves_nothing_behind(base, tmp_path, hook):
    path = _copy(base, tmp_path)
    db = sp.connect(path)
    before_tables = tables(db)
    before = _counts(db)

    child = Child.worker("qualify", path, hook)
    try:
        assert int(child.expect("START", timeout=60)) == N
        midway = child.expect_json("MIDWAY", timeout=60)
        # the child really is mid-way: inside its transaction the new records exist
        assert midway["opportunities"] == before["opportunities"] + N
        assert midway["accounts"] > before["accounts"] and midway["contacts"] > before["contacts"]
        if hook == "after_apply":
            assert midway["qualified"] == before["qualified"] + N
            assert midway["events"] == before["events"] + 2 * N
        child.sigkill()
    finally:
        child.kill()
    assert child.proc.returncode == -signal.SIGKILL

    db = sp.connect(path)
    assert _counts(db) == before
    assert tables(db) == before_tables  # every table exactly as before, row for row
    assert sp.doctor.run(db).empty
    _assert_reusable(db, before)


def test_sigkill_after_the_field_history_is_written_leaves_none_of_it(base, tmp_path):
    """The field history is written in the transaction of the change: killed after the probability
    changes of close_lost_many are written and before the states change, nothing of it is left."""
    path = _copy(base, tmp_path)
    db = sp.connect(path)
    before_tables = tables(db)
    opened = scalar(db, "SELECT count(*) FROM opportunities WHERE state = 'open'")
    changes = scalar(db, "SELECT count(*) FROM field_changes")

    child = Child.worker("lose", path)
    try:
        assert int(child.expect("START", timeout=60)) == opened == EARLIER  # a deal per lead qualified before
        midway = child.expect_json("MIDWAY", timeout=60)
        assert midway["field_changes"] == changes + opened  # inside the transaction: a change per deal
        child.sigkill()
    finally:
        child.kill()
    assert child.proc.returncode == -signal.SIGKILL

    db = sp.connect(path)
    assert tables(db) == before_tables  # no field change, no event, no state: all as before
    assert sp.doctor.run(db).empty
    ids = db.sql("SELECT opportunity_id FROM opportunities WHERE state = 'open'")["opportunity_id"].tolist()
    sp.opportunities.close_lost_many(db, ids, reason="out_sold")  # and the same call now goes through
    assert scalar(db, "SELECT count(*) FROM field_changes") == changes + opened
    assert sp.doctor.run(db).empty


@pytest.fixture(scope="module")
def normal_seconds(base, tmp_path_factory):
    """How long qualify_many over the N leads takes in a child process that is left alone."""
    path = _copy(base, tmp_path_factory.mktemp("normal"))
    before = _counts(sp.connect(path))
    child = Child.worker("qualify", path)
    try:
        done = child.expect_json("DONE", timeout=120)
        assert child.wait() == 0, child.output()
    finally:
        child.kill()
    db = sp.connect(path)
    after = _counts(db)
    assert after["qualified"] == before["qualified"] + N
    assert sp.doctor.run(db).empty
    return done["seconds"]


SEED = int(os.environ.get("KILL_SEED", random.randrange(1_000_000)))
# One random moment in each stretch of the normal duration, so both outcomes get their chances.
STRETCHES = [(0.0, 0.35), (0.35, 0.7), (0.7, 1.0), (0.95, 1.3)]


@pytest.mark.parametrize("stretch", STRETCHES, ids=[f"{a:.2f}-{b:.2f}" for a, b in STRETCHES])
def test_sigkill_at_a_random_moment_leaves_all_or_none_qualified(base, tmp_path, normal_seconds, stretch):
    fraction = random.Random(f"{SEED}-{stretch}").uniform(*stretch)
    delay = fraction * normal_seconds
    where = f"killed {delay:.3f} s into a {normal_seconds:.3f} s run (KILL_SEED={SEED})"
    path = _copy(base, tmp_path)
    db = sp.connect(path)
    before_tables = tables(db)
    before = _counts(db)

    _kill_after(Child.worker("qualify", path), delay)

    db = sp.connect(path)
    after = _counts(db)
    qualified = after["qualified"] - before["qualified"]
    assert qualified in (0, N), f"{qualified} of {N} leads qualified: {where}"
    if qualified == 0:
        assert after == before, where
        assert tables(db) == before_tables, where
    else:
        assert after["opportunities"] == before["opportunities"] + N, where
        assert after["events"] == before["events"] + 2 * N, where
        assert after["accounts"] >= before["accounts"] and after["contacts"] >= before["contacts"], where
    assert sp.doctor.run(db).empty, where
    _assert_reusable(db, before)


# -- point writes: the file stays attached after a write and is checkpointed in the background ----------

POINT_GAP = 0.08  # seconds, at most, between the child's calls: some reuse the file, some find it let go
POINT_STRETCHES = [(0.2, 0.6), (0.6, 1.2), (1.2, 2.5)]


def _printed(child, keyword: str) -> list[int]:
    return [int(line.split()[1]) for line in child.output().splitlines() if line.startswith(f"{keyword} ")]


def _assert_no_committed_point_write_lost(path, child, before: dict[str, int], where: str) -> None:
    """Every call the child saw return is in the file (one more may have committed unprinted),
    the rest of the database agrees with it, doctor passes and the file takes new writes."""
    created, qualified = _printed(child, "CREATED"), _printed(child, "QUALIFIED")
    assert created, f"the child wrote nothing before the kill: {where}\n{child.output()}"
    db = sp.connect(path)
    present = set(db.sql("SELECT lead_id FROM leads WHERE last_name LIKE 'Point%'")["lead_id"])
    assert set(created) <= present, f"lost {sorted(set(created) - present)}: {where}"
    assert len(present) - len(created) in (0, 1), where
    newly = set(
        db.sql("SELECT lead_id FROM leads WHERE state = 'qualified' AND coalesce(last_name, '') NOT LIKE 'Point%'")[
            "lead_id"
        ]
    )
    assert set(qualified) <= newly, f"lost the qualify of {sorted(set(qualified) - newly)}: {where}"
    done = len(newly) - before["qualified"]
    assert done - len(qualified) in (0, 1), where
    after = _counts(db)
    assert after["leads"] == before["leads"] + len(present), where
    assert after["opportunities"] == before["opportunities"] + done, where
    assert after["events"] == before["events"] + len(present) + 2 * done, where
    assert sp.doctor.run(db).empty, where
    sp.leads.qualify(db, sp.leads.create(db, last_name="After", company="After Ltd"))
    assert sp.doctor.run(db).empty, where


@pytest.mark.parametrize("stretch", POINT_STRETCHES, ids=[f"{a}-{b}s" for a, b in POINT_STRETCHES])
def test_sigkill_between_point_writes_loses_no_committed_write(base, tmp_path, stretch):
    """Killed at a random moment of a run of single creates and qualifies: inside a call, in the
    LINGER after one, or while the background thread checkpoints."""
    delay = random.Random(f"{SEED}-points-{stretch}").uniform(*stretch)
    where = f"killed {delay:.3f} s after START (KILL_SEED={SEED})"
    path = _copy(base, tmp_path)
    before = _counts(sp.connect(path))
    child = _kill_after(Child.worker("points", path, SEED, POINT_GAP), delay)
    assert child.proc.returncode == -signal.SIGKILL, child.output()
    _assert_no_committed_point_write_lost(path, child, before, where)


@pytest.mark.parametrize("run", range(3))
def test_sigkill_inside_the_background_checkpoint_loses_no_committed_write(base, tmp_path, run):
    """The child kills itself at a random moment inside the DETACH that checkpoints a file it wrote."""
    path = _copy(base, tmp_path)
    before = _counts(sp.connect(path))
    child = Child.worker("points", path, f"{SEED}-{run}", POINT_GAP, "in_checkpoint")
    try:
        child.expect("START", timeout=60)
        moment = child.expect_json("CHECKPOINT", timeout=60)
        child.wait(timeout=60)
    finally:
        child.kill()
    assert child.proc.returncode == -signal.SIGKILL, child.output()
    where = f"killed {moment['kill_after'] * 1000:.1f} ms into a checkpoint (earlier ones took {moment['took']})"
    _assert_no_committed_point_write_lost(path, child, before, where)
