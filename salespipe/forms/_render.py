"""HTML for what the quote builder shows: lines, totals, the document's title, the revision history.

Pure functions of what the package returned (frames, totals, history), so they can be tested
and reused; money goes through `money()` (exact Decimals, 1,234.50).
"""

from __future__ import annotations

import pandas as pd

from ..browse import Document, RevisionHistory
from ._base import esc, money, number

KIND_NAMES = {"quote": "Quote", "order": "Order", "invoice": "Invoice", "opportunity": "Opportunity"}


def state_text(state: str, status: str) -> str:
    """draft (in progress), paid (complete), closed (revised)."""
    return state if state == status else f"{state} ({status.replace('_', ' ')})"


def document_name(doc: Document) -> str:
    """Quote QUO-000012 revision 2, Order 7, Invoice 3."""
    if doc.entity == "quote":
        return f"Quote {doc.quote_number} revision {doc.revision}"
    return f"{KIND_NAMES[doc.entity]} {doc.id}"


def document_label(entity: str, ident: int, number: str | None, revision: int | None, state: str) -> str:
    """The text of one entry of the document picker."""
    if entity == "quote":
        return f"Quote {number} rev {revision} · {state}"
    return f"{KIND_NAMES[entity]} {ident} · {state}"


def opportunity_label(row: dict) -> str:
    parts = [f"#{row['opportunity_id']}", row["account"] or "(no account)", row["topic"] or "(no topic)"]
    parts.append(row["owner"] or "(no owner)")
    if row["estimated_value"] is not None:
        parts.append(f"est. {money(row['estimated_value'])}")
    if row["state"] != "open":
        parts.append(row["state"])
    return " · ".join(str(p) for p in parts)


def title_html(doc: Document) -> str:
    origin = ""
    if doc.entity == "order":
        origin = f" from quote {esc(doc.quote_number)} revision {doc.revision}"
    elif doc.entity == "invoice":
        origin = f" of order {doc.source_id}"
    price_list = f" · price list {esc(doc.price_list)}" if doc.price_list else ""
    return (
        f'<div class="sp-section">{esc(document_name(doc))}{origin}{price_list} &nbsp;'
        f'<span class="sp-state">{esc(state_text(doc.state, doc.status))}</span></div>'
    )


def lines_html(lines: pd.DataFrame) -> str:
    """The lines table: #, product, quantity, unit price, discount, amount, tax, extended."""
    if lines.empty:
        return "<i>No lines yet.</i>"
    head = (
        "<tr><th>#</th><th>Product</th><th class='num'>Quantity</th><th class='num'>Unit price</th>"
        "<th class='num'>Discount</th><th class='num'>Amount</th><th class='num'>Tax</th>"
        "<th class='num'>Extended</th></tr>"
    )
    body = "".join(
        f"<tr><td>{r.line_no}</td><td>{esc(r.sku)} · {esc(r.name)}</td><td class='num'>{number(r.quantity)}</td>"
        f"<td class='num'>{money(r.unit_price)}</td><td class='num'>{money(r.discount)}</td>"
        f"<td class='num'>{money(r.amount)}</td><td class='num'>{money(r.tax)}</td>"
        f"<td class='num'>{money(r.extended)}</td></tr>"
        for r in lines.itertuples()
    )
    return f"<table class='sp-table sp-lines'>{head}{body}</table>"


TOTAL_ROWS = (
    ("detail", "Detail amount"),
    ("discount", "Discount"),
    ("pre_freight", "Pre-freight amount"),
    ("freight", "Freight"),
    ("tax", "Tax"),
    ("total", "Total"),
    ("paid", "Paid"),
    ("balance", "Balance"),
)


def totals_html(totals: object, doc: Document | None = None) -> str:
    """Totals as computed by the package (quotes/orders/invoices.totals), shown as money."""
    rows = []
    for field, label in TOTAL_ROWS:
        if not hasattr(totals, field):
            continue
        value = getattr(totals, field)
        if field == "discount" and doc is not None and (doc.discount_pct or doc.discount_amount):
            parts = [f"{number(doc.discount_pct)}%"] if doc.discount_pct else []
            parts += [f"+ {money(doc.discount_amount)}"] if doc.discount_amount else []
            label = f"Discount ({' '.join(parts).lstrip('+ ')})"
        css = " class='total'" if field in ("total", "balance") else ""
        rows.append(f"<tr{css}><td>{esc(label)}</td><td class='num sp-total-{field}'>{money(value)}</td></tr>")
    return f"<table class='sp-table sp-totals'>{''.join(rows)}</table>"


def _line_change(r: pd.Series) -> str:
    sign = {"added": "+", "removed": "−", "changed": "~"}[r["change"]]
    head = f"{sign} line {r['line_no']} {esc(r['sku'])}"
    if r["change"] == "added":
        body = (
            f"{number(r['quantity_after'])} × {money(r['unit_price_after'])}, amount {money(r['amount_after'])} added"
        )
    elif r["change"] == "removed":
        body = (
            f"{number(r['quantity_before'])} × {money(r['unit_price_before'])}, "
            f"amount {money(r['amount_before'])} removed"
        )
    else:
        diffs = []
        for value, fmt in (("quantity", number), ("unit_price", money), ("discount", money), ("tax", money)):
            before, after = r[f"{value}_before"], r[f"{value}_after"]
            if before != after:
                diffs.append(f"{value.replace('_', ' ')} {fmt(before)} → {fmt(after)}")
        diffs.append(f"amount {money(r['amount_before'])} → {money(r['amount_after'])}")
        body = ", ".join(diffs)
    return f"<li class='sp-{r['change']}'>{head}: {body}</li>"


HEADER_NAMES = {"price_list_id": "price list", "discount_pct": "discount %", "discount_amount": "discount amount"}


def history_html(history: RevisionHistory) -> str:
    """Every revision of the quote number, and what changed into each: lines and totals."""
    revs = "".join(
        f"<tr><td>{r.revision}</td><td>{esc(state_text(r.state, r.status))}</td>"
        f"<td>{r.created_at:%Y-%m-%d %H:%M}</td><td class='num'>{money(r.total)}</td></tr>"
        for r in history.revisions.itertuples()
    )
    parts = [
        f'<div class="sp-section">Revisions of {esc(history.quote_number)}</div>',
        "<table class='sp-table sp-revisions'><tr><th>Revision</th><th>State</th><th>Created</th>"
        f"<th class='num'>Total</th></tr>{revs}</table>",
    ]
    for change in history.changes:
        items = [_line_change(r) for _, r in change.lines.iterrows()]
        for field, (before, after) in change.header.items():
            fmt = number if field in ("discount_pct", "price_list_id") else money
            items.append(f"<li class='sp-changed'>~ {HEADER_NAMES.get(field, field)} {fmt(before)} → {fmt(after)}</li>")
        if not items:
            items.append("<li>no changes to lines, discount or freight</li>")
        before, after = change.totals_before.total, change.totals_after.total
        delta = after - before
        items.append(
            f"<li>total {money(before)} → {money(after)} ({'+' if delta >= 0 else '−'}{money(abs(delta))})</li>"
        )
        parts.append(
            f"<div class='sp-change'>Revision {change.from_revision} → {change.to_revision}:"
            f"<ul style='margin:2px 0'>{''.join(items)}</ul></div>"
        )
    return "".join(parts)
