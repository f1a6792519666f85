"""Reconciliation rules (部门信息比对): what a department's records, matched to the registry
by ID number, reveal (DOMAIN.md "Department cross-checking").

Each rule is a plain object: id, severity, whether it is a risk (and then which risk type
its clue carries), whether it tells a person's health, its explanation in English and
Chinese, the source kinds it reads, a predicate over plain values (no I/O; unit-tested on
its own) and the same rule as one set-based SQL query. ``reconcile`` runs the queries over
``sync_rec``, a temporary table of one source's records of one county joined to persons,
households and open cases (its columns: ``REC_COLUMNS`` and ``KIND_COLUMNS``).

A rule's query returns ``subject`` (what the finding is about, e.g. ``person:123``; the
fingerprint is the rule id, source and county before it), ``person_id``, ``household_id``,
``region_code`` (None: the county's), ``records`` ([{source, external_key}]) and
``detail`` (the finding's ``values``: what triggered it, JSON-ready: dates ISO, amounts decimal strings). It uses
the bind parameters of ``reconcile.rule_params`` (``:source``, ``:county``, ``:today``,
``:year``, ``:fixed``, ``:share``, ``:age_from``, ``:age_to``, ``:oos``,
``:stage_max_age``); thresholds always come from settings, never from the SQL.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from services.core.households.enums import Category, LabourCapacity, PersonStatus, Schooling
from services.core.monitoring.enums import RiskType
from services.core.settings import SyncRuleSettings
from services.core.sync.enums import Benefit, SchoolStage, Severity, SourceKind, StudentStatus

ANY_KIND = frozenset(SourceKind)


# ---------------------------------------------------------------- plain values

# Separators that are not part of a name: spaces (after NFKC also the full-width one), the
# middle dots of transliterated minority names (·, •, ・, ‧ …) and a period used for them.
_NAME_NOISE = re.compile(r"[\s.·•・‧∙⋅]")
_NAME_NOISE_SQL = r"[\s.·•・‧∙⋅]"  # no [[:space:]]: ":space" would read as a bind parameter


def normalise_name(name: str) -> str:
    return _NAME_NOISE.sub("", unicodedata.normalize("NFKC", name)).lower()


def names_differ(registry_name: str | None, department_name: str | None) -> bool:
    """A department that sends no name (or only separators) disagrees with nothing."""
    if not registry_name or not department_name:
        return False
    theirs = normalise_name(department_name)
    return bool(theirs) and theirs != normalise_name(registry_name)


def not_in_registry(person_found: bool, unmatched_findings: bool) -> bool:
    return unmatched_findings and not person_found


DEATH_WORD = "死亡"


def says_dead(kind: SourceKind, fields: Mapping[str, Any]) -> bool:
    """Whether a department record says its person died."""
    if fields.get("death_date") is not None:
        return True
    if kind == SourceKind.civil_affairs:
        return DEATH_WORD in (fields.get("stop_reason") or "")
    if kind == SourceKind.medical_insurance:
        return fields.get("status") == "deceased"
    return False


def dead_elsewhere(registry_status: PersonStatus | str | None, department_says_dead: bool) -> bool:
    return department_says_dead and registry_status == PersonStatus.alive


def enrolment_not_insured(insured: bool | None, status: str | None) -> bool:
    """One enrolment record says the person is not insured (a deceased one says something
    else: ``dead_elsewhere`` deals with it)."""
    if status == "deceased":
        return False
    return insured is False or status == "not_insured"


def is_target(category: Category | str | None, has_open_case: bool) -> bool:
    """Formerly poor or monitored people, whose insurance is watched (应保尽保)."""
    return has_open_case or category in (Category.lifted_out, Category.monitored)


def not_insured(category: Category | str | None, has_open_case: bool, alive: bool,
                enrolments: Iterable[tuple[bool | None, str | None]]) -> bool:
    """A target person whose every enrolment record of the current year says not insured."""
    enrolments = list(enrolments)
    if not alive or not enrolments or not is_target(category, has_open_case):
        return False
    return all(enrolment_not_insured(i, s) for i, s in enrolments)


def large_cost_thresholds(out_of_pocket: Decimal, previous_net_income: Decimal | None,
                          fixed_yuan: Decimal | None, income_share: Decimal | None) -> list[str]:
    """Which thresholds a household's out-of-pocket sum of a year is above (strictly):
    ``fixed`` and/or ``income_share`` (× the previous year's net income, when known)."""
    hit = []
    if fixed_yuan is not None and out_of_pocket > fixed_yuan:
        hit.append("fixed")
    if income_share is not None and previous_net_income is not None and out_of_pocket > income_share * previous_net_income:
        hit.append("income_share")
    return hit


# Terms: "2026秋" / "2026秋季" / "2026 autumn" (school year 2026–27, first half), "2027春" /
# "2027 spring" (2026–27, second half), "2026-2027-1" / "2026-2027-2", or a bare year.
_TERM_ACADEMIC = re.compile(r"^[0-9]{4}-[0-9]{4}-[12]$")
_TERM_SPRING = re.compile(r"^[0-9]{4} *(春|spring)", re.IGNORECASE)
_TERM_YEAR = re.compile(r"^[0-9]{4}")


def term_rank(term: str | None) -> int | None:
    """2 × the year the term's school year starts + 0 (autumn) or 1 (spring), so terms sort
    in time; None for a term this does not understand (such records are not judged)."""
    if term is None:
        return None
    term = term.strip()
    if _TERM_ACADEMIC.match(term):
        return int(term[:4]) * 2 + int(term[-1]) - 1
    if _TERM_SPRING.match(term):
        return (int(term[:4]) - 1) * 2 + 1
    if _TERM_YEAR.match(term):
        return int(term[:4]) * 2
    return None


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def age_at_school_start(birth: date, term: str | None) -> int | None:
    """Age on 1 September of the term's school year (how compulsory age is counted)."""
    rank = term_rank(term)
    return None if rank is None else age_on(birth, date(rank // 2, 9, 1))


def latest_term(records: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """A student's latest record by term; within one term an ``enrolled`` record wins (a
    transfer's two records), then the larger external key."""
    ranked = [r for r in records if term_rank(r.get("term")) is not None]
    if not ranked:
        return None
    return max(ranked, key=lambda r: (term_rank(r["term"]), r.get("status") == StudentStatus.enrolled,
                                      r.get("external_key") or ""))


def out_of_school(birth: date, term: str | None, status: str | None, rules: SyncRuleSettings) -> bool:
    """A child of compulsory age whose (latest) term says out of school (控辍保学)."""
    age = age_at_school_start(birth, term)
    return (age is not None and rules.compulsory_age_from <= age <= rules.compulsory_age_to
            and status in rules.out_of_school_statuses)


ACTIVE_BENEFITS = (Benefit.dibao, Benefit.tekun)


def active_assistance(benefit: str | None, status: str | None, start: date | None, end: date | None,
                      today: date) -> bool:
    """An active 低保 or 特困: not stopped (no status reads as active), started, and no end
    date before today."""
    return (benefit in ACTIVE_BENEFITS and (status or "active") == "active"
            and (start is None or start <= today) and (end is None or end >= today))


def assistance_not_monitored(has_active_assistance: bool, category: Category | str | None, has_open_case: bool,
                             per_capita_net: Decimal | None, line: Decimal | None) -> bool:
    """应纳未纳: a household with active 低保/特困, not monitored, whose per-capita net income
    of the last year with an income line is below that line."""
    if not has_active_assistance or per_capita_net is None or line is None:
        return False
    return category != Category.monitored and not has_open_case and per_capita_net < line


NO_LABOUR = (LabourCapacity.lost, LabourCapacity.none)


def no_labour_no_assistance(category: Category | str | None, living_labour: Iterable[str],
                            has_active_assistance: bool) -> bool:
    """A formerly poor or monitored household where no living member can work and nobody
    receives 低保 or 特困."""
    labour = list(living_labour)
    return (category in (Category.lifted_out, Category.monitored) and bool(labour)
            and all(c in NO_LABOUR for c in labour) and not has_active_assistance)


COMPULSORY_STAGES = (SchoolStage.primary, SchoolStage.junior_secondary)


def record_problems(kind: SourceKind, fields: Mapping[str, Any], birth: date, today: date,
                    stage_max_age: int) -> list[str]:
    """How a department record contradicts itself (codes, in a fixed order)."""
    f = fields
    problems: list[str] = []

    def negative(*names: str) -> bool:
        return any(f.get(n) is not None and Decimal(str(f[n])) < 0 for n in names)

    if kind == SourceKind.civil_affairs:
        if f.get("start_date") and f.get("end_date") and f["end_date"] < f["start_date"]:
            problems.append("end_before_start")
        if f.get("dibao_class") is not None and f.get("benefit") != Benefit.dibao:
            problems.append("dibao_class_not_dibao")
        if f.get("status") == "active" and f.get("death_date") is not None:
            problems.append("active_after_death")
        if negative("amount"):
            problems.append("negative_amount")
    elif kind == SourceKind.medical_insurance:
        if (f.get("out_of_pocket") is not None and f.get("total_cost") is not None
                and Decimal(str(f["out_of_pocket"])) > Decimal(str(f["total_cost"]))):
            problems.append("out_of_pocket_above_total")
        if negative("total_cost", "out_of_pocket"):
            problems.append("negative_amount")
        insured, status = f.get("insured"), f.get("status")
        if (insured is True and status in ("not_insured", "deceased")) or (insured is False and status == "normal"):
            problems.append("insured_status_conflict")
    elif kind == SourceKind.education:
        if f.get("stage") in COMPULSORY_STAGES:
            age = age_at_school_start(birth, f.get("term"))
            if (age if age is not None else age_on(birth, today)) > stage_max_age:
                problems.append("compulsory_stage_over_age")
        if negative("aid_amount"):
            problems.append("negative_amount")
    return problems


IN_SCHOOL = (Schooling.primary, Schooling.junior_secondary, Schooling.senior_secondary, Schooling.vocational,
             Schooling.university)


def schooling_differs(registry: Schooling | str | None, latest_status: str | None) -> bool:
    """The registry says in school and the latest term dropped out, or the other way round."""
    return ((registry in IN_SCHOOL and latest_status == StudentStatus.dropped_out)
            or (registry == Schooling.dropped_out and latest_status == StudentStatus.enrolled))


# ---------------------------------------------------------------- the temp table

# Columns of ``sync_rec`` every kind has: the record, and the person, household and open
# case it matched (all NULL when the ID number is not in the registry).
REC_COLUMNS = """
    r.id AS rec_id, r.external_key, r.record_type, r.id_hash, r.id_masked, r.name COLLATE "C" AS dept_name,
    r.birth_date,
    p.id AS person_id, p.name COLLATE "C" AS person_name, p.status AS person_status, p.region_code AS person_region,
    p.labour_capacity, p.schooling, p.medical_insurance,
    h.id AS household_id, h.category, h.status AS household_status, h.region_code AS household_region,
    (oc.household_id IS NOT NULL) AS open_case"""

# The canonical fields a kind's rules read, typed once (the normaliser wrote them ISO and
# JSON-ready, so the casts cannot fail).
_TERM_RANK_SQL = """CASE
        WHEN btrim(r.data->>'term') ~ '^[0-9]{4}-[0-9]{4}-[12]$'
            THEN left(btrim(r.data->>'term'), 4)::int * 2 + right(btrim(r.data->>'term'), 1)::int - 1
        WHEN btrim(r.data->>'term') ~* '^[0-9]{4} *(春|spring)' THEN (left(btrim(r.data->>'term'), 4)::int - 1) * 2 + 1
        WHEN btrim(r.data->>'term') ~ '^[0-9]{4}' THEN left(btrim(r.data->>'term'), 4)::int * 2
    END"""
KIND_COLUMNS: dict[SourceKind, str] = {
    SourceKind.civil_affairs: """,
    r.data->>'benefit' AS benefit, r.data->>'dibao_class' AS dibao_class,
    (r.data->>'start_date')::date AS start_date, (r.data->>'end_date')::date AS end_date,
    (r.data->>'amount')::numeric AS amount, r.data->>'status' AS status, r.data->>'stop_reason' AS stop_reason,
    (r.data->>'death_date')::date AS death_date""",
    SourceKind.medical_insurance: """,
    (r.data->>'year')::int AS year, (r.data->>'insured')::boolean AS insured, r.data->>'status' AS status,
    (r.data->>'death_date')::date AS death_date, (r.data->>'settled_on')::date AS settled_on,
    r.data->>'hospital' AS hospital, (r.data->>'total_cost')::numeric AS total_cost,
    (r.data->>'out_of_pocket')::numeric AS out_of_pocket""",
    SourceKind.education: f""",
    r.data->>'term' AS term, r.data->>'school' AS school, r.data->>'stage' AS stage, r.data->>'status' AS status,
    (r.data->>'aid_amount')::numeric AS aid_amount, {_TERM_RANK_SQL} AS term_rank""",
    SourceKind.generic: "",
}


# ---------------------------------------------------------------- SQL pieces

RECORDS = ("jsonb_agg(jsonb_build_object('source', CAST(:source AS text), 'external_key', external_key) "
           "ORDER BY external_key)")
ONE_RECORD = "jsonb_build_array(jsonb_build_object('source', CAST(:source AS text), 'external_key', external_key))"


def _norm(column: str) -> str:
    return f"lower(regexp_replace(normalize({column}, NFKC), '{_NAME_NOISE_SQL}', '', 'g'))"


def _in(values: Iterable[str]) -> str:
    """A SQL list of enum values (fixed vocabularies, never user input)."""
    items = [str(v) for v in values]
    assert all(re.fullmatch(r"[a-z_]+", v) for v in items)
    return "(" + ", ".join(f"'{v}'" for v in items) + ")"


ACTIVE_ASSISTANCE_SQL = (f"benefit IN {_in(ACTIVE_BENEFITS)} AND coalesce(status, 'active') = 'active' "
                         "AND (start_date IS NULL OR start_date <= CAST(:today AS date)) "
                         "AND (end_date IS NULL OR end_date >= CAST(:today AS date))")
SCHOOL_START = "make_date(term_rank / 2, 9, 1)"
# Each student's latest term (an enrolled record wins within a term), as ``latest``.
LATEST_TERM = f"""latest AS (
    SELECT DISTINCT ON (person_id) *, date_part('year', age({SCHOOL_START}, birth_date))::int AS age
    FROM sync_rec
    WHERE record_type = 'student' AND person_id IS NOT NULL AND term_rank IS NOT NULL
    ORDER BY person_id, term_rank DESC, (status = 'enrolled') DESC, external_key DESC)"""


@dataclass(frozen=True)
class RuleContext:
    kind: SourceKind
    rules: SyncRuleSettings
    unmatched_findings: bool


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    kinds: frozenset[SourceKind]
    explanation_en: str
    explanation_zh: str
    predicate: Callable[..., Any]
    build_sql: Callable[[RuleContext], str | None]  # None: switched off by configuration
    risk_type: RiskType | None = None  # a risk rule: its findings also raise risk clues
    health: bool = False  # the finding tells a person's health (hidden without registry:health)

    @property
    def risk(self) -> bool:
        return self.risk_type is not None

    def applies_to(self, kind: SourceKind) -> bool:
        return kind in self.kinds

    def sql(self, ctx: RuleContext) -> str | None:
        return self.build_sql(ctx)


def _name_mismatch_sql(ctx: RuleContext) -> str:
    # The plain inequality first: equal names (nearly all) skip the normalisation.
    return f"""
    SELECT 'person:' || person_id AS subject, person_id, min(household_id) AS household_id,
           min(person_region) AS region_code, {RECORDS} AS records,
           jsonb_build_object('registry_name', min(person_name), 'department_names', jsonb_agg(DISTINCT dept_name)) AS detail
    FROM sync_rec
    WHERE person_id IS NOT NULL AND dept_name <> person_name
      AND {_norm('dept_name')} <> '' AND {_norm('dept_name')} <> {_norm('person_name')}
    GROUP BY person_id"""


def _not_in_registry_sql(ctx: RuleContext) -> str | None:
    if not ctx.unmatched_findings:
        return None
    return f"""
    SELECT 'id:' || encode(id_hash, 'hex') AS subject, NULL::bigint AS person_id, NULL::bigint AS household_id,
           NULL::text AS region_code, {RECORDS} AS records,
           jsonb_build_object('id_masked', min(id_masked),
                              'names', coalesce(jsonb_agg(DISTINCT dept_name) FILTER (WHERE dept_name IS NOT NULL), '[]'),
                              'record_types', jsonb_agg(DISTINCT record_type)) AS detail
    FROM sync_rec
    WHERE person_id IS NULL
    GROUP BY id_hash"""


def _dead_elsewhere_sql(ctx: RuleContext) -> str | None:
    if ctx.kind == SourceKind.civil_affairs:
        says, what = f"(death_date IS NOT NULL OR stop_reason LIKE '%{DEATH_WORD}%')", "stop_reason"
    elif ctx.kind == SourceKind.medical_insurance:
        says, what = "(death_date IS NOT NULL OR status = 'deceased')", "status"
    else:
        return None
    return f"""
    SELECT 'person:' || person_id AS subject, person_id, min(household_id) AS household_id,
           min(person_region) AS region_code, {RECORDS} AS records,
           jsonb_build_object('registry_status', 'alive', 'death_date', max(death_date)::text,
                              'department_{what}', coalesce(jsonb_agg(DISTINCT {what}) FILTER (WHERE {what} IS NOT NULL), '[]')
                              ) AS detail
    FROM sync_rec
    WHERE person_id IS NOT NULL AND person_status = 'alive' AND {says}
    GROUP BY person_id"""


def _not_insured_sql(ctx: RuleContext) -> str:
    return f"""
    SELECT 'person:' || person_id || ':' || year AS subject, person_id, min(household_id) AS household_id,
           min(person_region) AS region_code, {RECORDS} AS records,
           jsonb_build_object('year', year, 'insured', bool_or(insured), 'status', min(status),
                              'registry_medical_insurance', bool_or(medical_insurance),
                              'registry_disagrees', bool_or(medical_insurance)) AS detail
    FROM sync_rec
    WHERE record_type = 'enrolment' AND year = CAST(:year AS int) AND person_id IS NOT NULL
      AND person_status = 'alive' AND household_status = 'active'
      AND (category IN {_in([Category.lifted_out, Category.monitored])} OR open_case)
    GROUP BY person_id, year
    HAVING bool_and(status IS DISTINCT FROM 'deceased' AND (insured IS FALSE OR status = 'not_insured'))"""


def _large_medical_cost_sql(ctx: RuleContext) -> str | None:
    if ctx.rules.large_cost_fixed_yuan is None and ctx.rules.large_cost_income_share is None:
        return None
    # The current year and the one before (claims of a year keep arriving in January).
    return f"""
    WITH claims AS (
        SELECT household_id, year, min(household_region) AS region_code, sum(out_of_pocket) AS oop, count(*) AS n,
               {RECORDS} AS records,
               jsonb_agg(jsonb_build_object('external_key', external_key, 'settled_on', settled_on::text,
                                            'hospital', hospital, 'total_cost', total_cost::numeric(14, 2)::text,
                                            'out_of_pocket', out_of_pocket::numeric(14, 2)::text)
                         ORDER BY settled_on, external_key) AS claims
        FROM sync_rec
        WHERE record_type = 'claim' AND household_id IS NOT NULL AND household_status = 'active'
          AND year BETWEEN CAST(:year AS int) - 1 AND CAST(:year AS int)
        GROUP BY household_id, year
    ), judged AS (
        SELECT c.*, iy.net_income AS previous_income,
               CAST(:share AS numeric) * iy.net_income AS income_threshold
        FROM claims c
        LEFT JOIN income_years iy ON iy.household_id = c.household_id AND iy.year = c.year - 1
    )
    SELECT 'household:' || household_id || ':' || year AS subject, NULL::bigint AS person_id, household_id,
           region_code, records,
           jsonb_build_object(
               'year', year, 'out_of_pocket', oop::numeric(14, 2)::text, 'claim_count', n, 'claims', claims,
               'thresholds_hit', to_jsonb(array_remove(ARRAY[
                   CASE WHEN oop > CAST(:fixed AS numeric) THEN 'fixed' END,
                   CASE WHEN oop > income_threshold THEN 'income_share' END], NULL)),
               'fixed_yuan', CAST(:fixed AS numeric)::numeric(14, 2)::text, 'income_share', CAST(:share AS numeric)::text,
               'previous_year_net_income', previous_income::numeric(14, 2)::text,
               'income_threshold', round(income_threshold, 2)::text) AS detail
    FROM judged
    WHERE oop > CAST(:fixed AS numeric) OR oop > income_threshold"""


def _out_of_school_sql(ctx: RuleContext) -> str:
    return f"""
    WITH {LATEST_TERM}
    SELECT 'person:' || person_id || ':' || left(term, 32) AS subject, person_id, household_id,
           person_region AS region_code, {ONE_RECORD} AS records,
           jsonb_build_object('term', term, 'school', school, 'stage', stage, 'status', status,
                              'age_on_1_september', age) AS detail
    FROM latest
    WHERE person_status = 'alive' AND status = ANY(CAST(:oos AS text[]))
      AND age BETWEEN CAST(:age_from AS int) AND CAST(:age_to AS int)"""


def _assistance_not_monitored_sql(ctx: RuleContext) -> str:
    return f"""
    WITH assisted AS (
        SELECT household_id, min(household_region) AS region_code, {RECORDS} AS records,
               jsonb_agg(DISTINCT benefit) AS benefits
        FROM sync_rec
        WHERE household_id IS NOT NULL AND household_status = 'active' AND category <> 'monitored' AND NOT open_case
          AND {ACTIVE_ASSISTANCE_SQL}
        GROUP BY household_id
    )
    SELECT 'household:' || a.household_id AS subject, NULL::bigint AS person_id, a.household_id, a.region_code,
           a.records,
           jsonb_build_object('benefits', a.benefits, 'year', i.year, 'per_capita_net', i.per_capita_net::text,
                              'line', i.line::text) AS detail
    FROM assisted a
    CROSS JOIN LATERAL (
        SELECT iy.year, iy.per_capita_net, l.amount AS line
        FROM income_years iy
        JOIN income_lines l ON l.year = iy.year AND l.province_code = left(a.region_code, 2)
        WHERE iy.household_id = a.household_id
        ORDER BY iy.year DESC LIMIT 1) i
    WHERE i.per_capita_net < i.line"""


def _no_labour_no_assistance_sql(ctx: RuleContext) -> str:
    # Every formerly poor or monitored household of the county, not only those the source
    # names: a household the civil-affairs records leave out receives nothing.
    return f"""
    WITH households_without_labour AS (
        SELECT p.household_id, min(h.region_code) AS region_code, count(*) AS members,
               jsonb_agg(p.labour_capacity ORDER BY p.id) AS labour
        FROM persons p
        JOIN households h ON h.id = p.household_id
        WHERE h.region_code >= CAST(:county AS text) AND h.region_code < CAST(:county AS text) || ':'
          AND h.status = 'active' AND h.category IN {_in([Category.lifted_out, Category.monitored])}
          AND p.status = 'alive'
        GROUP BY p.household_id
        HAVING bool_and(p.labour_capacity IN {_in(NO_LABOUR)})
    )
    SELECT 'household:' || w.household_id AS subject, NULL::bigint AS person_id, w.household_id, w.region_code,
           '[]'::jsonb AS records,
           jsonb_build_object('living_members', w.members, 'labour_capacity', w.labour) AS detail
    FROM households_without_labour w
    WHERE NOT EXISTS (SELECT 1 FROM sync_rec r WHERE r.household_id = w.household_id AND {ACTIVE_ASSISTANCE_SQL})"""


def _record_inconsistent_sql(ctx: RuleContext) -> str | None:
    if ctx.kind == SourceKind.civil_affairs:
        checks = [
            ("end_before_start", "end_date < start_date"),
            ("dibao_class_not_dibao", "dibao_class IS NOT NULL AND benefit IS DISTINCT FROM 'dibao'"),
            ("active_after_death", "status = 'active' AND death_date IS NOT NULL"),
            ("negative_amount", "amount < 0"),
        ]
        fields = ("'benefit', benefit, 'dibao_class', dibao_class, 'start_date', start_date::text, "
                  "'end_date', end_date::text, 'status', status, 'death_date', death_date::text, 'amount', amount::text")
    elif ctx.kind == SourceKind.medical_insurance:
        checks = [
            ("out_of_pocket_above_total", "out_of_pocket > total_cost"),
            ("negative_amount", "total_cost < 0 OR out_of_pocket < 0"),
            ("insured_status_conflict",
             "(insured IS TRUE AND status IN ('not_insured', 'deceased')) OR (insured IS FALSE AND status = 'normal')"),
        ]
        fields = ("'year', year, 'insured', insured, 'status', status, 'total_cost', total_cost::text, "
                  "'out_of_pocket', out_of_pocket::text")
    elif ctx.kind == SourceKind.education:
        age = (f"date_part('year', age(coalesce({SCHOOL_START}, CAST(:today AS date)), birth_date))::int")
        checks = [
            ("compulsory_stage_over_age",
             f"stage IN {_in(COMPULSORY_STAGES)} AND {age} > CAST(:stage_max_age AS int)"),
            ("negative_amount", "aid_amount < 0"),
        ]
        fields = "'term', term, 'stage', stage, 'status', status, 'aid_amount', aid_amount::text"
    else:
        return None
    problems = ", ".join(f"CASE WHEN {cond} THEN '{code}' END" for code, cond in checks)
    return f"""
    SELECT 'record:' || external_key AS subject, person_id, household_id, person_region AS region_code,
           {ONE_RECORD} AS records,
           jsonb_build_object('problems', to_jsonb(problems), 'record_type', record_type, {fields}) AS detail
    FROM (SELECT *, array_remove(ARRAY[{problems}], NULL) AS problems FROM sync_rec) checked
    WHERE cardinality(problems) > 0"""


def _schooling_differs_sql(ctx: RuleContext) -> str:
    return f"""
    WITH {LATEST_TERM}
    SELECT 'person:' || person_id AS subject, person_id, household_id, person_region AS region_code,
           {ONE_RECORD} AS records,
           jsonb_build_object('registry_schooling', schooling, 'term', term, 'department_status', status) AS detail
    FROM latest
    WHERE person_status = 'alive'
      AND ((schooling IN {_in(IN_SCHOOL)} AND status = 'dropped_out')
           OR (schooling = 'dropped_out' AND status = 'enrolled'))"""


CIVIL, MEDICAL, EDUCATION = SourceKind.civil_affairs, SourceKind.medical_insurance, SourceKind.education

RULES: tuple[Rule, ...] = (
    Rule("name_mismatch", Severity.medium, ANY_KIND,
         "Matched by ID number, but the department spells the name differently.",
         "身份证号一致，但部门登记的姓名与系统不一致。",
         names_differ, _name_mismatch_sql),
    Rule("not_in_registry", Severity.medium, ANY_KIND,
         "The department holds a record for an ID number the registry does not know.",
         "部门有记录的身份证号在系统中不存在（疑似漏登）。",
         not_in_registry, _not_in_registry_sql),
    Rule("dead_elsewhere", Severity.high, frozenset({CIVIL, MEDICAL}),
         "The department records the person as dead; the registry has them alive.",
         "部门记录该人员已死亡，系统中仍为健在。",
         dead_elsewhere, _dead_elsewhere_sql),
    # Not being insured is a risk of impoverishment by illness, not an illness: "illness"
    # would label a healthy person as ill (and hide the clue from public notices), so the
    # clue says "other" and the evidence says what it is.
    Rule("not_insured", Severity.high, frozenset({MEDICAL}),
         "A formerly poor or monitored person is not insured this year (basic medical insurance for all).",
         "脱贫人口或监测对象本年度未参加基本医疗保险（应保尽保）。",
         not_insured, _not_insured_sql, risk_type=RiskType.other),
    Rule("large_medical_cost", Severity.high, frozenset({MEDICAL}),
         "The household's out-of-pocket medical costs of a year exceed the warning threshold.",
         "家庭年度就医自付费用超过预警标准（固定金额或上年度家庭纯收入的一定比例）。",
         large_cost_thresholds, _large_medical_cost_sql, risk_type=RiskType.illness, health=True),
    Rule("out_of_school", Severity.high, frozenset({EDUCATION}),
         "A child of compulsory-education age is out of school in the latest term.",
         "义务教育阶段适龄儿童最近学期为辍学（控辍保学）。",
         out_of_school, _out_of_school_sql, risk_type=RiskType.out_of_school),
    # The household is poor by the department's own means test and below our line, yet
    # not monitored: the same 应纳未纳 risk the monitoring rule raises.
    Rule("assistance_not_monitored", Severity.high, frozenset({CIVIL}),
         "The household receives 低保 or 特困, its income is below the monitoring line, and it is not monitored.",
         "享受低保或特困供养、人均纯收入低于监测标准，但未纳入监测（应纳未纳）。",
         assistance_not_monitored, _assistance_not_monitored_sql, risk_type=RiskType.income_below_line),
    Rule("no_labour_no_assistance", Severity.medium, frozenset({CIVIL}),
         "Nobody in the household can work, yet nobody receives 低保 or 特困.",
         "家庭成员均无劳动能力，但无人享受低保或特困供养。",
         no_labour_no_assistance, _no_labour_no_assistance_sql),
    Rule("record_inconsistent", Severity.low, frozenset({CIVIL, MEDICAL, EDUCATION}),
         "The department record contradicts itself.",
         "部门记录自相矛盾（如结束日期早于开始日期、自付费用高于总费用）。",
         record_problems, _record_inconsistent_sql),
    Rule("schooling_differs", Severity.medium, frozenset({EDUCATION}),
         "The registry's schooling status and the latest term's status disagree.",
         "系统在校状况与教育部门最近学期状态不一致。",
         schooling_differs, _schooling_differs_sql),
)
BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def rules_for(kind: SourceKind) -> list[Rule]:
    return [r for r in RULES if r.applies_to(kind)]
