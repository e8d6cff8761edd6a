"""Leads: create, create_many, disqualify, reactivate (qualification is in test_qualify.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from conftest import EARLY, T0, assert_refused, count, events, make_lead, new_events, record, state

import salespipe as sp

# -- create ----------------------------------------------------------------------------------


def test_create_stores_an_open_new_lead_with_every_field(db):
    lead = sp.leads.create(
        db,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@contoso.com",
        phone="+44 20 7946 0000",
        job_title="Analyst",
        company="Contoso Ltd",
        topic="50 laptops",
        source="web",
        owner="maria",
        estimated_value=Decimal("60000"),
        at=T0,
    )
    row = record(db, "leads", "lead_id", lead)
    assert isinstance(lead, int)
    assert row["first_name"] == "Ada" and row["last_name"] == "Lovelace" and row["email"] == "ada@contoso.com"
    assert row["phone"] == "+44 20 7946 0000" and row["job_title"] == "Analyst" and row["company"] == "Contoso Ltd"
    assert (row["topic"], row["source"], row["owner"]) == ("50 laptops", "web", "maria")
    assert row["estimated_value"] == Decimal("60000.00")
    assert (row["state"], row["status"]) == ("open", "new")
    assert row["created_at"] == T0 and row["closed_at"] is None


def test_create_needs_only_a_company_or_a_last_name(db):
    by_company = sp.leads.create(db, company="Fabrikam")
    by_person = sp.leads.create(db, last_name="Hopper")
    assert state(db, "lead", by_company) == ("open", "new")
    assert state(db, "lead", by_person) == ("open", "new")


def test_create_trims_text_and_stores_blank_text_as_null(db):
    lead = sp.leads.create(db, last_name="  Hopper  ", email="  grace@navy.mil ", topic="   ")
    row = record(db, "leads", "lead_id", lead)
    assert (row["last_name"], row["email"], row["topic"]) == ("Hopper", "grace@navy.mil", None)


def test_create_takes_the_contacted_status(db):
    lead = make_lead(db, status="contacted")
    assert state(db, "lead", lead) == ("open", "contacted")


def test_create_writes_one_creation_event_at_the_given_time_by_the_actor(db):
    lead = make_lead(db, at=T0, actor="maria")
    (event,) = events(db, "lead", lead)
    assert event["action"] == "create"
    assert (event["from_state"], event["from_status"]) == (None, None)
    assert (event["to_state"], event["to_status"]) == ("open", "new")
    assert event["at"] == T0 and event["actor"] == "maria"


def test_create_converts_a_timezone_aware_time_to_utc(db):
    paris = dt.timezone(dt.timedelta(hours=2))
    lead = make_lead(db, at=dt.datetime(2024, 6, 1, 12, 0, tzinfo=paris))
    assert record(db, "leads", "lead_id", lead)["created_at"] == dt.datetime(2024, 6, 1, 10, 0)
    assert events(db, "lead", lead)[0]["at"] == dt.datetime(2024, 6, 1, 10, 0)


def test_create_without_at_stamps_the_current_utc_time(db):
    start = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    lead = make_lead(db, at=None)
    end = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert start <= record(db, "leads", "lead_id", lead)["created_at"] <= end


def test_create_refuses_a_lead_without_last_name_or_company(db):
    error = assert_refused(db, lambda: sp.leads.create(db, first_name="Ada", email="ada@x.com"), sp.ValidationError)
    assert error.field == "last_name"


def test_create_refuses_an_email_that_does_not_look_like_one(db, subtests):
    for email in ["ada", "ada@", "@contoso.com", "ada@contoso", "ada lovelace@contoso.com", "a@b@c.d"]:
        with subtests.test(email=email):
            error = assert_refused(
                db, lambda email=email: make_lead(db, email=email), sp.ValidationError, match="email"
            )
            assert error.field == "email" and error.value == email


def test_create_refuses_an_estimated_value_that_is_not_a_non_negative_cent_amount(db, subtests):
    for amount in [Decimal("-0.01"), Decimal("1.001"), "lots", Decimal("NaN"), float("inf"), "1,200", "12,345.678"]:
        with subtests.test(amount=amount):
            error = assert_refused(db, lambda amount=amount: make_lead(db, estimated_value=amount), sp.ValidationError)
            assert error.field == "estimated_value"


def test_a_missing_estimated_value_is_none_however_it_is_written(db):
    """None, a blank text box and NaN (how pandas writes a missing number) all mean: not given."""
    for missing in (None, "", "   ", float("nan")):
        lead = make_lead(db, estimated_value=missing)
        assert record(db, "leads", "lead_id", lead)["estimated_value"] is None


def test_create_refuses_a_status_outside_the_open_state(db):
    error = assert_refused(db, lambda: make_lead(db, status="qualified"), sp.ValidationError, match="status")
    assert error.field == "status"


# -- create_many -----------------------------------------------------------------------------


def test_create_many_returns_the_new_ids_in_row_order(db):
    frame = pd.DataFrame(
        {
            "last_name": ["Zed", "Alpha", "Mid"],
            "company": ["Z Corp", None, "M GmbH"],
            "email": ["z@z.com", None, "m@m.de"],
            "estimated_value": [Decimal("10.00"), None, Decimal("5.50")],
        }
    )
    ids = sp.leads.create_many(db, frame, at=T0, actor="import")
    assert len(ids) == 3 and len(set(ids.tolist())) == 3
    names = [record(db, "leads", "lead_id", int(i))["last_name"] for i in ids]
    assert names == ["Zed", "Alpha", "Mid"]
    assert record(db, "leads", "lead_id", int(ids[2]))["estimated_value"] == Decimal("5.50")
    assert [(e["entity_id"], e["at"], e["actor"]) for e in events(db, "lead")] == [(int(i), T0, "import") for i in ids]


def test_create_many_takes_created_at_and_status_per_row(db):
    frame = pd.DataFrame(
        {
            "company": ["A", "B"],
            "status": ["new", "contacted"],
            "created_at": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, tzinfo=dt.UTC)],
        }
    )
    a, b = sp.leads.create_many(db, frame)
    assert state(db, "lead", int(a)) == ("open", "new") and state(db, "lead", int(b)) == ("open", "contacted")
    assert record(db, "leads", "lead_id", int(b))["created_at"] == dt.datetime(2024, 1, 2)


def test_create_many_of_an_empty_frame_creates_nothing(db):
    ids = sp.leads.create_many(db, pd.DataFrame({"last_name": []}))
    assert len(ids) == 0 and count(db, "leads") == 0


def test_create_many_rejects_a_frame_with_bad_rows_listing_each_failure_and_creates_nothing(db):
    make_lead(db)
    frame = pd.DataFrame(
        {
            "last_name": ["Good", None, "Bad mail", "Negative"],
            "company": [None, None, None, None],
            "email": ["good@x.com", None, "not-an-email", None],
            "estimated_value": [None, None, None, "-5"],
        }
    )
    error = assert_refused(db, lambda: sp.leads.create_many(db, frame), sp.ValidationError)
    assert [(row, field) for row, field, _ in error.failures] == [
        (1, "last_name"),
        (2, "email"),
        (3, "estimated_value"),
    ]
    assert error.field == "last_name" and "row 1" in str(error)


def test_create_many_rejects_unknown_columns(db):
    error = assert_refused(
        db, lambda: sp.leads.create_many(db, pd.DataFrame({"surname": ["X"]})), sp.ValidationError, match="surname"
    )
    assert error.field == "surname"


# -- disqualify ------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["lost", "cannot_contact", "no_longer_interested", "canceled"])
def test_disqualify_closes_an_open_lead_with_the_reason_as_status(db, reason):
    lead = make_lead(db)
    before = len(events(db))
    sp.leads.disqualify(db, lead, reason=reason, at=T0, actor="maria", note="went quiet")
    assert state(db, "lead", lead) == ("disqualified", reason)
    assert record(db, "leads", "lead_id", lead)["closed_at"] == T0
    (event,) = new_events(db, before)
    assert (event["entity"], event["entity_id"], event["action"]) == ("lead", lead, "disqualify")
    assert (event["from_state"], event["from_status"], event["to_state"], event["to_status"]) == (
        "open",
        "new",
        "disqualified",
        reason,
    )
    assert (event["at"], event["actor"], event["note"]) == (T0, "maria", "went quiet")


def test_disqualify_defaults_to_lost(db):
    lead = make_lead(db)
    sp.leads.disqualify(db, lead)
    assert state(db, "lead", lead) == ("disqualified", "lost")


def test_disqualify_again_is_an_invalid_transition_that_changes_nothing(db):
    lead = make_lead(db)
    sp.leads.disqualify(db, lead)
    error = assert_refused(db, lambda: sp.leads.disqualify(db, lead), sp.InvalidTransition)
    message = str(error)
    assert f"lead {lead}" in message and "disqualified" in message and "disqualify" in message
    assert "reactivate" in message  # what is allowed from there


def test_disqualify_a_qualified_lead_is_an_invalid_transition(db):
    lead = make_lead(db)
    sp.leads.qualify(db, lead)
    assert_refused(db, lambda: sp.leads.disqualify(db, lead), sp.InvalidTransition, match="qualified")


def test_disqualify_refuses_an_unknown_reason(db):
    lead = make_lead(db)
    error = assert_refused(db, lambda: sp.leads.disqualify(db, lead, reason="bored"), sp.ValidationError)
    assert error.field == "reason" and error.value == "bored"


def test_disqualify_an_unknown_lead_is_not_found(db):
    assert_refused(db, lambda: sp.leads.disqualify(db, 999), sp.NotFound, match="999")


def test_disqualify_many_takes_one_reason_per_lead(db):
    a, b, c = (make_lead(db) for _ in range(3))
    sp.leads.disqualify_many(db, [a, b, c], reason=["lost", "canceled", "cannot_contact"], at=T0)
    assert [state(db, "lead", i)[1] for i in (a, b, c)] == ["lost", "canceled", "cannot_contact"]
    assert [(e["entity_id"], e["to_status"]) for e in events(db) if e["action"] == "disqualify"] == [
        (a, "lost"),
        (b, "canceled"),
        (c, "cannot_contact"),
    ]


def test_disqualify_many_with_one_record_in_a_wrong_state_changes_nothing_and_lists_it(db):
    a, b = make_lead(db), make_lead(db)
    sp.leads.disqualify(db, b)
    error = assert_refused(db, lambda: sp.leads.disqualify_many(db, [a, b]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [b]
    assert state(db, "lead", a) == ("open", "new")


def test_disqualify_many_refuses_a_reason_list_of_the_wrong_length(db):
    a, b = make_lead(db), make_lead(db)
    error = assert_refused(db, lambda: sp.leads.disqualify_many(db, [a, b], reason=["lost"]), sp.ValidationError)
    assert error.field == "reason"


# -- reactivate ------------------------------------------------------------------------------


def test_reactivate_reopens_a_disqualified_lead_as_new(db):
    lead = make_lead(db)
    sp.leads.disqualify(db, lead, reason="cannot_contact", at=EARLY)
    before = len(events(db))
    sp.leads.reactivate(db, lead, at=T0)
    assert state(db, "lead", lead) == ("open", "new")
    assert record(db, "leads", "lead_id", lead)["closed_at"] is None
    (event,) = new_events(db, before)
    assert (event["action"], event["from_state"], event["from_status"], event["to_state"], event["to_status"]) == (
        "reactivate",
        "disqualified",
        "cannot_contact",
        "open",
        "new",
    )
    assert event["at"] == T0


def test_reactivate_again_is_an_invalid_transition_that_changes_nothing(db):
    lead = make_lead(db)
    sp.leads.disqualify(db, lead)
    sp.leads.reactivate(db, lead)
    assert_refused(db, lambda: sp.leads.reactivate(db, lead), sp.InvalidTransition, match="open")


def test_reactivate_a_qualified_lead_is_an_invalid_transition(db):
    lead = make_lead(db)
    sp.leads.qualify(db, lead)
    assert_refused(db, lambda: sp.leads.reactivate(db, lead), sp.InvalidTransition, match="final")


def test_reactivate_many_reopens_every_lead_or_none(db):
    a, b, c = (make_lead(db) for _ in range(3))
    sp.leads.disqualify_many(db, [a, b])
    assert_refused(db, lambda: sp.leads.reactivate_many(db, [a, b, c]), sp.InvalidTransition)
    sp.leads.reactivate_many(db, np.array([a, b]))
    assert state(db, "lead", a) == state(db, "lead", b) == ("open", "new")


def test_a_lead_can_go_round_disqualify_and_reactivate_and_then_be_qualified(db):
    lead = make_lead(db)
    sp.leads.disqualify(db, lead)
    sp.leads.reactivate(db, lead)
    sp.leads.qualify(db, lead)
    assert [e["action"] for e in events(db, "lead", lead)] == ["create", "disqualify", "reactivate", "qualify"]


# -- get -------------------------------------------------------------------------------------


def test_get_returns_the_lead_as_a_dict(db):
    lead = make_lead(db, last_name="Hopper")
    assert sp.leads.get(db, lead)["last_name"] == "Hopper"


def test_get_an_unknown_lead_is_not_found(db):
    with pytest.raises(sp.NotFound, match="lead 42"):
        sp.leads.get(db, 42)
