"""Medical insurance (医保): enrolment of the year (应保尽保) and settled claims (大额医疗支出)."""
from __future__ import annotations

from services.core.households.enums import Category
from services.core.monitoring.enums import RiskType
from services.core.sync.enums import Severity
from services.core.sync.rules.base import MEDICAL, Rule, RuleContext
from services.core.sync.rules.sql import RECORDS, sql_in


def _not_insured_sql(ctx: RuleContext) -> str:
    # Every enrolment record of the year says not insured; a record that says the person
    # died (a deceased status or a death date) says something else (dead_elsewhere).
    return f"""
    SELECT 'person:' || person_id || ':' || year AS subject, person_id, min(household_id) AS household_id,
           min(person_region) AS region_code, {RECORDS} AS records,
           jsonb_build_object('year', year, 'insured', bool_or(insured), 'status', min(status),
                              'registry_medical_insurance', bool_or(medical_insurance),
                              'registry_disagrees', bool_or(medical_insurance)) AS detail
    FROM sync_rec
    WHERE record_type = 'enrolment' AND year = CAST(:year AS int) AND person_id IS NOT NULL
      AND person_status = 'alive' AND household_status = 'active'
      AND (category IN {sql_in([Category.lifted_out, Category.monitored])} OR open_case)
    GROUP BY person_id, year
    HAVING bool_and(status IS DISTINCT FROM 'deceased' AND death_date IS NULL
                    AND (insured IS FALSE OR status = 'not_insured'))"""


def _large_medical_cost_sql(ctx: RuleContext) -> str | None:
    if not ctx.policy.large_cost_on():
        return None
    # The current year and the one before (claims of a year keep arriving in January),
    # each against the household's income of the year before it, when that year is
    # complete (four quarters): 上年度家庭总收入 = wages + business + property + transfers.
    return f"""
    WITH claims AS (
        SELECT household_id, year, min(household_region) AS region_code, min(category::text) AS category,
               sum(out_of_pocket) AS oop, count(*) AS n, {RECORDS} AS records,
               jsonb_agg(jsonb_build_object('external_key', external_key, 'settled_on', settled_on::text,
                                            'hospital', hospital, 'total_cost', total_cost::numeric(14, 2)::text,
                                            'out_of_pocket', out_of_pocket::numeric(14, 2)::text)
                         ORDER BY settled_on, external_key) AS claims
        FROM sync_rec
        WHERE record_type = 'claim' AND household_id IS NOT NULL AND household_status = 'active'
          AND year BETWEEN CAST(:year AS int) - 1 AND CAST(:year AS int)
        GROUP BY household_id, year
    ), judged AS (
        SELECT c.*, iy.quarters AS income_quarters,
               (CAST(:large_cost_fixed_yuan AS jsonb) ->> c.category)::numeric AS fixed,
               (CAST(:large_cost_income_share AS jsonb) ->> c.category)::numeric AS share,
               CASE WHEN CAST(:large_cost_income_basis AS text) = 'net' THEN iy.net_income
                    ELSE iy.wages + iy.business + iy.property + iy.transfers END AS income
        FROM claims c
        LEFT JOIN income_years iy ON iy.household_id = c.household_id AND iy.year = c.year - 1
    ), thresholds AS (
        SELECT j.*, CASE WHEN j.income_quarters = 4 THEN j.share * j.income END AS income_threshold
        FROM judged j
    )
    SELECT 'household:' || household_id || ':' || year AS subject, NULL::bigint AS person_id, household_id,
           region_code, records,
           jsonb_build_object(
               'year', year, 'category', category, 'out_of_pocket', oop::numeric(14, 2)::text, 'claim_count', n,
               'claims', claims,
               'thresholds_hit', to_jsonb(array_remove(ARRAY[
                   CASE WHEN oop > fixed THEN 'fixed' END,
                   CASE WHEN oop > income_threshold THEN 'income_share' END], NULL)),
               'fixed_yuan', fixed::numeric(14, 2)::text, 'income_share', share::text,
               'income_basis', CAST(:large_cost_income_basis AS text), 'income_year', year - 1,
               'income_complete', coalesce(income_quarters = 4, false), 'income_quarters', coalesce(income_quarters, 0),
               'income', income::numeric(14, 2)::text,
               'income_threshold', round(income_threshold, 2)::text) AS detail
    FROM thresholds
    WHERE oop > fixed OR oop > income_threshold"""


RULES: tuple[Rule, ...] = (
    # Not being insured is a risk of impoverishment by illness, not an illness: "illness"
    # would label a healthy person as ill (and hide the clue from public notices), so the
    # clue says "other" and the evidence says what it is.
    Rule(id="not_insured", term_zh="应保尽保（未参加基本医疗保险）", seed="001 §二(一); 004 §10", severity=Severity.high,
         kinds=frozenset({MEDICAL}),
         explanation_en="A formerly poor or monitored person is not insured this year (basic medical insurance "
                        "for all).",
         explanation_zh="脱贫人口或监测对象本年度未参加基本医疗保险（应保尽保）。",
         build_sql=_not_insured_sql, risk_type=RiskType.other),
    Rule(id="large_medical_cost", term_zh="大额医疗支出（大病、当年就医自负费用超过上年度家庭总收入）", seed="001 §五.1; 004 §10",
         severity=Severity.high, kinds=frozenset({MEDICAL}),
         explanation_en="The household's out-of-pocket medical costs of a year exceed the warning threshold of its "
                        "category: a fixed amount, or a share of the previous year's household total income.",
         explanation_zh="家庭年度就医自付费用超过预警标准（按户类别设定的固定金额，或上年度家庭总收入的一定比例）。",
         build_sql=_large_medical_cost_sql, risk_type=RiskType.illness, health=True,
         thresholds=("large_cost_fixed_yuan", "large_cost_income_share", "large_cost_income_basis")),
)
