"""Child processes for test_multiprocess.py and test_kill.py: `python tests/_workers.py ROLE ARGS...`.

Each role prints protocol lines (READY, START, MIDWAY {...}, DONE {...}) and flushes them, so
the parent can synchronise with it. Results are JSON after the keyword.

  writer DB START TAG N   create N leads named TAG-0 .. TAG-(N-1), qualifying every 10th; their emails
                          and companies repeat, within and across writers
  reader DB START STOP N  read the lead count at least N times and until STOP appears; counts never
                          go down, and every lead read has its creation event
  hold DB SECONDS [ro]    hold the file with a raw duckdb.connect for SECONDS, then close it
  lose DB                 close_lost_many every open opportunity, stopping after its field history
  qualify DB [HOOK]       qualify_many every open lead; HOOK = after_core | after_apply stops
                          mid-transaction (prints MIDWAY and sleeps) for the parent to SIGKILL
  points DB SEED GAP [in_checkpoint]
                          point writes until killed: create a lead, qualify an old open lead, each
                          printed (CREATED id, QUALIFIED id) once its call returned, a random pause
                          of up to GAP s between calls; in_checkpoint kills itself at a random moment
                          inside the background checkpoint of the 4th file let go after a write
"""

from __future__ import annotations

import json
import os
import sys
import time


def say(*parts: object) -> None:
    print(*parts, flush=True)


def wait_for(path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit(f"start file {path} did not appear in {timeout} s")
        time.sleep(0.002)


def writer(path: str, start: str, tag: str, n: str) -> None:
    import salespipe as sp

    db = sp.connect(path)
    say("READY")
    wait_for(start)
    created, qualified, slowest = [], [], 0.0
    for i in range(int(n)):
        t = time.monotonic()
        lead = sp.leads.create(
            db,
            first_name="Writer",
            last_name=f"{tag}-{i}",
            # emails and companies shared by both writers: qualify matches contacts and accounts that the
            # other process may have just created, and must never create one twice
            email=f"person{i % 7}@example.com",
            company=f"Shared Company {i % 3} Ltd",
            source="web",
            owner=tag,
        )
        created.append(lead)
        if i % 10 == 9:
            sp.leads.qualify(db, lead)
            qualified.append(lead)
        slowest = max(slowest, time.monotonic() - t)
    say("DONE", json.dumps({"created": created, "qualified": qualified, "slowest": slowest}))


def reader(path: str, start: str, stop: str, n: str) -> None:
    import salespipe as sp

    db = sp.connect(path)
    say("READY")
    wait_for(start)
    counts, slowest = [], 0.0
    give_up = time.monotonic() + 60
    while True:
        stopping = os.path.exists(stop)  # looked at before the read: the last read sees the final count
        t = time.monotonic()
        leads = int(db.sql("SELECT count(*) AS n FROM leads")["n"].iloc[0])
        both = db.sql(
            """SELECT (SELECT count(*) FROM leads) AS leads,
                      (SELECT count(*) FROM events WHERE entity = 'lead' AND action = 'create') AS created"""
        )
        slowest = max(slowest, time.monotonic() - t)
        if int(both["leads"].iloc[0]) != int(both["created"].iloc[0]):
            raise SystemExit(f"a reader saw {both.to_dict('records')}: leads without their creation events")
        if counts and leads < counts[-1]:
            raise SystemExit(f"the lead count went down: {counts[-1]} then {leads}")
        counts.append(leads)
        if stopping and len(counts) >= int(n):
            break
        if time.monotonic() > give_up:
            raise SystemExit(f"no {stop} after 60 s of reading")
        time.sleep(0.025)  # a dashboard refreshing busily, leaving some CPU to the writers
    say("DONE", json.dumps({"counts": counts, "slowest": slowest}))


def hold(path: str, seconds: str, mode: str = "rw") -> None:
    import duckdb

    con = duckdb.connect(path, read_only=mode == "ro")
    con.execute("SELECT count(*) FROM leads").fetchall()
    say("HELD")
    time.sleep(float(seconds))
    say("RELEASING", json.dumps(time.time()))  # no one else can have the file before this moment
    con.close()
    say("RELEASED")


def qualify(path: str, hook: str = "") -> None:
    import salespipe as sp
    from salespipe import machine, qualification

    def midway(con) -> None:
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("accounts", "contacts", "opportunities", "events")
        }
        counts["qualified"] = con.execute("SELECT count(*) FROM leads WHERE state = 'qualified'").fetchall()[0][0]
        say("MIDWAY", json.dumps(counts))
        time.sleep(120)  # the parent kills us here, inside the open transaction

    if hook == "after_core":  # accounts, contacts, opportunities written; leads not yet updated
        core = qualification._qualify

        def hooked_core(con, *args, **kw):
            result = core(con, *args, **kw)
            midway(con)
            return result

        qualification._qualify = hooked_core
    elif hook == "after_apply":  # every write of qualify_many done; only the COMMIT is left
        apply = machine.apply

        def hooked_apply(con, entity, action, ids, **kw):
            apply(con, entity, action, ids, **kw)
            if (entity, action) == ("lead", "qualify"):
                midway(con)

        machine.apply = hooked_apply
    elif hook:
        raise SystemExit(f"unknown hook {hook!r}")

    db = sp.connect(path)
    ids = db.sql("SELECT lead_id FROM leads WHERE state = 'open' ORDER BY lead_id")["lead_id"].tolist()
    say("START", len(ids))
    t = time.monotonic()
    sp.leads.qualify_many(db, ids)
    say("DONE", json.dumps({"seconds": time.monotonic() - t, "qualified": len(ids)}))


def points(path: str, seed: str, gap: str, hook: str = "") -> None:
    import random
    import signal
    import threading

    import salespipe as sp
    from salespipe import engine

    rng = random.Random(seed)
    if hook == "in_checkpoint":
        real, took = engine.detach, []

        def dying_detach(con) -> None:
            if threading.current_thread().name == "salespipe-checkpoint":
                if len(took) == 3:  # past ones tell how long a checkpoint lasts here
                    delay = rng.uniform(0, max(took))
                    say("CHECKPOINT", json.dumps({"kill_after": delay, "took": took}))
                    threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()
                t = time.monotonic()
                real(con)
                took.append(time.monotonic() - t)
            else:
                real(con)

        engine.detach = dying_detach
    elif hook:
        raise SystemExit(f"unknown hook {hook!r}")

    db = sp.connect(path)
    old = db.sql("SELECT lead_id FROM leads WHERE state = 'open'")["lead_id"].tolist()
    rng.shuffle(old)  # spread over the row groups, as a team's work is
    say("START", len(old))
    for i in range(10_000):
        lead = sp.leads.create(db, last_name=f"Point{i}", company=f"Point Company {i % 50} Ltd", owner="maria")
        say("CREATED", lead)
        time.sleep(rng.uniform(0, float(gap)))
        chosen = old.pop()
        sp.leads.qualify(db, chosen)
        say("QUALIFIED", chosen)
        time.sleep(rng.uniform(0, float(gap)))


def lose(path: str) -> None:
    """close_lost_many every open opportunity, stopping inside the transaction after the field
    history of the probabilities (0 when lost) is written and before the state changes."""
    import salespipe as sp
    from salespipe import machine

    apply = machine.apply

    def hooked_apply(con, entity, action, ids, **kw):
        if (entity, action) == ("opportunity", "close_lost"):
            changes = con.execute("SELECT count(*) FROM field_changes").fetchall()[0][0]
            say("MIDWAY", json.dumps({"field_changes": changes}))
            time.sleep(120)  # the parent kills us here, inside the open transaction
        apply(con, entity, action, ids, **kw)

    machine.apply = hooked_apply
    db = sp.connect(path)
    ids = db.sql("SELECT opportunity_id FROM opportunities WHERE state = 'open' ORDER BY 1")["opportunity_id"].tolist()
    say("START", len(ids))
    sp.opportunities.close_lost_many(db, ids, reason="out_sold")


if __name__ == "__main__":
    roles = {"writer": writer, "reader": reader, "hold": hold, "qualify": qualify, "lose": lose, "points": points}
    roles[sys.argv[1]](*sys.argv[2:])
