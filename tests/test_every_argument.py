"""Every public function, every argument, the usual bad values: a typed error or a sound success.

For each public function a recipe makes a valid call on a small database that holds a record in
each state. Each argument in turn is replaced by each value of BAD. The call must either raise a
`SalespipeError` and leave every table exactly as it was, or succeed and leave a database that
`doctor` finds sound and whose every view still answers. A bare DuckDB or Python exception is a
failure: user input never reaches the user as a traceback. A public function added without a
recipe fails test_every_public_function_has_a_recipe.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import inspect
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salespipe as sp
from salespipe import (
    catalog,
    demo,
    doctor,
    export,
    imports,
    invoices,
    leads,
    metrics,
    opportunities,
    orders,
    qualification,
    quotes,
    schema,
    team,
)
from salespipe.db import Database

EARLY = dt.datetime(2024, 1, 1, 8, 0)
D = Decimal
import_load = importlib.import_module("salespipe.imports.load")
import_undo = importlib.import_module("salespipe.imports.undo")
import_detect = importlib.import_module("salespipe.imports.detect")
FILES = Path(tempfile.mkdtemp(prefix="salespipe-recipes-"))
DEALS = FILES / "deals.csv"
DEALS.write_text("Id,Name,Stage,Closed\nD-1,Laptops,Won,2024-01-05\nD-2,Docks,Open,\n")
DEALS_MAPPING = {
    "system": "recipes",
    "columns": {"external_id": "Id", "topic": "Name", "stage": "Stage", "closed_at": "Closed"},
    "stages": {"Won": "won", "Open": "open"},
}


class Odd:
    """An object of no type salespipe knows."""

    def __repr__(self) -> str:
        return "<Odd>"


BAD = [
    None,
    "",
    "   ",
    "x",
    "bad\udcffsurrogate",
    "a\x00b",
    "1,2,3",
    "9" * 40,
    -1,
    0,
    2**63,
    2**64,
    1.5,
    float("nan"),
    float("inf"),
    True,
    b"bytes",
    [],
    [None],
    {},
    Odd(),
    pd.NaT,
    np.datetime64("NaT"),
    Decimal("NaN"),
    Decimal("1e400"),
    dt.datetime(1900, 1, 1),
    dt.datetime(9999, 12, 31, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    pd.DataFrame({"weird": [1]}),
]


@dataclass
class World:
    """A small database holding a record in each state the recipes need."""

    db: sp.Database
    sku: str
    lead: int
    lost_lead: int
    opp: int
    bare_opp: int
    lost_opp: int
    draft: int
    active: int
    order: int
    fulfilled: int
    invoice: int
    batch: int


def world() -> World:
    db = sp.connect(":memory:")
    sku = catalog.add_product(db, sku="P1", name="Product", unit_price=D("11.00"), at=EARLY)
    team.add_owner(db, "maria", "Europe", at=EARLY)

    def lead(**kw) -> int:
        return leads.create(db, last_name="Lovelace", company="Contoso Ltd", owner="maria", at=EARLY, **kw)

    def opportunity() -> int:
        return leads.qualify(db, lead(), at=EARLY).opportunity_id

    def active_quote() -> int:
        quote = quotes.create(db, opportunity(), lines=[(sku, 1)], at=EARLY)
        quotes.activate(db, quote, at=EARLY)
        return quote

    lost_lead = lead()
    leads.disqualify(db, lost_lead, at=EARLY)
    lost_opp = opportunity()
    opportunities.close_lost(db, lost_opp, at=EARLY)
    order, fulfilled, billed = (quotes.create_order(db, active_quote(), at=EARLY) for _ in range(3))
    for o in (fulfilled, billed):
        orders.fulfill(db, o, at=EARLY)
    invoice = orders.create_invoice(db, billed, at=EARLY)
    opp = opportunity()
    return World(
        db=db,
        sku=sku,
        lead=lead(),
        lost_lead=lost_lead,
        opp=opp,
        bare_opp=opportunity(),
        lost_opp=lost_opp,
        draft=quotes.create(db, opp, lines=[(sku, 2)], at=EARLY),
        active=active_quote(),
        order=order,
        fulfilled=fulfilled,
        invoice=invoice,
        batch=imports.load(db, "opportunities", DEALS, DEALS_MAPPING, at=EARLY).batch_id,
    )


# function -> a valid call's keyword arguments on a fresh world
RECIPES = {
    leads.create: lambda w: dict(db=w.db, last_name="X", email="x@y.com", estimated_value="1,200.50", status="new"),
    leads.create_many: lambda w: dict(db=w.db, frame=pd.DataFrame({"last_name": ["A"], "estimated_value": ["5"]})),
    leads.qualify: lambda w: dict(
        db=w.db, lead=w.lead, create_account=True, create_contact=True, create_opportunity=True, at=None, actor="m"
    ),
    leads.qualify_many: lambda w: dict(db=w.db, ids=[w.lead], create_account=True, at=None, actor="m"),
    leads.disqualify: lambda w: dict(db=w.db, lead=w.lead, reason="canceled", at=None, actor="m", note="n"),
    leads.disqualify_many: lambda w: dict(db=w.db, ids=[w.lead], reason="lost", at=None, note="n"),
    leads.reactivate: lambda w: dict(db=w.db, lead=w.lost_lead, at=None, actor="m"),
    leads.reactivate_many: lambda w: dict(db=w.db, ids=[w.lost_lead], at=None, actor="m"),
    leads.get: lambda w: dict(db=w.db, lead=w.lead),
    leads.update: lambda w: dict(db=w.db, lead=w.lead, owner="li", source="web", estimated_value="5", at=None),
    opportunities.update: lambda w: dict(
        db=w.db, opportunity=w.opp, estimated_value="9", owner="li", estimated_close_date="2030-01-31", probability=30
    ),
    opportunities.create: lambda w: dict(
        db=w.db, topic="T", owner="maria", source="web", estimated_value="10", probability=20, price_list=None
    ),
    opportunities.close_won: lambda w: dict(db=w.db, opportunity=w.bare_opp, actual_value="5", note="n"),
    opportunities.close_won_many: lambda w: dict(db=w.db, ids=[w.bare_opp], actual_value=["5"]),
    opportunities.close_lost: lambda w: dict(db=w.db, opportunity=w.opp, reason="canceled", competitor="F"),
    opportunities.close_lost_many: lambda w: dict(db=w.db, ids=[w.opp], reason="out_sold", competitor=["F"]),
    opportunities.reopen: lambda w: dict(db=w.db, opportunity=w.lost_opp, note="n"),
    opportunities.set_probability: lambda w: dict(db=w.db, opportunity=w.opp, probability=50, at=None, actor="m"),
    opportunities.set_probability_many: lambda w: dict(db=w.db, ids=[w.opp], probability=[50], at=None),
    quotes.create: lambda w: dict(
        db=w.db, opportunity=w.opp, lines=[(w.sku, "1,5")], discount_pct="5", discount_amount="1", freight="2"
    ),
    quotes.create_many: lambda w: dict(
        db=w.db,
        quotes=pd.DataFrame({"opportunity_id": [w.opp], "freight": ["1.00"]}),
        lines=pd.DataFrame({"quote": [0], "sku": [w.sku], "quantity": [2]}),
    ),
    quotes.add_line: lambda w: dict(db=w.db, quote=w.draft, sku=w.sku, quantity="3", discount="1", tax="0.50"),
    quotes.remove_line: lambda w: dict(db=w.db, quote=w.draft, line_no=1),
    quotes.update: lambda w: dict(db=w.db, quote=w.draft, discount_pct="10", discount_amount="1", freight="5"),
    quotes.lines: lambda w: dict(db=w.db, quote=w.draft),
    quotes.totals: lambda w: dict(db=w.db, quote=w.draft),
    quotes.activate: lambda w: dict(db=w.db, quote=w.draft, at=None, actor="m"),
    quotes.activate_many: lambda w: dict(db=w.db, ids=[w.draft], at=None),
    quotes.revise: lambda w: dict(db=w.db, quote=w.active, at=None),
    quotes.revise_many: lambda w: dict(db=w.db, ids=[w.active], at=None),
    quotes.close: lambda w: dict(db=w.db, quote=w.active, status="lost", note="n"),
    quotes.close_many: lambda w: dict(db=w.db, ids=[w.active], status=["canceled"]),
    quotes.create_order: lambda w: dict(db=w.db, quote=w.active, at=None, actor="m"),
    quotes.create_order_many: lambda w: dict(db=w.db, ids=[w.active], at=None),
    orders.fulfill: lambda w: dict(db=w.db, order=w.order, at=None),
    orders.fulfill_many: lambda w: dict(db=w.db, ids=[w.order]),
    orders.cancel: lambda w: dict(db=w.db, order=w.order, note="n"),
    orders.cancel_many: lambda w: dict(db=w.db, ids=[w.order], note="n"),
    orders.create_invoice: lambda w: dict(db=w.db, order=w.fulfilled, at=None),
    orders.create_invoice_many: lambda w: dict(db=w.db, ids=[w.fulfilled]),
    orders.totals: lambda w: dict(db=w.db, order=w.order),
    orders.lines: lambda w: dict(db=w.db, order=w.order),
    invoices.totals: lambda w: dict(db=w.db, invoice=w.invoice),
    invoices.record_payment: lambda w: dict(db=w.db, invoice=w.invoice, amount="5,50", at=None, note="n"),
    invoices.record_payments: lambda w: dict(
        db=w.db, payments=pd.DataFrame({"invoice_id": [w.invoice], "amount": ["1.00"]}), at=None
    ),
    invoices.cancel: lambda w: dict(db=w.db, invoice=w.invoice, note="n"),
    invoices.cancel_many: lambda w: dict(db=w.db, ids=[w.invoice]),
    catalog.default_price_list: lambda w: dict(db=w.db),
    catalog.add_price_list: lambda w: dict(db=w.db, name="Partner", currency="EUR", default=False),
    catalog.add_product: lambda w: dict(db=w.db, sku="P2", name="Two", unit_price="1,000.00", price_list=None),
    catalog.set_price: lambda w: dict(db=w.db, price_list=1, sku=w.sku, unit_price="12.00"),
    catalog.price_lists: lambda w: dict(db=w.db),
    catalog.products: lambda w: dict(db=w.db, price_list=1),
    team.add_owner: lambda w: dict(db=w.db, owner="li", region="Asia"),
    team.add_owners: lambda w: dict(db=w.db, frame=pd.DataFrame({"owner": ["li"], "region": ["Asia"]})),
    team.owners: lambda w: dict(db=w.db),
    doctor.run: lambda w: dict(db=w.db),
    doctor.summary: lambda w: dict(db=w.db),
    metrics.funnel: lambda w: dict(db=w.db, start="2023-01-01", end="2030-01-01", by="owner", period="month"),
    metrics.win_rate: lambda w: dict(db=w.db, by="source", owner="maria", period="quarter"),
    metrics.win_rates: lambda w: dict(db=w.db, by=("owner", "source"), owner="maria", period="quarter"),
    metrics.pipeline: lambda w: dict(db=w.db, as_of="2025-01-01", by="owner"),
    metrics.avg_deal_size: lambda w: dict(db=w.db, by="region"),
    metrics.cycle_time: lambda w: dict(db=w.db, by="owner"),
    metrics.sales_velocity: lambda w: dict(db=w.db, period="week"),
    metrics.time_in_stage: lambda w: dict(db=w.db, entity="opportunity"),
    schema.migrate: lambda w: dict(db=w.db),
    demo.generate: lambda w: dict(db=w.db, leads=10, seed=1, end="2025-01-01", years=0.1, progress=False),
    opportunities.create_many: lambda w: dict(
        db=w.db, frame=pd.DataFrame({"topic": ["T"], "estimated_value": ["1,200.50"], "probability": [30]}), actor="m"
    ),
    import_load.load: lambda w: dict(
        db=w.db,
        kind="opportunities",
        path=DEALS,
        mapping=DEALS_MAPPING,
        dry_run=False,
        skip_invalid=False,
        rejects=FILES / "rejects.csv",
        dates="mdy",
        timezone="Europe/Berlin",
        at=None,
        actor="m",
    ),
    import_load.rejects_path: lambda w: dict(rejects=FILES / "rejects.csv"),
    import_undo.undo: lambda w: dict(db=w.db, batch=w.batch),
    import_undo.batches: lambda w: dict(db=w.db),
    import_detect.detect: lambda w: dict(path=DEALS),
    export.write: lambda w: dict(db=w.db, folder=FILES / "export", format="csv"),
    export.relations: lambda w: dict(db=w.db),
    export.check_folder: lambda w: dict(path=FILES / "export"),
}

MODULES = (
    leads,
    qualification,
    opportunities,
    quotes,
    orders,
    invoices,
    catalog,
    team,
    doctor,
    metrics,
    schema,
    import_load,
    import_undo,
    import_detect,
    export,
)
# functions that can be called again on the database an accepted call left, unchanged in kind
REPEATABLE = {
    leads.create,
    leads.update,
    opportunities.update,
    leads.create_many,
    opportunities.create,
    opportunities.set_probability,
    opportunities.set_probability_many,
    quotes.create,
    quotes.create_many,
    quotes.add_line,
    quotes.update,
    catalog.set_price,
    team.add_owner,
    team.add_owners,
    demo.generate,
    opportunities.create_many,
    import_load.load,
}
# functions that only read (through read-only connections): an accepted value changes nothing
READERS = {
    leads.get,
    quotes.lines,
    quotes.totals,
    orders.totals,
    orders.lines,
    invoices.totals,
    catalog.default_price_list,
    catalog.price_lists,
    catalog.products,
    team.owners,
    doctor.run,
    doctor.summary,
    import_undo.batches,
    import_detect.detect,
    import_load.rejects_path,
    export.write,
    export.relations,
    export.check_folder,
    *(fn for name, fn in vars(metrics).items() if inspect.isfunction(fn) and fn.__module__ == metrics.__name__),
}
SKIP = {
    opportunities.close_open_quotes,
    opportunities.require_open,
    opportunities.insert_many,
    schema.migrations,
    schema.version_of,
    schema.too_new,
    schema.pending,
}  # take an open DuckDB connection: internal


def test_every_public_function_has_a_recipe():
    public = {
        fn
        for module in MODULES
        for name, fn in vars(module).items()
        if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ == module.__name__
    } - SKIP
    missing = sorted(f"{fn.__module__}.{fn.__name__}" for fn in public - set(RECIPES))
    assert not missing, f"add a recipe for {missing}"


def fingerprint(db: sp.Database) -> dict[str, tuple]:
    """Row count and an order-free hash of every base table: equal fingerprints, equal tables."""
    with db.connection(read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                """SELECT table_name FROM information_schema.tables
                   WHERE table_type = 'BASE TABLE' AND table_catalog = current_database() ORDER BY 1"""
            ).fetchall()
        ]
        parts = ", ".join(f'(SELECT [count(*), coalesce(bit_xor(hash(t)), 0)] FROM "{n}" t)' for n in names)
        return dict(zip(names, con.execute(f"SELECT {parts}").fetchall()[0], strict=True))


def counts(db: sp.Database) -> int:
    """Rows in every table together, and the newest event: a cheap check between two calls."""
    with db.connection(read_only=True) as con:
        return con.execute(
            """SELECT (SELECT sum(estimated_size) FROM duckdb_tables() WHERE database_name = current_database()),
                      (SELECT coalesce(max(event_id), 0) FROM events)"""
        ).fetchall()[0]


def sound(db: sp.Database) -> None:
    """What a successful call must leave: doctor finds nothing, every view answers."""
    found = doctor.run(db)
    assert found.empty, found.to_string()
    with db.connection(read_only=True) as con:
        views = [
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal AND database_name = current_database()"
            ).fetchall()
        ]
        for view in views:
            con.execute(f'SELECT * FROM "{view}"').fetchall()


CASES = [
    pytest.param(fn, arg, id=f"{fn.__module__.split('.')[-1]}.{fn.__name__}({arg})")
    for fn, recipe in RECIPES.items()
    for arg in inspect.signature(fn).parameters
    if arg not in ("progress", "say")
]


@pytest.fixture(scope="module")
def fresh_world(tmp_path_factory):
    """A function giving a fresh copy of one world (a copy takes ~40 ms, building one ~500 ms)."""
    built = world()
    saved = tmp_path_factory.mktemp("world") / "world.duckdb"
    with built.db.connection() as con:
        con.execute(f"ATTACH '{saved}' AS saved")
        con.execute("COPY FROM DATABASE memory TO saved")
        con.execute("DETACH saved")

    def copy() -> World:
        db = Database(":memory:", busy_timeout=5)
        with db.connection() as con:
            con.execute(f"ATTACH '{saved}' AS saved (READ_ONLY)")
            con.execute("COPY FROM DATABASE saved TO memory")
            con.execute("DETACH saved")
        return dataclasses.replace(built, db=db)

    return copy


@pytest.mark.parametrize(("fn", "arg"), CASES)
def test_every_bad_value_is_a_typed_error_or_a_sound_success(fn, arg, fresh_world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a bad path that is still a path (a rejects file, an export folder) lands here
    w = fresh_world()
    before, refused, accepted, text_checked = fingerprint(w.db), [], False, False
    for value in BAD:
        kwargs = {**RECIPES[fn](w), arg: value}
        rows = counts(w.db)
        try:
            fn(**kwargs)
        except sp.SalespipeError:
            assert counts(w.db) == rows, f"{fn.__name__}({arg}={value!r}) was refused but added or removed rows"
            refused.append(value)
            continue
        except Exception as exc:
            pytest.fail(f"{fn.__name__}({arg}={value!r}) raised {type(exc).__name__}: {exc}")
        if fn in READERS:
            continue  # the final fingerprint shows it changed nothing
        accepted = True
        if fn not in REPEATABLE:  # a transition moved the record: check, and start the next value afresh
            if not (isinstance(value, str) and text_checked):  # one accepted text is checked like any other
                sound(w.db)
            text_checked = text_checked or isinstance(value, str)
            w = fresh_world()
            before, refused, accepted = fingerprint(w.db), [], False
    if accepted:
        sound(w.db)  # what the accepted calls left is sound
    else:  # every value refused since the last fresh world: not a cell of any table changed
        assert fingerprint(w.db) == before, f"{fn.__name__}({arg}=one of {refused!r}) was refused but changed tables"


def test_the_recipes_are_valid_calls(fresh_world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for fn, recipe in RECIPES.items():
        w = fresh_world()
        fn(**recipe(w))
        sound(w.db)


CONNECT_ARGS = {"path": "s.duckdb", "busy_timeout": 1, "read_only": False}


@pytest.mark.parametrize("arg", list(CONNECT_ARGS))
def test_connect_and_sql_take_every_bad_value_as_a_typed_error(arg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a bad path that is still a path makes a file here, not in the checkout
    monkeypatch.setenv("SALESPIPE_DB", str(tmp_path / "default.duckdb"))
    for value in BAD:
        try:
            db = sp.connect(**{**CONNECT_ARGS, arg: value})
        except sp.SalespipeError:
            continue
        except Exception as exc:
            pytest.fail(f"connect({arg}={value!r}) raised {type(exc).__name__}: {exc}")
        assert db.schema_version() == sp.SCHEMA_VERSION


def test_sql_takes_every_bad_query_or_parameter_as_a_typed_error():
    db = sp.connect(":memory:")
    for value in BAD:
        for call in (lambda v=value: db.sql(v), lambda v=value: db.sql("SELECT ? AS x", [v])):
            try:
                call()
            except sp.SalespipeError:
                continue
            except Exception as exc:
                pytest.fail(f"db.sql with {value!r} raised {type(exc).__name__}: {exc}")
