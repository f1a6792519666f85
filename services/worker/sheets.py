"""Department spreadsheets as they really come: CSV (UTF-8 with or without BOM, or GB18030
as Chinese Excel writes it), XLSX and the old Excel 97–2003 XLS (read by python-calamine);
English or Chinese headers; title rows above the
header; blank rows; ID numbers typed as numbers. Rows are read one at a time (openpyxl's
read-only mode), so a file of any size is never held in memory.

What a file may hold is bounded (docs/sync-input-limits.md): an XLSX that would unpack to
more than the settings allow is refused unopened (``too_large``); a CSV line or field
beyond ``max_csv_line_chars`` becomes a quarantined row (``too_large.row``) and the rows
after it are read as usual.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.core.settings import SyncSettings
from services.core.sync.normalise import EVIDENCE_CHARS, Normaliser, evidence

HEADER_SEARCH_ROWS = 30


class SheetError(ValueError):
    """The file cannot be read as a department spreadsheet (``code``: unreadable,
    unsupported, no_header, too_large)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Oversize:
    """A row the reader did not take in whole (a line beyond ``max_csv_line_chars``, a
    quoted field beyond it): quarantined as evidence, and reading goes on."""

    reason: str
    detail: str
    digest: bytes
    size: int
    preview: str


class _Lines:
    """The lines of a text file for ``csv.reader``, none longer than ``cap`` characters: a
    longer one is read on in chunks (hashed, never held whole) and handed on as an empty
    line; ``oversize`` tells the reader's caller what it was."""

    def __init__(self, handle, cap: int):
        self.handle = handle
        self.cap = cap
        self.oversize: Oversize | None = None

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.handle.readline(self.cap + 3)
        if not line:
            raise StopIteration
        if len(line) <= self.cap or len(line.rstrip("\r\n")) <= self.cap:
            return line
        digest = hashlib.sha256(line.encode("utf-8", "surrogatepass"))
        size, preview = len(line), line[:EVIDENCE_CHARS]
        while not line.endswith(("\n", "\r")):
            line = self.handle.readline(1 << 20)
            if not line:
                break
            digest.update(line.encode("utf-8", "surrogatepass"))
            size += len(line)
        if self.oversize is None:
            self.oversize = Oversize(
                "too_large.row", f"a line of {size} characters (at most {self.cap})", digest.digest(), size, preview
            )
        return "\n"


def _fallback_dialect(sample: str) -> type[csv.Dialect]:
    """When ``csv.Sniffer`` cannot decide (a title row, a blank row, lines of unequal width:
    a tab-separated export of a few rows is enough), the delimiter used most in the sample
    (a comma in an amount such as 1,234.50 is far rarer than the separator of every column);
    a comma when none occurs."""
    counts = {d: sample.count(d) for d in ",\t;"}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0 or best == ",":
        return csv.excel
    return csv.excel_tab if best == "\t" else _Semicolon


class _Semicolon(csv.excel):
    delimiter = ";"


def _csv_rows(path: Path, limits: SyncSettings) -> Iterator[list[Any] | Oversize]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            with path.open(encoding=encoding, newline="") as f:
                f.read(1 << 16)  # decode errors show up here, before a row is given out
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte sequence
        raise SheetError("unreadable", "the CSV file is neither UTF-8 nor GB18030 text")
    cap = limits.max_csv_line_chars
    # Process-wide, and only ever raised: a field as long as the longest line read.
    if csv.field_size_limit() < cap:
        csv.field_size_limit(cap)
    with path.open(encoding=encoding, newline="") as f:
        sample = f.read(4096)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
        except csv.Error:
            dialect = _fallback_dialect(sample)
        lines = _Lines(f, cap)
        reader = csv.reader(lines, dialect)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise SheetError(
                    "unreadable", f"the CSV file is not {encoding} text past line {reader.line_num}"
                ) from None
            except csv.Error as exc:
                # A quoted field beyond the limit (over several lines): the reader drops what
                # it had and goes on with the next line.
                lines.oversize = None
                text = str(exc)[:200]
                yield Oversize(
                    "too_large.row",
                    f"unreadable row ({text})",
                    hashlib.sha256(f"{reader.line_num}|{text}".encode()).digest(),
                    0,
                    "",
                )
                continue
            if lines.oversize is not None:
                problem, lines.oversize = lines.oversize, None
                yield problem
                continue
            yield row


def check_xlsx(path: Path, limits: SyncSettings) -> None:
    """Refuse (``too_large``) an XLSX whose zip would unpack to more than the settings
    allow, before openpyxl opens it: the sizes are those the zip declares, and zipfile
    stops reading an entry at its declared size, so they bound what is read."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise SheetError("unreadable", f"the XLSX file cannot be opened: {exc.__class__.__name__}") from None
    if len(entries) > limits.max_xlsx_entries:
        raise SheetError(
            "too_large",
            f"the XLSX file holds {len(entries)} parts (at most {limits.max_xlsx_entries}): refused unopened",
        )
    total = sum(e.file_size for e in entries)
    if total > limits.max_xlsx_uncompressed_bytes:
        raise SheetError(
            "too_large",
            f"the XLSX file unpacks to {total} bytes (at most "
            f"{limits.max_xlsx_uncompressed_bytes}): refused unopened; split it or "
            "save it as CSV",
        )
    shared = sum(e.file_size for e in entries if e.filename.lower().endswith("sharedstrings.xml"))
    if shared > limits.max_xlsx_shared_strings_bytes:
        raise SheetError(
            "too_large",
            f"the XLSX file's shared strings take {shared} bytes (at most "
            f"{limits.max_xlsx_shared_strings_bytes}): refused unopened; save it as CSV",
        )


def _xlsx_rows(path: Path, limits: SyncSettings) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    check_xlsx(path, limits)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise SheetError("unreadable", f"the XLSX file cannot be opened: {exc.__class__.__name__}") from None
    number = 0
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # a damaged sheet part, a cell openpyxl cannot convert
                raise SheetError(
                    "unreadable", f"the XLSX file cannot be read past row {number}: {exc.__class__.__name__}"
                ) from None
            number += 1
            yield list(row)
    finally:
        book.close()


# An XLS file starts with the OLE2 compound document's signature.
XLS_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _xls_rows(path: Path, limits: SyncSettings) -> Iterator[list[Any]]:
    """An Excel 97–2003 workbook's first sheet, by python-calamine. An XLS is not compressed
    (at most 65,536 rows): its size on disk bounds what reading it costs, and it is held to
    the XLSX's unpacked limit."""
    from python_calamine import CalamineWorkbook

    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            signature = f.read(len(XLS_SIGNATURE))
    except OSError as exc:
        raise SheetError("unreadable", f"the XLS file cannot be opened: {exc.__class__.__name__}") from None
    if size > limits.max_xlsx_uncompressed_bytes:
        raise SheetError(
            "too_large",
            f"the XLS file has {size} bytes (at most {limits.max_xlsx_uncompressed_bytes}): refused unopened",
        )
    if signature != XLS_SIGNATURE:
        raise SheetError("unreadable", "the XLS file is not an Excel 97–2003 workbook")
    try:
        book = CalamineWorkbook.from_path(str(path))
        sheet = book.get_sheet_by_index(0)
        rows = sheet.iter_rows()
    except Exception as exc:  # calamine raises its own kinds (CalamineError, XmlError …) and others
        raise SheetError("unreadable", f"the XLS file cannot be opened: {exc.__class__.__name__}") from None
    number = 0
    try:
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:
                raise SheetError(
                    "unreadable", f"the XLS file cannot be read past row {number}: {exc.__class__.__name__}"
                ) from None
            number += 1
            # calamine gives an empty cell as "" and a whole number typed in Excel as a float
            yield [_xls_cell(c) for c in row]
    finally:
        book.close()


def _xls_cell(value: Any) -> Any:
    if value == "":
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# What each kind of file is read by, by its name's suffix.
READERS = {
    ".csv": _csv_rows,
    ".txt": _csv_rows,
    ".xlsx": _xlsx_rows,
    ".xlsm": _xlsx_rows,
    ".xls": _xls_rows,
}


def raw_rows(path: Path, limits: SyncSettings | None = None) -> Iterator[list[Any] | Oversize]:
    limits = limits or SyncSettings()
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise SheetError("unsupported", f"{path.name}: only .csv, .xlsx and .xls files are read")
    return reader(path, limits)


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def records(
    path: Path, normaliser: Normaliser, limits: SyncSettings | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, record) for every data row: the header row is the first of the top rows
    that names the ID number and at least one more mapped column. A row that could not be
    read whole comes as quarantine evidence (``normalise.evidence``) in its place."""
    rows = raw_rows(path, limits)
    header: list[Any] | None = None
    number = 0
    for number, row in enumerate(rows, start=1):
        if isinstance(row, Oversize):
            continue
        mapped = [normaliser.canonical_of(c) if not _blank(c) else None for c in row]
        if "id_number" in mapped and sum(1 for m in mapped if m) >= 2:
            # A NUL in a header would make every row's payload unstorable evidence: it goes.
            header = [str(c).replace("\x00", "").strip() or None if not _blank(c) else None for c in row]
            break
        if number >= HEADER_SEARCH_ROWS:
            break
    if header is None:
        wanted = ", ".join(normaliser.headers_of("id_number")[:3])
        raise SheetError(
            "no_header",
            f"no header row in the first {HEADER_SEARCH_ROWS} rows: expected a column "
            f"such as {wanted} and at least one more known column",
        )
    first = number + 1  # the row after the header
    for number, row in enumerate(rows, start=first):
        if isinstance(row, Oversize):
            yield f"row {number}", evidence(row.reason, None, row.detail, row.digest, row.size, {"line": row.preview})
            continue
        if all(_blank(c) for c in row):
            continue
        record = {h: v for h, v in zip(header, row, strict=False) if h is not None and not _blank(v)}
        yield f"row {number}", record


def csv_text(rows: list[list[Any]]) -> bytes:
    """Rows as CSV bytes with a BOM, as Excel writes them (used by tests and exports)."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
