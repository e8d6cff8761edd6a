"""Reading export files: CSV/TSV/semicolon text in any of the encodings CRMs and Excel write,
Excel workbooks (.xlsx, every row of the data sheet, hidden ones too) and Parquet.

A file becomes a `Source`: its header, one column per header (a pyarrow array for text and
Parquet files, a list of cell values for workbooks), the row number of each record as a
spreadsheet shows it (the header is row 1) and how it was read (format, encoding, delimiter).
Dynamics 365's Export to Excel carries a `hiddenSheet` whose token maps each logical column
name (statecode, estimatedvalue ...) to its display header: those names find columns too.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import ValidationError

DELIMITERS = (",", ";", "\t", "|")
DO_NOT_MODIFY = "(do not modify)"
_XLSX_MAGIC = b"PK\x03\x04"
_PARQUET_MAGIC = b"PAR1"


@dataclass
class Source:
    """A file read into columns; `find(name)` looks a column up by header or alias."""

    path: str
    format: str  # csv, xlsx or parquet
    header: list[str]
    columns: dict[str, object]  # header -> pa.ChunkedArray or list of cell values
    row_numbers: np.ndarray  # the spreadsheet row of each record (header = 1)
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    entity: str | None = None  # Dynamics: the entity named by the hiddenSheet token
    aliases: dict[str, str] = field(default_factory=dict)  # lower-case alias -> header
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.row_numbers)

    def find(self, name: str) -> str | None:
        """The header of the column called `name`: exactly, then ignoring case and spaces, then by alias."""
        if name in self.columns:
            return name
        key = _key(name)
        for header in self.header:
            if _key(header) == key:
                return header
        return self.aliases.get(key)


def _key(name: str) -> str:
    return " ".join(str(name).replace("\ufeff", "").split()).lower()


def file_path(value: object, field: str) -> str:
    """A path as a user gives it (str or PathLike), `~` expanded; refused when it cannot name a file."""
    if isinstance(value, bytes) or not isinstance(value, str | os.PathLike):
        raise ValidationError(f"{field} must be a file path, got {type(value).__name__} {value!r:.60}", field=field)
    text = os.fspath(value)
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise ValidationError(f"{field} {text!r} is not a file path", field=field, value=text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{field} {text!r} holds characters that cannot be encoded", field=field) from None
    return os.path.expanduser(text)


def read(
    path: str | os.PathLike[str], *, encoding: str | None = None, delimiter: str | None = None, sheet: str | None = None
) -> Source:
    """Read an export file (the format from its first bytes, not its name)."""
    path = file_path(path, "path")
    if os.path.isdir(path):
        raise ValidationError(f"{path} is a folder: give the export file itself", field="path", value=path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except FileNotFoundError:
        raise ValidationError(f"no file at {path}: check the path", field="path", value=path) from None
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}", field="path", value=path) from None
    if head.startswith(_XLSX_MAGIC):
        return _read_xlsx(path, sheet)
    if head.startswith(_PARQUET_MAGIC):
        return _read_parquet(path)
    if Path(path).suffix.lower() in (".xls", ".xlsb"):
        raise ValidationError(
            f"{path} is an old-style Excel file: open it in Excel and save it as .xlsx or CSV", field="path"
        )
    return _read_text(path, encoding, delimiter)


# -- text ----------------------------------------------------------------------------------------


def _cp1252_errors(exc: UnicodeDecodeError) -> tuple[str, int]:
    """The five bytes Windows-1252 leaves undefined decode to the C1 control of the same number, as Windows does."""
    byte = exc.object[exc.start]
    return chr(byte), exc.start + 1


codecs.register_error("salespipe_cp1252", _cp1252_errors)


def decode(data: bytes, encoding: str | None) -> tuple[str, str, list[str]]:
    """Bytes to text: (text, the encoding used, notes). A BOM decides; else UTF-8, else Windows-1252."""
    notes: list[str] = []
    if encoding:
        name = codecs.lookup(_codec(encoding)).name
        try:
            if name == "cp1252":
                return data.decode("cp1252", errors="salespipe_cp1252"), "windows-1252", notes
            return data.decode(name), name, notes
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise ValidationError(
                f"the file is not {encoding}: byte 0x{data[exc.start]:02x} at offset {exc.start} "
                f"(line {line}); drop `encoding` to let salespipe tell",
                field="encoding",
                value=encoding,
            ) from None
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(name), name.replace("-sig", " (with BOM)"), notes
            except UnicodeDecodeError as exc:
                raise ValidationError(
                    f"the file starts with a {name} byte order mark but byte offset {exc.start} is not {name}",
                    field="encoding",
                ) from None
    try:
        return data.decode("utf-8"), "utf-8", notes
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        notes.append(f"not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}): read as Windows-1252")
        return data.decode("cp1252", errors="salespipe_cp1252"), "windows-1252", notes


def _codec(name: str) -> str:
    aliases = {"windows-1252": "cp1252", "win-1252": "cp1252", "ansi": "cp1252", "excel": "cp1252"}
    try:
        return aliases.get(name.strip().lower(), name.strip())
    except AttributeError:
        raise ValidationError(f"encoding must be a name such as utf-8, got {name!r}", field="encoding") from None


def sniff_delimiter(first_line: str) -> str:
    """The delimiter of a header line: the candidate seen most often outside quotes (a comma on a tie)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in first_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_text(path: str, encoding: str | None, delimiter: str | None) -> Source:
    with open(path, "rb") as fh:
        data = fh.read()
    text, used, notes = decode(data, encoding)
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ValidationError(f"{path} is empty: export the records with a header row", field="path", value=path)
    first = text.split("\n", 1)[0].rstrip("\r")
    if delimiter is None:
        delimiter = "\t" if Path(path).suffix.lower() == ".tsv" else sniff_delimiter(first)
    elif delimiter in ("tab", "\\t"):
        delimiter = "\t"
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValidationError(f"delimiter must be one character, got {delimiter!r}", field="delimiter")
    header = next(csv.reader([first], delimiter=delimiter))
    raw = text.encode("utf-8") if used != "utf-8" else data.removeprefix(codecs.BOM_UTF8)
    try:
        table = pacsv.read_csv(
            io.BytesIO(raw),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True, use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(len(header))},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        message = str(exc).split("\n")[0]
        raise ValidationError(
            f"{path} is not a well-formed {_delimiter_name(delimiter)}-separated file ({message}): check for a "
            "stray quote or delimiter on that row, or give the delimiter",
            field="path",
            value=path,
        ) from None
    if table.num_columns != len(header):
        raise ValidationError(
            f"{path}: the header has {len(header)} columns but the rows have {table.num_columns}", field="path"
        )
    body = table.slice(1)
    names = _unique([h.strip() for h in header])
    columns = {name: body.column(i) for i, name in enumerate(names)}
    rows = np.arange(2, body.num_rows + 2, dtype=np.int64)
    source = Source(path, "csv", names, columns, rows, encoding=used, delimiter=delimiter, notes=notes)
    return _drop_blank_rows(source)


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter, repr(delimiter))


def _unique(names: list[str]) -> list[str]:
    """Headers made unique and non-empty: a blank one is `column N`, a repeated one gets ` (2)`."""
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(names, 1):
        name = name or f"column {i}"
        candidate, n = name, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{name} ({n})"
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def _drop_blank_rows(source: Source) -> Source:
    """Records whose every cell is empty (Excel leaves ",,,," lines behind) are not rows."""
    if not source.columns or not len(source):
        return source
    import pyarrow.compute as pc

    blank = None
    for col in source.columns.values():
        if isinstance(col, list):
            empty = pa.array([v is None or (isinstance(v, str) and not v.strip()) for v in col])
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            empty = pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(col)), 0), True)
        else:
            empty = pc.is_null(col)
        blank = empty if blank is None else pc.and_(blank, empty)
    keep = pc.invert(blank)
    if pc.all(keep).as_py():
        return source
    mask = np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)
    for name, col in list(source.columns.items()):
        source.columns[name] = (
            [v for v, k in zip(col, mask, strict=True) if k] if isinstance(col, list) else col.filter(keep)
        )
    source.row_numbers = source.row_numbers[mask]
    return source


# -- Excel ---------------------------------------------------------------------------------------


def dynamics_token(text: object) -> tuple[str, dict[str, str]] | None:
    """Dynamics' hiddenSheet token `<entity>:<base64>:<query>` as (entity, {display header: logical name})."""
    if not isinstance(text, str) or text.count(":") < 2:
        return None
    entity, _, rest = text.partition(":")
    query = rest.rsplit(":", 1)[1]
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    if not entity.isidentifier() or not pairs:
        return None
    return entity, {display: logical for logical, display in pairs}


def _read_xlsx(path: str, sheet: str | None) -> Source:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationError(f"{path} is not a readable .xlsx workbook ({exc})", field="path", value=path) from None
    try:
        token = None
        if "hiddenSheet" in book.sheetnames:
            cell = next(book["hiddenSheet"].iter_rows(min_row=1, max_row=1, max_col=1, values_only=True), (None,))
            token = dynamics_token(cell[0] if cell else None)
        if sheet is not None:
            if sheet not in book.sheetnames:
                raise ValidationError(
                    f"{path} has no sheet {sheet!r}; its sheets: {', '.join(book.sheetnames)}", field="sheet"
                )
            ws = book[sheet]
        else:
            data_sheets = [ws for ws in book.worksheets if ws.title != "hiddenSheet"]
            visible = [ws for ws in data_sheets if ws.sheet_state == "visible"]
            if not data_sheets:
                raise ValidationError(f"{path} has no data sheet", field="path", value=path)
            ws = (visible or data_sheets)[0]
        header: list[str] | None = None
        cells: list[list] = []
        rows: list[int] = []
        for number, values in enumerate(ws.iter_rows(values_only=True), 1):
            if header is None:
                if any(v is not None and str(v).strip() for v in values):
                    header = ["" if v is None else str(v).strip() for v in values]
                continue
            if any(v is not None and not (isinstance(v, str) and not v.strip()) for v in values):
                cells.append(list(values))
                rows.append(number)
    finally:
        book.close()
    if header is None:
        raise ValidationError(f"{path}: sheet {ws.title!r} is empty", field="path", value=path)
    while header and not header[-1] and all(len(r) < len(header) or r[len(header) - 1] is None for r in cells):
        header.pop()
    names = _unique(header)
    columns = {name: [r[i] if i < len(r) else None for r in cells] for i, name in enumerate(names)}
    source = Source(path, "xlsx", names, columns, np.asarray(rows, dtype=np.int64), sheet=ws.title)
    if token is not None:
        entity, displays = token
        source.entity = entity
        source.notes.append(f"Dynamics 365 export of {entity} (hiddenSheet token): columns found by logical name")
        for header_name in names:
            logical = displays.get(header_name)
            if logical:
                source.aliases.setdefault(logical.lower(), header_name)
        hidden = [h for h in names[:3] if h.lower().startswith(DO_NOT_MODIFY)]
        for logical, header_name in zip((f"{entity}id", "rowchecksum", "modifiedon"), hidden, strict=False):
            source.aliases.setdefault(logical, header_name)
    return source


# -- Parquet -------------------------------------------------------------------------------------


def _read_parquet(path: str) -> Source:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError(f"{path} is not a readable Parquet file ({exc})", field="path", value=path) from None
    names = _unique([str(n).strip() for n in table.column_names])
    columns = {name: table.column(i) for i, name in enumerate(names)}
    return Source(path, "parquet", names, columns, np.arange(2, table.num_rows + 2, dtype=np.int64))


def column_values(col: object) -> list:
    """A column as plain Python values."""
    return col if isinstance(col, list) else col.to_pylist()
