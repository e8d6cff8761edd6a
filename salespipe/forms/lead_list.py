"""LeadList: the "My leads" view: newest first, paged, filtered; qualify, disqualify or reactivate.

Pages come from `browse.lead_page` (a count and one LIMIT/OFFSET query), so the list opens at
once on a million leads. Ticking rows selects them; the buttons offered are the actions that
`machine.allowed_actions` allows for every selected lead. One lead goes through
`leads.qualify` / `disqualify` / `reactivate`, several through their `_many` forms, all or none.
"""

from __future__ import annotations

from contextlib import contextmanager

import ipywidgets as W
import pandas as pd

from .. import browse, leads, machine
from ..db import Database
from ._base import ACTION_LABELS, Form, esc, money

ACTIONS = ("qualify", "disqualify", "reactivate")
COLUMNS = (  # header, width, numeric
    ("Lead", "64px", True),
    ("Name", "1.2fr", False),
    ("Company", "1.3fr", False),
    ("Email", "1.7fr", False),
    ("Topic", "1.3fr", False),
    ("Source", "76px", False),
    ("Owner", "1fr", False),
    ("Status", "1.2fr", False),
    ("Est. value", "92px", True),
    ("Created", "84px", False),
)
GRID = "display:grid;grid-template-columns:" + " ".join(w for _, w, _ in COLUMNS) + ";gap:0 10px;width:100%"
ALL = "(all)"  # value "" (a drop-down value of None shows as blank): no filter


def _label(name: str) -> str:
    return name.replace("_", " ")


def status_text(state: str, status: str) -> str:
    """open · new, qualified, disqualified · no longer interested."""
    return state if state == status else f"{state} · {_label(status)}"


class LeadList(Form):
    """Leads newest first with filters (state, owner, source, search) and paging; act on ticked rows."""

    title = "Leads"

    def __init__(self, db: Database, *, page_size: int = 25) -> None:
        super().__init__(db)
        self.page_size = page_size
        self.page: browse.LeadPage | None = None
        self.checkboxes: dict[int, W.Checkbox] = {}
        self._states: dict[int, tuple[str, str]] = {}
        self._quiet_depth = 0
        states = [(ALL, ""), *((_label(s), s) for s in browse.LEAD_STATES)]
        filters = [
            self._field("state", W.Dropdown(description="State", options=states), width="190px", label="45px"),
            self._field("owner", W.Dropdown(description="Owner", options=[(ALL, "")]), width="230px", label="50px"),
            self._field("source", W.Dropdown(description="Source", options=[(ALL, "")]), width="190px", label="55px"),
            self._field(
                "search",
                W.Text(description="Search", placeholder="name, company, email or id", continuous_update=False),
                width="300px",
                label="55px",
            ),
        ]
        self._button("Refresh", self.refresh, icon="refresh")
        page = W.BoundedIntText(description="Page", value=1, min=1, max=1)
        pager = self._field("page", page, width="130px", label="40px")
        self._count = W.HTML()
        self._select_page = W.Checkbox(value=False, indent=False, layout=W.Layout(width="28px"))
        self._select_page.add_class("sp-select-page")
        self._select_page.observe(self._on_select_page, "value")
        head = "".join(f'<span class="{"num" if numeric else ""}">{esc(h)}</span>' for h, _, numeric in COLUMNS)
        header = W.HBox(
            [
                self._select_page,
                W.HTML(f'<div class="sp-grid sp-head" style="{GRID}">{head}</div>', layout=W.Layout(width="100%")),
            ],
            layout=W.Layout(width="100%"),
        )
        self._rows = []
        # the rows share their layouts and styles: ~100 fewer widget models to create (and sync)
        tick, wide = W.Layout(width="28px"), W.Layout(width="100%")
        tick_style, cell_style = W.Checkbox().style, W.HTML().style
        for _ in range(page_size):
            box = W.Checkbox(value=False, indent=False, layout=tick, style=tick_style)
            box.observe(self._on_tick, "value")
            cells = W.HTML(layout=wide, style=cell_style)
            row = W.HBox([box, cells], layout=W.Layout(width="100%", display="none"))
            row.add_class("sp-lead-row")
            self._rows.append((row, box, cells))
        for name, label in (
            ("create_account", "Create account"),
            ("create_contact", "Create contact"),
            ("create_opportunity", "Create opportunity"),
        ):
            self._field(name, W.Checkbox(value=True, description=label, indent=False), width="170px")
        reasons = [(_label(r).capitalize(), r) for r in leads.DISQUALIFY_REASONS]
        reason = self._field("reason", W.Dropdown(description="Reason", options=reasons), width="260px", label="55px")
        self._button("Qualify", self.qualify, style="success", icon="check")
        self._button("Disqualify", self.disqualify, style="warning", icon="ban")
        self._button("Reactivate", self.reactivate, icon="undo")
        self._selected_text = W.HTML()
        qualify = W.HBox(
            [
                self.buttons["Qualify"],
                *(self._boxes[n] for n in ("create_account", "create_contact", "create_opportunity")),
            ]
        )
        actions = W.VBox(
            [
                self._selected_text,
                qualify,
                W.HBox([self.buttons["Disqualify"], reason]),
                W.HBox([self.buttons["Reactivate"]]),
            ]
        )
        for name in ("state", "owner", "source", "search"):
            self.fields[name].observe(self._on_filter, "value")
        page.observe(self._on_page, "value")
        self.widget = self._root(
            W.HBox([*filters, self.buttons["Refresh"]], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self._count, pager], layout=W.Layout(align_items="center")),
            header,
            *(row for row, _, _ in self._rows),
            actions,
        )
        self.refresh()

    # -- loading -----------------------------------------------------------------------------

    @contextmanager
    def _quiet(self):
        """Programmatic changes of filters and boxes must not trigger loads and re-offers."""
        self._quiet_depth += 1
        try:
            yield
        finally:
            self._quiet_depth -= 1

    def refresh(self, *_: object) -> None:
        """Reload the filter choices and the current page (also a callback: LeadForm(on_created=...))."""
        ok, choices = self.read(browse.lead_list_choices, self.db)
        if ok:
            with self._quiet():
                for name, values in (("owner", choices.owners), ("source", choices.sources)):
                    widget = self.fields[name]
                    keep = widget.value
                    widget.options = [(ALL, ""), *((v, v) for v in values)]
                    widget.value = keep if keep in values else ""
        self.load()

    def filters(self) -> dict[str, object]:
        """The filters as `browse.lead_page` keywords."""
        return {name: self.fields[name].value or None for name in ("state", "owner", "source", "search")}

    def load(self, page: int | None = None) -> bool:
        """Show a page (default: the one in the page field) with the current filters."""
        number = page if page is not None else self.fields["page"].value
        ok, found = self.read(browse.lead_page, self.db, page=number, page_size=self.page_size, **self.filters())
        if not ok:
            return False
        self.page = found
        with self._quiet():
            self.fields["page"].max = found.pages
            self.fields["page"].value = found.page
            self._select_page.value = False
            self.checkboxes, self._states = {}, {}
            for i, (row, box, cells) in enumerate(self._rows):
                if i < len(found.rows):
                    lead = found.rows.iloc[i]
                    lead_id = int(lead["lead_id"])
                    box.value = False
                    cells.value = self._cells(lead)
                    row.layout.display = ""
                    self.checkboxes[lead_id] = box
                    self._states[lead_id] = (lead["state"], lead["status"])
                else:
                    row.layout.display = "none"
        of = f"{found.total:,}" + ("" if found.exact else "+")
        shown = f"{found.first_row:,}–{found.last_row:,} of {of}" if found.total else "no leads match"
        self._count.value = f"<b>Leads {shown}</b>&nbsp;&nbsp;"
        self._offer()
        return True

    @staticmethod
    def _cells(lead: pd.Series) -> str:
        name = " ".join(str(lead[c]) for c in ("first_name", "last_name") if lead[c] is not None)
        created = lead["created_at"]
        values = (
            lead["lead_id"],
            name,
            lead["company"],
            lead["email"],
            lead["topic"],
            lead["source"],
            lead["owner"],
            status_text(lead["state"], lead["status"]),
            money(lead["estimated_value"]),
            "" if pd.isna(created) else created.strftime("%Y-%m-%d"),
        )
        spans = "".join(
            f'<span class="{"num" if numeric else ""}" title="{esc(v)}">{esc(v)}</span>'
            for v, (_, _, numeric) in zip(values, COLUMNS, strict=True)
        )
        return f'<div class="sp-grid" style="{GRID}">{spans}</div>'

    # -- selection ---------------------------------------------------------------------------

    @property
    def selected(self) -> list[int]:
        """The ids of the ticked leads on this page, newest first."""
        return [lead for lead, box in self.checkboxes.items() if box.value]

    def select(self, *ids: int) -> None:
        """Tick exactly these leads of the current page (scripting; a click does the same)."""
        missing = set(ids) - set(self.checkboxes)
        if missing:
            raise KeyError(f"leads {sorted(missing)} are not on this page")
        with self._quiet():
            for lead, box in self.checkboxes.items():
                box.value = lead in ids
        self._offer()

    def _on_tick(self, _change: dict) -> None:
        if not self._quiet_depth:
            self._offer()

    def _on_select_page(self, change: dict) -> None:
        if self._quiet_depth:
            return
        with self._quiet():
            for box in self.checkboxes.values():
                box.value = bool(change["new"])
        self._offer()

    def _offer(self) -> None:
        """Offer the actions the state machine allows for every selected lead (none without a selection)."""
        chosen = self.selected
        allowed = set(ACTIONS) if chosen else set()
        for lead in chosen:
            allowed &= set(machine.allowed_actions("lead", *self._states[lead]))
        self.offer([ACTION_LABELS[a] for a in ACTIONS if a in allowed], among=[ACTION_LABELS[a] for a in ACTIONS])
        for name in ("create_account", "create_contact", "create_opportunity"):
            self._boxes[name].layout.display = "" if "qualify" in allowed else "none"
        self._boxes["reason"].layout.display = "" if "disqualify" in allowed else "none"
        if len(chosen) == 1:
            self.current = ("lead", chosen[0])
        else:
            self.current = None
        self._selected_text.value = (
            f"<i>{len(chosen)} selected: {esc(', '.join(map(str, chosen)))}</i>"
            if chosen
            else "<i>Tick leads to qualify, disqualify or reactivate them.</i>"
        )

    def _on_filter(self, _change: dict) -> None:
        if not self._quiet_depth:
            self.load(page=1)

    def _on_page(self, _change: dict) -> None:
        if not self._quiet_depth:
            self.load()

    # -- actions -----------------------------------------------------------------------------

    def qualify(self) -> bool:
        """Qualify the selected leads with the three create_* options; say what was matched and created."""
        ids = self.selected
        if not ids:
            return self._none_ticked("qualify")
        flags = {n: self.fields[n].value for n in ("create_account", "create_contact", "create_opportunity")}
        if len(ids) == 1:
            ok, result = self.attempt("Not qualified", leads.qualify, self.db, ids[0], **flags)
            if not ok:
                return False
            matched = {ids[0]: (result.account_matched, result.contact_matched)}
        else:
            ok, result = self.attempt("Not qualified", leads.qualify_many, self.db, ids, **flags)
            if not ok:
                return False
            matched = {int(r.lead_id): (bool(r.account_matched), bool(r.contact_matched)) for r in result.itertuples()}
        done = f"Lead {ids[0]} qualified" if len(ids) == 1 else f"{len(ids)} leads qualified"
        found, made = self.read(browse.qualified, self.db, ids)
        lines = [done] if not found else [_outcome(r, matched[int(r.lead_id)]) for r in made.itertuples()]
        self.say("\n".join(lines), "success")
        self._after(lines)
        return True

    def disqualify(self) -> bool:
        """Disqualify the selected leads with the chosen reason."""
        ids, reason = self.selected, self.fields["reason"].value
        if not ids:
            return self._none_ticked("disqualify")
        if len(ids) == 1:
            ok, _ = self.attempt("Not disqualified", leads.disqualify, self.db, ids[0], reason=reason)
        else:
            ok, _ = self.attempt("Not disqualified", leads.disqualify_many, self.db, ids, reason=reason)
        if ok:
            self.say(f"{_leads(ids)} disqualified ({_label(reason)})", "success")
            self._after([self.message])
        return ok

    def reactivate(self) -> bool:
        """Reopen the selected disqualified leads."""
        ids = self.selected
        if not ids:
            return self._none_ticked("reactivate")
        if len(ids) == 1:
            ok, _ = self.attempt("Not reactivated", leads.reactivate, self.db, ids[0])
        else:
            ok, _ = self.attempt("Not reactivated", leads.reactivate_many, self.db, ids)
        if ok:
            self.say(f"{_leads(ids)} reactivated (open · new)", "success")
            self._after([self.message])
        return ok

    def _none_ticked(self, action: str) -> bool:
        self.say(f"Tick the leads to {action} first", "error")
        return False

    def _after(self, lines: list[str]) -> None:
        """Reload after an action; if the reload fails, the action's message stays in front."""
        if not self.load():
            self.say("\n".join([*lines, self.message]), "warning")

    def __repr__(self) -> str:
        if self.page is None:
            return "<LeadList: not loaded>"
        total = f"{self.page.total:,}" + ("" if self.page.exact else "+")
        leads_text = "1 lead" if total == "1" else f"{total} leads"
        return f"<LeadList: {leads_text}, page {self.page.page} of {self.page.pages:,}>"


def _leads(ids: list[int]) -> str:
    return f"Lead {ids[0]}" if len(ids) == 1 else f"{len(ids)} leads ({', '.join(map(str, ids))})"


def _outcome(row: object, matched: tuple[bool, bool]) -> str:
    """Lead 12 qualified: account 5 Contoso Ltd (matched), contact 9 Ada Lovelace (created), opportunity 33 ..."""

    def part(kind: str, ident: object, name: object, was_matched: bool | None) -> str:
        if pd.isna(ident):
            return f"no {kind}"
        how = "" if was_matched is None else " (matched existing)" if was_matched else " (created)"
        return f"{kind} {int(ident)} {name or ''}".rstrip() + how

    account_matched, contact_matched = matched
    parts = [
        part("account", row.account_id, row.account, account_matched),
        part("contact", row.contact_id, row.contact, contact_matched),
        part("opportunity", row.opportunity_id, f"“{row.topic}”" if row.topic else None, False),
    ]
    return f"Lead {row.lead_id} qualified: " + ", ".join(parts)
