"""The registry checks' SQL (draft: moves into ``rules/registry.py`` and ``rules/common.py``)."""
from __future__ import annotations

from services.core.households.enums import Category, Employment
from services.core.monitoring.enums import FINAL, MeasureCategory, MeasureStatus, RiskType
from services.core.types import MOBILE_PATTERN


def _in(values) -> str:
    items = [str(v) for v in values]
    return "(" + ", ".join(f"'{v}'" for v in items) + ")"


def in_county(column: str) -> str:
    """``column`` (a region code) lies in the county ``:county`` (a range: the btree index
    serves it; ':' sorts right after '9')."""
    return f"({column} >= CAST(:county AS text) AND {column} < CAST(:county AS text) || ':')"


OPEN_CASE = f"status NOT IN {_in(sorted(FINAL))}"
# Measures that count as health or social protection for a person without insurance.
PROTECTING_MEASURES = (MeasureCategory.health, MeasureCategory.social_protection, MeasureCategory.social_assistance)
NO_EMPLOYMENT = Employment.none


def _quarter_label(index: str) -> str:
    return f"(({index}) / 4)::text || 'Q' || (({index}) % 4 + 1)::text"


def id_number_invalid_sql(ctx) -> str:
    return """
    SELECT 'quarantine:' || q.id AS subject, NULL::bigint AS person_id, NULL::bigint AS household_id,
           NULL::text AS region_code,
           CASE WHEN q.external_key IS NULL THEN '[]'::jsonb
                ELSE jsonb_build_array(jsonb_build_object('source', CAST(:source AS text), 'external_key', q.external_key))
           END AS records,
           jsonb_build_object('quarantine_id', q.id, 'reason', q.reason, 'id_masked', q.id_masked,
                              'detail', q.detail, 'location', q.location) AS detail
    FROM sync_quarantine q
    WHERE q.source = CAST(:source AS text) AND q.county = CAST(:county AS text) AND q.status = 'open'
      AND q.reason LIKE 'id\\_number.%'"""


def illness_without_cost_sql(ctx) -> str:
    # The window is income_rolling's: the four quarters ending with the latest recorded one
    # (on or before this quarter); an incomplete year is not judged.
    return f"""
    SELECT 'case:' || c.id AS subject, NULL::bigint AS person_id, c.household_id, c.region_code,
           '[]'::jsonb AS records,
           jsonb_build_object('case_id', c.id, 'risk_types', to_jsonb(c.risk_types),
                              'period', {_quarter_label('w.first_q')} || '–' || {_quarter_label('w.last_q')},
                              'quarters', w.quarters, 'eligible_spending', s.spending::numeric(14, 2)::text) AS detail
    FROM monitoring_cases c
    JOIN households h ON h.id = c.household_id AND h.status = 'active'
    CROSS JOIN LATERAL income_rolling(c.household_id, CAST(:upto AS int)) w
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(r.eligible_spending), 0) AS spending
        FROM income_records r
        WHERE r.household_id = c.household_id AND r.year * 4 + r.quarter - 1 BETWEEN w.first_q AND w.last_q) s
    WHERE {in_county('c.region_code')} AND c.{OPEN_CASE} AND '{RiskType.illness}' = ANY(c.risk_types)
      AND w.quarters = 4 AND s.spending = 0"""


def uninsured_without_measure_sql(ctx) -> str:
    return f"""
    WITH targets AS (
        SELECT h.id AS household_id, h.category, c.id AS case_id
        FROM households h
        LEFT JOIN monitoring_cases c ON c.household_id = h.id AND c.{OPEN_CASE}
        WHERE {in_county('h.region_code')} AND h.status = 'active'
          AND (c.id IS NOT NULL OR h.category = '{Category.monitored}')
    )
    SELECT 'person:' || p.id AS subject, p.id AS person_id, t.household_id, p.region_code, '[]'::jsonb AS records,
           jsonb_build_object('medical_insurance', p.medical_insurance, 'case_id', t.case_id,
                              'household_category', t.category,
                              'measure_categories', coalesce(m.categories, '[]'::jsonb)) AS detail
    FROM targets t
    JOIN persons p ON p.household_id = t.household_id AND p.status = 'alive' AND NOT p.medical_insurance
    LEFT JOIN LATERAL (
        SELECT jsonb_agg(DISTINCT a.category ORDER BY a.category) AS categories,
               bool_or(a.category IN {_in(PROTECTING_MEASURES)}) AS protected
        FROM assistance_measures a
        WHERE a.case_id = t.case_id AND a.status <> '{MeasureStatus.stopped}') m ON true
    WHERE NOT coalesce(m.protected, false)"""


def child_employed_sql(ctx) -> str:
    return f"""
    SELECT 'person:' || p.id AS subject, p.id AS person_id, p.household_id, p.region_code, '[]'::jsonb AS records,
           jsonb_build_object('age', a.age, 'age_limit', CAST(:child_age AS int), 'employment', p.employment,
                              'employment_months', p.employment_months,
                              'employment_income', p.employment_income::numeric(14, 2)::text) AS detail
    FROM persons p
    JOIN households h ON h.id = p.household_id AND h.status = 'active'
    CROSS JOIN LATERAL (SELECT date_part('year', age(CAST(:today AS date), p.birth_date))::int AS age) a
    WHERE {in_county('p.region_code')} AND p.status = 'alive' AND a.age < CAST(:child_age AS int)
      AND (p.employment <> '{NO_EMPLOYMENT}' OR p.employment_months > 0 OR p.employment_income > 0)"""


def monitored_twice_sql(ctx) -> str:
    # A person's households: the one they belong to, and any whose membership never ended.
    return f"""
    WITH people AS (
        SELECT id, household_id FROM persons WHERE {in_county('region_code')} AND status = 'alive'
    ), placed AS (
        SELECT id AS person_id, household_id FROM people WHERE household_id IS NOT NULL
        UNION
        SELECT m.person_id, m.household_id FROM memberships m JOIN people ON people.id = m.person_id
        WHERE m.ended_at IS NULL
    ), twice AS (
        SELECT pl.person_id, jsonb_agg(c.id ORDER BY c.id) AS case_ids,
               jsonb_agg(c.household_id ORDER BY c.id) AS household_ids
        FROM placed pl
        JOIN monitoring_cases c ON c.household_id = pl.household_id AND c.{OPEN_CASE}
        GROUP BY pl.person_id
        HAVING count(*) > 1
    )
    SELECT 'person:' || p.id AS subject, p.id AS person_id, p.household_id, p.region_code, '[]'::jsonb AS records,
           jsonb_build_object('case_ids', t.case_ids, 'household_ids', t.household_ids) AS detail
    FROM twice t
    JOIN persons p ON p.id = t.person_id"""


def head_spouse_same_sex_sql(ctx) -> str:
    return f"""
    SELECT 'household:' || h.id AS subject, NULL::bigint AS person_id, h.id AS household_id, h.region_code,
           '[]'::jsonb AS records,
           jsonb_build_object('sex', min(hd.sex), 'head_person_ids', jsonb_agg(DISTINCT hd.id),
                              'spouse_person_ids', jsonb_agg(DISTINCT sp.id)) AS detail
    FROM households h
    JOIN persons hd ON hd.household_id = h.id AND hd.relation = 'head' AND hd.status = 'alive'
    JOIN persons sp ON sp.household_id = h.id AND sp.relation = 'spouse' AND sp.status = 'alive' AND sp.sex = hd.sex
    WHERE {in_county('h.region_code')} AND h.status = 'active'
    GROUP BY h.id, h.region_code"""


def _masked_phone(column: str) -> str:
    """The first three and last two characters; the rest starred (short values all starred)."""
    return (f"CASE WHEN char_length({column}) > 5 THEN left({column}, 3) || repeat('*', char_length({column}) - 5) "
            f"|| right({column}, 2) ELSE repeat('*', char_length({column})) END")


def phone_invalid_sql(ctx) -> str:
    def given(alias: str) -> str:
        return f"nullif(btrim({alias}.phone), '') IS NOT NULL AND {alias}.phone !~ '{MOBILE_PATTERN}'"
    return f"""
    SELECT 'household:' || h.id || ':phone' AS subject, NULL::bigint AS person_id, h.id AS household_id,
           h.region_code, '[]'::jsonb AS records,
           jsonb_build_object('whose', 'household', 'phone_masked', {_masked_phone('h.phone')},
                              'length', char_length(h.phone)) AS detail
    FROM households h
    WHERE {in_county('h.region_code')} AND h.status = 'active' AND {given('h')}
    UNION ALL
    SELECT 'person:' || p.id || ':phone', p.id, p.household_id, p.region_code, '[]'::jsonb,
           jsonb_build_object('whose', 'person', 'phone_masked', {_masked_phone('p.phone')},
                              'length', char_length(p.phone))
    FROM persons p
    WHERE {in_county('p.region_code')} AND p.status = 'alive' AND {given('p')}"""
