"""Import administrative regions (统计用区划代码) from a CSV file.

The file has a header row ``code,name`` (or ``区划代码,名称``), UTF-8 with or without a BOM.
Each row is checked on its own; a bad row is reported with its line number and reason and
never stops the good rows. Level and parent are derived from the code, so rows may come in
any order: they are sorted by level and a row is accepted when its parent is already in the
database or is an accepted row of the same file.

The parsing and checking are plain functions (``parse_regions_csv``, ``check_rows``) so
they can be tested without a database. ``import_regions_csv`` flushes but does not commit.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Boolean, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.base import table_of
from services.core.progress import Report, Step
from services.core.regions.models import Region
from services.core.regions.rules import InvalidRegionCode, level_of, parent_of

DEMO_REGIONS_CSV = Path(__file__).resolve().parent / "data" / "demo_regions.csv"

HEADERS = {("code", "name"), ("区划代码", "名称")}
NAME_MAX = 100  # regions.name is VARCHAR(100)
_BATCH = 2000  # rows per INSERT (4 parameters each, far below the 32767 limit)


@dataclass(slots=True)
class RegionRow:
    line_no: int
    code: str
    name: str
    level: int
    parent_code: str | None


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0  # the name changed
    unchanged: int = 0  # already present with the same name
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line_no, code, reason)

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated + self.unchanged


class RegionCsvError(ValueError):
    """The file as a whole cannot be read (no or unknown header)."""


def _read_text(path_or_text: str | bytes | os.PathLike) -> str:
    if isinstance(path_or_text, bytes):
        return path_or_text.decode("utf-8-sig")
    if isinstance(path_or_text, os.PathLike):
        return Path(path_or_text).read_bytes().decode("utf-8-sig")
    text = path_or_text
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    if "\n" not in text and "," not in first_line:
        # A bare string without a newline or a comma is a file name.
        return Path(text).read_bytes().decode("utf-8-sig")
    return text.lstrip("\ufeff")


def check_code(code: str) -> str | None:
    """Why ``code`` is not a usable region code, or None."""
    if not code:
        return "code is empty"
    if len(code) != 12 or not code.isascii() or not code.isdigit():
        return "code must have exactly 12 digits"
    try:
        level_of(code)  # also refuses a segment of zeros above the region's own level
    except InvalidRegionCode as exc:
        return str(exc)
    return None


def check_name(name: str) -> str | None:
    if not name:
        return "name is empty"
    if len(name) > NAME_MAX:
        return f"name is longer than {NAME_MAX} characters"
    return None


def parse_regions_csv(text: str) -> tuple[list[RegionRow], list[tuple[int, str, str]]]:
    """Rows that are well-formed on their own, and (line, code, reason) for the others.

    Parents are not checked here (see ``check_rows``)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header: tuple[str, ...] | None = None
    rows: list[RegionRow] = []
    rejected: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    for record in reader:
        line_no = reader.line_num
        if not record or all(not cell.strip() for cell in record):
            continue  # a blank line is not a row
        if header is None:
            header = tuple(cell.strip().lower() for cell in record)
            while header and header[-1] == "":
                header = header[:-1]
            if header not in HEADERS:
                raise RegionCsvError("the first line must be the header code,name (or 区划代码,名称)")
            continue
        cells = [cell.strip() for cell in record]
        while len(cells) > 2 and cells[-1] == "":
            cells.pop()  # spreadsheets add empty trailing columns
        code = cells[0]
        if len(cells) != 2:
            rejected.append((line_no, code, f"expected 2 columns (code,name), found {len(cells)}"))
            continue
        name = cells[1]
        reason = check_code(code) or check_name(name)
        if reason is None and code in seen:
            reason = f"duplicate code, already on line {seen[code]}"
        if reason is not None:
            rejected.append((line_no, code, reason))
            continue
        seen[code] = line_no
        rows.append(RegionRow(line_no, code, name, int(level_of(code)), parent_of(code)))
    if header is None:
        raise RegionCsvError("the file is empty: expected the header code,name")
    return rows, rejected


def check_rows(
    rows: list[RegionRow], existing_codes: set[str] | frozenset[str], rejected_lines: dict[str, int] | None = None
) -> tuple[list[RegionRow], list[tuple[int, str, str]]]:
    """Rows in insert order (by level) whose parent exists in the database
    (``existing_codes``) or is an accepted row of the file; the others are rejected.
    ``rejected_lines`` (code -> line) names parents that were rejected themselves."""
    accepted: list[RegionRow] = []
    rejected: list[tuple[int, str, str]] = []
    known = set(existing_codes)
    bad_parents = dict(rejected_lines or {})
    for row in sorted(rows, key=lambda r: (r.level, r.code)):
        parent = row.parent_code
        if parent is not None and parent not in known:
            if parent in bad_parents:
                reason = f"parent region {parent} was rejected (line {bad_parents[parent]})"
            else:
                reason = f"parent region {parent} is not in the database or the file"
            rejected.append((row.line_no, row.code, reason))
            bad_parents.setdefault(row.code, row.line_no)
            continue
        known.add(row.code)
        accepted.append(row)
    return accepted, rejected


async def _existing(session: AsyncSession, codes: set[str]) -> set[str]:
    if not codes:
        return set()
    table = table_of(Region)
    # Region codes are not personal data; the lookup is on the table, not the scoped entity.
    result = await session.execute(select(table.c.code).where(table.c.code.in_(sorted(codes))))
    return set(result.scalars())


async def import_regions_csv(
    session: AsyncSession, path_or_text: str | bytes | os.PathLike, progress: Report | None = None
) -> ImportReport:
    """Upsert the regions of a CSV file (a path, or the CSV text itself); ``progress`` gets
    a ``Step`` per batch written."""
    rows, rejected = parse_regions_csv(_read_text(path_or_text))
    in_file = {r.code for r in rows}
    outside = {r.parent_code for r in rows if r.parent_code and r.parent_code not in in_file}
    rejected_lines = {code: line for line, code, _ in rejected}
    accepted, orphans = check_rows(rows, await _existing(session, outside), rejected_lines)

    report = ImportReport(rejected=sorted(rejected + orphans))
    table = table_of(Region)
    for start in range(0, len(accepted), _BATCH):
        batch = accepted[start : start + _BATCH]
        stmt = insert(table).values(
            [{"code": r.code, "name": r.name, "level": r.level, "parent_code": r.parent_code} for r in batch]
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[table.c.code],
            set_={"name": stmt.excluded.name},
            where=table.c.name.is_distinct_from(stmt.excluded.name),
        ).returning(literal_column("(xmax = 0)", Boolean))
        written = (await session.execute(upsert)).scalars().all()
        inserted = sum(1 for fresh in written if fresh)
        report.inserted += inserted
        report.updated += len(written) - inserted
        report.unchanged += len(batch) - len(written)
        if progress is not None:
            done = start + len(batch)
            progress(Step("regions", f"regions {done:,}/{len(accepted):,}", done, len(accepted), "regions"))
    return report
