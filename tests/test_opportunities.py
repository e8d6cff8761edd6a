"""Opportunities: create, close as won, close as lost (closing its open quotes), reopen."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from conftest import (
    EARLY,
    T0,
    assert_refused,
    events,
    make_active_quote,
    make_opportunities,
    make_opportunity,
    make_order,
    make_product,
    make_quote,
    new_events,
    record,
    state,
)

import salespipe as sp

T1 = dt.datetime(2024, 4, 1, 15, 30)


# -- create ----------------------------------------------------------------------------------


def test_create_makes_an_open_opportunity_without_a_lead(db):
    q = sp.leads.qualify(db, sp.leads.create(db, last_name="Hopper", company="Navy"))
    opp = sp.opportunities.create(
        db,
        topic="Renewal",
        account_id=q.account_id,
        contact_id=q.contact_id,
        owner="maria",
        source="phone",
        estimated_value=Decimal("1200.50"),
        probability=40,
        at=T0,
        actor="maria",
    )
    row = record(db, "opportunities", "opportunity_id", opp)
    assert (row["state"], row["status"], row["lead_id"]) == ("open", "in_progress", None)
    assert (row["account_id"], row["contact_id"], row["topic"]) == (q.account_id, q.contact_id, "Renewal")
    assert row["estimated_value"] == Decimal("1200.50") and row["probability"] == 40
    assert row["price_list_id"] == sp.catalog.default_price_list(db)
    (event,) = events(db, "opportunity", opp)
    assert (event["action"], event["to_state"], event["to_status"], event["at"], event["actor"]) == (
        "create",
        "open",
        "in_progress",
        T0,
        "maria",
    )


def test_create_validates_its_arguments(db, subtests):
    for kwargs, field in [
        ({"topic": "  "}, "topic"),
        ({"topic": "x", "probability": 101}, "probability"),
        ({"topic": "x", "probability": True}, "probability"),
        ({"topic": "x", "estimated_value": Decimal("-1")}, "estimated_value"),
        ({"topic": "x", "account_id": "1"}, "account_id"),
    ]:
        with subtests.test(field=field, **kwargs):
            raised = assert_refused(db, lambda kwargs=kwargs: sp.opportunities.create(db, **kwargs), sp.ValidationError)
            assert raised.field == field


def test_create_with_an_unknown_account_contact_or_price_list_is_not_found(db, subtests):
    for missing in ["account_id", "contact_id", "price_list"]:
        with subtests.test(missing=missing):
            call = lambda missing=missing: sp.opportunities.create(db, topic="x", **{missing: 99})  # noqa: E731
            assert_refused(db, call, sp.NotFound, match="99")


# -- close_won -------------------------------------------------------------------------------


def test_close_won_defaults_the_actual_value_to_the_estimated_value(db):
    opp = make_opportunity(db, estimated_value=Decimal("60000.00"))
    before = len(events(db))
    sp.opportunities.close_won(db, opp, at=T1, actor="maria", note="signed")
    row = record(db, "opportunities", "opportunity_id", opp)
    assert (row["state"], row["status"]) == ("won", "won")
    assert row["actual_value"] == Decimal("60000.00") and row["probability"] == 100 and row["closed_at"] == T1
    (event,) = new_events(db, before)
    assert (event["entity"], event["entity_id"], event["action"]) == ("opportunity", opp, "close_won")
    assert (event["from_state"], event["from_status"], event["to_state"], event["to_status"]) == (
        "open",
        "in_progress",
        "won",
        "won",
    )
    assert (event["at"], event["actor"], event["note"]) == (T1, "maria", "signed")


def test_close_won_takes_an_explicit_actual_value(db):
    opp = make_opportunity(db, estimated_value=Decimal("60000.00"))
    sp.opportunities.close_won(db, opp, actual_value=Decimal("55000.25"))
    assert record(db, "opportunities", "opportunity_id", opp)["actual_value"] == Decimal("55000.25")


def test_close_won_again_is_an_invalid_transition_that_changes_nothing(db):
    opp = make_opportunity(db)
    sp.opportunities.close_won(db, opp)
    error = assert_refused(db, lambda: sp.opportunities.close_won(db, opp), sp.InvalidTransition)
    assert f"opportunity {opp}" in str(error) and "won" in str(error)


def test_close_won_of_a_lost_opportunity_is_an_invalid_transition(db):
    opp = make_opportunity(db)
    sp.opportunities.close_lost(db, opp)
    assert_refused(db, lambda: sp.opportunities.close_won(db, opp), sp.InvalidTransition, match="reopen")


@pytest.mark.parametrize("activate", [False, True], ids=["draft", "active"])
def test_close_won_is_refused_while_the_opportunity_has_an_open_quote(db, activate):
    quote = make_active_quote(db) if activate else make_quote(db)
    opp = record(db, "quotes", "quote_id", quote)["opportunity_id"]
    error = assert_refused(db, lambda: sp.opportunities.close_won(db, opp), sp.InvalidTransition)
    assert "create_order" in str(error)


def test_close_won_is_allowed_once_the_open_quotes_are_closed(db):
    quote = make_active_quote(db)
    opp = record(db, "quotes", "quote_id", quote)["opportunity_id"]
    sp.quotes.close(db, quote)
    sp.opportunities.close_won(db, opp)
    assert state(db, "opportunity", opp) == ("won", "won")


def test_close_won_refuses_a_negative_actual_value(db):
    opp = make_opportunity(db)
    error = assert_refused(db, lambda: sp.opportunities.close_won(db, opp, Decimal("-1")), sp.ValidationError)
    assert error.field == "actual_value"


def test_close_won_many_takes_one_actual_value_per_opportunity_with_none_for_the_estimate(db):
    a = make_opportunity(db, estimated_value=Decimal("100.00"))
    b = make_opportunity(db, estimated_value=Decimal("200.00"))
    sp.opportunities.close_won_many(db, [a, b], actual_value=[Decimal("150.00"), None], at=T1)
    assert record(db, "opportunities", "opportunity_id", a)["actual_value"] == Decimal("150.00")
    assert record(db, "opportunities", "opportunity_id", b)["actual_value"] == Decimal("200.00")
    assert [e["entity_id"] for e in events(db) if e["action"] == "close_won"] == [a, b]


def test_close_won_many_with_one_closed_opportunity_changes_nothing_and_lists_it(db):
    a, b = make_opportunities(db, 2)
    sp.opportunities.close_lost(db, b)
    error = assert_refused(db, lambda: sp.opportunities.close_won_many(db, [a, b]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [b]


def test_close_won_many_refuses_actual_values_of_the_wrong_length(db):
    a, b = make_opportunities(db, 2)
    error = assert_refused(
        db, lambda: sp.opportunities.close_won_many(db, [a, b], actual_value=[Decimal("1")]), sp.ValidationError
    )
    assert error.field == "actual_value"


# -- close_lost ------------------------------------------------------------------------------


def test_close_lost_closes_as_out_sold_with_the_competitor(db):
    opp = make_opportunity(db)
    before = len(events(db))
    sp.opportunities.close_lost(db, opp, competitor="Fabrikam", at=T1, actor="maria", note="price")
    row = record(db, "opportunities", "opportunity_id", opp)
    assert (row["state"], row["status"], row["competitor"]) == ("lost", "out_sold", "Fabrikam")
    assert row["probability"] == 0 and row["actual_value"] is None and row["closed_at"] == T1
    (event,) = new_events(db, before)
    assert (event["action"], event["from_state"], event["to_state"], event["to_status"]) == (
        "close_lost",
        "open",
        "lost",
        "out_sold",
    )
    assert (event["at"], event["actor"], event["note"]) == (T1, "maria", "price")


def test_close_lost_takes_the_canceled_reason(db):
    opp = make_opportunity(db)
    sp.opportunities.close_lost(db, opp, reason="canceled")
    assert state(db, "opportunity", opp) == ("lost", "canceled")


def test_close_lost_closes_every_open_quote_as_lost_drafts_included(db):
    opp = make_opportunity(db)
    active = make_active_quote(db, opp=opp)
    draft = make_quote(db, opp=opp)
    revised = make_active_quote(db, opp=opp)
    draft_rev2 = sp.quotes.revise(db, revised, at=EARLY)
    before = len(events(db))
    sp.opportunities.close_lost(db, opp, at=T1)
    for quote in (active, draft, draft_rev2):
        assert state(db, "quote", quote) == ("closed", "lost")
        assert record(db, "quotes", "quote_id", quote)["closed_at"] == T1
    assert state(db, "quote", revised) == ("closed", "revised")
    closed = sorted(
        (e["entity_id"], e["from_state"], e["to_status"]) for e in new_events(db, before) if e["entity"] == "quote"
    )
    assert closed == sorted([(active, "active", "lost"), (draft, "draft", "lost"), (draft_rev2, "draft", "lost")])
    assert all(e["at"] == T1 for e in new_events(db, before))


def test_close_lost_again_is_an_invalid_transition_that_changes_nothing(db):
    opp = make_opportunity(db)
    sp.opportunities.close_lost(db, opp)
    assert_refused(db, lambda: sp.opportunities.close_lost(db, opp), sp.InvalidTransition, match="lost")


def test_close_lost_of_a_won_opportunity_is_an_invalid_transition(db):
    order = make_order(db)
    opp = record(db, "orders", "order_id", order)["opportunity_id"]
    assert_refused(db, lambda: sp.opportunities.close_lost(db, opp), sp.InvalidTransition, match="final")


def test_close_lost_refuses_a_reason_that_is_not_a_lost_status(db):
    opp = make_opportunity(db)
    error = assert_refused(db, lambda: sp.opportunities.close_lost(db, opp, reason="won"), sp.ValidationError)
    assert error.field == "reason"


def test_close_lost_many_takes_a_reason_and_a_competitor_per_opportunity(db):
    a, b = make_opportunities(db, 2)
    quote = make_quote(db, opp=b)
    sp.opportunities.close_lost_many(
        db, [a, b], reason=["out_sold", "canceled"], competitor=["Fabrikam", None], at=[T0, T1]
    )
    assert record(db, "opportunities", "opportunity_id", a)["competitor"] == "Fabrikam"
    assert record(db, "opportunities", "opportunity_id", b)["competitor"] is None
    assert state(db, "opportunity", a) == ("lost", "out_sold") and state(db, "opportunity", b) == ("lost", "canceled")
    assert record(db, "quotes", "quote_id", quote)["closed_at"] == T1


def test_close_lost_many_with_one_won_opportunity_changes_nothing_and_lists_it(db):
    a, b = make_opportunities(db, 2)
    draft = make_quote(db, opp=a)
    sp.opportunities.close_won(db, b)
    error = assert_refused(db, lambda: sp.opportunities.close_lost_many(db, [a, b]), sp.InvalidTransition)
    assert [rid for rid, _ in error.failures] == [b]
    assert state(db, "quote", draft) == ("draft", "in_progress")


def test_close_lost_many_refuses_competitors_of_the_wrong_length(db):
    a, b = make_opportunities(db, 2)
    error = assert_refused(
        db, lambda: sp.opportunities.close_lost_many(db, [a, b], competitor=["X"]), sp.ValidationError
    )
    assert error.field == "competitor"


# -- reopen ----------------------------------------------------------------------------------


def test_reopen_makes_a_lost_opportunity_open_again_and_leaves_its_quotes_closed(db):
    opp = make_opportunity(db)
    quote = make_quote(db, opp=opp)
    sp.opportunities.close_lost(db, opp, competitor="Fabrikam", at=EARLY)
    before = len(events(db))
    sp.opportunities.reopen(db, opp, at=T1, actor="maria")
    row = record(db, "opportunities", "opportunity_id", opp)
    assert (row["state"], row["status"], row["closed_at"], row["competitor"]) == ("open", "in_progress", None, None)
    assert row["probability"] == sp.leads.DEFAULT_PROBABILITY
    assert state(db, "quote", quote) == ("closed", "lost")
    (event,) = new_events(db, before)
    assert (event["action"], event["from_state"], event["from_status"], event["to_state"], event["at"]) == (
        "reopen",
        "lost",
        "out_sold",
        "open",
        T1,
    )


def test_a_reopened_opportunity_can_revise_its_lost_quote(db):
    opp = make_opportunity(db)
    quote = make_active_quote(db, opp=opp)
    sp.opportunities.close_lost(db, opp)
    assert_refused(db, lambda: sp.quotes.revise(db, quote), sp.InvalidTransition, match="reopen")
    sp.opportunities.reopen(db, opp)
    rev2 = sp.quotes.revise(db, quote)
    assert state(db, "quote", rev2) == ("draft", "in_progress")


def test_reopen_an_open_opportunity_is_an_invalid_transition_that_changes_nothing(db):
    opp = make_opportunity(db)
    assert_refused(db, lambda: sp.opportunities.reopen(db, opp), sp.InvalidTransition, match="open")


def test_reopen_again_is_an_invalid_transition(db):
    opp = make_opportunity(db)
    sp.opportunities.close_lost(db, opp)
    sp.opportunities.reopen(db, opp)
    assert_refused(db, lambda: sp.opportunities.reopen(db, opp), sp.InvalidTransition)


def test_reopen_a_won_opportunity_is_an_invalid_transition(db):
    opp = make_opportunity(db)
    sp.opportunities.close_won(db, opp)
    assert_refused(db, lambda: sp.opportunities.reopen(db, opp), sp.InvalidTransition, match="final")


def test_quotes_need_an_open_opportunity(db):
    opp = make_opportunity(db)
    sku = make_product(db)
    sp.opportunities.close_lost(db, opp)
    assert_refused(db, lambda: make_quote(db, opp=opp, lines=[(sku, 1)]), sp.InvalidTransition, match="reopen")


# -- set_probability: a field edit of open opportunities, not a transition ---------------------


def test_set_probability_changes_an_open_opportunity_and_writes_no_event(db):
    opp = make_opportunity(db)
    before = len(events(db))
    sp.opportunities.set_probability(db, opp, 65)
    assert record(db, "opportunities", "opportunity_id", opp)["probability"] == 65
    assert len(events(db)) == before


def test_set_probability_many_takes_one_value_per_opportunity(db):
    opps = make_opportunities(db, 3)
    sp.opportunities.set_probability_many(db, opps, [20, 40, 90])
    assert [record(db, "opportunities", "opportunity_id", o)["probability"] for o in opps] == [20, 40, 90]


def test_set_probability_on_a_closed_opportunity_is_refused_and_changes_nothing(db):
    opp = make_opportunity(db)
    sp.opportunities.close_lost(db, opp, reason="canceled")
    assert_refused(db, lambda: sp.opportunities.set_probability(db, opp, 50), sp.InvalidTransition, "only open")


@pytest.mark.parametrize("bad", [-1, 101, 50.5, "50", True, None])
def test_set_probability_refuses_a_value_outside_0_to_100(db, bad):
    opp = make_opportunity(db)
    assert_refused(db, lambda: sp.opportunities.set_probability(db, opp, bad), sp.ValidationError, "probability")


def test_set_probability_of_an_unknown_opportunity_is_not_found(db):
    assert_refused(db, lambda: sp.opportunities.set_probability(db, 424242, 50), sp.NotFound)
