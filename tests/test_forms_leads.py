"""LeadForm: Save creates the lead from the fields as typed, clears the form and says so; a refusal
shows beside the field it names and leaves every table as it was."""

from __future__ import annotations

from decimal import Decimal

import pytest
from _forms import click, fill
from conftest import assert_unchanged, make_lead, record, snapshot

import salespipe as sp
from salespipe.forms import LeadForm


@pytest.fixture
def form(db):
    sp.team.add_owner(db, "maria", "Europe")
    sp.team.add_owner(db, "li.wei", "Asia Pacific")
    make_lead(db, source="web")
    make_lead(db, source="partner")
    make_lead(db, source="web")
    return LeadForm(db)


ADA = dict(
    first_name="Ada",
    last_name="Lovelace",
    email="ada@contoso.com",
    phone="+44 20 7946 0000",
    job_title="Head of IT",
    company="Contoso Ltd",
    topic="50 laptops",
    source="trade show",
    owner="maria",
    estimated_value="60,000.50",
)


def test_it_offers_the_team_as_owners_and_the_sources_in_use(form):
    assert [v for _, v in form.fields["owner"].options] == ["", "li.wei", "maria"]
    assert form.fields["source"].options == ("partner", "web")
    assert form.offered == ["Save"]
    assert set(form.fields) == {*sp.leads.TEXT_FIELDS, "estimated_value"}


def test_save_creates_the_lead_as_typed_says_so_and_clears_the_form(form, db):
    fill(form, **ADA)
    assert click(form, "Save").startswith("Lead ")
    lead = form.current[1]
    assert form.current == ("lead", lead)
    assert form.message == f"Lead {lead} created"
    saved = record(db, "leads", "lead_id", lead)
    for name in ("first_name", "last_name", "email", "phone", "job_title", "company", "topic", "source", "owner"):
        assert saved[name] == ADA[name]
    assert saved["estimated_value"] == Decimal("60000.50")  # "60,000.50" as typed, parsed by the engine
    assert (saved["state"], saved["status"]) == ("open", "new")
    assert all(form.fields[n].value == "" for n in form.fields)
    assert form.fields["owner"].label == "(no owner)"
    assert form.field_errors == {}
    assert "trade show" in form.fields["source"].options  # the new source is offered from now on


def test_blank_boxes_are_not_given(form, db):
    fill(form, company="Fabrikam", estimated_value="  ")
    click(form, "Save")
    saved = record(db, "leads", "lead_id", form.current[1])
    assert saved["company"] == "Fabrikam"
    assert saved["estimated_value"] is None and saved["email"] is None and saved["owner"] is None


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"email": "ada@contoso"}, "email", "does not look like an email address"),
        ({"last_name": "", "company": "  "}, "last_name", "needs a last_name or a company"),
        ({"estimated_value": "12.345"}, "estimated_value", "more than 2 decimal places"),
        ({"estimated_value": "-5"}, "estimated_value", "must not be negative"),
        ({"estimated_value": "lots"}, "estimated_value", "is not a number"),
    ],
)
def test_a_refused_save_shows_the_error_beside_its_field_and_changes_nothing(form, db, values, field, words):
    fill(form, **{**ADA, **values})
    before = snapshot(db)
    message = click(form, "Save")
    assert_unchanged(before, snapshot(db))
    assert message.startswith("Lead not saved: ") and words in message
    assert list(form.field_errors) == [field] and words in form.field_errors[field]
    error = form._error_labels[field]
    assert error.layout.display != "none" and words in error.value
    assert form.current is None
    assert {n: form.fields[n].value for n in ADA} == {**ADA, **values}  # what was typed stays, to be fixed


def test_fixing_the_field_and_saving_again_clears_the_error(form, db):
    fill(form, **{**ADA, "email": "not-an-email"})
    click(form, "Save")
    assert list(form.field_errors) == ["email"]
    form.fields["email"].value = "ada@contoso.com"
    assert click(form, "Save").endswith("created")
    assert form.field_errors == {}
    assert form._error_labels["email"].layout.display == "none"
    assert record(db, "leads", "lead_id", form.current[1])["email"] == "ada@contoso.com"


def test_on_created_runs_with_the_new_lead_id(db):
    seen = []
    form = LeadForm(db, on_created=seen.append)
    fill(form, company="Northwind")
    click(form, "Save")
    assert seen == [form.current[1]]


def test_the_form_shows_in_a_notebook_as_its_widget_with_a_short_text(form):
    bundle = form._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == form.widget.model_id
    assert bundle["text/plain"] == "<LeadForm: a new lead>"
    assert "sp-leadform" in form.widget._dom_classes
