"""Widget forms for JupyterLab (ipywidgets): enter and work leads, build quotes to a paid invoice.

    from salespipe.forms import LeadForm, LeadList, QuoteBuilder
    LeadForm(db)        # a new lead: Save calls sp.leads.create
    LeadList(db)        # leads newest first, paged and filtered: Qualify, Disqualify, Reactivate
    QuoteBuilder(db)    # opportunity -> quote (lines, totals, revisions) -> order -> invoice -> paid

Every form is scriptable as tests and users drive it: `form.fields["<API keyword>"]` are the
inputs, `form.buttons["<Label>"]` the buttons (`.click()`), `form.message` the last message as
plain text, `form.field_errors` the errors shown beside fields, `form.current` the record shown
(e.g. ("quote", 42)), `form.offered` the labels of the buttons offered now, `form.widget` the
widget (a notebook cell showing the form shows it). No business rule lives here: each button
calls one public salespipe function with the values as typed and shows its answer.
"""

from .lead_list import LeadList
from .leads import LeadForm
from .quotes import QuoteBuilder

__all__ = ["LeadForm", "LeadList", "QuoteBuilder"]
