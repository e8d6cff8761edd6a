"""The state machines as data (DESIGN.md, "State machines"), checked action by action.

For every action: from each state the design allows, the action works, writes exactly one event
for the record with the right from/to state and status, and takes `at=` (a timezone-aware time is
stored in UTC); from every other state it raises InvalidTransition and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from conftest import (
    EARLY,
    assert_refused,
    assert_unchanged,
    events,
    make_invoices,
    make_opportunities,
    make_opportunity,
    make_order,
    make_orders,
    make_quotes,
    new_events,
    rows,
    snapshot,
    state,
)

import salespipe as sp

# -- the design's table, written out as the spec -----------------------------------------------

DESIGN_STATES = {
    "lead": {
        "open": {"new", "contacted"},
        "qualified": {"qualified"},
        "disqualified": {"lost", "cannot_contact", "no_longer_interested", "canceled"},
    },
    "opportunity": {"open": {"in_progress", "on_hold"}, "won": {"won"}, "lost": {"canceled", "out_sold"}},
    "quote": {"draft": {"in_progress"}, "active": {"open"}, "won": {"won"}, "closed": {"lost", "canceled", "revised"}},
    "order": {"active": {"new"}, "fulfilled": {"complete"}, "invoiced": {"invoiced"}, "canceled": {"no_money"}},
    "invoice": {"active": {"new", "partial"}, "paid": {"complete"}, "canceled": {"canceled"}},
}

# (entity, action) -> (the states, or "state:status" pairs, it is allowed from; the default target)
DESIGN_ACTIONS = {
    ("lead", "qualify"): ({"open"}, "qualified:qualified"),
    ("lead", "disqualify"): ({"open"}, "disqualified:lost"),
    ("lead", "reactivate"): ({"disqualified"}, "open:new"),
    ("opportunity", "close_won"): ({"open"}, "won:won"),
    ("opportunity", "close_lost"): ({"open"}, "lost:out_sold"),
    ("opportunity", "reopen"): ({"lost"}, "open:in_progress"),
    ("quote", "activate"): ({"draft"}, "active:open"),
    ("quote", "revise"): ({"active", "closed:lost", "closed:canceled"}, "closed:revised"),
    # The design says active -> closed; drafts close too, since close_lost and create_order close
    # every open quote and revisions are never deleted.
    ("quote", "close"): ({"active", "draft"}, "closed:lost"),
    ("quote", "create_order"): ({"active"}, "won:won"),
    ("order", "fulfill"): ({"active"}, "fulfilled:complete"),
    ("order", "cancel"): ({"active"}, "canceled:no_money"),
    ("order", "create_invoice"): ({"fulfilled"}, "invoiced:invoiced"),
    ("invoice", "record_payment"): ({"active"}, "active:partial"),
    ("invoice", "cancel"): ({"active:new"}, "canceled:canceled"),  # only without payments
}


def allowed_by_design(entity: str, action: str, state_status: str) -> bool:
    state_name = state_status.split(":")[0]
    return any(s in (state_name, state_status) for s in DESIGN_ACTIONS[entity, action][0])


def test_the_states_and_statuses_are_the_designs():
    assert {e: {s: set(v) for s, v in states.items()} for e, states in sp.machine.STATES.items()} == DESIGN_STATES


def test_the_actions_and_the_states_they_are_allowed_from_are_the_designs():
    actions = {(t.entity, t.action) for t in sp.machine.TRANSITIONS if t.action != "create"}
    assert actions == set(DESIGN_ACTIONS)
    for entity, action in DESIGN_ACTIONS:
        for state_name, statuses in DESIGN_STATES[entity].items():
            for status in statuses:
                allowed = action in sp.machine.allowed_actions(entity, state_name, status)
                assert allowed == allowed_by_design(entity, action, f"{state_name}:{status}"), (
                    entity,
                    action,
                    state_name,
                    status,
                )


def test_every_transition_leads_to_known_states_and_statuses():
    for t in sp.machine.TRANSITIONS:
        for target in t.targets:
            state_name, status = target.split(":")
            assert status in DESIGN_STATES[t.entity][state_name], (t, target)
        for source in t.sources:
            assert source.split(":")[0] in DESIGN_STATES[t.entity], (t, source)


def test_creations_start_in_the_designs_first_state():
    starts = {t.entity: t.targets[0] for t in sp.machine.TRANSITIONS if t.action == "create"}
    assert starts == {
        "lead": "open:new",
        "opportunity": "open:in_progress",
        "quote": "draft:in_progress",
        "order": "active:new",
        "invoice": "active:new",
    }


def test_final_states_allow_nothing():
    for entity, state_name, status in [
        ("lead", "qualified", "qualified"),
        ("opportunity", "won", "won"),
        ("quote", "won", "won"),
        ("quote", "closed", "revised"),
        ("order", "invoiced", "invoiced"),
        ("order", "canceled", "no_money"),
        ("invoice", "paid", "complete"),
        ("invoice", "canceled", "canceled"),
    ]:
        assert sp.machine.allowed_actions(entity, state_name, status) == [], (entity, state_name)


def test_as_frame_lists_one_row_per_action_and_target():
    frame = sp.machine.as_frame()
    assert list(frame.columns) == ["entity", "action", "from", "to"]
    assert len(frame) == sum(len(t.targets) for t in sp.machine.TRANSITIONS)
    disqualify = frame[(frame["entity"] == "lead") & (frame["action"] == "disqualify")]
    assert set(disqualify["to"]) == {f"disqualified:{s}" for s in DESIGN_STATES["lead"]["disqualified"]}
    assert set(disqualify["from"]) == {"open"}


# -- records in every state ------------------------------------------------------------------


def build(db, entity: str, sources: list[str]) -> list[int]:
    """One record of `entity` in each of the "state:status" `sources`, in that order.

    Records are made n at a time with the bulk actions, then moved on in groups.
    """
    n = len(sources)

    def where(*wanted):
        return [i for i, s in zip(ids, sources) if s in wanted]

    if entity == "lead":
        ids = [
            int(i)
            for i in sp.leads.create_many(db, pd.DataFrame({"company": [f"Lead {i}" for i in range(n)]}), at=EARLY)
        ]
        sp.leads.qualify_many(db, where("qualified:qualified"), at=EARLY)
        sp.leads.disqualify_many(db, where("disqualified:lost"), at=EARLY)
    elif entity == "opportunity":
        ids = make_opportunities(db, n)
        sp.opportunities.close_won_many(db, where("won:won"), at=EARLY)
        sp.opportunities.close_lost_many(db, where("lost:out_sold"), at=EARLY)
    elif entity == "quote":
        ids = make_quotes(db, n)
        sp.quotes.activate_many(db, [i for i, s in zip(ids, sources) if s != "draft:in_progress"], at=EARLY)
        sp.quotes.create_order_many(db, where("won:won"), at=EARLY)
        sp.quotes.close_many(db, where("closed:lost"), status="lost", at=EARLY)
        sp.quotes.close_many(db, where("closed:canceled"), status="canceled", at=EARLY)
        sp.quotes.revise_many(db, where("closed:revised"), at=EARLY)
    elif entity == "order":
        ids = make_orders(db, n)
        sp.orders.fulfill_many(db, where("fulfilled:complete", "invoiced:invoiced"), at=EARLY)
        sp.orders.create_invoice_many(db, where("invoiced:invoiced"), at=EARLY)
        sp.orders.cancel_many(db, where("canceled:no_money"), at=EARLY)
    else:
        ids = make_invoices(db, n)  # one line of 1 x 11.00 each
        paying = where("active:partial", "paid:complete")
        amounts = [
            Decimal("11.00") if s == "paid:complete" else Decimal("1.00")
            for s in sources
            if s in ("active:partial", "paid:complete")
        ]
        if paying:
            sp.invoices.record_payments(db, pd.DataFrame({"invoice_id": paying, "amount": amounts}), at=EARLY)
        sp.invoices.cancel_many(db, where("canceled:canceled"), at=EARLY)
    assert [":".join(state(db, entity, i)) for i in ids] == sources
    return ids


REACHABLE = {
    "lead": ["open:new", "qualified:qualified", "disqualified:lost"],
    "opportunity": ["open:in_progress", "won:won", "lost:out_sold"],
    "quote": ["draft:in_progress", "active:open", "won:won", "closed:lost", "closed:canceled", "closed:revised"],
    "order": ["active:new", "fulfilled:complete", "invoiced:invoiced", "canceled:no_money"],
    "invoice": ["active:new", "active:partial", "paid:complete", "canceled:canceled"],
}

ACTIONS = {
    ("lead", "qualify"): lambda db, i, **kw: sp.leads.qualify(db, i, **kw),
    ("lead", "disqualify"): lambda db, i, **kw: sp.leads.disqualify(db, i, **kw),
    ("lead", "reactivate"): lambda db, i, **kw: sp.leads.reactivate(db, i, **kw),
    ("opportunity", "close_won"): lambda db, i, **kw: sp.opportunities.close_won(db, i, **kw),
    ("opportunity", "close_lost"): lambda db, i, **kw: sp.opportunities.close_lost(db, i, **kw),
    ("opportunity", "reopen"): lambda db, i, **kw: sp.opportunities.reopen(db, i, **kw),
    ("quote", "activate"): lambda db, i, **kw: sp.quotes.activate(db, i, **kw),
    ("quote", "revise"): lambda db, i, **kw: sp.quotes.revise(db, i, **kw),
    ("quote", "close"): lambda db, i, **kw: sp.quotes.close(db, i, **kw),
    ("quote", "create_order"): lambda db, i, **kw: sp.quotes.create_order(db, i, **kw),
    ("order", "fulfill"): lambda db, i, **kw: sp.orders.fulfill(db, i, **kw),
    ("order", "cancel"): lambda db, i, **kw: sp.orders.cancel(db, i, **kw),
    ("order", "create_invoice"): lambda db, i, **kw: sp.orders.create_invoice(db, i, **kw),
    ("invoice", "record_payment"): lambda db, i, **kw: sp.invoices.record_payment(db, i, Decimal("1.00"), **kw),
    ("invoice", "cancel"): lambda db, i, **kw: sp.invoices.cancel(db, i, **kw),
}

VALID = [(e, a, s) for e, a in DESIGN_ACTIONS for s in REACHABLE[e] if allowed_by_design(e, a, s)]
TOKYO = dt.timezone(dt.timedelta(hours=9))


def test_every_action_of_the_design_is_exercised_here():
    assert set(ACTIONS) == set(DESIGN_ACTIONS)
    for entity, action in DESIGN_ACTIONS:
        assert any(allowed_by_design(entity, action, s) for s in REACHABLE[entity])
        assert not all(allowed_by_design(entity, action, s) for s in REACHABLE[entity])


@pytest.mark.parametrize("entity", list(REACHABLE))
def test_an_allowed_action_writes_one_event_for_the_record_at_the_given_time_in_utc(db, subtests, entity):
    cases = [(action, source) for of, action, source in VALID if of == entity]
    records = build(db, entity, [source for _, source in cases])
    for (action, source), record_id in zip(cases, records):
        with subtests.test(f"{action} from {source}"):
            before = len(events(db))

            ACTIONS[entity, action](db, record_id, at=dt.datetime(2024, 7, 1, 18, 30, tzinfo=TOKYO), actor="spec")

            mine = [e for e in new_events(db, before) if (e["entity"], e["entity_id"]) == (entity, record_id)]
            assert len(mine) == 1
            (event,) = mine
            target = DESIGN_ACTIONS[entity, action][1]
            assert event["action"] == action
            assert f"{event['from_state']}:{event['from_status']}" == source
            assert f"{event['to_state']}:{event['to_status']}" == target
            assert ":".join(state(db, entity, record_id)) == target
            assert event["at"] == dt.datetime(2024, 7, 1, 9, 30)  # 18:30 in Tokyo is 09:30 UTC
            assert event["actor"] == "spec"


@pytest.mark.parametrize("entity", list(REACHABLE))
def test_an_action_from_any_other_state_is_an_invalid_transition_that_changes_nothing(db, subtests, entity):
    records = dict(zip(REACHABLE[entity], build(db, entity, REACHABLE[entity])))
    before = snapshot(db)
    for (of, action), call in ACTIONS.items():
        for source, record_id in records.items():
            if of != entity or allowed_by_design(entity, action, source):
                continue
            with subtests.test(f"{action} from {source}"):
                with pytest.raises(sp.InvalidTransition) as info:
                    call(db, record_id)
                assert_unchanged(before, snapshot(db))
                state_name, status = source.split(":")
                message = str(info.value)
                assert f"{entity} {record_id}" in message, message
                assert f"{state_name} ({status})" in message, message
                assert action in message, message
                for allowed in sp.machine.allowed_actions(entity, state_name, status):
                    assert allowed in message, message
                assert [rid for rid, _ in info.value.failures] == [record_id]


def test_an_action_on_a_record_that_does_not_exist_is_not_found(db, subtests):
    before = snapshot(db)
    for (entity, action), call in ACTIONS.items():
        with subtests.test(f"{entity} {action}"):
            error = assert_refused(db, lambda call=call: call(db, 4242), sp.NotFound, before=before)
            assert "4242" in str(error) and entity in str(error)


CREATIONS = {
    "lead": lambda db, at: sp.leads.create(db, last_name="Lovelace", at=at),
    "lead from a frame": lambda db, at: int(sp.leads.create_many(db, pd.DataFrame({"company": ["Contoso"]}), at=at)[0]),
    "opportunity": lambda db, at: sp.opportunities.create(db, topic="Renewal", at=at),
    "quote": lambda db, at: sp.quotes.create(db, make_opportunity(db), at=at),
    "quote from a frame": lambda db, at: int(
        sp.quotes.create_many(db, pd.DataFrame({"opportunity_id": [make_opportunity(db)]}), at=at)[0]
    ),
}


def test_creating_a_record_takes_at_and_stores_it_in_utc(db, subtests):
    for what, create in CREATIONS.items():
        with subtests.test(what):
            record_id = create(db, dt.datetime(2024, 7, 1, 18, 30, tzinfo=TOKYO))
            entity = what.split()[0]
            table, key = sp.machine.TABLES[entity]
            (event,) = events(db, entity, record_id)
            assert event["action"] == "create" and event["at"] == dt.datetime(2024, 7, 1, 9, 30)
            created = rows(db, f"SELECT created_at FROM {table} WHERE {key} = ?", [record_id])
            assert created == [(dt.datetime(2024, 7, 1, 9, 30),)]


def test_a_bulk_action_takes_one_time_per_record_each_stored_in_utc(db):
    a, b = make_order(db), make_order(db)
    new_york = dt.timezone(dt.timedelta(hours=-4))
    sp.orders.fulfill_many(
        db, [a, b], at=[dt.datetime(2024, 7, 1, 20, 0, tzinfo=new_york), dt.datetime(2024, 7, 2, 1, 0)]
    )
    assert [e["at"] for e in events(db) if e["action"] == "fulfill"] == [
        dt.datetime(2024, 7, 2, 0, 0),  # 20:00 in New York is midnight UTC
        dt.datetime(2024, 7, 2, 1, 0),  # a naive time is taken as UTC
    ]


def test_an_at_that_is_not_a_time_for_each_record_is_refused(db, subtests):
    order = make_order(db)
    for name, at in [
        ("text", "next tuesday"),
        ("a number", 1720000000),
        ("two for one", [dt.datetime(2024, 1, 1)] * 2),
    ]:
        with subtests.test(name):
            error = assert_refused(db, lambda at=at: sp.orders.fulfill(db, order, at=at), sp.ValidationError)
            assert error.field == "at"
