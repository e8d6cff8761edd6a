"""The sales team: owners and the region each works in."""

from __future__ import annotations

import pandas as pd

from . import check
from .db import Database
from .errors import ValidationError


def add_owner(db: Database, owner: str, region: str, *, at: object = None) -> None:
    """Add an owner in a region, or move an existing owner to another region."""
    db = check.database(db)
    owner = check.text(owner, "owner", required=True)
    region = check.text(region, "region", required=True)
    at = check.timestamp(at)
    with db.transaction() as con:
        con.execute(
            """INSERT INTO owners (owner, region, created_at) VALUES (?, ?, ?)
               ON CONFLICT (owner) DO UPDATE SET region = excluded.region""",
            [owner, region, at],
        )


def add_owners(db: Database, frame: pd.DataFrame, *, at: object = None) -> None:
    """Add many owners at once from a DataFrame with columns owner, region (all or none)."""
    db = check.database(db)
    if not isinstance(frame, pd.DataFrame) or not {"owner", "region"} <= set(frame.columns):
        raise ValidationError("owners must be a DataFrame with owner and region columns", field="frame")
    unknown = sorted(map(str, set(frame.columns) - {"owner", "region"}))
    if unknown:
        raise ValidationError(f"unknown owner columns: {', '.join(unknown)}; allowed: owner, region", field=unknown[0])

    def required(value: object, field: str) -> str:
        return check.text(value, field, required=True)

    owners, problems = check.each(frame["owner"].tolist(), "owner", required)
    regions, more = check.each(frame["region"].tolist(), "region", required)
    problems = sorted(problems + more)
    if problems:
        row, field, message = problems[0]
        raise ValidationError(f"owner row {row}: {message}", field=field, failures=problems[:1000])
    at = check.timestamp(at)
    with db.transaction() as con:
        con.executemany(
            """INSERT INTO owners (owner, region, created_at) VALUES (?, ?, ?)
               ON CONFLICT (owner) DO UPDATE SET region = excluded.region""",
            [[o, r, at] for o, r in zip(owners, regions, strict=True)],
        )


def owners(db: Database) -> pd.DataFrame:
    """Every owner with their region."""
    db = check.database(db)
    return db.sql("SELECT owner, region FROM owners ORDER BY region, owner")
