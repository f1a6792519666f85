"""Writing a ledger (台账) as a spreadsheet, a batch of rows at a time, never holding them all.

A ledger is declared once (``Ledger``): its name, its Chinese title and its columns, each a
Chinese header and a function from one row (a dict, as the list endpoint shows it) to a
cell. A writer (``XlsxWriter``, ``CsvWriter``) takes the rows a batch at a time and gives
the file's bytes in chunks as the batches come (``start``, ``rows(batch)``, ``end``): what
is in memory at any time is one batch and the compressor's window, whatever the number of
rows (tests/api/test_exports.py holds the writers to that: they never read ahead and keep
nothing of a batch once its bytes are out).

The XLSX is written by hand into a zip stream (``zipfile`` on an unseekable sink, so each
part is compressed as it is written and sized by a data descriptor): one worksheet with
inline strings (no shared-strings table, which would grow with the rows), the header row
bold and frozen. openpyxl's write-only mode keeps each row out of memory too, but it writes
the workbook into a file and zips it on ``save``: nothing could be sent before the last
row was read.

Cells that a spreadsheet would take for a formula (text starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) are written with a leading apostrophe (OWASP, "CSV
injection"): a name or a note typed by anyone never runs as a formula in the county office.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from services.core.timeutil import CHINA

Cell = str | int | Decimal | None


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a ledger: its Chinese header and the value of a row."""

    header: str
    value: Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Ledger:
    """A list as it is exported: ``name`` (the URL's and the ASCII file name's), ``title``
    (the Chinese file and sheet name) and the columns in order."""

    name: str
    title: str
    columns: Sequence[Column]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def cells(self, row: Mapping[str, Any]) -> list[Cell]:
        return [cell(c.value(row)) for c in self.columns]


# ---- values as cells --------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(text: str) -> str:
    """Text a spreadsheet would read as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: Any) -> Cell:
    """A value as a cell: numbers stay numbers (money as its Decimal), everything else text
    — an enum as its Chinese label, a list joined with 、, a time in China time, yes/no as
    是/否 — defused against formulas."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Enum):
        return defuse(str(getattr(value, "label", value.value)))
    if isinstance(value, (int, Decimal)):
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, datetime):
        moment = value.astimezone(CHINA) if value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return defuse("、".join(str(cell(v)) for v in value if v is not None))
    return defuse(str(value))


def label_of(kind: type[Enum]) -> Callable[[Any], str | None]:
    """The Chinese label of a value of the labelled enum ``kind`` (given as the member or as
    its value, as list bodies hold it); a value it does not know stays as it is."""

    def label(value: Any) -> str | None:
        if value is None:
            return None
        try:
            member = kind(value)
        except ValueError:
            return str(value)
        return str(getattr(member, "label", member.value))

    return label


def field(name: str, convert: Callable[[Any], Any] | None = None) -> Callable[[Mapping[str, Any]], Any]:
    """The value function of a plain field of the row (``convert``\\ ed, e.g. by ``label_of``)."""
    if convert is None:
        return lambda row: row.get(name)
    return lambda row: convert(row.get(name))


# ---- the writers ------------------------------------------------------------------------

BOM = "\ufeff"


class SheetWriter:
    """A ledger's file written a batch at a time: ``start()``, then ``rows(batch)`` for each
    batch, then ``end()``; each gives the bytes to send now. ``count`` is the rows written."""

    media_type: str
    extension: str

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.count = 0

    def start(self) -> bytes:
        raise NotImplementedError

    def rows(self, batch: Iterable[Mapping[str, Any]]) -> bytes:
        raise NotImplementedError

    def end(self) -> bytes:
        raise NotImplementedError

    def discard(self) -> None:
        """A file given up half-way (the client went away, a read failed): let go of it."""


def stream(writer: SheetWriter, batches: Iterable[Iterable[Mapping[str, Any]]]) -> Iterator[bytes]:
    """The file's bytes, a chunk after each batch (batches read one at a time, never ahead)."""
    yield writer.start()
    for batch in batches:
        data = writer.rows(batch)
        if data:
            yield data
    yield writer.end()


class CsvWriter(SheetWriter):
    """UTF-8 with a BOM (Excel then opens the Chinese right), CRLF lines, the header row first."""

    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def __init__(self, ledger: Ledger):
        super().__init__(ledger)
        self._out = io.StringIO()
        self._csv = csv.writer(self._out, lineterminator="\r\n")

    def _take(self) -> bytes:
        data = self._out.getvalue().encode("utf-8")
        self._out.seek(0)
        self._out.truncate()
        return data

    def start(self) -> bytes:
        self._csv.writerow(self.ledger.headers)
        return BOM.encode("utf-8") + self._take()

    def rows(self, batch: Iterable[Mapping[str, Any]]) -> bytes:
        for row in batch:
            self._csv.writerow(["" if c is None else c for c in self.ledger.cells(row)])
            self.count += 1
        return self._take()

    def end(self) -> bytes:
        return b""


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
# Excel's limit: 1,048,576 rows a sheet, the header's included.
XLSX_MAX_ROWS = 1_048_575
# Characters XML 1.0 cannot hold (control characters but tab, newline, carriage return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
# Style 0: plain; style 1: bold (the header row).
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="宋体"/></font>'
    '<font><b/><sz val="11"/><name val="宋体"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_END = "</sheetData></worksheet>"


def _workbook(title: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{_xml(sheet_name(title))}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )


def sheet_name(title: str) -> str:
    """A sheet's name: at most 31 characters, none of ``[]:*?/\\``."""
    return re.sub(r"[\[\]:*?/\\]", "_", title)[:31] or "Sheet1"


def _xml(text: str) -> str:
    return escape(_NOT_XML.sub("", text), {'"': "&quot;"})


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _sheet_start(ledger: Ledger) -> str:
    widths = "".join(
        f'<col min="{i}" max="{i}" width="{min(60, max(10, 2 * len(c.header) + 4))}" customWidth="1"/>'
        for i, c in enumerate(ledger.columns, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        "</sheetView></sheetViews>"
        f"<cols>{widths}</cols><sheetData>"
    )


def _row_xml(number: int, refs: Sequence[str], cells: Sequence[Cell], style: int = 0) -> str:
    parts = [f'<row r="{number}">']
    s = f' s="{style}"' if style else ""
    for ref, value in zip(refs, cells, strict=True):
        if value is None:
            continue
        if isinstance(value, (int, Decimal)):
            parts.append(f'<c r="{ref}{number}"{s}><v>{value}</v></c>')
        else:
            parts.append(
                f'<c r="{ref}{number}"{s} t="inlineStr"><is><t xml:space="preserve">{_xml(value)}</t></is></c>'
            )
    parts.append("</row>")
    return "".join(parts)


class _Sink:
    """Where the zip is written: bytes kept until the next ``drain`` (an unseekable file)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


class TooManyRows(ValueError):
    """More rows than a sheet holds."""


class XlsxWriter(SheetWriter):
    """One worksheet, inline strings, the header row bold and frozen. Beyond Excel's row
    limit ``rows`` raises ``TooManyRows`` (the route refuses such an export before it starts
    only when it can know; the file is then cut short)."""

    media_type = XLSX_MEDIA_TYPE
    extension = "xlsx"

    def __init__(self, ledger: Ledger):
        super().__init__(ledger)
        self._sink = _Sink()
        self._refs = [_column_letters(i) for i in range(len(ledger.columns))]
        self._book: zipfile.ZipFile | None = None
        self._sheet: Any = None

    def start(self) -> bytes:
        book = self._book = zipfile.ZipFile(self._sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("xl/workbook.xml", _workbook(self.ledger.title)),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/styles.xml", _STYLES),
        ):
            book.writestr(name, text)
        self._sheet = book.open("xl/worksheets/sheet1.xml", "w")
        self._sheet.write(_sheet_start(self.ledger).encode())
        self._sheet.write(_row_xml(1, self._refs, self.ledger.headers, style=1).encode())
        return self._sink.drain()

    def rows(self, batch: Iterable[Mapping[str, Any]]) -> bytes:
        chunk = []
        for row in batch:
            if self.count >= XLSX_MAX_ROWS:
                raise TooManyRows(f"more than {XLSX_MAX_ROWS} rows")
            self.count += 1
            chunk.append(_row_xml(self.count + 1, self._refs, self.ledger.cells(row)))
        if chunk:
            self._sheet.write("".join(chunk).encode())
        return self._sink.drain()

    def end(self) -> bytes:
        assert self._book is not None
        self._sheet.write(_SHEET_END.encode())
        self._sheet.close()
        self._book.close()
        self._book = None
        return self._sink.drain()

    def discard(self) -> None:
        if self._book is not None:
            with contextlib.suppress(Exception):  # the zip is abandoned: its bytes go nowhere
                self._sheet.close()
                self._book.close()
            self._book = None
        self._sink.drain()


WRITERS: dict[str, type[SheetWriter]] = {"xlsx": XlsxWriter, "csv": CsvWriter}


# ---- the file's name ---------------------------------------------------------------------


def content_disposition(ascii_name: str, name: str) -> str:
    """``attachment`` with an ASCII ``filename`` for old clients and the UTF-8 name as
    ``filename*`` (RFC 6266, RFC 5987 encoding), which browsers and Excel prefer."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", ascii_name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
