"""Qualification: a lead becomes a contact, an account and an opportunity, reusing matches."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from conftest import T0, assert_refused, count, events, make_lead, new_events, record, state

import salespipe as sp


def test_qualify_creates_account_contact_and_open_opportunity_and_closes_the_lead(db):
    lead = make_lead(
        db,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@contoso.com",
        phone="555",
        job_title="CTO",
        company="Contoso Ltd",
        topic="50 laptops",
        source="web",
        owner="maria",
        estimated_value=Decimal("60000"),
    )
    q = sp.leads.qualify(db, lead, at=T0)
    assert q.lead_id == lead
    assert (q.account_matched, q.contact_matched) == (False, False)

    account = record(db, "accounts", "account_id", q.account_id)
    assert account["name"] == "Contoso Ltd" and account["lead_id"] == lead and account["created_at"] == T0

    contact = record(db, "contacts", "contact_id", q.contact_id)
    assert (contact["first_name"], contact["last_name"], contact["email"]) == ("Ada", "Lovelace", "ada@contoso.com")
    assert (contact["phone"], contact["job_title"], contact["account_id"]) == ("555", "CTO", q.account_id)

    opp = record(db, "opportunities", "opportunity_id", q.opportunity_id)
    assert (opp["state"], opp["status"]) == ("open", "in_progress")
    assert (opp["lead_id"], opp["account_id"], opp["contact_id"]) == (lead, q.account_id, q.contact_id)
    assert (opp["owner"], opp["source"], opp["topic"]) == ("maria", "web", "50 laptops")
    assert opp["estimated_value"] == Decimal("60000.00") and opp["actual_value"] is None
    assert opp["price_list_id"] == sp.catalog.default_price_list(db)
    assert opp["created_at"] == T0 and opp["closed_at"] is None

    row = record(db, "leads", "lead_id", lead)
    assert (row["state"], row["status"], row["closed_at"]) == ("qualified", "qualified", T0)
    assert (row["account_id"], row["contact_id"], row["opportunity_id"]) == (
        q.account_id,
        q.contact_id,
        q.opportunity_id,
    )


def test_qualify_writes_one_lead_event_and_one_opportunity_creation_event_at_the_given_time(db):
    lead = make_lead(db)
    before = len(events(db))
    q = sp.leads.qualify(db, lead, at=T0, actor="maria")
    written = sorted((e["entity"], e["entity_id"], e["action"]) for e in new_events(db, before))
    assert written == [("lead", lead, "qualify"), ("opportunity", q.opportunity_id, "create")]
    (lead_event,) = [e for e in new_events(db, before) if e["entity"] == "lead"]
    assert (lead_event["from_state"], lead_event["from_status"]) == ("open", "new")
    assert (lead_event["to_state"], lead_event["to_status"]) == ("qualified", "qualified")
    assert all(e["at"] == T0 and e["actor"] == "maria" for e in new_events(db, before))


def test_qualify_converts_a_timezone_aware_time_to_utc(db):
    lead = make_lead(db)
    q = sp.leads.qualify(db, lead, at=dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))))
    assert record(db, "opportunities", "opportunity_id", q.opportunity_id)["created_at"] == dt.datetime(2024, 3, 1, 14)


def test_qualify_again_is_an_invalid_transition_that_changes_nothing(db):
    lead = make_lead(db)
    sp.leads.qualify(db, lead)
    error = assert_refused(db, lambda: sp.leads.qualify(db, lead), sp.InvalidTransition)
    assert f"lead {lead}" in str(error) and "qualified" in str(error) and "qualify" in str(error)


def test_qualify_a_disqualified_lead_is_an_invalid_transition_that_changes_nothing(db):
    lead = make_lead(db)
    sp.leads.disqualify(db, lead)
    assert_refused(db, lambda: sp.leads.qualify(db, lead), sp.InvalidTransition, match="reactivate")


def test_qualify_an_unknown_lead_is_not_found(db):
    assert_refused(db, lambda: sp.leads.qualify(db, 77), sp.NotFound, match="77")


# -- matching existing records ---------------------------------------------------------------


def test_a_contact_whose_email_matches_after_trim_and_lower_case_is_reused(db, subtests):
    first = sp.leads.qualify(db, make_lead(db, email="Ada@Contoso.com", company="Contoso"))
    for email in ["ada@contoso.com", "ADA@Contoso.COM", "  Ada@contoso.com  "]:
        with subtests.test(email=email):
            later = sp.leads.qualify(db, make_lead(db, email=email, company="Contoso"))
            assert later.contact_matched and later.contact_id == first.contact_id
            assert record(db, "opportunities", "opportunity_id", later.opportunity_id)["contact_id"] == first.contact_id
    assert count(db, "contacts") == 1


def test_a_contact_with_another_email_is_not_reused(db):
    first = sp.leads.qualify(db, make_lead(db, email="ada@contoso.com"))
    second = sp.leads.qualify(db, make_lead(db, email="ada.l@contoso.com"))
    assert not second.contact_matched and second.contact_id != first.contact_id


def test_leads_without_email_never_match_a_contact(db):
    first = sp.leads.qualify(db, make_lead(db, email=None))
    second = sp.leads.qualify(db, make_lead(db, email=None))
    assert not second.contact_matched and second.contact_id != first.contact_id
    assert count(db, "contacts") == 2


SAME_COMPANY = [
    "Contoso",
    "contoso",
    "CONTOSO LTD.",
    "Contoso, Inc.",
    "Contoso   LLC",
    "Contoso GmbH",
    "  contoso ltd  ",
    "Contoso Inc",
    "Contoso-Ltd",
    "Contoso Ltd Inc",
]
OTHER_COMPANIES = ["Contoso Labs", "Contosos", "Fabrikam Ltd", "Con Toso", "Inc"]
# Dotted legal suffixes read as undotted ones; Unicode whitespace and punctuation as their ASCII forms
DOTTED = {
    "Acme SA": ["Acme S.A.", "ACME s.a.", "Acme, S.A"],
    "Acme LLC": ["Acme L.L.C.", "Acme, L.L.C"],
    "Acme AG": ["Acme A.G."],
    "Acme BV": ["Acme B.V.", "Acme b.v"],
    "Acme NV": ["Acme N.V."],
    "Acme SpA": ["Acme S.p.A.", "ACME S.P.A."],
    "Acme PLC": ["Acme P.L.C.", "Acme p.l.c."],
    "Acme GmbH & Co. KG": ["Acme GmbH & Co KG", "Acme"],
    "O'Brien Ltd": ["O\u2019Brien Ltd", "O\u02bcBrien Ltd", "O'Brien\u00a0Ltd", "O'Brien\u2009\u2009Ltd."],
    "Nestlé SA": ["Nestle S.A.", "NESTLÉ"],
    "Contoso\u00a0Ltd": ["Contoso Ltd", "Contoso\u3000Ltd", "Contoso\u200b Ltd"],
}


@pytest.mark.parametrize(("name", "others"), DOTTED.items(), ids=list(DOTTED))
def test_dotted_suffixes_and_unicode_punctuation_match_the_plain_name(db, name, others):
    first = sp.leads.qualify(db, make_lead(db, company=name))
    for other in others:
        q = sp.leads.qualify(db, make_lead(db, company=other))
        assert q.account_matched and q.account_id == first.account_id, other
    assert count(db, "accounts") == 1


def test_the_new_key_keeps_distinct_companies_apart(db):
    names = ["Acme SA", "Acme Labs SA", "Acme Sao Paulo", "Booking.com", "Booking", "S.A. Holdings"]
    for name in names:
        sp.leads.qualify(db, make_lead(db, company=name))
    assert count(db, "accounts") == len(names)  # Booking.com (key bookingcom) is not Booking either


def test_existing_accounts_get_the_new_key_when_the_schema_migrates(tmp_path):
    """An account made under the old key (dots as spaces) matches a new lead after migration 6."""
    import duckdb

    from salespipe import db as dbmod

    path = tmp_path / "v5.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    for number, name, sql in dbmod.migrations():
        if number <= 5:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [number, name])
    con.execute("INSERT INTO accounts VALUES (1, 'Acme S.A.', company_key('Acme S.A.'), TIMESTAMP '2024-01-01', NULL)")
    assert con.execute("SELECT name_key FROM accounts").fetchall() == [("acme s a",)]  # the old rule
    con.close()
    db = sp.connect(path)
    assert db.sql("SELECT name_key FROM accounts")["name_key"].tolist() == ["acme"]
    q = sp.leads.qualify(db, sp.leads.create(db, company="ACME SA", at="2024-01-02"), at="2024-01-02")
    assert q.account_matched and q.account_id == 1


def test_an_account_whose_name_matches_ignoring_case_punctuation_whitespace_and_suffixes_is_reused(db):
    first = sp.leads.qualify(db, make_lead(db, company="Contoso Ltd"))
    leads = {make_lead(db, company=name): name for name in SAME_COMPANY}
    result = sp.leads.qualify_many(db, list(leads)).set_index("lead_id")
    for lead, name in leads.items():
        assert result.loc[lead, "account_id"] == first.account_id, name
        assert result.loc[lead, "account_matched"], name
        opp = int(result.loc[lead, "opportunity_id"])
        assert record(db, "opportunities", "opportunity_id", opp)["account_id"] == first.account_id, name
    assert count(db, "accounts") == 1


def test_an_account_with_a_different_name_is_not_reused(db):
    first = sp.leads.qualify(db, make_lead(db, company="Contoso Ltd"))
    leads = {make_lead(db, company=name): name for name in OTHER_COMPANIES}
    result = sp.leads.qualify_many(db, list(leads)).set_index("lead_id")
    assert not result["account_matched"].any()
    assert first.account_id not in set(result["account_id"])
    assert count(db, "accounts") == 1 + len(OTHER_COMPANIES)


def test_a_new_contact_of_a_matched_account_belongs_to_that_account(db):
    first = sp.leads.qualify(db, make_lead(db, company="Contoso Ltd"))
    second = sp.leads.qualify(db, make_lead(db, company="contoso"))
    assert not second.contact_matched
    assert record(db, "contacts", "contact_id", second.contact_id)["account_id"] == first.account_id


def test_a_lead_with_only_a_company_makes_no_contact(db):
    q = sp.leads.qualify(db, sp.leads.create(db, company="Fabrikam", email="info@fabrikam.com"))
    assert q.contact_id is None and q.account_id is not None and not q.contact_matched
    assert count(db, "contacts") == 0


def test_a_lead_with_only_a_person_makes_no_account(db):
    q = sp.leads.qualify(db, sp.leads.create(db, last_name="Hopper"))
    assert q.account_id is None and q.contact_id is not None
    assert record(db, "opportunities", "opportunity_id", q.opportunity_id)["account_id"] is None


# -- the three create_* flags ----------------------------------------------------------------


def test_qualify_without_creating_an_account(db):
    q = sp.leads.qualify(db, make_lead(db, company="Contoso"), create_account=False)
    assert q.account_id is None and not q.account_matched
    assert q.contact_id is not None and q.opportunity_id is not None
    assert count(db, "accounts") == 0
    assert record(db, "contacts", "contact_id", q.contact_id)["account_id"] is None


def test_qualify_without_creating_a_contact(db):
    q = sp.leads.qualify(db, make_lead(db), create_contact=False)
    assert q.contact_id is None and not q.contact_matched
    assert q.account_id is not None and q.opportunity_id is not None
    assert count(db, "contacts") == 0


def test_qualify_without_creating_an_opportunity_still_qualifies_the_lead(db):
    lead = make_lead(db)
    q = sp.leads.qualify(db, lead, create_opportunity=False)
    assert q.opportunity_id is None and q.account_id is not None and q.contact_id is not None
    assert count(db, "opportunities") == 0
    assert state(db, "lead", lead) == ("qualified", "qualified")
    assert [e["entity"] for e in events(db) if e["action"] != "create"] == ["lead"]


def test_qualify_that_would_link_nothing_is_refused(db):
    """Every flag off, or only flags that have nothing to act on: the lead would be qualified into
    nothing, which doctor flags. Refused (disqualify is the way to close a lead for nothing)."""
    everything_off = dict(create_account=False, create_contact=False, create_opportunity=False)
    person_only = make_lead(db, company=None)
    company_only = make_lead(db, first_name=None, last_name=None)
    for lead, flags in (
        (make_lead(db), everything_off),
        (person_only, dict(create_contact=False, create_opportunity=False)),
        (company_only, dict(create_account=False, create_opportunity=False)),
    ):
        error = assert_refused(
            db, lambda lead=lead, flags=flags: sp.leads.qualify(db, lead, **flags), sp.ValidationError
        )
        assert error.field == "create_opportunity" and "link it to nothing" in str(error) and "disqualify" in str(error)
        assert state(db, "lead", lead) == ("open", "new")
    error = assert_refused(
        db,
        lambda: sp.leads.qualify_many(db, [company_only, person_only], create_contact=False, create_opportunity=False),
    )
    assert [lead for lead, _ in error.failures] == [person_only]
    q = sp.leads.qualify(db, company_only, create_contact=False, create_opportunity=False)  # an account is something
    assert q.account_id is not None and (q.contact_id, q.opportunity_id) == (None, None)


def test_a_lead_without_a_company_whose_email_matches_a_contact_says_which_account_took_the_deal(db):
    first = sp.leads.qualify(db, make_lead(db, email="ada@contoso.com", company="Contoso Ltd"))
    lead = make_lead(db, first_name="Ada", last_name="L.", email="ADA@contoso.com ", company=None)
    q = sp.leads.qualify(db, lead)
    assert q.contact_matched and q.contact_id == first.contact_id
    assert q.account_matched and q.account_id == first.account_id  # the contact's account
    assert record(db, "opportunities", "opportunity_id", q.opportunity_id)["account_id"] == first.account_id
    assert record(db, "leads", "lead_id", lead)["account_id"] == first.account_id
    assert count(db, "accounts") == 1
    batch = sp.leads.qualify_many(db, [make_lead(db, email="ada@contoso.com", company=None)]).iloc[0]
    assert bool(batch["account_matched"]) and int(batch["account_id"]) == first.account_id


def test_skipping_the_contact_does_not_report_a_matching_contact(db):
    sp.leads.qualify(db, make_lead(db, email="ada@contoso.com"))
    q = sp.leads.qualify(db, make_lead(db, email="ada@contoso.com"), create_contact=False)
    assert q.contact_id is None and not q.contact_matched


def test_qualify_flags_must_be_real_booleans(db, subtests):
    lead = make_lead(db)
    for flag in ["create_account", "create_contact", "create_opportunity"]:
        with subtests.test(flag=flag):
            error = assert_refused(
                db, lambda flag=flag: sp.leads.qualify(db, lead, **{flag: "yes"}), sp.ValidationError
            )
            assert error.field == flag


# -- qualify_many ----------------------------------------------------------------------------


def test_qualify_many_makes_one_account_per_company_and_one_contact_per_email_within_the_batch(db):
    a = make_lead(db, company="Contoso Ltd", email="ada@contoso.com")
    b = make_lead(db, company="contoso inc.", email=" ADA@contoso.com ")
    c = make_lead(db, company="Fabrikam", email="bob@fabrikam.com")
    d = make_lead(db, company="CONTOSO", email="eve@contoso.com")
    result = sp.leads.qualify_many(db, [a, b, c, d], at=T0)
    by_lead = result.set_index("lead_id")
    assert count(db, "accounts") == 2 and count(db, "contacts") == 3 and count(db, "opportunities") == 4
    assert by_lead.loc[b, "account_id"] == by_lead.loc[a, "account_id"] == by_lead.loc[d, "account_id"]
    assert by_lead.loc[b, "contact_id"] == by_lead.loc[a, "contact_id"]
    assert by_lead["account_matched"].to_dict() == {a: False, b: True, c: False, d: True}
    assert by_lead["contact_matched"].to_dict() == {a: False, b: True, c: False, d: False}
    assert record(db, "accounts", "account_id", int(by_lead.loc[a, "account_id"]))["name"] == "Contoso Ltd"
    assert all(state(db, "lead", i) == ("qualified", "qualified") for i in (a, b, c, d))


def test_qualify_many_reuses_accounts_and_contacts_that_existed_before_the_batch(db):
    old = sp.leads.qualify(db, make_lead(db, company="Contoso", email="ada@contoso.com"))
    a = make_lead(db, company="Contoso Ltd", email="ADA@contoso.com")
    b = make_lead(db, company="Contoso GmbH", email="bob@contoso.com")
    result = sp.leads.qualify_many(db, [a, b]).set_index("lead_id")
    assert result["account_id"].tolist() == [old.account_id, old.account_id]
    assert result["account_matched"].tolist() == [True, True]
    assert result.loc[a, "contact_id"] == old.contact_id and result.loc[a, "contact_matched"]
    assert not result.loc[b, "contact_matched"]


def test_qualify_many_takes_one_time_per_lead(db):
    a, b = make_lead(db), make_lead(db)
    times = [dt.datetime(2024, 1, 2), dt.datetime(2024, 2, 2)]
    sp.leads.qualify_many(db, [a, b], at=times)
    assert record(db, "leads", "lead_id", a)["closed_at"] == times[0]
    assert record(db, "leads", "lead_id", b)["closed_at"] == times[1]


def test_qualify_many_with_one_lead_in_a_wrong_state_changes_nothing_and_lists_it(db):
    a, b, c = (make_lead(db) for _ in range(3))
    sp.leads.disqualify(db, b)
    error = assert_refused(db, lambda: sp.leads.qualify_many(db, [a, b, c]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [b]
    assert count(db, "accounts") == count(db, "contacts") == count(db, "opportunities") == 0


def test_qualify_many_with_an_unknown_lead_is_not_found_and_changes_nothing(db):
    a = make_lead(db)
    assert_refused(db, lambda: sp.leads.qualify_many(db, [a, 404]), sp.NotFound, match="404")


def test_qualify_many_refuses_the_same_lead_twice(db):
    a = make_lead(db)
    error = assert_refused(db, lambda: sp.leads.qualify_many(db, [a, a]), sp.ValidationError)
    assert error.field == "ids"
