"""Department spreadsheets as they really come: CSV (UTF-8 with or without BOM, or GB18030
as Chinese Excel writes it) and XLSX; English or Chinese headers; title rows above the
header; blank rows; ID numbers typed as numbers. Rows are read one at a time (openpyxl's
read-only mode), so a file of any size is never held in memory.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.core.sync.normalise import Normaliser

HEADER_SEARCH_ROWS = 30


class SheetError(ValueError):
    """The file cannot be read as a department spreadsheet (``code``: unreadable,
    unsupported, no_header)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _csv_rows(path: Path) -> Iterator[list[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            with path.open(encoding=encoding, newline="") as f:
                f.read(1 << 16)  # decode errors show up here, before a row is given out
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte sequence
        raise SheetError("unreadable", "the CSV file is neither UTF-8 nor GB18030 text")
    with path.open(encoding=encoding, newline="") as f:
        sample = f.read(4096)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
        except csv.Error:
            dialect = csv.excel
        yield from csv.reader(f, dialect)


def _xlsx_rows(path: Path) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise SheetError("unreadable", f"the XLSX file cannot be opened: {exc.__class__.__name__}") from None
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        book.close()


def raw_rows(path: Path) -> Iterator[list[Any]]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return _csv_rows(path)
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_rows(path)
    raise SheetError("unsupported", f"{path.name}: only .csv and .xlsx files are read (save .xls as .xlsx)")


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def records(path: Path, normaliser: Normaliser) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, record) for every data row: the header row is the first of the top rows
    that names the ID number and at least one more mapped column."""
    rows = raw_rows(path)
    header: list[Any] | None = None
    number = 0
    for number, row in enumerate(rows, start=1):
        mapped = [normaliser.canonical_of(c) if not _blank(c) else None for c in row]
        if "id_number" in mapped and sum(1 for m in mapped if m) >= 2:
            header = [str(c).strip() if not _blank(c) else None for c in row]
            break
        if number >= HEADER_SEARCH_ROWS:
            break
    if header is None:
        wanted = ", ".join(normaliser.source.fields["id_number"][:3])
        raise SheetError("no_header", f"no header row in the first {HEADER_SEARCH_ROWS} rows: expected a column "
                                      f"such as {wanted} and at least one more known column")
    for number, row in enumerate(rows, start=number + 1):
        if all(_blank(c) for c in row):
            continue
        record = {h: v for h, v in zip(header, row) if h is not None and not _blank(v)}
        yield f"row {number}", record


def csv_text(rows: list[list[Any]]) -> bytes:
    """Rows as CSV bytes with a BOM, as Excel writes them (used by tests and exports)."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
