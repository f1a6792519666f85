"""Complete rosters (参保名册, 学籍名册): a run of a source may declare that what it reads is
the whole enrolment of a year or the whole school roster of a term for a region, so that a
person the roster leaves out is absent, not merely unmentioned (docs/rosters.md).

The declaration lives on the run (``sync_runs.roster_*``); the records the run read, new,
changed, unchanged or refused with a readable key, are its entries
(``sync_roster_entries``). A roster is trusted only when its run succeeded (or is the run
now reconciling, every page in) and refused no more rows than the policy allows; the
rules read the rosters in force through ``in_force_sql``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.core.sync.enums import RecordType, SourceKind

# What a roster of a source kind lists, and how its period is written.
ROSTER_RECORD_TYPE: dict[SourceKind, RecordType] = {
    SourceKind.medical_insurance: RecordType.enrolment,
    SourceKind.education: RecordType.student,
}
_YEAR = re.compile(r"^(19|20)[0-9]{2}$")
_REGION = re.compile(r"^[0-9]{6,12}$")


class RosterError(ValueError):
    """A roster declaration that cannot stand (``code``: roster.kind, roster.period,
    roster.region)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Roster:
    period: str  # "2026" (an enrolment year) or a term as the school system writes it
    region: str  # a region code prefix inside the run's county


# Terms as the rules read them (``rules.sql.TERM_RANK_SQL``, held to this by the tests):
# "2026秋" / "2026 autumn" / "2026-2027-1" (school year 2026–27, first half), "2027春" /
# "2027 spring" / "2026-2027-2" (its second half), or a bare year (its autumn).
_TERM_ACADEMIC = re.compile(r"^[0-9]{4}-[0-9]{4}-[12]$")
_TERM_SPRING = re.compile(r"^[0-9]{4} *(春|spring)", re.IGNORECASE)
_TERM_YEAR = re.compile(r"^[0-9]{4}")


def term_rank(term: str) -> int | None:
    """2 × the year the term's school year starts + 0 (autumn) or 1 (spring); None for a
    term not understood."""
    term = term.strip()
    if _TERM_ACADEMIC.match(term):
        return int(term[:4]) * 2 + int(term[-1]) - 1
    if _TERM_SPRING.match(term):
        return (int(term[:4]) - 1) * 2 + 1
    if _TERM_YEAR.match(term):
        return int(term[:4]) * 2
    return None


def parse_period(kind: SourceKind, period: str) -> str:
    """The period as stored: a 4-digit year for an enrolment roster, a term the rules can
    place in time for a school roster."""
    if kind not in ROSTER_RECORD_TYPE:
        raise RosterError(
            "roster.kind",
            f"a {kind.value} source has no roster: only medical-insurance "
            "(enrolment of a year) and education (students of a term) do",
        )
    period = (period or "").strip()
    if kind == SourceKind.medical_insurance:
        if not _YEAR.fullmatch(period):
            raise RosterError("roster.period", f"an enrolment roster's period is a year such as 2026, not {period!r}")
        return period
    if term_rank(period) is None or len(period) > 32:
        raise RosterError(
            "roster.period", f"a school roster's period is a term such as 2026秋, 2027春 or 2026-2027-1, not {period!r}"
        )
    return period


def parse_region(county: str, region: str | None) -> str:
    """The roster's region: a code prefix inside the county (default: the county)."""
    if region is None or region == "":
        return county
    region = region.strip()
    if not _REGION.fullmatch(region) or not region.startswith(county):
        raise RosterError(
            "roster.region",
            f"the roster's region must be a region code prefix inside county {county} (6 to 12 digits), not {region!r}",
        )
    return region


def declare(kind: SourceKind, county: str, period: str, region: str | None = None) -> Roster:
    return Roster(parse_period(kind, period), parse_region(county, region))


def term_rank_sql(expr: str) -> str:
    """``term_rank`` in SQL, of any text expression."""
    t = f"btrim({expr})"
    return f"""CASE
        WHEN {t} ~ '^[0-9]{{4}}-[0-9]{{4}}-[12]$' THEN left({t}, 4)::int * 2 + right({t}, 1)::int - 1
        WHEN {t} ~* '^[0-9]{{4}} *(春|spring)' THEN (left({t}, 4)::int - 1) * 2 + 1
        WHEN {t} ~ '^[0-9]{{4}}' THEN left({t}, 4)::int * 2
    END"""


def period_rank_sql(kind: SourceKind, expr: str) -> str:
    """A roster period as a number that sorts in time: the year of an enrolment roster
    (validated as 4 digits when declared), the term rank of a school roster."""
    return f"({expr})::int" if kind == SourceKind.medical_insurance else term_rank_sql(expr)


def in_force_sql(kind: SourceKind) -> str:
    """``rosters``: the rosters in force for the source and county being reconciled — for
    each region, the trusted roster of the latest period (then the latest run). Trusted:
    the run succeeded, or it is the run reconciling now (it reached the reconciliation, so
    every page is in), and it refused at most ``:roster_refused_share`` of its rows."""
    rank = period_rank_sql(kind, "roster_period")
    return f"""rosters AS (
    SELECT DISTINCT ON (roster_region) id AS roster_run, roster_region, roster_period, file_name,
           {rank} AS period_rank
    FROM sync_runs
    WHERE source = CAST(:source AS text) AND county = CAST(:county AS text)
      AND roster_period IS NOT NULL AND roster_region IS NOT NULL
      AND (status = 'succeeded' OR id = CAST(:run_id AS bigint))
      AND coalesce(roster_rejected, 0)
          <= CAST(:roster_refused_share AS numeric) * (coalesce(roster_records, 0) + coalesce(roster_rejected, 0))
    ORDER BY roster_region, {rank} DESC, id DESC
)"""


def covering_roster_sql(region: str) -> str:
    """A LATERAL subquery: the roster in force whose region holds ``region`` (a person's
    code): of the latest period, and the narrowest of those (a township's own roster over
    the county's of the same period; a county roster of this year over a township's of
    last year)."""
    return f"""LATERAL (
        SELECT * FROM rosters ro
        WHERE left({region}, length(ro.roster_region)) = ro.roster_region
        ORDER BY ro.period_rank DESC, length(ro.roster_region) DESC LIMIT 1)"""
