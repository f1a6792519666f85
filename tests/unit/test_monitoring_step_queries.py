"""The statements of a case's step carry the region bounds on every regional table they
read: each is one statement of several subqueries, and the scope hook must reach them all."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy.dialects import postgresql

from services.core.monitoring import queries
from services.core.scope import limit_to

REGIONAL = {"monitoring_cases", "case_transitions", "case_visits", "case_visit_breaches"} | {
    "income_records",
    "household_guarantees",
    "persons",
    "assistance_measures",
}


def _reads(sql: str) -> list[tuple[str, str]]:
    """(table, its WHERE …) for every ``FROM table`` of ``sql``, up to the next FROM."""
    parts = re.split(r"\bFROM (\w+)", sql)
    return [(parts[i], parts[i + 1].split("FROM")[0]) for i in range(1, len(parts) - 1, 2)]


@pytest.mark.parametrize(
    "statement",
    [queries.case_for_step(7), queries.elimination_facts(7, 8, "52", 2024, date(2025, 10, 20))],
    ids=["case_for_step", "elimination_facts"],
)
def test_every_regional_read_is_bounded(statement):
    sql = str(limit_to(statement, "529901").compile(dialect=postgresql.dialect()))
    reads = _reads(sql)
    assert reads
    for table, rest in reads:
        if table in REGIONAL:
            assert f"{table}.region_code >=" in rest, f"{table} read without the region bounds"
