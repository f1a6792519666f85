"""A department spreadsheet uploaded over the API (``POST /api/v1/sync/sources/{name}/imports``):
checked whole before anything is written, then imported exactly as ``guardline sync import``
imports a file (``worker.import_file``: the same reader, normaliser, stager, quarantine and
reconciliation), then reported row by row.

Nothing is half-imported: the file's kind is checked by its first bytes (``check_kind``),
and the whole file is read once (``survey``) before the import starts — a damaged,
oversized or header-less file is refused then, with nothing written. Rows the normaliser
refuses are no reason to refuse the file: they are quarantined, as from the command line,
and the report names each with its row number and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.core.settings import SyncSettings
from services.core.sync.normalise import Normaliser
from services.worker.sheets import READERS, XLS_SIGNATURE, records

ZIP_SIGNATURE = b"PK\x03\x04"
SUFFIXES = tuple(READERS)


class KindError(ValueError):
    """The file is not a spreadsheet of a kind the import reads (``code``: an i18n code)."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


def check_kind(path: Path, head: bytes) -> None:
    """``head`` (the file's first bytes) fits its name's suffix: an XLSX is a zip, an XLS an
    OLE2 document, a CSV text without NUL bytes."""
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise KindError("upload_type_unsupported", file=path.name)
    if not head:
        raise KindError("upload_empty", file=path.name)
    if suffix in (".xlsx", ".xlsm"):
        fits = head.startswith(ZIP_SIGNATURE)
    elif suffix == ".xls":
        fits = head.startswith(XLS_SIGNATURE)
    else:
        fits = b"\x00" not in head and not head.startswith((ZIP_SIGNATURE, XLS_SIGNATURE))
    if not fits:
        raise KindError("upload_type_mismatch", file=path.name, suffix=suffix)


# SheetError codes → the problem's message code.
SHEET_PROBLEMS = {
    "unreadable": "upload_unreadable",
    "unsupported": "upload_type_unsupported",
    "no_header": "upload_no_header",
    "too_large": "upload_too_large",
}


def survey(path: Path, normaliser: Normaliser, limits: SyncSettings) -> list[int]:
    """The row numbers of the file's data rows, reading it whole as the import will
    (``sheets.records``); ``SheetError`` for a file the import could not read to its end."""
    return [_row_number(location) for location, _ in records(path, normaliser, limits)]


def _row_number(location: str | None) -> int:
    if location and location.startswith("row "):
        try:
            return int(location[4:])
        except ValueError:
            pass
    return 0


@dataclass
class Report:
    """What became of each data row of the file."""

    rows: int = 0
    accepted_rows: list[list[int]] = field(default_factory=list)  # [first, last] ranges
    quarantined_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(last - first + 1 for first, last in self.accepted_rows)


def ranges(numbers: list[int]) -> list[list[int]]:
    """Sorted row numbers as [first, last] runs of consecutive numbers."""
    out: list[list[int]] = []
    for n in sorted(numbers):
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        elif not out or n != out[-1][1]:
            out.append([n, n])
    return out


QUARANTINED_OF_RUN = (
    "SELECT location, reason, field, detail FROM sync_quarantine WHERE source = $1 AND county = $2 "
    "AND last_run_id = $3 AND status = 'open' ORDER BY id"
)


async def report(pool: Any, source: str, county: str, run_id: int, numbers: list[int]) -> Report:
    """The rows of the run's file (``numbers``, from ``survey``) as accepted or quarantined:
    a row is quarantined when the run left a quarantine row at its location."""
    from services.core.idnumber import redact

    quarantined: list[dict[str, Any]] = []
    seen: set[int] = set()
    for r in await pool.fetch(QUARANTINED_OF_RUN, source, county, run_id):
        number = _row_number(r["location"])
        seen.add(number)
        quarantined.append(
            {
                "row": number or None,
                "reason": r["reason"],
                "field": r["field"],
                "detail": redact(r["detail"]) if r["detail"] else None,
            }
        )
    quarantined.sort(key=lambda q: q["row"] or 0)
    accepted = [n for n in numbers if n not in seen]
    return Report(rows=len(numbers), accepted_rows=ranges(accepted), quarantined_rows=quarantined)
