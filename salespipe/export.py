"""Export every table and analyst view to Parquet or CSV files for BI tools, read-only.

`write(db, folder, format="parquet")` opens the database read-only (it never creates, migrates or
writes it, and works beside a writer's pauses like any reader), writes one file per table and view
(`leads.parquet`, `v_opportunity_facts.parquet` ...) and `_columns.csv`, a data dictionary with
each column's type and comment. The `*_rebuilt` views (doctor's slow rebuilds) are left out.
"""

from __future__ import annotations

import os
from pathlib import Path

from tqdm.auto import tqdm

from . import check
from .db import Database
from .errors import ValidationError
from .imports.read import file_path

FORMATS = ("parquet", "csv")


def check_folder(path: object) -> Path:
    """The export folder as given: refused when it is a file, or its parent is not a folder."""
    folder = Path(file_path(path, "folder"))
    if folder.exists() and not folder.is_dir():
        raise ValidationError(f"{folder} is a file: give a folder to export into", field="folder", value=str(folder))
    parent = folder if folder.exists() else folder.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValidationError(f"{parent} is not a folder you can write to", field="folder", value=str(folder))
    return folder


def relations(db: Database) -> list[tuple[str, str]]:
    """(name, "table" or "view") of everything exported, tables first."""
    db = check.database(db)
    with db.connection(read_only=True) as con:
        rows = con.execute(
            """SELECT table_name, table_type FROM information_schema.tables
               WHERE table_catalog = current_database() AND table_schema = 'main'
                 AND table_name NOT LIKE '%\\_rebuilt' ESCAPE '\\'
               ORDER BY table_type, table_name"""
        ).fetchall()
    return [(name, "view" if kind == "VIEW" else "table") for name, kind in rows]


def write(
    db: Database, folder: str | os.PathLike[str], *, format: str = "parquet", progress: bool = False
) -> list[Path]:
    """Write every table and analyst view of `db` into `folder` as `format` files; returns the paths."""
    db = check.database(db)
    format = check.choice(format, "format", FORMATS)
    target = check_folder(folder)
    progress = check.flag(progress, "progress")
    names = relations(db)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    options = "(FORMAT parquet)" if format == "parquet" else "(FORMAT csv, HEADER true)"
    with (
        db.connection(read_only=True) as con,
        tqdm(names, desc="export", unit="table", disable=not progress, leave=False) as bar,
    ):
        for name, _ in bar:
            path = target / f"{name}.{format}"
            literal = str(path).replace("'", "''")
            con.execute(f"""COPY (SELECT * FROM "{name}") TO '{literal}' {options}""")
            written.append(path)
        dictionary = target / "_columns.csv"
        literal = str(dictionary).replace("'", "''")
        con.execute(
            f"""COPY (SELECT table_name, column_name, data_type, comment FROM duckdb_columns()
                      WHERE database_name = current_database() AND schema_name = 'main'
                        AND table_name NOT LIKE '%\\_rebuilt' ESCAPE '\\'
                      ORDER BY table_name, column_index)
                TO '{literal}' (FORMAT csv, HEADER true)"""
        )
        written.append(dictionary)
    return written
