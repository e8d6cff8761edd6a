"""LeadList: newest first, paged and filtered; ticked leads are qualified, disqualified or
reactivated through the public functions, and the buttons offered are the actions the state
machine allows for every ticked lead."""

from __future__ import annotations

import pytest
from _forms import actions_offered, assert_offers_exactly_what_the_machine_allows, click, fill
from conftest import assert_unchanged, make_lead, record, rows, snapshot, state

import salespipe as sp
from salespipe.forms import LeadList


@pytest.fixture
def leads30(db):
    """30 leads, ids 1..30, of "Firm <i> Ltd": every third from 'partner', owners alternating maria / li.wei."""
    sp.team.add_owner(db, "maria", "Europe")
    return [
        make_lead(
            db,
            source="partner" if i % 3 == 0 else "web",
            owner="maria" if i % 2 else "li.wei",
            company=f"Firm {i} Ltd",
            last_name="Smith",
            email=None,
        )
        for i in range(1, 31)
    ]


def shown(form) -> list[int]:
    return list(form.checkboxes)


def test_the_newest_leads_come_first_a_page_at_a_time(db, leads30):
    form = LeadList(db, page_size=25)
    assert shown(form) == sorted(leads30, reverse=True)[:25]
    assert "Leads 1–25 of 30" in form._count.value
    assert (form.fields["page"].value, form.fields["page"].max) == (1, 2)
    assert repr(form) == "<LeadList: 30 leads, page 1 of 2>"
    form.fields["page"].value = 2
    assert shown(form) == sorted(leads30, reverse=True)[25:]
    assert "Leads 26–30 of 30" in form._count.value
    visible = [row for row, _, _ in form._rows if row.layout.display != "none"]
    assert len(visible) == 5
    assert "Firm 1 Ltd" in form._rows[4][2].value  # the oldest lead is the last row of page 2


def test_a_row_shows_the_lead_with_money_as_money(db):
    lead = make_lead(db, first_name="Ada", last_name="Lovelace", company="Contoso Ltd", estimated_value="1234567.5")
    form = LeadList(db)
    html = form._rows[0][2].value
    for text in (str(lead), "Ada Lovelace", "Contoso Ltd", "open · new", "1,234,567.50", "web", "maria"):
        assert text in html


def test_filters_narrow_the_list_and_go_back_to_page_one(db, leads30):
    form = LeadList(db, page_size=5)
    form.fields["page"].value = 3
    form.fields["source"].value = "partner"
    assert form.fields["page"].value == 1
    assert shown(form) == [30, 27, 24, 21, 18]
    assert form.page.total == 10
    fill(form, owner="maria")
    assert shown(form) == [27, 21, 15, 9, 3] and form.page.total == 5
    fill(form, source="", owner="", search="LTD 3")  # each word in the name, company or email, any case
    assert shown(form) == [30, 23, 13, 3] and form.page.total == 4
    fill(form, search="7")  # a number also finds the lead by id
    assert shown(form) == [27, 17, 7]
    sp.leads.disqualify(db, 7, reason="lost")
    fill(form, search="", state="disqualified")
    assert shown(form) == [7]


def test_the_filter_choices_are_the_owners_and_sources_in_use(db, leads30):
    form = LeadList(db)
    assert [v for _, v in form.fields["owner"].options] == ["", "li.wei", "maria"]
    assert [v for _, v in form.fields["source"].options] == ["", "partner", "web"]
    assert [v for _, v in form.fields["state"].options] == ["", "open", "qualified", "disqualified"]


def test_no_action_is_offered_until_leads_are_ticked_then_what_the_machine_allows(db, leads30):
    form = LeadList(db)
    assert form.offered == ["Refresh"] and form.current is None
    before = snapshot(db)
    for label in ("Qualify", "Disqualify", "Reactivate"):  # the hidden buttons, clicked anyway
        assert click(form, label) == f"Tick the leads to {label.lower()} first"
    assert_unchanged(before, snapshot(db))
    form.checkboxes[30].value = True
    assert form.current == ("lead", 30)
    assert form.offered == ["Refresh", "Qualify", "Disqualify"]
    assert_offers_exactly_what_the_machine_allows(form, db)
    sp.leads.disqualify(db, 29, reason="canceled")
    sp.leads.qualify(db, 28)
    form.refresh()
    for lead, offered in ((29, {"reactivate"}), (28, set()), (27, {"qualify", "disqualify"})):
        form.select(lead)
        assert actions_offered(form) == offered
        assert_offers_exactly_what_the_machine_allows(form, db)
    form.select(27, 29)  # open and disqualified together: nothing is allowed for both
    assert actions_offered(form) == set() and form.current is None
    form.select(26, 27)
    assert actions_offered(form) == {"qualify", "disqualify"}
    form._select_page.value = True
    assert len(form.selected) == 25 and actions_offered(form) == set()


def test_qualify_says_what_was_created_with_ids_and_names(db):
    lead = make_lead(db, first_name="Ada", last_name="Lovelace", company="Contoso Ltd", topic="50 laptops")
    form = LeadList(db)
    form.select(lead)
    message = click(form, "Qualify")
    saved = record(db, "leads", "lead_id", lead)
    assert saved["state"] == "qualified"
    account, contact, opportunity = saved["account_id"], saved["contact_id"], saved["opportunity_id"]
    assert message == (
        f"Lead {lead} qualified: account {account} Contoso Ltd (created), contact {contact} Ada Lovelace (created), "
        f"opportunity {opportunity} “50 laptops” (created)"
    )
    assert "qualified" in form._rows[0][2].value  # refreshed
    assert form.selected == [] and form.offered == ["Refresh"]


def test_qualify_reuses_a_matching_account_and_contact_and_says_so(db):
    first = make_lead(db, email="ada@contoso.com", company="Contoso Ltd")
    sp.leads.qualify(db, first)
    again = make_lead(db, email=" ADA@contoso.com", company="CONTOSO, Inc.")
    form = LeadList(db)
    form.select(again)
    message = click(form, "Qualify")
    account, contact = rows(db, "SELECT account_id, contact_id FROM leads WHERE lead_id = ?", [first])[0]
    assert f"account {account} Contoso Ltd (matched existing)" in message
    assert f"contact {contact} " in message and "(matched existing), opportunity" in message


def test_qualify_honours_the_create_options(db):
    lead = make_lead(db)
    form = LeadList(db)
    form.select(lead)
    fill(form, create_account=False, create_opportunity=False)
    message = click(form, "Qualify")
    saved = record(db, "leads", "lead_id", lead)
    assert saved["state"] == "qualified" and saved["account_id"] is None and saved["opportunity_id"] is None
    assert "no account" in message and "no opportunity" in message and f"contact {saved['contact_id']}" in message


def test_qualify_several_at_once(db):
    a, b = make_lead(db, company="Alpha"), make_lead(db, company="Beta")
    form = LeadList(db)
    form.select(a, b)
    message = click(form, "Qualify")
    assert state(db, "lead", a) == state(db, "lead", b) == ("qualified", "qualified")
    lines = message.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"Lead {a} qualified: account") and "Beta" in lines[1]


def test_qualifying_a_lead_that_is_qualified_meanwhile_is_refused_and_changes_nothing(db):
    lead = make_lead(db)
    form = LeadList(db)
    form.select(lead)
    sp.leads.qualify(db, lead)  # another user, behind this form's back
    before = snapshot(db)
    message = click(form, "Qualify")
    assert_unchanged(before, snapshot(db))
    assert message.startswith(f"Not qualified: lead {lead} is qualified (qualified)")
    form.refresh()  # now the list knows: nothing to offer on a qualified lead
    form.select(lead)
    assert actions_offered(form) == set()
    assert click(form, "Qualify").startswith("Not qualified: ")  # the hidden button is refused all the same
    assert_unchanged(before, snapshot(db))


def test_disqualify_with_a_reason_then_reactivate(db, leads30):
    form = LeadList(db)
    form.select(30)
    assert [v for _, v in form.fields["reason"].options] == list(sp.leads.DISQUALIFY_REASONS)
    fill(form, reason="no_longer_interested")
    assert click(form, "Disqualify") == "Lead 30 disqualified (no longer interested)"
    assert state(db, "lead", 30) == ("disqualified", "no_longer_interested")
    assert "disqualified · no longer interested" in form._rows[0][2].value
    form.select(30)
    assert form.offered == ["Refresh", "Reactivate"]
    assert click(form, "Reactivate") == "Lead 30 reactivated (open · new)"
    assert state(db, "lead", 30) == ("open", "new")


def test_disqualify_several_at_once_all_or_none(db, leads30):
    form = LeadList(db)
    form.select(30, 29)
    sp.leads.qualify(db, 29)  # meanwhile
    before = snapshot(db)
    message = click(form, "Disqualify")
    assert_unchanged(before, snapshot(db))
    assert message.startswith("Not disqualified: lead 29 is qualified")
    form.refresh()
    form.select(30, 28)
    assert click(form, "Disqualify") == "2 leads (30, 28) disqualified (lost)"
    assert state(db, "lead", 30) == state(db, "lead", 28) == ("disqualified", "lost")


def test_refresh_shows_leads_created_elsewhere(db, leads30):
    form = LeadList(db)
    lead = make_lead(db, source="radio")
    click(form, "Refresh")
    assert shown(form)[0] == lead
    assert "radio" in [v for _, v in form.fields["source"].options]
