"""The error tree. Every message says what went wrong and what to do next."""

from __future__ import annotations

from collections.abc import Sequence


class SalespipeError(Exception):
    """Base of every error salespipe raises on purpose."""


class ValidationError(SalespipeError, ValueError):
    """Bad input. `field` names the argument or column; bulk calls list per-row `failures`."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: object = None,
        failures: Sequence[tuple] | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.failures = list(failures or [])


class NotFound(SalespipeError, LookupError):
    """A record named by id (or SKU) does not exist."""

    def __init__(self, entity: str, key: object, *, hint: str = "") -> None:
        msg = f"{entity} {key!r} does not exist"
        msg += f"; {hint}" if hint else "; check the id (db.sql('SELECT ...') lists what is there)"
        super().__init__(msg)
        self.entity = entity
        self.key = key


class InvalidTransition(SalespipeError):
    """An action that the state machine does not allow from the record's current state."""

    def __init__(self, message: str, *, failures: Sequence[tuple] | None = None) -> None:
        super().__init__(message)
        self.failures = list(failures or [])


class Busy(SalespipeError):
    """The database file stayed locked by another process past the retry budget."""


class ReadOnly(SalespipeError):
    """A write through a read-only handle (sp.connect(..., read_only=True)) or to a read-only file."""
