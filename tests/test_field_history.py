"""Field history: changes of probability, estimated value, owner and close date are kept, in the
same transaction, and pipeline(as_of=) uses the values that stood on that date."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from conftest import EARLY, assert_refused, make_lead, make_opportunity, make_product, record, rows

import salespipe as sp

D = Decimal
DAY = dt.timedelta(days=1)


def history(db, entity=None):
    query = """SELECT entity, entity_id, field, old_value, new_value, changed_at, actor FROM v_field_history
               WHERE (? IS NULL OR entity = ?) ORDER BY change_id"""
    return rows(db, query, [entity, entity])


def test_editing_an_opportunity_keeps_every_change_with_its_time_and_actor(db):
    opp = make_opportunity(db, estimated_value=D("1000.00"), owner="maria")
    sp.opportunities.set_probability(db, opp, 40, at=EARLY + DAY, actor="maria")
    sp.opportunities.update(
        db,
        opp,
        estimated_value="1,500.00",
        owner="li",
        estimated_close_date="2024-06-30",
        at=EARLY + 2 * DAY,
        actor="ops",
    )
    sp.opportunities.update(db, opp, owner="li", at=EARLY + 3 * DAY)  # no change: nothing kept
    assert history(db, "opportunity") == [
        ("opportunity", opp, "probability", "10", "40", EARLY + DAY, "maria"),
        ("opportunity", opp, "estimated_value", "1000.00", "1500.00", EARLY + 2 * DAY, "ops"),
        ("opportunity", opp, "owner", "maria", "li", EARLY + 2 * DAY, "ops"),
        ("opportunity", opp, "estimated_close_date", None, "2024-06-30", EARLY + 2 * DAY, "ops"),
    ]
    saved = record(db, "opportunities", "opportunity_id", opp)
    assert (saved["owner"], saved["estimated_value"], saved["estimated_close_date"]) == (
        "li",
        D("1500.00"),
        dt.date(2024, 6, 30),
    )
    assert sp.doctor.run(db).empty


def test_transitions_keep_the_probability_they_set(db):
    opp = make_opportunity(db)
    sp.opportunities.close_lost(db, opp, at=EARLY + DAY)
    sp.opportunities.reopen(db, opp, at=EARLY + 2 * DAY)
    quote = sp.quotes.create(db, opp, lines=[(make_product(db), 1)], at=EARLY + 3 * DAY)
    sp.quotes.activate(db, quote, at=EARLY + 3 * DAY)
    sp.quotes.create_order(db, quote, at=EARLY + 4 * DAY)
    assert [(f, old, new, at) for _, _, f, old, new, at, _ in history(db)] == [
        ("probability", "10", "0", EARLY + DAY),
        ("probability", "0", "10", EARLY + 2 * DAY),
        ("probability", "10", "100", EARLY + 4 * DAY),
    ]
    assert sp.doctor.run(db).empty


def test_editing_a_lead_moves_the_funnel_with_it(db):
    lead = make_lead(db, owner="maria", source="web")
    sp.leads.update(db, lead, owner="li", source="referral", estimated_value="2 500,00", at=EARLY + DAY)
    assert [(f, old, new) for _, _, f, old, new, _, _ in history(db, "lead")] == [
        ("owner", "maria", "li"),
        ("source", "web", "referral"),
        ("estimated_value", "60000.00", "2500.00"),
    ]
    assert rows(db, "SELECT owner, source FROM lead_stages WHERE lead_id = ?", [lead]) == [("li", "referral")]
    assert sp.metrics.funnel(db, owner="li")["count"].iloc[0] == 1
    assert sp.doctor.run(db).empty


def test_a_refused_edit_changes_nothing(db):
    opp, lost = make_opportunity(db), make_opportunity(db)
    sp.opportunities.close_lost(db, lost, at=EARLY)
    cases = [
        (lambda: sp.opportunities.update(db, lost, estimated_value="5"), sp.InvalidTransition, "only open"),
        (lambda: sp.opportunities.update(db, 999999, owner="x"), sp.NotFound, "999999"),
        (lambda: sp.opportunities.update(db, opp, estimated_value="1,200"), sp.ValidationError, "ambiguous"),
        (lambda: sp.opportunities.update(db, opp, estimated_close_date="2024-06-30T10:00"), sp.ValidationError, "date"),
        (lambda: sp.opportunities.update(db, opp, probability=101), sp.ValidationError, "between 0 and 100"),
        (lambda: sp.opportunities.set_probability(db, opp, 50, at=EARLY - DAY), sp.ValidationError, "runs forward"),
        (lambda: sp.leads.update(db, 424242, owner="x"), sp.NotFound, "424242"),
    ]
    for call, error, words in cases:
        assert_refused(db, call, error, match=words)


def test_set_probability_many_keeps_one_change_per_record_at_its_own_time(db):
    a, b = make_opportunity(db), make_opportunity(db)
    sp.opportunities.set_probability_many(db, [a, b], [30, 70], at=[EARLY + DAY, EARLY + 2 * DAY])
    assert [(i, new, at) for _, i, _, _, new, at, _ in history(db)] == [
        (a, "30", EARLY + DAY),
        (b, "70", EARLY + 2 * DAY),
    ]


# -- pipeline as of a date, against a hand-built history --------------------------------------------


@pytest.fixture
def deals(db):
    """Two deals whose probability, value and owner move through January; one is lost on Feb 1."""
    a = make_opportunity(db, estimated_value=D("1000.00"), owner="ann")  # qualified at EARLY (Jan 1)
    b = make_opportunity(db, estimated_value=D("200.00"), owner="ann")
    sp.opportunities.set_probability(db, a, 50, at="2024-01-10")
    sp.opportunities.update(db, a, estimated_value="3000", owner="bob", at="2024-01-20")
    sp.opportunities.set_probability(db, b, 20, at="2024-01-15")
    sp.opportunities.close_lost(db, b, at="2024-02-01")
    return a, b


def _pipeline(db, as_of):
    frame = sp.metrics.pipeline(db, as_of=as_of, by="owner")
    frame = frame[frame["count"] > 0]
    return {row.owner: (row.count, row.value, row.weighted_value) for row in frame.itertuples()}


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2024-01-05", {"ann": (2, 1200.0, 100.0 + 20.0)}),  # both at the default 10%
        ("2024-01-12", {"ann": (2, 1200.0, 500.0 + 20.0)}),  # a at 50%
        ("2024-01-16", {"ann": (2, 1200.0, 500.0 + 40.0)}),  # b at 20%
        ("2024-01-25", {"bob": (1, 3000.0, 1500.0), "ann": (1, 200.0, 40.0)}),  # a is bob's, worth 3000
        ("2024-02-05", {"bob": (1, 3000.0, 1500.0)}),  # b was lost
    ],
)
def test_pipeline_as_of_uses_the_values_that_stood_on_that_date(db, deals, as_of, expected):
    assert _pipeline(db, as_of) == expected


def test_pipeline_today_is_the_current_values(db, deals):
    assert _pipeline(db, None) == {"bob": (1, 3000.0, 1500.0)}


def test_a_value_cleared_stands_as_empty_from_then_on(db):
    opp = make_opportunity(db, estimated_value=D("1000.00"))
    sp.opportunities.update(db, opp, estimated_value=None, at="2024-01-10")
    assert _pipeline(db, "2024-01-05") == {"maria": (1, 1000.0, 100.0)}
    assert _pipeline(db, "2024-01-15") == {"maria": (1, 0.0, 0.0)}  # counted, worth nothing known
    assert sp.doctor.run(db).empty
