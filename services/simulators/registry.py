"""Reading the registry a simulator serves: persons of one county in ``persons.id`` order,
with what their household says about them, a bounded batch per query.

ID numbers are decrypted only for persons who end up with a record (``Person.id_number``),
so scanning past persons a department knows nothing about costs no decryption.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from services.core.crypto import Keyring
from services.core.db import Database
from services.core.households.sensitive import open_id_number

COUNTY = re.compile(r"^\d{6}$")

# Every kind gets the same columns; the income is only read by medical insurance (the
# lateral subquery costs an index probe per person). The household's living members: the
# household size civil affairs reports (家庭人口数).
_COLUMNS = """
    p.id, p.id_number_enc, p.name, p.sex, p.birth_date, p.status::text, p.date_of_death,
    p.relation::text, p.schooling::text, p.school, p.household_id,
    h.category::text, coalesce(h.flags, '{}'::varchar[]), <income>,
    (SELECT count(*)::int FROM persons m WHERE m.household_id = p.household_id AND m.status = 'alive')
"""
_INCOME = (
    "(SELECT iy.net_income FROM income_years iy WHERE iy.household_id = p.household_id ORDER BY iy.year DESC LIMIT 1)"
)


def _draw(prefix: str, key: str) -> str:
    """``records.selection_draw`` in SQL: the first 32 bits of MD5 as an integer."""
    return f"('x' || left(md5({prefix} || {key}), 8))::bit(32)::bigint"


_HOUSEHOLD_KEY = "coalesce(p.household_id::text, 'p' || p.id::text)"
# A superset of the persons ``records.Deriver._civil`` gives records to (it decides exactly):
# flagged households, and households or persons whose selection draw falls in a share.
_CIVIL_CANDIDATES = f"""(
    h.flags && ARRAY['dibao', 'tekun']::varchar[]
    OR {_draw("$5", _HOUSEHOLD_KEY)} < $7 OR {_draw("$5", _HOUSEHOLD_KEY)} >= $8
    OR {_draw("$6", "p.id::text")} < $9 OR {_draw("$6", "p.id::text")} >= $10
)"""


class Person:
    """One registry person with the household facts the departments derive records from."""

    __slots__ = (
        "_blob",
        "_number",
        "_ring",
        "birth_date",
        "category",
        "date_of_death",
        "flags",
        "household_id",
        "household_size",
        "id",
        "name",
        "net_income",
        "relation",
        "school",
        "schooling",
        "sex",
        "status",
    )

    def __init__(self, row, ring: Keyring):
        (
            self.id,
            self._blob,
            self.name,
            self.sex,
            self.birth_date,
            self.status,
            self.date_of_death,
            self.relation,
            self.schooling,
            self.school,
            self.household_id,
            self.category,
            flags,
            self.net_income,
            self.household_size,
        ) = row
        self.flags = frozenset(flags)
        self._ring = ring
        self._number: str | None = None

    @property
    def id_number(self) -> str:
        if self._number is None:
            self._number = open_id_number(self._ring, self._blob)
        return self._number

    @property
    def alive(self) -> bool:
        return self.status != "deceased"

    def age_on(self, day: date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Registry:
    """Keyset reads of ``persons`` (one query per batch; nothing held between requests)."""

    def __init__(self, database: Database, ring: Keyring):
        self.database = database
        self.ring = ring
        self._county_names: dict[str, str] = {}

    def _sql(self, *, income: bool, students: bool, descending: bool, civil: bool = False) -> str:
        where = ["p.region_code >= $1", "p.region_code < $2", "p.id <= $3" if descending else "p.id > $3"]
        if civil:
            where.append(_CIVIL_CANDIDATES)
        if students:
            # Ages 6-22 on $5, with a schooling status: only they can be students.
            where += [
                "p.birth_date > ($5::date - interval '23 years')",
                "p.birth_date <= ($5::date - interval '6 years')",
                "p.schooling NOT IN ('not_in_school', 'preschool')",
                "p.status = 'alive'",
            ]
        order = "DESC" if descending else ""
        return (
            f"SELECT {_COLUMNS.replace('<income>', _INCOME if income else 'NULL::numeric')} "
            "FROM persons p LEFT JOIN households h ON h.id = p.household_id "
            f"WHERE {' AND '.join(where)} ORDER BY p.id {order} LIMIT $4"
        )

    async def persons(
        self,
        county: str,
        after_id: int,
        limit: int,
        *,
        income: bool = False,
        students_on: date | None = None,
        descending: bool = False,
        civil: tuple | None = None,
    ) -> list[Person]:
        """Persons of ``county`` with id > ``after_id`` (``descending``: id <= ``after_id``,
        newest first), at most ``limit``; only students on the day ``students_on``, only
        civil-affairs candidates with ``civil`` (``Deriver.civil_selection()``)."""
        sql = self._sql(income=income, students=students_on is not None, descending=descending, civil=civil is not None)
        args = [county, county + ":", after_id, limit]
        if students_on is not None:
            args.append(students_on)
        if civil is not None:
            args.extend(civil)
        rows = await self.database.fetch_rows(sql, args)
        return [Person(row, self.ring) for row in rows]

    async def county_name(self, county: str) -> str:
        name = self._county_names.get(county)
        if name is None:
            rows = await self.database.fetch_rows("SELECT name FROM regions WHERE code = $1", [county + "000000"])
            name = rows[0][0] if rows else f"{county}县"
            if len(self._county_names) < 1000:
                self._county_names[county] = name
        return name


def money(value: Decimal | float | int) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))
