"""QuoteBuilder: from an open opportunity to a paid invoice, one document at a time.

Find an open opportunity (by account, topic or owner), start a quote on a price list, add and
remove lines, set the quote discount and freight, and watch the totals that `quotes.totals`
computes. Activate, revise, close or order the quote; fulfill, cancel or invoice the order;
record payments on the invoice or cancel it. The buttons offered are the actions that
`machine.allowed_actions` allows from the state of the document shown (`current`); line and
discount edits are offered on drafts, the only quotes that can be edited.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import ipywidgets as W

from .. import browse, catalog, invoices, machine, orders, quotes
from ..db import Database
from . import _render
from ._base import ACTION_LABELS, Form, given, money, number

ACTIONS = {
    "quote": ("activate", "revise", "close", "create_order"),
    "order": ("fulfill", "cancel", "create_invoice"),
    "invoice": ("record_payment", "cancel"),
}
ACTION_ORDER = ("Activate", "Revise", "Close", "Create order", "Fulfill", "Create invoice", "Record payment", "Cancel")
EDITS = ("Add line", "Remove line", "Save")
ALL = "(all)"
NOTHING = "(none)"


class QuoteBuilder(Form):
    """Build a quote on an open opportunity and take it through order and invoice to paid."""

    title = "Quotes, orders and invoices"

    def __init__(self, db: Database, *, opportunity: int | None = None) -> None:
        super().__init__(db)
        self.document: browse.Document | None = None
        self.opportunity: dict | None = None
        self._products: dict[int, list[tuple[str, str]]] = {}
        self._quiet_depth = 0
        find = [
            self._field(
                "search",
                W.Text(description="Find", placeholder="account, topic or id", continuous_update=False),
                width="300px",
            ),
            self._field("owner", W.Dropdown(description="Owner", options=[(ALL, "")]), width="250px"),
        ]
        self._button("Refresh", self.refresh, icon="refresh")
        pick = self._field(
            "opportunity", W.Dropdown(description="Opportunity", options=[(NOTHING, None)]), width="720px"
        )
        doc = self._field("document", W.Dropdown(description="Document", options=[(NOTHING, None)]), width="420px")
        price_list = self._field("price_list", W.Dropdown(description="Price list"), width="280px")
        self._button("New quote", self.new_quote, icon="plus")
        self._title = W.HTML()
        self._lines = W.HTML()
        self._totals = W.HTML()
        self._history = W.HTML()
        line = [
            self._field("sku", W.Dropdown(description="Product", options=[]), width="420px"),
            self._text("quantity", "Quantity", "e.g. 10", width="160px", label="60px"),
            self._text("discount", "Discount", "e.g. 50.00", width="170px", label="60px"),
            self._text("tax", "Tax", "e.g. 8.80", width="130px", label="30px"),
        ]
        self._button("Add line", self.add_line, style="primary", icon="plus")
        remove = self._field("line_no", W.Dropdown(description="Line", options=[]), width="300px")
        self._button("Remove line", self.remove_line, icon="minus")
        header = [
            self._text("discount_pct", "Discount %", "e.g. 5", width="200px"),
            self._text("discount_amount", "Discount amt", "e.g. 100.00", width="240px"),
            self._text("freight", "Freight", "e.g. 250.00", width="220px"),
        ]
        self._button("Save", self.save, icon="check")
        close = self._field(
            "close_status",
            W.Dropdown(description="Close as", options=[(s.capitalize(), s) for s in quotes.CLOSE_STATUSES]),
            width="240px",
        )
        amount = self._text("amount", "Amount", "the balance", width="240px")
        self._button("Activate", self.activate, style="success", icon="check")
        self._button("Revise", self.revise, icon="edit")
        self._button("Close", self.close, style="warning", icon="times")
        self._button("Create order", self.create_order, style="success", icon="shopping-cart")
        self._button("Fulfill", self.fulfill, style="success", icon="truck")
        self._button("Create invoice", self.create_invoice, style="success", icon="file")
        self._button("Record payment", self.record_payment, style="success", icon="money")
        self._button("Cancel", self.cancel, style="danger", icon="ban")
        b = self.buttons
        row = W.Layout(flex_flow="row wrap", align_items="flex-start")
        self._edit_box = W.VBox(
            [
                W.HBox([*line, b["Add line"]], layout=row),
                W.HBox([remove, b["Remove line"]], layout=row),
                W.HBox([*header, b["Save"]], layout=row),
            ]
        )
        actions = W.HBox(
            [b["Activate"], b["Revise"], close, b["Close"], b["Create order"], b["Fulfill"], b["Create invoice"]]
            + [amount, b["Record payment"], b["Cancel"]],
            layout=row,
        )
        for name in ("search", "owner"):
            self.fields[name].observe(self._on_find, "value")
        self.fields["opportunity"].observe(self._on_opportunity, "value")
        self.fields["document"].observe(self._on_document, "value")
        self.widget = self._root(
            W.HBox([*find, b["Refresh"]], layout=row),
            pick,
            W.HBox([doc, price_list, b["New quote"]], layout=row),
            self._title,
            self._lines,
            self._edit_box,
            self._totals,
            actions,
            self._history,
        )
        self._load_choices()
        if opportunity is not None:
            self.open("opportunity", opportunity)
        else:
            self.find()

    @contextmanager
    def _quiet(self):
        self._quiet_depth += 1
        try:
            yield
        finally:
            self._quiet_depth -= 1

    # -- finding -------------------------------------------------------------------------------

    def _load_choices(self) -> None:
        ok, found = self.read(lambda: (browse.owners(self.db), catalog.price_lists(self.db)))
        if not ok:
            return
        owners, lists = found
        with self._quiet():
            keep = self.fields["owner"].value
            self.fields["owner"].options = [(ALL, ""), *((o, o) for o in owners)]
            self.fields["owner"].value = keep if keep in owners else ""
            self.fields["price_list"].options = [
                (str(r.name), int(r.price_list_id)) for r in lists.itertuples(index=False)
            ]

    def find(self) -> int | None:
        """Search the open opportunities and show the first one found (or keep the current one).

        Returns how many were found (None when the search could not run)."""
        search, owner = self.fields["search"].value or None, self.fields["owner"].value or None
        ok, found = self.read(browse.open_opportunities, self.db, search=search, owner=owner)
        if not ok:
            return None
        options = [(_render.opportunity_label(r), int(r["opportunity_id"])) for r in found.to_dict("records")]
        current = self.opportunity["opportunity_id"] if self.opportunity else None
        if current is not None and current not in [v for _, v in options]:
            options.insert(0, (_render.opportunity_label(self.opportunity), current))
        with self._quiet():
            self.fields["opportunity"].options = options or [("(no open opportunity matches)", None)]
            self.fields["opportunity"].value = current if current is not None else options[0][1] if options else None
        if current is None:
            self._choose_opportunity(self.fields["opportunity"].value)
        return len(found)

    def _on_find(self, _change: dict) -> None:
        if not self._quiet_depth:
            self.opportunity = None
            found = self.find()
            if found is not None:
                self.say(
                    "1 open opportunity found" if found == 1 else f"{found:,} open opportunities found (newest first)"
                )

    def _on_opportunity(self, change: dict) -> None:
        if not self._quiet_depth:
            self._choose_opportunity(change["new"])

    def _choose_opportunity(self, opportunity: int | None, *, then: tuple[str, int] | None = None) -> None:
        """Show an opportunity: its documents, and the newest of them (or `then`)."""
        if opportunity is None:
            self.opportunity, self.document, self.current = None, None, None
            with self._quiet():
                self.fields["document"].options = [(NOTHING, None)]
            self._show()
            return
        ok, opp = self.read(browse.opportunity, self.db, opportunity)
        if not ok:
            return
        self.opportunity = opp
        with self._quiet():
            labels = dict(self.fields["opportunity"].options)
            if opportunity not in labels.values():
                self.fields["opportunity"].options = [
                    (_render.opportunity_label(opp), opportunity),
                    *self.fields["opportunity"].options,
                ]
            self.fields["opportunity"].value = opportunity
            self.fields["price_list"].value = int(opp["price_list_id"])
        documents = self._load_documents()
        if documents is None:
            return
        if then is None:
            then = documents[-1] if documents else ("opportunity", opportunity)
        self._open(*then)

    def _load_documents(self) -> list[tuple[str, int]] | None:
        ok, docs = self.read(browse.opportunity_documents, self.db, self.opportunity["opportunity_id"])
        if not ok:
            return None
        options = [
            (
                _render.document_label(d["entity"], d["id"], d["quote_number"], d["revision"], d["state"]),
                (d["entity"], d["id"]),
            )
            for d in docs.to_dict("records")
        ]
        with self._quiet():
            self.fields["document"].options = options or [("(no quote yet: start one with New quote)", None)]
        return [v for _, v in options]

    def _on_document(self, change: dict) -> None:
        if not self._quiet_depth and change["new"] is not None:
            self._open(*change["new"])

    # -- opening -------------------------------------------------------------------------------

    def open(self, entity: str, ident: int) -> None:
        """Show an opportunity, quote, order or invoice (scripting: form.open("quote", 42))."""
        if entity == "opportunity":
            self._choose_opportunity(ident)
            return
        ok, doc = self.read(browse.document, self.db, entity, ident)
        if ok:
            self._choose_opportunity(doc.opportunity_id, then=(entity, ident))

    def _open(self, entity: str, ident: int) -> None:
        """Make a document (or the opportunity, when it has none) the current record and show it."""
        self.current = (entity, ident)
        if entity == "opportunity":
            self.document = None
        else:
            ok, doc = self.read(browse.document, self.db, entity, ident)
            if not ok:
                return
            self.document = doc
            with self._quiet():
                if (entity, ident) in [v for _, v in self.fields["document"].options]:
                    self.fields["document"].value = (entity, ident)
                if doc.price_list_id is not None:
                    self.fields["price_list"].value = doc.price_list_id
        self._show()

    def _show(self) -> bool:
        """Draw the current record: title, lines, totals, history, and the buttons its state allows."""
        doc, entity = self.document, (self.current or ("", 0))[0]
        offered = ["Refresh"]
        if self.opportunity is not None and self.opportunity["state"] == "open":
            offered.append("New quote")  # quotes.create refuses the others; the picker lists open ones
        if doc is None:
            self._title.value = (
                ""
                if self.opportunity is None
                else '<div class="sp-section">No quote yet: pick a price list and click New quote.</div>'
            )
            self._lines.value = self._totals.value = self._history.value = ""
            self._edit_box.layout.display = "none"
            self._show_offered(offered, [])
            return True
        reads = {
            "quote": quotes.totals,
            "order": orders.totals,
            "invoice": invoices.totals,
        }
        ok, found = self.read(lambda: (browse.document_lines(self.db, entity, doc.id), reads[entity](self.db, doc.id)))
        if not ok:
            return False
        lines, totals = found
        self._title.value = _render.title_html(doc)
        self._lines.value = _render.lines_html(lines)
        self._totals.value = _render.totals_html(totals, doc)
        history = ""
        if entity == "quote":
            ok, revisions = self.read(browse.revision_history, self.db, doc.id)
            history = _render.history_html(revisions) if ok else ""
        self._history.value = history
        actions = machine.allowed_actions(entity, doc.state, doc.status)
        draft = entity == "quote" and doc.state == "draft"  # only drafts are edited (quotes._draft refuses the rest)
        self._edit_box.layout.display = "" if draft else "none"
        if draft:
            self._fill_draft(doc, lines)
        if entity == "invoice" and "record_payment" in actions:
            self.fields["amount"].value = str(totals.balance)
        self._show_offered(offered + (list(EDITS) if draft else []), [ACTION_LABELS[a] for a in actions])
        return True

    def _show_offered(self, others: list[str], actions: list[str]) -> None:
        self.offer([*others, *actions], among=list(self.buttons))
        self._boxes["close_status"].layout.display = "" if "Close" in actions else "none"
        self._boxes["amount"].layout.display = "" if "Record payment" in actions else "none"

    def _fill_draft(self, doc: browse.Document, lines: object) -> None:
        """The edit row of a draft: its price list's products, its lines, its discount and freight."""
        if doc.price_list_id not in self._products:
            ok, products = self.read(browse.price_list_products, self.db, doc.price_list_id)
            if not ok:
                return
            self._products[doc.price_list_id] = [
                (f"{r.sku} · {r.name} · {money(r.unit_price)}", r.sku) for r in products.itertuples()
            ]
        with self._quiet():
            sku = self.fields["sku"]
            keep = sku.value
            sku.options = self._products[doc.price_list_id]
            if keep in [v for _, v in sku.options]:
                sku.value = keep
            line_no = self.fields["line_no"]
            keep = line_no.value
            line_no.options = [(f"{r.line_no}: {r.sku}", int(r.line_no)) for r in lines.itertuples()]
            # the dropdown shows the line Remove line removes: the one chosen before, else the first
            values = [v for _, v in line_no.options]
            line_no.value = keep if keep in values else (values[0] if values else None)
            self.fields["discount_pct"].value = number(doc.discount_pct)
            self.fields["discount_amount"].value = str(doc.discount_amount)
            self.fields["freight"].value = str(doc.freight)

    def refresh(self) -> None:
        """Reload owners, price lists, the opportunities found and the current record."""
        failures = self.read_failures
        self._load_choices()
        self._products.clear()
        current = self.current
        self.find()
        if current is not None:
            self.open(*current)
        if self.read_failures == failures:
            self.say(f"Refreshed: {self.summary()}")

    # -- acting ----------------------------------------------------------------------------------

    def _did(self, text: str, then: tuple[str, int] | None = None, *, documents: bool = True) -> None:
        """After an action: say what happened, reload what it changed, and show `then` (or the same record)."""
        target = then or self.current
        if documents:
            self._load_documents()
        ok, doc = (True, None) if target[0] == "opportunity" else self.read(browse.document, self.db, *target)
        if ok:
            self.current, self.document = target, doc
            with self._quiet():
                if target in [v for _, v in self.fields["document"].options]:
                    self.fields["document"].value = target
            if self._show():
                self.say(text, "success")
                return
        self.say(f"{text}\n{self.message}", "warning")

    def _doc_id(self, entity: str) -> int | None:
        return self.current[1] if self.current and self.current[0] == entity else None

    def _act(self, failed: str, entity: str, call: Callable[..., Any], *args: Any, **kw: Any) -> tuple[bool, Any]:
        """`attempt` the call on the record shown, which must be a(n) `entity`."""
        ident = self._doc_id(entity)
        if ident is None:
            self.say(f"{failed}: open {'an' if entity[0] in 'aeiou' else 'a'} {entity} first", "error")
            return False, None
        return self.attempt(failed, call, self.db, ident, *args, **kw)

    def new_quote(self) -> int | None:
        """Create a draft quote (revision 1) on the opportunity, priced from the chosen price list."""
        if self.opportunity is None:
            self.say("No quote created: pick an open opportunity first", "error")
            return None
        opp = self.opportunity["opportunity_id"]
        ok, quote = self.attempt(
            "No quote created", quotes.create, self.db, opp, price_list=self.fields["price_list"].value
        )
        if ok:
            ok_doc, doc = self.read(browse.document, self.db, "quote", quote)
            name = _render.document_name(doc) if ok_doc else f"Quote {quote}"
            self._did(f"{name} created as a draft: add its lines", ("quote", quote))
        return quote if ok else None

    def add_line(self) -> int | None:
        """Add the product with the quantity, discount and tax as typed; the totals follow."""
        values = {"sku": self.fields["sku"].value, "quantity": self.fields["quantity"].value}
        for name in ("discount", "tax"):
            if given(self.fields[name].value) is not None:
                values[name] = self.fields[name].value
        ok, line = self._act("Line not added", "quote", quotes.add_line, **values)
        if ok:
            for name in ("quantity", "discount", "tax"):
                self.fields[name].value = ""
            self._did(f"Line {line} added: {values['quantity'].strip()} × {values['sku']}", documents=False)
        return line if ok else None

    def remove_line(self) -> bool:
        line = self.fields["line_no"].value
        ok, _ = self._act("Line not removed", "quote", quotes.remove_line, line)
        if ok:
            self._did(f"Line {line} removed", documents=False)
        return ok

    def save(self) -> bool:
        """Save the quote discount (percent and amount) and freight as typed; blank leaves a value as it is."""
        values = {n: given(self.fields[n].value) for n in ("discount_pct", "discount_amount", "freight")}
        ok, _ = self._act("Quote not saved", "quote", quotes.update, **values)
        if ok:
            self._did("Quote discount and freight saved", documents=False)
        return ok

    def activate(self) -> bool:
        ok, _ = self._act("Not activated", "quote", quotes.activate)
        if ok:
            self._did(f"{_render.document_name(self.document)} activated: its prices are locked")
        return ok

    def revise(self) -> int | None:
        ok, draft = self._act("Not revised", "quote", quotes.revise)
        if ok:
            old = self.document
            self._did(
                f"Revision {old.revision + 1} of {old.quote_number} created as a draft "
                f"(revision {old.revision} is closed as revised)",
                ("quote", draft),
            )
        return draft if ok else None

    def close(self) -> bool:
        status = self.fields["close_status"].value
        ok, _ = self._act("Not closed", "quote", quotes.close, status=status)
        if ok:
            self._did(f"{_render.document_name(self.document)} closed as {status}")
        return ok

    def create_order(self) -> int | None:
        ok, order = self._act("No order created", "quote", quotes.create_order)
        if ok:
            name = _render.document_name(self.document).replace("Quote", "quote", 1)
            ok_opp, opp = self.read(browse.opportunity, self.db, self.document.opportunity_id)
            if ok_opp:
                self.opportunity = opp
            won = f"; opportunity {opp['opportunity_id']} is won at {money(opp['actual_value'])}" if ok_opp else ""
            self._did(f"Order {order} created from {name}{won}", ("order", order))
        return order if ok else None

    def fulfill(self) -> bool:
        order = self._doc_id("order")
        ok, _ = self._act("Not fulfilled", "order", orders.fulfill)
        if ok:
            self._did(f"Order {order} fulfilled: it can be invoiced")
        return ok

    def create_invoice(self) -> int | None:
        order = self._doc_id("order")
        ok, invoice = self._act("No invoice created", "order", orders.create_invoice)
        if ok:
            self._did(f"Invoice {invoice} created from order {order}", ("invoice", invoice))
        return invoice if ok else None

    def record_payment(self) -> int | None:
        """Record a payment of the amount as typed (by default the balance) on the invoice."""
        invoice, amount = self._doc_id("invoice"), self.fields["amount"].value
        ok, payment = self._act("Payment not recorded", "invoice", invoices.record_payment, amount)
        if ok:
            ok_t, totals = self.read(invoices.totals, self.db, invoice)
            if not ok_t:
                done = f"Payment {payment} recorded on invoice {invoice}"
            elif totals.balance == 0:
                done = f"Payment recorded on invoice {invoice}: {money(totals.paid)} paid of {money(totals.total)}; it is paid"
            else:
                done = (
                    f"Payment recorded on invoice {invoice}: {money(totals.paid)} paid of {money(totals.total)}; "
                    f"balance {money(totals.balance)}"
                )
            self._did(done)
        return payment if ok else None

    def cancel(self) -> bool:
        """Cancel the order or invoice shown."""
        entity = self.current[0] if self.current else None
        call = {"order": orders.cancel, "invoice": invoices.cancel}.get(entity)
        if call is None:
            self.say("Nothing to cancel: open an order or an invoice", "error")
            return False
        ok, _ = self.attempt("Not canceled", call, self.db, self.current[1])
        if ok:
            self._did(f"{_render.KIND_NAMES[entity]} {self.current[1]} canceled")
        return ok

    def summary(self) -> str:
        """What the form shows, in a few words: "Quote QUO-000012 revision 2, draft (in progress)"."""
        if self.current is None:
            return "no open opportunity chosen"
        if self.document is None:
            return f"opportunity {self.current[1]}, no quote yet"
        doc = self.document
        return f"{_render.document_name(doc)}, {_render.state_text(doc.state, doc.status)}"

    def __repr__(self) -> str:
        return f"<QuoteBuilder: {self.summary()}>"
