"""Realistic demo data: years of sales history generated through the engine's bulk transitions.

Nothing is written around the engine: leads are created with `leads.create_many`, qualified with
`leads.qualify_many`, quoted, revised, ordered, lost, fulfilled, invoiced and paid with the bulk
actions, each with per-record `at=` timestamps. The same seed (and end date) builds the same
database.

The story: a company selling laptops, peripherals and services. Leads arrive with seasonality
(busy Q4 and March, quiet summer and weekends) and growth; six sources differ in quality; owners
in four regions differ in skill; companies repeat (so qualification reuses accounts and
contacts); deals take 1 to 4 quote revisions; some are lost to named competitors; orders are
fulfilled or canceled; invoices are paid, partly paid or unpaid; the newest records are still
open, so the pipeline is real.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import catalog, check, invoices, leads, opportunities, orders, quotes, team
from .db import Database
from .errors import ValidationError

DEFAULT_END = dt.datetime(2026, 11, 1)
DAY = np.timedelta64(1, "D")

MIN_LEADS = 10  # fewer make no history worth the name
MAX_LEADS = 100_000_000  # ~100 GB of history: far past what one machine here builds

# The demo's world is data (salespipe/presets/demo.toml): sources, regions, products, name parts.
_WORLD = tomllib.loads((resources.files("salespipe") / "presets" / "demo.toml").read_text(encoding="utf-8"))
SOURCES: dict[str, tuple[float, float, float]] = {k: tuple(v) for k, v in _WORLD["sources"].items()}
REGIONS: tuple[str, ...] = tuple(_WORLD["regions"])
COMPETITORS: tuple[str, ...] = tuple(_WORLD["competitors"])
DISQUALIFY_REASONS: tuple[str, ...] = tuple(_WORLD["disqualify_reasons"])
PRODUCTS: list[tuple[str, str, str, int]] = [tuple(p) for p in _WORLD["products"]]
SUFFIXES: tuple[str, ...] = tuple(_WORLD["company_suffixes"])
WORDS: tuple[str, ...] = tuple(_WORLD["company_words"])


@dataclass(frozen=True)
class Summary:
    """What generate() built: counts per record kind and the time it took."""

    leads: int
    qualified: int
    opportunities_won: int
    opportunities_lost: int
    quotes: int
    orders: int
    invoices: int
    payments: int
    seconds: float


def _setup(db: Database, rng: np.random.Generator, names: dict[str, list[str]], at: dt.datetime) -> pd.DataFrame:
    """Owners in regions with skills, products on two price lists. Returns the owners frame."""
    n_owners = 20
    owners = pd.DataFrame(
        {
            "owner": [
                f"{first.lower()}.{last.lower()}"
                for first, last in zip(names["first"][:n_owners], names["last"][-n_owners:], strict=True)
            ],
            "region": [REGIONS[i % len(REGIONS)] for i in range(n_owners)],
            "skill": np.round(rng.uniform(0.65, 1.35, n_owners), 3),
        }
    )
    team.add_owners(db, owners[["owner", "region"]], at=at)
    partner = catalog.price_lists(db).query("name == 'Partner'")
    partner_id = int(partner["price_list_id"].iloc[0]) if len(partner) else catalog.add_price_list(db, "Partner")
    default_id = catalog.default_price_list(db)
    existing = set(db.sql("SELECT sku FROM products")["sku"])
    priced = {
        (int(pl), sku) for pl, sku in db.sql("SELECT price_list_id, sku FROM price_list_items").itertuples(index=False)
    }
    for sku, name, price, _ in PRODUCTS:  # a product the database already has keeps its name and prices
        if sku not in existing:
            catalog.add_product(db, sku=sku, name=name, unit_price=Decimal(price), at=at)
            priced.add((default_id, sku))
        if (default_id, sku) not in priced:
            catalog.set_price(db, default_id, sku, Decimal(price))
        if (partner_id, sku) not in priced:
            catalog.set_price(db, partner_id, sku, (Decimal(price) * Decimal("0.9")).quantize(Decimal("0.01")))
    return owners


def _names(seed: int) -> dict[str, list[str]]:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    return {
        "first": [fake.first_name() for _ in range(600)],
        "last": [fake.last_name() for _ in range(900)],
        "title": [fake.job() for _ in range(150)],
    }


def _arrival_times(rng: np.random.Generator, n: int, start: dt.datetime, end: dt.datetime) -> np.ndarray:
    """Lead creation times: growth of ~35%/year, seasonality by month, quieter weekends."""
    days = pd.date_range(start, end - dt.timedelta(days=1), freq="D")
    years = np.asarray((days - days[0]).days, dtype=float) / 365.25
    season = np.array([0.9, 1.0, 1.15, 1.0, 0.95, 0.85, 0.7, 0.75, 1.0, 1.1, 1.2, 1.05])[np.asarray(days.month) - 1]
    weekday = np.where(np.asarray(days.day_of_week) >= 5, 0.35, 1.0)
    weight = (1.35**years) * season * weekday
    day_idx = np.sort(rng.choice(len(days), size=n, p=weight / weight.sum()))
    seconds = rng.integers(7 * 3600, 19 * 3600, n)
    return days.values[day_idx].astype("datetime64[s]") + seconds.astype("timedelta64[s]")


def _lag(rng: np.random.Generator, n: int, median_days: float, spread: float = 0.6) -> np.ndarray:
    """Random delays (lognormal around a median), as timedelta64[s]."""
    days = rng.lognormal(np.log(median_days), spread, n)
    return (days * 86400).astype("int64").astype("timedelta64[s]")


def _lead_frame(
    rng: np.random.Generator,
    created: np.ndarray,
    names: dict[str, list[str]],
    owners: pd.DataFrame,
    companies: np.ndarray,
    domains: np.ndarray,
    start_index: int,
) -> pd.DataFrame:
    n = len(created)
    src_names = list(SOURCES)
    shares = np.array([SOURCES[s][0] for s in src_names])
    source = np.array(src_names)[rng.choice(len(src_names), n, p=shares / shares.sum())]
    # companies repeat: a few big customers come back often (Zipf-like popularity)
    company_idx = np.minimum(rng.zipf(1.3, n) - 1, len(companies) - 1)
    company_idx = np.where(rng.random(n) < 0.5, company_idx, rng.integers(0, len(companies), n))
    first = np.array(names["first"])[rng.integers(0, len(names["first"]), n)]
    last = np.array(names["last"])[rng.integers(0, len(names["last"]), n)]
    person_no = rng.integers(1, 4, n)  # a person in a company: first.last or first.last2 ...
    email = (
        pd.Series(first).str.lower()
        + "."
        + pd.Series(last).str.lower().str.replace("'", "")
        + np.where(person_no > 1, person_no.astype(str), "")
        + "@"
        + domains[company_idx]
    )
    # some leads have no person, some no company, some an email in other case/whitespace
    no_person = rng.random(n) < 0.04
    no_company = (rng.random(n) < 0.05) & ~no_person
    messy = rng.random(n) < 0.05
    # people come back: ~12% of leads are a person (and company) seen earlier in the chunk
    again = (rng.random(n) < 0.12) & (np.arange(n) > 0)
    earlier = (rng.random(int(again.sum())) * np.flatnonzero(again)).astype(np.int64)
    first[again], last[again] = first[earlier], last[earlier]
    email = email.to_numpy(dtype=object)
    email[again] = email[earlier]
    email = np.where(messy, np.char.add(np.char.add(" ", np.char.upper(email.astype(str))), " "), email).astype(object)
    company_idx[again] = company_idx[earlier]
    no_person[again] = no_person[earlier]
    no_company &= ~no_person  # a lead needs a person or a company
    product = rng.integers(0, len(PRODUCTS), n)
    qty = np.maximum(1, rng.poisson(np.array([p[3] for p in PRODUCTS])[product]))
    price = np.array([float(p[2]) for p in PRODUCTS])[product]
    owner_idx = rng.integers(0, len(owners), n)
    return pd.DataFrame(
        {
            "first_name": np.where(no_person, None, first).astype(object),
            "last_name": np.where(no_person, None, last).astype(object),
            "email": np.where(no_person, None, email).astype(object),
            "phone": [f"+1-555-{(start_index + i) % 10_000_000:07d}" for i in range(n)],
            "job_title": np.where(
                no_person, None, np.array(names["title"])[rng.integers(0, len(names["title"]), n)]
            ).astype(object),
            "company": np.where(no_company, None, companies[company_idx]).astype(object),
            "topic": [f"{q} x {PRODUCTS[p][1]}" for q, p in zip(qty, product, strict=True)],
            "source": source,
            "owner": owners["owner"].to_numpy()[owner_idx],
            "estimated_value": np.round(qty * price * rng.uniform(0.8, 1.25, n), -1).astype(np.int64),
            "status": np.where(rng.random(n) < 0.3, "contacted", "new"),
            "created_at": created,
        }
    )


def _companies(rng: np.random.Generator, n: int, names: dict[str, list[str]]) -> tuple[np.ndarray, np.ndarray]:
    last = np.array(names["last"])
    a, b = last[rng.integers(0, len(last), n)], last[rng.integers(0, len(last), n)]
    word = np.array(WORDS)[rng.integers(0, len(WORDS), n)]
    style = rng.integers(0, 4, n)
    base = np.where(
        style == 0,
        a,
        np.where(
            style == 1,
            np.char.add(np.char.add(a, "-"), b),
            np.where(style == 2, np.char.add(np.char.add(a, " "), word), np.char.add(np.char.add(a, " & "), b)),
        ),
    )
    domains = np.char.add(
        np.char.lower(np.char.replace(np.char.replace(np.char.replace(base, " & ", ""), "-", ""), " ", "")),
        ".example.com",
    )
    domains = np.char.replace(domains, "'", "")
    return base, domains


def _suffix(rng: np.random.Generator, companies: np.ndarray) -> np.ndarray:
    """Write company names the way people do: the same company with varying legal suffixes."""
    suffix = np.array(SUFFIXES)[rng.integers(0, len(SUFFIXES), len(companies))]
    sep = np.where(np.char.startswith(suffix, ","), "", " ")
    out = np.char.add(np.char.add(companies.astype(str), sep), suffix)
    return np.char.strip(out)


def generate(
    db: Database,
    *,
    leads: int = 50_000,
    seed: int = 42,
    end: dt.datetime | dt.date | str | None = None,
    years: float = 2.5,
    chunk: int = 250_000,
    progress: bool = True,
) -> Summary:
    """Generate `leads` leads of sales history ending at `end` (default 2026-11-01) through the bulk API."""
    import time

    if isinstance(leads, bool) or not isinstance(leads, int) or leads < MIN_LEADS:
        raise ValidationError(f"leads must be an integer >= {MIN_LEADS}, got {leads!r}", field="leads")
    if leads > MAX_LEADS:
        raise ValidationError(f"leads must be at most {MAX_LEADS:,}, got {leads:,}", field="leads", value=leads)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValidationError(f"seed must be a whole number >= 0, got {seed!r}", field="seed", value=seed)
    if isinstance(years, bool) or not isinstance(years, int | float) or not 0 < years <= 50:
        raise ValidationError(f"years must be a number of years above 0 (at most 50), got {years!r}", field="years")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValidationError(f"chunk must be a whole number of leads >= 1, got {chunk!r}", field="chunk")
    end_ts = check.timestamp(end) if end is not None else DEFAULT_END
    start_ts = end_ts - dt.timedelta(days=round(365.25 * years))
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    names = _names(seed)
    owners = _setup(db, rng, names, start_ts)
    skill = dict(zip(owners["owner"], owners["skill"], strict=True))
    n_companies = int(min(200_000, max(200, leads // 6)))
    companies, domains = _companies(rng, n_companies, names)
    created_all = _arrival_times(rng, leads, start_ts, end_ts)
    end64 = np.datetime64(end_ts, "s")
    counts = dict.fromkeys(("qualified", "won", "lost", "quotes", "orders", "invoices", "payments"), 0)
    steps = ["leads", "qualify", "quotes", "revisions", "decisions", "orders", "invoices", "payments"]
    n_chunks = (leads + chunk - 1) // chunk
    # the bar is closed (its line ended) before an error propagates, so a message never lands on it
    with tqdm(total=n_chunks * len(steps), desc="demo data", unit="step", disable=not progress) as bar:
        for c in range(n_chunks):
            created = created_all[c * chunk : (c + 1) * chunk]
            frame = _lead_frame(rng, created, names, owners, _suffix(rng, companies), domains, c * chunk)
            ids = leads_create(db, frame, bar)
            _history(db, rng, frame, ids, skill, end64, counts, bar)
    return Summary(
        leads=leads,
        qualified=counts["qualified"],
        opportunities_won=counts["won"],
        opportunities_lost=counts["lost"],
        quotes=counts["quotes"],
        orders=counts["orders"],
        invoices=counts["invoices"],
        payments=counts["payments"],
        seconds=round(time.perf_counter() - started, 2),
    )


def leads_create(db: Database, frame: pd.DataFrame, bar: tqdm) -> np.ndarray:
    bar.set_postfix_str(f"creating {len(frame):,} leads")
    ids = leads.create_many(db, frame)
    bar.update()
    return ids


def _history(
    db: Database,
    rng: np.random.Generator,
    frame: pd.DataFrame,
    ids: np.ndarray,
    skill: dict[str, float],
    end: np.datetime64,
    counts: dict[str, int],
    bar: tqdm,
) -> None:
    """Walk each lead of a chunk through its fate, stage by stage, with bulk actions."""
    n = len(ids)
    created = frame["created_at"].to_numpy(dtype="datetime64[s]")
    source = frame["source"].to_numpy()
    owner_skill = frame["owner"].map(skill).to_numpy(dtype=float)
    src_q = np.array([SOURCES[s][1] for s in source])
    src_w = np.array([SOURCES[s][2] for s in source])

    # -- qualify or disqualify (leads decided after `end` stay open)
    decided_at = created + _lag(rng, n, 4.0, 0.9)
    p_qualify = np.clip(src_q * (0.75 + 0.25 * owner_skill), 0.05, 0.9)
    fate = rng.random(n)
    decided = decided_at < end
    qualify = decided & (fate < p_qualify)
    disqualify = decided & ~qualify & (rng.random(n) < 0.92)
    bar.set_postfix_str(f"qualifying {qualify.sum():,}")
    q = leads.qualify_many(db, ids[qualify], at=decided_at[qualify])
    counts["qualified"] += int(qualify.sum())
    if disqualify.any():
        reasons = np.array(DISQUALIFY_REASONS)[rng.choice(4, int(disqualify.sum()), p=[0.45, 0.25, 0.2, 0.1])]
        leads.disqualify_many(db, ids[disqualify], reason=list(reasons), at=decided_at[disqualify])
    bar.update()

    opp = q["opportunity_id"].to_numpy(dtype=np.int64)
    qual_at = decided_at[qualify]
    o_skill, o_src = owner_skill[qualify], src_w[qualify]
    o_value = frame["estimated_value"].to_numpy()[qualify].astype(float)
    m = len(opp)

    # -- first quote for ~85% of opportunities
    quote_at = qual_at + _lag(rng, m, 6.0)
    has_quote = (rng.random(m) < 0.85) & (quote_at < end)
    qidx = np.flatnonzero(has_quote)
    bar.set_postfix_str(f"quoting {len(qidx):,}")
    n_lines = rng.choice([1, 2, 3, 4], len(qidx), p=[0.35, 0.35, 0.2, 0.1])
    line_quote = np.repeat(np.arange(len(qidx)), n_lines)
    product = rng.integers(0, len(PRODUCTS), len(line_quote))
    typical = np.array([p[3] for p in PRODUCTS])[product]
    quantity = np.maximum(1, rng.poisson(typical))
    # discounts from the list price, or from a lower price the database had for the product before
    with db.connection(read_only=True) as con:
        lowest = dict(con.execute("SELECT sku, min(unit_price) FROM price_list_items GROUP BY sku").fetchall())
    list_price = [Decimal(p[2]) for p in PRODUCTS]
    price = np.array(
        [lp if lowest[p[0]] >= lp * Decimal("0.9") else lowest[p[0]] for p, lp in zip(PRODUCTS, list_price)],
        dtype=object,
    )[product]
    base = quantity * price
    discount = np.where(
        rng.random(len(line_quote)) < 0.2, [(b * Decimal("0.05")).quantize(Decimal("0.01")) for b in base], Decimal(0)
    )
    tax = [(b * Decimal("0.07")).quantize(Decimal("0.01")) for b in base - discount]
    lines = pd.DataFrame(
        {
            "quote": line_quote,
            "sku": np.array([p[0] for p in PRODUCTS])[product],
            "quantity": quantity,
            "discount": discount,
            "tax": tax,
        }
    )
    partner_list = int(catalog.price_lists(db).query("name == 'Partner'")["price_list_id"].iloc[0])
    header = pd.DataFrame(
        {
            "opportunity_id": opp[qidx],
            "discount_pct": np.where(rng.random(len(qidx)) < 0.3, rng.choice([2, 5, 8, 10], len(qidx)), 0),
            "freight": np.where(rng.random(len(qidx)) < 0.4, rng.choice([0, 49, 99, 250], len(qidx)), 0),
            "price_list_id": np.where(np.asarray(source)[qualify][qidx] == "partner", partner_list, pd.NA),
            "created_at": quote_at[qidx],
        }
    )
    current = quotes.create_many(db, header, lines)
    counts["quotes"] += len(current)
    # a quoted deal looks likelier: the salesperson raises its probability when the quote goes out
    # (no random draw here, so the rest of the history stays what the seed made it)
    quoted = opp[qidx]
    opportunities.set_probability_many(db, quoted, (25 + quoted % 21).tolist(), at=quote_at[qidx], actor="demo")
    bar.update()

    # -- activate, then revise 0..3 times (each revision re-activated), a few days apart
    t = quote_at[qidx] + _lag(rng, len(qidx), 2.0)
    alive = t < end
    revisions = rng.choice([0, 1, 2, 3], len(qidx), p=[0.45, 0.3, 0.17, 0.08])
    bar.set_postfix_str("revising")
    quotes.activate_many(db, current[alive], at=t[alive])
    active = alive.copy()
    for r in range(1, 4):
        t_rev = t + _lag(rng, len(qidx), 5.0)
        go = active & (revisions >= r) & (t_rev < end)
        if not go.any():
            break
        new = quotes.revise_many(db, current[go], at=t_rev[go])
        counts["quotes"] += len(new)
        current[go] = new
        t_act = t_rev + _lag(rng, len(qidx), 1.5)
        activate = go & (t_act < end)
        quotes.activate_many(db, current[activate], at=t_act[activate])
        active = np.where(go, activate, active)
        t = np.where(go, t_act, t)
    bar.update()

    # -- decisions: won through the active quote, lost (with reasons, competitors), or still open
    decide_at = np.full(m, np.datetime64("NaT", "s"))
    decide_at[qidx] = t + _lag(rng, len(qidx), 12.0, 0.8)
    no_quote = np.flatnonzero(~has_quote)
    decide_at[no_quote] = qual_at[no_quote] + _lag(rng, len(no_quote), 20.0, 0.8)
    quote_of = np.full(m, -1, dtype=np.int64)
    quote_of[qidx] = np.where(active, current, -1)
    p_win = np.clip(0.42 * o_skill * o_src * np.where(o_value > 100_000, 0.8, 1.0), 0.03, 0.9)
    roll = rng.random(m)
    decided = decide_at < end
    win = decided & (quote_of > 0) & (roll < p_win)
    lose = decided & ~win & (rng.random(m) < 0.9)
    bar.set_postfix_str(f"closing {win.sum():,} won, {lose.sum():,} lost")
    order_ids = quotes.create_order_many(db, quote_of[win], at=decide_at[win])
    counts["won"] += int(win.sum())
    counts["orders"] += len(order_ids)
    if lose.any():
        k = int(lose.sum())
        reason = np.where(rng.random(k) < 0.7, "out_sold", "canceled")
        competitor = np.where(reason == "out_sold", np.array(COMPETITORS)[rng.integers(0, len(COMPETITORS), k)], None)
        opportunities.close_lost_many(
            db, opp[lose], reason=list(reason), competitor=list(competitor), at=decide_at[lose]
        )
        counts["lost"] += k
    bar.update()

    # -- what is still open gets the salesperson's probability: higher as the deal advances
    still_open = ~win & ~lose
    if still_open.any():
        stage = np.where(quote_of[still_open] > 0, 2, np.where(has_quote[still_open], 1, 0))
        low, high = np.array([5, 20, 40])[stage], np.array([20, 45, 85])[stage]
        opportunities.set_probability_many(  # as judged on the last day of the history
            db, opp[still_open], rng.integers(low, high + 1).tolist(), at=np.datetime64(end, "us"), actor="demo"
        )

    # -- orders: fulfilled (most), canceled (a few), or still in progress
    won_at = decide_at[win]
    fulfil_at = won_at + _lag(rng, len(order_ids), 9.0)
    r = rng.random(len(order_ids))
    fulfil = (fulfil_at < end) & (r < 0.93)
    cancel = (fulfil_at < end) & ~fulfil
    orders.fulfill_many(db, order_ids[fulfil], at=fulfil_at[fulfil])
    orders.cancel_many(db, order_ids[cancel], at=fulfil_at[cancel])
    bar.update()

    # -- invoices
    inv_at = fulfil_at[fulfil] + _lag(rng, int(fulfil.sum()), 2.0)
    invoice = inv_at < end
    invoice_ids = orders.create_invoice_many(db, order_ids[fulfil][invoice], at=inv_at[invoice])
    counts["invoices"] += len(invoice_ids)
    bar.update()

    # -- payments: in full (70%), in two parts (15%), or not yet
    inv_at = inv_at[invoice]
    if len(invoice_ids):
        total = db_totals(db, invoice_ids)
        kind = rng.choice(3, len(invoice_ids), p=[0.70, 0.15, 0.15])
        pay1_at = inv_at + _lag(rng, len(invoice_ids), 25.0, 0.5)
        first = (kind < 2) & (pay1_at < end) & (total > 0)
        amount1 = np.where(kind == 1, [(v * Decimal("0.4")).quantize(Decimal("0.01")) for v in total], total)
        invoices.record_payments(
            db, pd.DataFrame({"invoice_id": invoice_ids[first], "amount": amount1[first], "paid_at": pay1_at[first]})
        )
        counts["payments"] += int(first.sum())
        pay2_at = pay1_at + _lag(rng, len(invoice_ids), 20.0, 0.5)
        second = first & (kind == 1) & (pay2_at < end) & (rng.random(len(invoice_ids)) < 0.6)
        rest = np.array([a - b for a, b in zip(total, amount1, strict=True)], dtype=object)
        invoices.record_payments(
            db, pd.DataFrame({"invoice_id": invoice_ids[second], "amount": rest[second], "paid_at": pay2_at[second]})
        )
        counts["payments"] += int(second.sum())
    bar.update()


def db_totals(db: Database, invoice_ids: np.ndarray) -> np.ndarray:
    """Exact invoice totals (Decimal), aligned with invoice_ids."""
    with db.connection(read_only=True) as con:
        rows = dict(
            con.execute(
                "SELECT invoice_id, total FROM v_invoice_totals WHERE invoice_id BETWEEN ? AND ?",
                [int(invoice_ids.min()), int(invoice_ids.max())],
            ).fetchall()
        )
    return np.array([rows[int(i)] for i in invoice_ids], dtype=object)
