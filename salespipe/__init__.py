"""salespipe: the Dynamics 365 sales process as stage transitions over DuckDB."""

from . import browse, catalog, demo, doctor, invoices, leads, machine, metrics, opportunities, orders, quotes, team
from .db import SCHEMA_VERSION, Database, connect
from .errors import Busy, InvalidTransition, NotFound, ReadOnly, SalespipeError, ValidationError

__all__ = [
    "SCHEMA_VERSION",
    "Busy",
    "Database",
    "InvalidTransition",
    "NotFound",
    "ReadOnly",
    "SalespipeError",
    "ValidationError",
    "browse",
    "catalog",
    "demo",
    "doctor",
    "connect",
    "invoices",
    "leads",
    "machine",
    "metrics",
    "opportunities",
    "orders",
    "quotes",
    "team",
]
