"""Medical insurance (医保): enrolment of the year (应保尽保), absence from a complete
enrolment roster, family doctor contracts (签约一人、做实一人) and settled claims (大额医疗支出)."""

from __future__ import annotations

from services.core.guarantees.models import Item
from services.core.households.enums import Category
from services.core.monitoring.enums import FINAL, RiskType
from services.core.scope import region_sql
from services.core.sync.enums import KeyGroup, Severity, SourceKind
from services.core.sync.rosters import covering_roster_sql, in_force_sql
from services.core.sync.rules.base import MEDICAL, Rule, RuleContext
from services.core.sync.rules.sql import ACTIVE_BENEFITS, ONE_RECORD, RECORDS, sql_in

# Households with a case not closed (the same reading as ``sync_rec.open_case``).
OPEN_CASE_SQL = (
    f"EXISTS (SELECT 1 FROM monitoring_cases mc WHERE mc.household_id = h.id "
    f"AND mc.status NOT IN {sql_in(sorted(FINAL))})"
)


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


def _missing_from_insurance_roster_sql(ctx: RuleContext) -> str:
    # The registry's side: every living formerly poor or monitored person of a region with a
    # roster in force, against the records that roster read (docs/rosters.md). A record of
    # the roster's year in any state counts as present: a not-insured or deceased one is
    # judged by not_insured or dead_elsewhere.
    return f"""
    WITH {in_force_sql(SourceKind.medical_insurance)},
    targets AS (
        SELECT p.id AS person_id, p.household_id, p.region_code, p.id_hash, h.category::text AS category,
               {OPEN_CASE_SQL} AS open_case, ro.roster_run, ro.roster_period, ro.roster_region, ro.period_rank,
               ro.file_name
        FROM persons p
        JOIN households h ON h.id = p.household_id
        CROSS JOIN {covering_roster_sql("p.region_code")} ro
        WHERE {region_sql("p")}
          AND p.status = 'alive' AND h.status = 'active'
          AND (h.category IN {sql_in([Category.lifted_out, Category.monitored])} OR {OPEN_CASE_SQL})
    ), present AS (
        SELECT DISTINCT e.run_id, d.id_hash
        FROM rosters ro
        JOIN sync_roster_entries e ON e.run_id = ro.roster_run
        JOIN dept_records d ON d.source = CAST(:source AS text) AND d.external_key = e.external_key
        WHERE d.record_type = 'enrolment' AND (d.data->>'year')::int = ro.period_rank
    )
    SELECT 'person:' || t.person_id || ':' || t.roster_period AS subject, t.person_id, t.household_id,
           t.region_code, '[]'::jsonb AS records,
           jsonb_build_object('year', t.period_rank, 'roster_region', t.roster_region,
                              'roster_file', t.file_name, 'category', t.category, 'open_case', t.open_case) AS detail
    FROM targets t
    WHERE NOT EXISTS (SELECT 1 FROM present pr WHERE pr.run_id = t.roster_run AND pr.id_hash = t.id_hash)"""


def _no_family_doctor_sql(ctx: RuleContext) -> str | None:
    if not ctx.carries("family_doctor") or not ctx.policy.family_doctor_groups:
        return None
    groups = "CAST(:family_doctor_groups AS text[])"
    # The person's latest enrolment record decides; one that does not say (the source sent
    # no value) judges nothing. 低保/特困: the registry's flag, or an active grant any
    # civil-affairs source of the county sent for the household.
    return f"""
    WITH latest AS (
        SELECT DISTINCT ON (person_id) *
        FROM sync_rec
        WHERE record_type = 'enrolment' AND person_id IS NOT NULL AND year IS NOT NULL
        ORDER BY person_id, year DESC, external_key DESC
    ), granted AS (
        SELECT gp.household_id, array_agg(DISTINCT d.data->>'benefit') AS benefits
        FROM dept_records d
        JOIN persons gp ON gp.id_hash = d.id_hash
        WHERE d.county = CAST(:county AS text) AND d.record_type = 'assistance'
          AND d.data->>'benefit' IN {sql_in(ACTIVE_BENEFITS)} AND coalesce(d.data->>'status', 'active') = 'active'
          AND (d.data->>'start_date' IS NULL OR (d.data->>'start_date')::date <= CAST(:today AS date))
          AND (d.data->>'end_date' IS NULL OR (d.data->>'end_date')::date >= CAST(:today AS date))
        GROUP BY gp.household_id
    ), judged AS (
        SELECT l.*, array_remove(ARRAY[
            CASE WHEN ('dibao' = ANY(h.flags) OR 'dibao' = ANY(g.benefits)) THEN '{KeyGroup.dibao}' END,
            CASE WHEN ('tekun' = ANY(h.flags) OR 'tekun' = ANY(g.benefits)) THEN '{KeyGroup.tekun}' END,
            CASE WHEN l.category = 'monitored' OR l.open_case THEN '{KeyGroup.monitored}' END,
            CASE WHEN l.category = 'lifted_out' THEN '{KeyGroup.lifted_out}' END], NULL) AS groups
        FROM latest l
        JOIN households h ON h.id = l.household_id
        LEFT JOIN granted g ON g.household_id = l.household_id
        WHERE l.family_doctor IS FALSE AND l.person_status = 'alive' AND l.household_status = 'active'
    )
    SELECT 'person:' || person_id AS subject, person_id, household_id, person_region AS region_code,
           {ONE_RECORD} AS records,
           jsonb_build_object('year', year, 'family_doctor', false,
                              'groups', to_jsonb(ARRAY(SELECT unnest(groups) INTERSECT SELECT unnest({groups})
                                                       ORDER BY 1))) AS detail
    FROM judged
    WHERE groups && {groups}"""


RULES: tuple[Rule, ...] = (
    # Not being insured is a risk of impoverishment by illness, not an illness: "illness"
    # would label a healthy person as ill (and hide the clue from public notices), so the
    # clue says "other" and the evidence says what it is.
    Rule(
        id="not_insured",
        guarantee=Item.medical,
        term_zh="应保尽保（未参加基本医疗保险）",
        seed="001 §二(一); 004 §10",
        severity=Severity.high,
        kinds=frozenset({MEDICAL}),
        explanation_en="A formerly poor or monitored person is not insured this year (basic medical insurance "
        "for all).",
        explanation_zh="脱贫人口或监测对象本年度未参加基本医疗保险（应保尽保）。",
        build_sql=_not_insured_sql,
        risk_type=RiskType.other,
    ),
    Rule(
        id="large_medical_cost",
        term_zh="大额医疗支出（大病、当年就医自负费用超过上年度家庭总收入）",
        seed="001 §五.1; 004 §10",
        severity=Severity.high,
        kinds=frozenset({MEDICAL}),
        explanation_en="The household's out-of-pocket medical costs of a year exceed the warning threshold of its "
        "category: a fixed amount, or a share of the previous year's household total income.",
        explanation_zh="家庭年度就医自付费用超过预警标准（按户类别设定的固定金额，或上年度家庭总收入的一定比例）。",
        build_sql=_large_medical_cost_sql,
        risk_type=RiskType.illness,
        health=True,
        thresholds=("large_cost_fixed_yuan", "large_cost_income_share", "large_cost_income_basis"),
    ),
    # Absent from the year's declared enrolment roster: uninsured as far as the department
    # knows (应保尽保 broken), the same risk as not_insured, so the same clue type.
    Rule(
        id="missing_from_insurance_roster",
        guarantee=Item.medical,
        term_zh="应保尽保（参保名册中无此人）",
        seed="004 §10; 000 三",
        severity=Severity.high,
        kinds=frozenset({MEDICAL}),
        explanation_en="A living formerly poor or monitored person of the roster's region is not in the "
        "department's complete enrolment roster of the year: not insured as far as the department "
        "knows.",
        explanation_zh="脱贫人口或监测对象不在医保部门报送的本年度完整参保名册中（疑似未参保，应保尽保）。",
        build_sql=_missing_from_insurance_roster_sql,
        risk_type=RiskType.other,
        thresholds=("roster_refused_share",),
        scoped=True,
    ),
    # A service gap, not a new risk: a finding for the health office, no clue.
    Rule(
        id="no_family_doctor",
        term_zh="家庭医生签约（签约一人、做实一人）",
        seed="004 §10; 000 三",
        severity=Severity.low,
        kinds=frozenset({MEDICAL}),
        explanation_en="A member of a key group (低保, 特困, monitored or formerly poor household, as the policy "
        "lists) has no family doctor contract in the latest enrolment record.",
        explanation_zh="家庭医生签约服务重点人群（低保、特困、监测对象、脱贫人口，按政策设定）最近参保记录显示未签约家庭医生。",
        build_sql=_no_family_doctor_sql,
        thresholds=("family_doctor_groups",),
    ),
)
