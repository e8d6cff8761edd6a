"""What the statements inside a transaction share: the transaction itself, DataFrames copied into
temp tables, exact results (money as Decimal), the first row, deterministic new ids and named
parameters."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal

import duckdb
import pandas as pd
import pyarrow as pa

SMALL_FRAME = 4096


def _plain(values: pd.Series) -> list:
    """A column as plain Python values for binding (None for every kind of missing)."""
    out = values.astype(object).tolist()
    return [None if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v) else v for v in out]


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """The frame as Arrow; columns of Decimals become decimal128(38, 6), exact (never float)."""
    columns = {}
    for name in frame.columns:
        col = frame[name]
        if col.dtype == object:
            sample = col.dropna()
            if len(sample) and isinstance(sample.iloc[0], Decimal):
                columns[name] = pa.array(_plain(col), type=pa.decimal128(38, 6))
                continue
        columns[name] = pa.Array.from_pandas(col)
    return pa.table(columns)


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> Iterator[str]:
    """Copy a DataFrame into the temp table `name` for the duration of a block.

    A registered DataFrame is re-scanned through pandas by every statement (~3 ms each); a temp
    table costs one copy, then ~0.5 ms per statement. Small frames are bound as list parameters,
    large ones copied through Arrow.
    """
    if len(frame) <= SMALL_FRAME:
        columns = list(frame.columns)
        select = ", ".join(f'unnest(${i + 1}) AS "{c}"' for i, c in enumerate(columns))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select}", [_plain(frame[c]) for c in columns])
    else:
        con.register(f"{name}_frame", _arrow(frame))
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_frame")
        finally:
            try:
                con.unregister(f"{name}_frame")
            except duckdb.Error:
                pass  # an aborted transaction refuses even this; the error above is the one to see
    try:
        yield name
    except BaseException:
        try:
            con.execute(f"DROP TABLE IF EXISTS {name}")
        except duckdb.Error:
            pass  # a DuckDB error aborted the transaction, which refuses this; its rollback drops the table
        raise  # the original error, not "transaction is aborted"
    if len(frame) > SMALL_FRAME:  # a small one is replaced by the next call; dropping costs a statement
        con.execute(f"DROP TABLE IF EXISTS {name}")


def exact(result: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """An executed query as a DataFrame with money as Decimal (`.df()` turns DECIMAL into float64)."""
    names = [d[0] for d in result.description]
    return pd.DataFrame(result.fetchall(), columns=names, dtype=object).infer_objects()


@contextmanager
def begin(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on an open connection: committed when the block ends, rolled back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise
    con.execute("COMMIT")


def first(result: duckdb.DuckDBPyConnection) -> tuple | None:
    """The first row of an executed query, or None; the result is consumed in full.

    (DuckDB 2 keeps a result open after fetchone(), blocking the next statement.)
    """
    rows = result.fetchall()
    return rows[0] if rows else None


def new_id(table: str, key: str, order: str) -> str:
    """SQL for new ids: one past the table's maximum, numbered in `order`.

    Deterministic (unlike sequences under parallel scans), so the same input builds the same
    database; safe because a file has one writer at a time and :memory: is behind a mutex.
    """
    return f"((SELECT coalesce(max({key}), 0) FROM {table}) + row_number() OVER (ORDER BY {order}))"


def bound(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | Mapping[str, object] | None) -> None:
    """Execute with positional params, or with the named ones the statement uses."""
    if isinstance(params, Mapping):
        params = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
    con.execute(sql, params if params else [])
