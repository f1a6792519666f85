"""Rules on the registry alone (provincial data-quality checks, docs/domain.md "Department
cross-checking"; docs/registry-rules.md): no department record is involved, so
no source's reconciliation runs them. The registry check (``registry_check``) runs
``RULES`` for one county under the pseudo-source ``registry``, through the same candidate,
merge and resolve machinery; their findings have ``records: []``.

Each SELECT reads the registry's tables directly (not ``sync_rec``), limited to the county
``:county`` by ``scope.region_sql``'s bounds (``:region_lo``/``:region_hi``: the county's,
``scope.region_params``; every rule here is ``scoped``, so it runs through ``scope.scoped_text``,
which refuses SQL without them), and returns the usual columns (``rules.sql``). Bind parameters:
the bounds, ``:county``, ``:today``, ``:upto`` (the quarter index of today) and the ``SyncPolicy``
fields by name. A rule's ``kinds`` is empty: ``rules_for(kind)`` never picks it.

What the schema rules out is not checked again: an ID number is one person (``persons.id_hash``
is unique), a person belongs to one household (``persons.household_id``) and a household
has at most one open case (``uq_monitoring_cases_open_household``); so "the same ID number
monitored twice" can only arise through a membership left open in a second household
(``monitored_twice``).
"""

from __future__ import annotations

from services.core.households.enums import Category, Employment, PersonStatus, Relation
from services.core.monitoring.enums import FINAL, MeasureCategory, MeasureStatus, RiskType
from services.core.scope import region_sql
from services.core.sync.enums import Severity
from services.core.sync.rules.base import NO_SEED, Rule, RuleContext
from services.core.sync.rules.sql import quarter_label, sql_in
from services.core.types import MOBILE_PATTERN

NO_KIND: frozenset = frozenset()  # run by the registry check, never by a source's reconciliation
OPEN_CASE = f"status NOT IN {sql_in(sorted(FINAL))}"
# Measures that stand in for medical insurance (综合保障, 社会帮扶 or 健康帮扶); a stopped
# measure protects no one.
PROTECTING_MEASURES = (MeasureCategory.health, MeasureCategory.social_protection, MeasureCategory.social_assistance)
ALIVE = PersonStatus.alive


def _illness_without_cost_sql(ctx: RuleContext) -> str:
    # The twelve months are income_rolling's: the four quarters ending with the latest
    # recorded one (on or before this quarter). No income, or an incomplete year, is not
    # judged: a quarter never collected is an unknown, not a zero.
    return f"""
    SELECT 'case:' || c.id AS subject, NULL::bigint AS person_id, c.household_id, c.region_code,
           '[]'::jsonb AS records,
           jsonb_build_object('case_id', c.id, 'risk_types', to_jsonb(c.risk_types), 'quarters', w.quarters,
                              'period', {quarter_label("w.first_q")} || '–' || {quarter_label("w.last_q")},
                              'eligible_spending', s.spending::numeric(14, 2)::text) AS detail
    FROM monitoring_cases c
    JOIN households h ON h.id = c.household_id AND h.status = 'active'
    CROSS JOIN LATERAL income_rolling(c.household_id, CAST(:upto AS int)) w
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(r.eligible_spending), 0) AS spending
        FROM income_records r
        WHERE r.household_id = c.household_id AND r.year * 4 + r.quarter - 1 BETWEEN w.first_q AND w.last_q) s
    WHERE {region_sql("c")} AND c.{OPEN_CASE} AND '{RiskType.illness}' = ANY(c.risk_types)
      AND w.quarters = 4 AND s.spending = 0"""


def _uninsured_without_measure_sql(ctx: RuleContext) -> str:
    # Monitored households: an open case, or the category (a 监测户 without a case has no
    # measures at all).
    return f"""
    WITH monitored AS (
        SELECT h.id AS household_id, h.category, c.id AS case_id
        FROM households h
        LEFT JOIN monitoring_cases c ON c.household_id = h.id AND c.{OPEN_CASE}
        WHERE {region_sql("h")} AND h.status = 'active'
          AND (c.id IS NOT NULL OR h.category = '{Category.monitored}')
    )
    SELECT 'person:' || p.id AS subject, p.id AS person_id, t.household_id, p.region_code, '[]'::jsonb AS records,
           jsonb_build_object('medical_insurance', p.medical_insurance, 'case_id', t.case_id,
                              'household_category', t.category,
                              'measure_categories', coalesce(m.categories, '[]'::jsonb)) AS detail
    FROM monitored t
    JOIN persons p ON p.household_id = t.household_id AND p.status = '{ALIVE}' AND NOT p.medical_insurance
    LEFT JOIN LATERAL (
        SELECT jsonb_agg(DISTINCT a.category) AS categories,
               bool_or(a.category IN {sql_in(PROTECTING_MEASURES)}) AS protected
        FROM assistance_measures a
        WHERE a.case_id = t.case_id AND a.status <> '{MeasureStatus.stopped}') m ON true
    WHERE NOT coalesce(m.protected, false)"""


def _child_employed_sql(ctx: RuleContext) -> str:
    # Employment records: an employment kind, or months or income of work (zeros are none).
    return f"""
    SELECT 'person:' || p.id AS subject, p.id AS person_id, p.household_id, p.region_code, '[]'::jsonb AS records,
           jsonb_build_object('age', a.age, 'age_limit', CAST(:child_employment_age AS int),
                              'employment', p.employment, 'employment_months', p.employment_months,
                              'employment_income', p.employment_income::numeric(14, 2)::text) AS detail
    FROM persons p
    JOIN households h ON h.id = p.household_id AND h.status = 'active'
    CROSS JOIN LATERAL (SELECT date_part('year', age(CAST(:today AS date), p.birth_date))::int AS age) a
    WHERE {region_sql("p")} AND p.status = '{ALIVE}' AND a.age < CAST(:child_employment_age AS int)
      AND (p.employment <> '{Employment.none}' OR p.employment_months > 0 OR p.employment_income > 0)"""


def _monitored_twice_sql(ctx: RuleContext) -> str:
    # A person's households: the one they belong to, and any whose membership never ended.
    return f"""
    WITH people AS (
        SELECT id, household_id FROM persons WHERE {region_sql()} AND status = '{ALIVE}'
    ), placed AS (
        SELECT id AS person_id, household_id FROM people WHERE household_id IS NOT NULL
        UNION
        SELECT m.person_id, m.household_id
        FROM memberships m JOIN people ON people.id = m.person_id
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


def _head_spouse_same_sex_sql(ctx: RuleContext) -> str:
    # One finding per household, however many heads and spouses it (wrongly) has.
    return f"""
    SELECT 'household:' || h.id AS subject, NULL::bigint AS person_id, h.id AS household_id,
           min(h.region_code) AS region_code, '[]'::jsonb AS records,
           jsonb_build_object('sex', min(hd.sex), 'head_person_ids', jsonb_agg(DISTINCT hd.id),
                              'spouse_person_ids', jsonb_agg(DISTINCT sp.id)) AS detail
    FROM households h
    JOIN persons hd ON hd.household_id = h.id AND hd.relation = '{Relation.head}' AND hd.status = '{ALIVE}'
    JOIN persons sp ON sp.household_id = h.id AND sp.relation = '{Relation.spouse}' AND sp.status = '{ALIVE}'
                   AND sp.sex = hd.sex
    WHERE {region_sql("h")} AND h.status = 'active'
    GROUP BY h.id"""


def _masked_phone(column: str) -> str:
    """The first three and the last two characters, the rest starred (a short value all)."""
    return (
        f"CASE WHEN char_length({column}) > 5 THEN left({column}, 3) || repeat('*', char_length({column}) - 5) "
        f"|| right({column}, 2) ELSE repeat('*', char_length({column})) END"
    )


def _phone_invalid_sql(ctx: RuleContext) -> str:
    # Mobile numbers only, as the API accepts them (services.core.types.MOBILE_PATTERN): a
    # landline, a number with spaces or a country code is a finding. Blank is no number.
    def invalid(alias: str) -> str:
        return f"nullif(btrim({alias}.phone), '') IS NOT NULL AND {alias}.phone !~ '{MOBILE_PATTERN}'"

    return f"""
    SELECT 'phone:household:' || h.id AS subject, NULL::bigint AS person_id, h.id AS household_id,
           h.region_code, '[]'::jsonb AS records,
           jsonb_build_object('whose', 'household', 'phone_masked', {_masked_phone("h.phone")},
                              'length', char_length(h.phone)) AS detail
    FROM households h
    WHERE {region_sql("h")} AND h.status = 'active' AND {invalid("h")}
    UNION ALL
    SELECT 'phone:person:' || p.id, p.id, p.household_id, p.region_code, '[]'::jsonb,
           jsonb_build_object('whose', 'person', 'phone_masked', {_masked_phone("p.phone")},
                              'length', char_length(p.phone))
    FROM persons p
    WHERE {region_sql("p")} AND p.status = '{ALIVE}' AND {invalid("p")}"""


RULES: tuple[Rule, ...] = (
    Rule(
        id="illness_without_cost",
        term_zh="因病无合规自付支出",
        seed=NO_SEED,
        severity=Severity.medium,
        kinds=NO_KIND,
        explanation_en='An open monitoring case has the risk "illness", yet the household\'s income ledger '
        "shows no eligible out-of-pocket spending (合规自付支出) over the last twelve months.",
        explanation_zh="监测对象风险类型为因病，但近12个月收入台账中合规自付支出为零。",
        build_sql=_illness_without_cost_sql,
        health=True,
        scoped=True,
    ),
    Rule(
        id="uninsured_without_measure",
        term_zh="未参保且无健康或综合保障措施",
        seed=f"{NO_SEED}; 004 §10 (应保尽保)",
        severity=Severity.high,
        kinds=NO_KIND,
        explanation_en="A living member of a monitored household has no basic medical insurance, and the case "
        "has no health, social protection or social assistance measure.",
        explanation_zh="监测户家庭成员未参加基本医疗保险，且未落实健康帮扶、综合保障或社会帮扶措施。",
        build_sql=_uninsured_without_measure_sql,
        scoped=True,
    ),
    Rule(
        id="child_employed",
        term_zh="未满16周岁有务工记录",
        seed=NO_SEED,
        severity=Severity.medium,
        kinds=NO_KIND,
        explanation_en="A child under the working age (16 by default) has employment records (an employment "
        "kind, months or income of work).",
        explanation_zh="未满法定劳动年龄（默认16周岁）的儿童有务工就业记录（就业情况、务工月数或务工收入）。",
        build_sql=_child_employed_sql,
        thresholds=("child_employment_age",),
        scoped=True,
    ),
    Rule(
        id="monitored_twice",
        term_zh="同一身份证号重复监测",
        seed=NO_SEED,
        severity=Severity.medium,
        kinds=NO_KIND,
        explanation_en="The same person (ID number) is in two open monitoring cases, through a membership of "
        "another household that was never ended.",
        explanation_zh="同一人员（身份证号）因另一户的家庭成员关系未终止，同时在两个未结束的监测对象中。",
        build_sql=_monitored_twice_sql,
        scoped=True,
    ),
    Rule(
        id="head_spouse_same_sex",
        term_zh="户主与配偶性别相同",
        seed=NO_SEED,
        severity=Severity.low,
        kinds=NO_KIND,
        explanation_en="The household head and the spouse have the same sex (a relation or the sex is recorded "
        "wrongly).",
        explanation_zh="户主与配偶性别相同（与户主关系或性别登记有误）。",
        build_sql=_head_spouse_same_sex_sql,
        scoped=True,
    ),
    Rule(
        id="phone_invalid",
        term_zh="联系电话格式错误",
        seed=NO_SEED,
        severity=Severity.low,
        kinds=NO_KIND,
        explanation_en="A household's or person's phone number is not a mobile number (1, then 3 to 9, then "
        "nine digits).",
        explanation_zh="户或成员的联系电话不是有效的手机号码（1开头、第二位3至9、共11位）。",
        build_sql=_phone_invalid_sql,
        scoped=True,
    ),
)
assert all(not r.kinds and r.risk_type is None for r in RULES), "registry rules belong to no source, raise no clue"
assert all(r.scoped for r in RULES), "registry rules read the registry of the county: scoped"
