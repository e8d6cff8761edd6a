"""Read functions for screens: paged lead lists, pick lists, open deals, documents and revision diffs.

The widget forms (salespipe.forms) show what these return; analysts can call them too. Each
opens one short read-only connection (the file is never held between calls) and keeps money as
exact `Decimal` (rows are fetched with `fetchall`, not `.df()`, which would turn DECIMAL into
float). Lists are paged in SQL, newest first, so the first page of a million leads comes back
in milliseconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import pandas as pd

from . import check, machine
from .db import Database
from .documents import KINDS, Totals
from .errors import NotFound, ValidationError
from .statements import first

LEAD_STATES = tuple(machine.STATES["lead"])
LEAD_COLUMNS = ("lead_id", "first_name", "last_name", "company", "email", "topic", "source", "owner", "state", "status")
LEAD_COLUMNS += ("estimated_value", "created_at")
MAX_PAGE_SIZE = 500
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT")


def _frame(cursor: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The rows of an executed query as a DataFrame that keeps every value exact.

    Integer columns become Int64 (ids stay ids where some are missing, never floats), timestamps
    datetime64; everything else, money included, stays as DuckDB returns it (Decimal, str, None).
    """
    names = [d[0] for d in cursor.description]
    types = [str(d[1]) for d in cursor.description]
    frame = pd.DataFrame(cursor.fetchall(), columns=names, dtype=object)
    for name, kind in zip(names, types, strict=True):
        if kind in _INTEGER_TYPES:
            frame[name] = frame[name].astype("Int64")
        elif kind == "TIMESTAMP":
            frame[name] = pd.to_datetime(frame[name]).astype("datetime64[us]")
    return frame


# -- leads -------------------------------------------------------------------------------------


SEARCH_LIMIT = 2_000


@dataclass(frozen=True)
class LeadPage:
    """One page of a filtered lead list, newest first, and how many leads match in all.

    A search reaches the newest SEARCH_LIMIT matches: past that, `exact` is False and `total`
    is SEARCH_LIMIT (shown as "2,000+"; a narrower search finds older leads).
    """

    rows: pd.DataFrame  # LEAD_COLUMNS; estimated_value as Decimal
    total: int
    page: int
    page_size: int
    exact: bool = True

    @property
    def pages(self) -> int:
        """The number of pages (at least 1, so an empty list still has page 1)."""
        return max(1, -(-self.total // self.page_size))

    @property
    def first_row(self) -> int:
        """The 1-based position of the first row shown (0 when nothing matches)."""
        return 0 if self.total == 0 else (self.page - 1) * self.page_size + 1

    @property
    def last_row(self) -> int:
        return (self.page - 1) * self.page_size + len(self.rows)


def _like(word: str) -> str:
    """An ILIKE pattern for `word` anywhere, its wildcards escaped (with the escape character \\)."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _lead_filter(
    state: str | None, owner: str | None, source: str | None, search: str | None
) -> tuple[str, list[object]]:
    """WHERE clause and parameters for the lead list's filters."""
    where, params = [], []
    if state is not None:
        where.append("state = ?")
        params.append(check.choice(state, "state", LEAD_STATES))
    if owner is not None:
        where.append("owner = ?")
        params.append(check.text(owner, "owner", required=True))
    if source is not None:
        where.append("source = ?")
        params.append(check.text(source, "source", required=True))
    for word in (check.text(search, "search") or "").split():
        # every word must appear in one of the fields (a CRM quick find), or be the lead's id
        fields = " OR ".join(f"{f} ILIKE ? ESCAPE '\\'" for f in ("first_name", "last_name", "company", "email"))
        params += [_like(word)] * 4
        if word.isdigit() and len(word) <= 18:
            fields += " OR lead_id = ?"
            params.append(int(word))
        where.append(f"({fields})")
    return (" WHERE " + " AND ".join(where)) if where else "", params


def lead_page(
    db: Database,
    *,
    state: str | None = None,
    owner: str | None = None,
    source: str | None = None,
    search: str | None = None,
    page: int = 1,
    page_size: int = 25,
) -> LeadPage:
    """A page of leads, newest first, filtered by state, owner, source and a search.

    search: words that must each appear in the first or last name, the company or the email
    (case-insensitive); a number also finds the lead with that id. A page past the end gives
    the last page. Without a search: an exact count (a scan of one or two short columns) and
    an `ORDER BY lead_id DESC LIMIT/OFFSET` page. With one: the ids of the newest
    SEARCH_LIMIT + 1 matches in one top-N scan (DuckDB prunes it as the top fills), then the
    page's rows by id, so even a search over a million leads takes one pass.
    """
    page = check.ident(page, "page")
    page_size = check.ident(page_size, "page_size")
    if page_size > MAX_PAGE_SIZE:
        raise ValidationError(f"page_size must be at most {MAX_PAGE_SIZE}, got {page_size}", field="page_size")
    where, params = _lead_filter(state, owner, source, search)
    columns = ", ".join(LEAD_COLUMNS)
    with db.connection(read_only=True) as con:
        if not check.text(search, "search"):
            total = con.execute(f"SELECT count(*) FROM leads{where}", params).fetchall()[0][0]
            page = min(page, max(1, -(-total // page_size)))
            rows = _frame(
                con.execute(
                    f"SELECT {columns} FROM leads{where} ORDER BY lead_id DESC LIMIT ? OFFSET ?",
                    [*params, page_size, (page - 1) * page_size],
                )
            )
            return LeadPage(rows=rows, total=int(total), page=page, page_size=page_size)
        found = con.execute(
            f"SELECT lead_id FROM leads{where} ORDER BY lead_id DESC LIMIT {SEARCH_LIMIT + 1}", params
        ).fetchall()
        exact = len(found) <= SEARCH_LIMIT
        ids = [r[0] for r in found[:SEARCH_LIMIT]]
        page = min(page, max(1, -(-len(ids) // page_size)))
        shown = ids[(page - 1) * page_size : page * page_size]
        rows = _frame(
            con.execute(f"SELECT {columns} FROM leads WHERE list_contains(?, lead_id) ORDER BY lead_id DESC", [shown])
        )
    return LeadPage(rows=rows, total=len(ids), page=page, page_size=page_size, exact=exact)


def lead_sources(db: Database) -> list[str]:
    """The sources in use on leads, alphabetical (for a pick list that still allows new ones)."""
    with db.connection(read_only=True) as con:
        found = con.execute("SELECT DISTINCT source FROM leads WHERE source IS NOT NULL ORDER BY 1").fetchall()
    return [r[0] for r in found]


def owners(db: Database) -> list[str]:
    """The sales team's owners (the `owners` table), alphabetical."""
    with db.connection(read_only=True) as con:
        return [r[0] for r in con.execute("SELECT owner FROM owners ORDER BY owner").fetchall()]


@dataclass(frozen=True)
class LeadListChoices:
    """What a lead list's filter drop-downs offer, read in one connection."""

    owners: list[str]
    sources: list[str]


def lead_list_choices(db: Database) -> LeadListChoices:
    """Owners (team and in use) and sources in use, for the lead list's filters, in one read."""
    with db.connection(read_only=True) as con:
        found = con.execute(
            """SELECT 'owner', owner FROM (SELECT owner FROM owners UNION
                                           SELECT DISTINCT owner FROM leads WHERE owner IS NOT NULL)
               UNION ALL
               SELECT 'source', source FROM (SELECT DISTINCT source FROM leads WHERE source IS NOT NULL)
               ORDER BY 1, 2"""
        ).fetchall()
    return LeadListChoices(owners=[v for k, v in found if k == "owner"], sources=[v for k, v in found if k == "source"])


def qualified(db: Database, leads: Sequence[int]) -> pd.DataFrame:
    """What these qualified leads produced or matched, with names: one row per lead.

    Columns: lead_id, account_id, account, contact_id, contact, opportunity_id, topic.
    """
    ids = check.idents(leads, "leads")
    with db.connection(read_only=True) as con:
        cursor = con.execute(
            """SELECT l.lead_id, l.account_id, a.name AS account, l.contact_id,
                      nullif(trim(concat_ws(' ', c.first_name, c.last_name)), '') AS contact,
                      l.opportunity_id, o.topic
               FROM leads l
               LEFT JOIN accounts a ON a.account_id = l.account_id
               LEFT JOIN contacts c ON c.contact_id = l.contact_id
               LEFT JOIN opportunities o ON o.opportunity_id = l.opportunity_id
               WHERE list_contains(?, l.lead_id) ORDER BY l.lead_id""",
            [ids],
        )
        return _frame(cursor)


# -- opportunities -----------------------------------------------------------------------------

OPPORTUNITY_COLUMNS = ("opportunity_id", "topic", "account_id", "account", "owner", "estimated_value", "actual_value")
OPPORTUNITY_COLUMNS += ("price_list_id", "state", "status", "created_at")
_OPPORTUNITY_SELECT = """SELECT o.opportunity_id, o.topic, o.account_id, a.name AS account, o.owner, o.estimated_value, o.actual_value,
                                o.price_list_id, o.state, o.status, o.created_at
                         FROM opportunities o LEFT JOIN accounts a ON a.account_id = o.account_id"""


def open_opportunities(
    db: Database, *, search: str | None = None, owner: str | None = None, limit: int = 50
) -> pd.DataFrame:
    """Open opportunities, newest first: every search word must appear in the account name or topic.

    A number in the search also finds the opportunity with that id. Columns: OPPORTUNITY_COLUMNS.
    """
    limit = check.ident(limit, "limit")
    where, params = ["o.state = 'open'"], []
    if owner is not None:
        where.append("o.owner = ?")
        params.append(check.text(owner, "owner", required=True))
    for word in (check.text(search, "search") or "").lower().split():
        clause = "contains(lower(a.name), ?) OR contains(lower(o.topic), ?)"
        params += [word, word]
        if word.isdigit() and len(word) <= 18:
            clause += " OR o.opportunity_id = ?"
            params.append(int(word))
        where.append(f"({clause})")
    with db.connection(read_only=True) as con:
        cursor = con.execute(
            f"{_OPPORTUNITY_SELECT} WHERE {' AND '.join(where)} ORDER BY o.opportunity_id DESC LIMIT ?",
            [*params, limit],
        )
        return _frame(cursor)


def opportunity(db: Database, opportunity: int) -> dict:
    """One opportunity (OPPORTUNITY_COLUMNS) as a dict, whatever its state; NotFound if missing."""
    opportunity = check.ident(opportunity, "opportunity")
    with db.connection(read_only=True) as con:
        cursor = con.execute(f"{_OPPORTUNITY_SELECT} WHERE o.opportunity_id = ?", [opportunity])
        rows = cursor.fetchall()
        names = [d[0] for d in cursor.description]
    if not rows:
        raise NotFound("opportunity", opportunity)
    return dict(zip(names, rows[0], strict=True))


def opportunity_documents(db: Database, opportunity: int) -> pd.DataFrame:
    """Every quote revision, order and invoice of an opportunity, in the order they were made.

    Columns: entity (quote, order, invoice), id, quote_number, revision, state, status, created_at.
    """
    opportunity = check.ident(opportunity, "opportunity")
    with db.connection(read_only=True) as con:
        cursor = con.execute(
            """SELECT entity, id, quote_number, revision, state, status, created_at FROM (
                   SELECT 'quote' AS entity, 1 AS kind, quote_id AS id, quote_number, revision, state, status, created_at
                   FROM quotes WHERE opportunity_id = $1
                   UNION ALL
                   SELECT 'order', 2, order_id, NULL, NULL, state, status, created_at FROM orders WHERE opportunity_id = $1
                   UNION ALL
                   SELECT 'invoice', 3, invoice_id, NULL, NULL, state, status, created_at
                   FROM invoices WHERE opportunity_id = $1)
               ORDER BY kind, id""",
            [opportunity],
        )
        return _frame(cursor)


# -- documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """The header of a quote, order or invoice: what a form shows above its lines."""

    entity: str
    id: int
    opportunity_id: int
    state: str
    status: str
    discount_pct: Decimal
    discount_amount: Decimal
    freight: Decimal
    price_list_id: int | None  # quotes and orders
    price_list: str | None
    quote_number: str | None  # quotes: number and revision; orders: of the quote they came from
    revision: int | None
    source_id: int | None  # order: its quote; invoice: its order
    created_at: dt.datetime


def document(db: Database, entity: str, record: int) -> Document:
    """The header of one quote, order or invoice (NotFound if it does not exist)."""
    entity = check.choice(entity, "entity", ("quote", "order", "invoice"))
    record = check.ident(record, entity)
    queries = {
        "quote": """SELECT h.quote_id, h.opportunity_id, h.state, h.status, h.discount_pct, h.discount_amount,
                           h.freight, h.price_list_id, p.name, h.quote_number, h.revision, h.previous_quote_id,
                           h.created_at
                    FROM quotes h LEFT JOIN price_lists p ON p.price_list_id = h.price_list_id WHERE h.quote_id = ?""",
        "order": """SELECT h.order_id, h.opportunity_id, h.state, h.status, h.discount_pct, h.discount_amount,
                           h.freight, h.price_list_id, p.name, q.quote_number, q.revision, h.quote_id, h.created_at
                    FROM orders h LEFT JOIN price_lists p ON p.price_list_id = h.price_list_id
                    LEFT JOIN quotes q ON q.quote_id = h.quote_id WHERE h.order_id = ?""",
        "invoice": """SELECT h.invoice_id, h.opportunity_id, h.state, h.status, h.discount_pct, h.discount_amount,
                             h.freight, NULL, NULL, q.quote_number, q.revision, h.order_id, h.created_at
                      FROM invoices h LEFT JOIN orders o ON o.order_id = h.order_id
                      LEFT JOIN quotes q ON q.quote_id = o.quote_id WHERE h.invoice_id = ?""",
    }
    with db.connection(read_only=True) as con:
        row = first(con.execute(queries[entity], [record]))
    if row is None:
        raise NotFound(entity, record)
    return Document(entity, *row)


LINE_COLUMNS = ("line_no", "sku", "name", "quantity", "unit_price", "base", "discount", "amount", "tax", "extended")


def document_lines(db: Database, entity: str, record: int) -> pd.DataFrame:
    """The lines of a quote, order or invoice with product names and per-line amounts, as Decimals.

    Columns: LINE_COLUMNS (base = quantity x unit price, amount = base - discount, extended = amount + tax).
    """
    entity = check.choice(entity, "entity", ("quote", "order", "invoice"))
    record = check.ident(record, entity)
    key = KINDS[entity][1]
    with db.connection(read_only=True) as con:
        cursor = con.execute(
            f"""SELECT l.line_no, l.sku, p.name, l.quantity, l.unit_price, l.base, l.discount, l.amount, l.tax,
                       l.extended
                FROM v_{entity}_lines l LEFT JOIN products p ON p.sku = l.sku WHERE l.{key} = ? ORDER BY l.line_no""",
            [record],
        )
        return _frame(cursor)


def price_list_products(db: Database, price_list: int) -> pd.DataFrame:
    """The products on a price list with their unit price (Decimal), by SKU: sku, name, unit_price."""
    price_list = check.ident(price_list, "price_list")
    with db.connection(read_only=True) as con:
        if not con.execute("SELECT count(*) FROM price_lists WHERE price_list_id = ?", [price_list]).fetchall()[0][0]:
            raise NotFound("price list", price_list)
        cursor = con.execute(
            """SELECT p.sku, p.name, i.unit_price FROM price_list_items i JOIN products p ON p.sku = i.sku
               WHERE i.price_list_id = ? ORDER BY p.sku""",
            [price_list],
        )
        return _frame(cursor)


# -- revisions ---------------------------------------------------------------------------------

REVISION_COLUMNS = ("quote_id", "revision", "state", "status", "created_at", "closed_at", *Totals.__dataclass_fields__)
_LINE_VALUES = ("quantity", "unit_price", "discount", "tax", "amount")
HEADER_FIELDS = ("price_list_id", "discount_pct", "discount_amount", "freight")


@dataclass(frozen=True)
class RevisionChange:
    """What changed from one revision of a quote number to the next.

    lines: one row per line added, removed or changed, with columns change, line_no, sku and
    <value>_before / <value>_after for quantity, unit_price, discount, tax and amount (None
    where the line did not exist). Lines are matched by line number and SKU, as `revise`
    copies them. header: {field: (before, after)} for price list, discount and freight.
    """

    quote_number: str
    from_revision: int
    to_revision: int
    from_quote_id: int
    to_quote_id: int
    lines: pd.DataFrame
    header: dict[str, tuple[object, object]]
    totals_before: Totals
    totals_after: Totals

    @property
    def unchanged(self) -> bool:
        return self.lines.empty and not self.header and self.totals_before == self.totals_after


@dataclass(frozen=True)
class RevisionHistory:
    """Every revision of a quote number (REVISION_COLUMNS, totals as Decimals) and the change into each."""

    quote_number: str
    revisions: pd.DataFrame
    changes: list[RevisionChange]


def revision_history(db: Database, quote: int | str) -> RevisionHistory:
    """The revisions of a quote number (given as a quote id or the number) and what changed between them."""
    with db.connection(read_only=True) as con:
        if isinstance(quote, str):
            number = check.text(quote, "quote", required=True)
        else:
            quote = check.ident(quote, "quote")
            row = first(con.execute("SELECT quote_number FROM quotes WHERE quote_id = ?", [quote]))
            if row is None:
                raise NotFound("quote", quote)
            number = row[0]
        heads = con.execute(
            """SELECT quote_id, revision, state, status, created_at, closed_at,
                      price_list_id, discount_pct, discount_amount, freight
               FROM quotes WHERE quote_number = ? ORDER BY revision""",
            [number],
        ).fetchall()
        if not heads:
            raise NotFound("quote number", number)
        ids = [h[0] for h in heads]
        # the ids are bound as a list, so the filter reaches into the totals view (a join would
        # total every quote in the database first: ~0.5 s at a million quotes)
        totals = {
            r[0]: r[1:]
            for r in con.execute(
                f"""SELECT quote_id, {", ".join(Totals.__dataclass_fields__)} FROM v_quote_totals
                    WHERE list_contains(?, quote_id)""",
                [ids],
            ).fetchall()
        }
        heads = [(*h, *totals[h[0]]) for h in heads]
        lines = con.execute(
            f"""SELECT quote_id, line_no, sku, {", ".join(_LINE_VALUES)} FROM v_quote_lines
                WHERE list_contains(?, quote_id) ORDER BY quote_id, line_no""",
            [ids],
        ).fetchall()
    by_quote: dict[int, dict[tuple[int, str], dict[str, object]]] = {i: {} for i in ids}
    for q, line_no, sku, *values in lines:
        by_quote[q][(line_no, sku)] = dict(zip(_LINE_VALUES, values, strict=True))
    revisions = pd.DataFrame([(*h[:6], *h[10:]) for h in heads], columns=list(REVISION_COLUMNS), dtype=object)
    revisions = revisions.astype({"quote_id": "Int64", "revision": "Int64"})
    changes = [
        _change(number, old, new, by_quote[old[0]], by_quote[new[0]])
        for old, new in zip(heads, heads[1:], strict=False)
    ]
    return RevisionHistory(quote_number=number, revisions=revisions, changes=changes)


def _change(number: str, old: tuple, new: tuple, before: dict, after: dict) -> RevisionChange:
    rows = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a is not None and b is not None and a == b:
            continue
        change = "added" if a is None else "removed" if b is None else "changed"
        row = {"change": change, "line_no": key[0], "sku": key[1]}
        for v in _LINE_VALUES:
            row[f"{v}_before"] = None if a is None else a[v]
            row[f"{v}_after"] = None if b is None else b[v]
        rows.append(row)
    columns = ["change", "line_no", "sku", *(f"{v}_{w}" for v in _LINE_VALUES for w in ("before", "after"))]
    header = {f: (old[6 + i], new[6 + i]) for i, f in enumerate(HEADER_FIELDS) if old[6 + i] != new[6 + i]}
    return RevisionChange(
        quote_number=number,
        from_revision=old[1],
        to_revision=new[1],
        from_quote_id=old[0],
        to_quote_id=new[0],
        lines=pd.DataFrame(rows, columns=columns, dtype=object),
        header=header,
        totals_before=Totals(*old[10:]),
        totals_after=Totals(*new[10:]),
    )
