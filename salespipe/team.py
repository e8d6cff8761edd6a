"""The sales team: owners and the region each works in."""

from __future__ import annotations

import pandas as pd

from . import check
from .db import Database


def add_owner(db: Database, owner: str, region: str, *, at: object = None) -> None:
    """Add an owner in a region, or move an existing owner to another region."""
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
    """Add many owners at once from a DataFrame with columns owner, region."""
    for row in frame.itertuples(index=False):
        check.text(row.owner, "owner", required=True)
        check.text(row.region, "region", required=True)
    at = check.timestamp(at)
    with db.transaction() as con:
        con.executemany(
            """INSERT INTO owners (owner, region, created_at) VALUES (?, ?, ?)
               ON CONFLICT (owner) DO UPDATE SET region = excluded.region""",
            [[o.strip(), r.strip(), at] for o, r in zip(frame["owner"], frame["region"], strict=True)],
        )


def owners(db: Database) -> pd.DataFrame:
    """Every owner with their region."""
    return db.sql("SELECT owner, region FROM owners ORDER BY region, owner")
