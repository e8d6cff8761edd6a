"""A scripted walk through the whole sales process, lead to paid invoice, on a real database.

Every step is a real call of the public API; the printed lines come from what the database
answers, not from the script.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from . import catalog, check, doctor, invoices, leads, opportunities, orders, quotes
from .db import Database
from .errors import ValidationError

SPAN = dt.timedelta(days=45)  # from the first lead to the last payment


def run(db: Database, *, say: Callable[[str], None] = print, start: dt.datetime | None = None) -> dict[str, int]:
    """Walk one deal from lead to paid invoice (plus a lost one) and return the ids it made.

    The history spans 45 days and ends by now: by default it starts 45 days ago, and a `start`
    that would date a step in the future is refused.
    """
    db = check.database(db)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    t = check.timestamp(start) if start is not None else now - SPAN
    if t + SPAN > now:
        raise ValidationError(
            f"start {t:%Y-%m-%d %H:%M} would date the last step in the future: give a start at least 45 days ago",
            field="start",
            value=start,
        )
    day = dt.timedelta(days=1)
    run_tag = f"{t:%Y%m%d%H%M%S}"

    for sku, name, price in (("LAPTOP-15", "15-inch laptop", "1200.00"), ("DOCK-1", "USB-C dock", "150.00")):
        if catalog.products(db).query("sku == @sku").empty:
            catalog.add_product(db, sku=sku, name=name, unit_price=Decimal(price))
            say(f"catalog: added {sku} ({name}) at {price} on the default price list")

    lead = leads.create(
        db,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@contoso.com",
        company="Contoso Ltd",
        topic=f"50 laptops ({run_tag})",
        source="web",
        owner="maria",
        estimated_value=Decimal("60000"),
        at=t,
    )
    say(f"lead {lead}: Ada Lovelace of Contoso Ltd wants 50 laptops (estimated 60,000.00)")
    q = leads.qualify(db, lead, at=t + day)
    say(
        f"qualified lead {lead}: account {q.account_id} ({'matched' if q.account_matched else 'created'}), "
        f"contact {q.contact_id} ({'matched' if q.contact_matched else 'created'}), opportunity {q.opportunity_id}"
    )

    quote = quotes.create(db, q.opportunity_id, lines=[("LAPTOP-15", 50)], discount_pct=Decimal("5"), at=t + 2 * day)
    quotes.add_line(db, quote, sku="DOCK-1", quantity=50)
    tot = quotes.totals(db, quote)
    say(f"quote {quote} (revision 1): detail {tot.detail}, discount {tot.discount}, total {tot.total}")
    quotes.activate(db, quote, at=t + 3 * day)
    say(f"quote {quote} activated: prices locked")

    rev2 = quotes.revise(db, quote, at=t + 5 * day)
    quotes.update(db, rev2, discount_pct=Decimal("8"), freight=Decimal("250.00"))
    tot2 = quotes.totals(db, rev2)
    say(f"quote {quote} revised: revision 2 is quote {rev2} with 8% off and 250.00 freight, total {tot2.total}")
    quotes.activate(db, rev2, at=t + 6 * day)

    order = quotes.create_order(db, rev2, at=t + 8 * day)
    opp = db.sql("SELECT state, actual_value FROM opportunities WHERE opportunity_id = ?", [q.opportunity_id])
    say(f"order {order} created from quote {rev2}; opportunity {q.opportunity_id} is {opp.state[0]} at {tot2.total}")

    orders.fulfill(db, order, at=t + 15 * day)
    invoice = orders.create_invoice(db, order, at=t + 16 * day)
    say(f"order {order} fulfilled; invoice {invoice} issued for {invoices.totals(db, invoice).total}")
    invoices.record_payment(db, invoice, Decimal("20000.00"), at=t + 30 * day)
    it = invoices.totals(db, invoice)
    say(f"invoice {invoice}: paid 20,000.00, balance {it.balance}")
    invoices.record_payment(db, invoice, it.balance, at=t + 45 * day)
    state = db.sql("SELECT state, status FROM invoices WHERE invoice_id = ?", [invoice])
    say(f"invoice {invoice}: paid the balance; it is {state.state[0]} ({state.status[0]})")

    other = leads.create(
        db,
        last_name="Smith",
        company="Fabrikam, Inc.",
        email="j.smith@fabrikam.com",
        topic=f"Docks ({run_tag})",
        source="event",
        owner="li",
        estimated_value=Decimal("5000"),
        at=t,
    )
    q2 = leads.qualify(db, other, at=t + 2 * day)
    lost_quote = quotes.create(db, q2.opportunity_id, lines=[("DOCK-1", 30)], at=t + 3 * day)
    quotes.activate(db, lost_quote, at=t + 4 * day)
    opportunities.close_lost(db, q2.opportunity_id, reason="out_sold", competitor="Northwind", at=t + 20 * day)
    say(f"opportunity {q2.opportunity_id} (Fabrikam) lost to Northwind; its quote {lost_quote} closed as lost")

    spam = leads.create(db, company="Unknown Ltd", topic="?", source="cold_call", at=t)
    leads.disqualify(db, spam, reason="cannot_contact", at=t + day)
    say(f"lead {spam} disqualified (cannot_contact)")

    made = {
        "lead": [lead, other, spam],
        "opportunity": [q.opportunity_id, q2.opportunity_id],
        "quote": [quote, rev2, lost_quote],
        "order": [order],
        "invoice": [invoice],
    }
    events = sum(
        int(
            db.sql("SELECT count(*) AS n FROM events WHERE entity = ? AND list_contains(?, entity_id)", [entity, ids])[
                "n"
            ].iloc[0]
        )
        for entity, ids in made.items()
    )
    problems = doctor.run(db)
    say(
        f"{events} events recorded for this walk; doctor: "
        f"{'all invariants hold' if problems.empty else f'{len(problems)} violations'}"
    )
    return {
        "lead": lead,
        "opportunity": q.opportunity_id,
        "quote": quote,
        "revision": rev2,
        "order": order,
        "invoice": invoice,
        "lost_opportunity": q2.opportunity_id,
    }
