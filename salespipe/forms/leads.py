"""LeadForm: enter a new lead, as the quick-create form of a CRM. Save calls `leads.create`."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W

from .. import browse, leads
from ..db import Database
from ._base import Form, given

TEXT_FIELDS = (
    ("first_name", "First name", ""),
    ("last_name", "Last name", "a last name or a company"),
    ("email", "Email", "name@company.com"),
    ("phone", "Phone", ""),
    ("job_title", "Job title", ""),
    ("company", "Company", "a last name or a company"),
    ("topic", "Topic", "what they want, e.g. 50 laptops"),
)
NO_OWNER = "(no owner)"  # a drop-down value of None would show as blank: "" is "not given"


class LeadForm(Form):
    """A new lead: name, email, phone, job title, company, topic, source, owner, estimated value.

    Save passes the values as typed to `sp.leads.create`; on success the form clears and says
    "Lead 1234 created", and each `on_created(lead_id)` callback runs (e.g. a list's refresh).
    """

    title = "New lead"

    def __init__(self, db: Database, *, on_created: Callable[[int], object] | None = None) -> None:
        super().__init__(db)
        self._on_created = [on_created] if on_created else []
        boxes = [self._text(name, label, hint) for name, label, hint in TEXT_FIELDS]
        source = W.Combobox(description="Source", placeholder="pick or type", ensure_option=False)
        boxes.append(self._field("source", source))
        boxes.append(self._field("owner", W.Dropdown(description="Owner", options=[(NO_OWNER, "")])))
        boxes.append(self._text("estimated_value", "Est. value", "e.g. 60,000.00"))
        self._button("Save", self.save, style="primary", icon="check")
        grid = W.GridBox(boxes, layout=W.Layout(grid_template_columns="repeat(2, 400px)"))
        for box in boxes:
            box.children[0].layout.width = "380px"
        self.widget = self._root(grid, W.HBox([self.buttons["Save"]]))
        self.refresh()

    def refresh(self, *_: object) -> None:
        """Reload the pick lists: the owners of the team and the sources in use."""
        ok, choices = self.read(lambda: (browse.owners(self.db), browse.lead_sources(self.db)))
        if ok:
            owners, sources = choices
            self.fields["owner"].options = [(NO_OWNER, ""), *((o, o) for o in owners)]
            self.fields["source"].options = sources

    def save(self) -> int | None:
        """Create the lead from the fields as typed; returns its id, or None when refused."""
        values = {name: self.fields[name].value for name, _, _ in TEXT_FIELDS}
        values["source"] = self.fields["source"].value
        values["owner"] = self.fields["owner"].value
        value = given(self.fields["estimated_value"].value)
        if value is not None:
            values["estimated_value"] = value
        ok, lead = self.attempt("Lead not saved", leads.create, self.db, **values)
        if not ok:
            return None
        self.current = ("lead", lead)
        self.clear()
        self.say(f"Lead {lead} created", "success")
        if values["source"] and values["source"] not in self.fields["source"].options:
            self.fields["source"].options = sorted({*self.fields["source"].options, values["source"].strip()})
        for callback in self._on_created:
            callback(lead)
        return lead

    def clear(self) -> None:
        """Empty every field (the owner goes back to none)."""
        for widget in self.fields.values():
            widget.value = ""
        self.clear_errors()

    def __repr__(self) -> str:
        return "<LeadForm: a new lead>"
