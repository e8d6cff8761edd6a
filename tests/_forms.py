"""Helpers for the widget-form tests: clicking like a user, and what the form must then offer.

A click on an ipywidgets Button runs its handlers in plain Python (no kernel, no browser), but
ipywidgets swallows an exception raised in a handler and only logs it. `click` therefore fails
the test on such a log record, so a bug in a form can never pass as "nothing happened".
"""

from __future__ import annotations

import logging

import pytest

import salespipe as sp
from salespipe.forms._base import ACTION_LABELS


class _Swallowed(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "Exception in callback" in record.getMessage():
            self.records.append(record)


def click(form, label: str) -> str:
    """Click the button `label` as a user would; return the message the form shows then."""
    handler = _Swallowed()
    logging.getLogger().addHandler(handler)
    loggers = [logging.getLogger(name) for name in ("traitlets", "ipywidgets")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        form.buttons[label].click()
    finally:
        logging.getLogger().removeHandler(handler)
        for logger in loggers:
            logger.removeHandler(handler)
    if handler.records:
        record = handler.records[0]
        pytest.fail(f"the {label!r} handler raised: {record.getMessage()}\n{record.exc_text or ''}")
    return form.message


def fill(form, **values) -> None:
    """Type into the fields named by API keyword."""
    for name, value in values.items():
        form.fields[name].value = value


def actions_offered(form) -> set[str]:
    """The state-machine actions among the buttons the form offers now."""
    labels = set(form.offered)
    return {action for action, label in ACTION_LABELS.items() if label in labels}


def allowed(db, entity: str, ident: int) -> set[str]:
    """The actions the state machine allows on a record, from its state in the database."""
    table, key = sp.machine.TABLES[entity]
    with db.connection(read_only=True) as con:
        state, status = con.execute(f"SELECT state, status FROM {table} WHERE {key} = ?", [ident]).fetchall()[0]
    return set(sp.machine.allowed_actions(entity, state, status))


def assert_offers_exactly_what_the_machine_allows(form, db) -> None:
    entity, ident = form.current
    expected = allowed(db, entity, ident)
    if entity == "lead":  # a single selected lead: the list's actions are qualify/disqualify/reactivate
        expected &= {"qualify", "disqualify", "reactivate"}
    assert actions_offered(form) == expected, (form.current, form.offered)
