"""Civil affairs (民政): 低保, 特困, 低保边缘, temporary assistance, orphans.

Three rules look at the same households, those of the registry with an active 低保 or 特困
grant to a living member that are not monitored (category ≠ monitored, no open case), and
each such household is found by exactly one of them in a run:

* ``assistance_granted_not_monitored``: a grant started within ``new_grant_months``: a clue
  whatever the income (民政部门认定的低保、特困人员 are among the groups to check first);
* ``assistance_not_monitored`` (应纳未纳): every grant is older, and the income of the last
  twelve months (``income_rolling``) is complete and below the line: a clue;
* ``assistance_income_unknown``: every grant is older, and the twelve months are incomplete
  (or there is no line): a finding that says so, with no clue (an unknown income is not a
  low one).

Both clues carry the risk type ``income_below_line`` (a 低保/特困 grant is the department's
own means test saying the income is low), so a later clue of the same household merges.
"""

from __future__ import annotations

from services.core.households.enums import Category, LabourCapacity
from services.core.monitoring.enums import RiskType
from services.core.scope import region_sql
from services.core.sync.enums import Severity
from services.core.sync.rules.base import CIVIL, MEDICAL, NO_SEED, Rule, RuleContext
from services.core.sync.rules.sql import ACTIVE_ASSISTANCE_SQL, RECORDS, quarter_label, sql_in

# How a stop reason (停保原因, 注销原因) says the person died, when no death date comes.
DEATH_WORDS = ("死亡", "亡故", "去世", "身故", "已故", "病故", "逝世", "过世")
NO_LABOUR = (LabourCapacity.lost, LabourCapacity.none)


def _dead_elsewhere_sql(ctx: RuleContext) -> str | None:
    if ctx.kind == CIVIL:
        words = "|".join(DEATH_WORDS)
        says, what = f"(death_date IS NOT NULL OR stop_reason ~ '{words}')", "stop_reason"
    elif ctx.kind == MEDICAL:
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


# Households of the registry with an active 低保 or 特困 grant to a living member, not
# monitored; ``new_grant``: one of the grants started within ``new_grant_months``.
_ASSISTED = f"""assisted AS (
    SELECT household_id, min(household_region) AS region_code, {RECORDS} AS records,
           jsonb_agg(DISTINCT benefit) AS benefits, min(start_date) AS since, max(start_date) AS latest_start,
           coalesce(bool_or(start_date > (CAST(:today AS date)
                                          - make_interval(months => CAST(:new_grant_months AS int)))::date), false)
               AS new_grant
    FROM sync_rec
    WHERE household_id IS NOT NULL AND household_status = 'active' AND person_status = 'alive'
      AND category <> 'monitored' AND NOT open_case AND {ACTIVE_ASSISTANCE_SQL}
    GROUP BY household_id)"""


def _granted_not_monitored_sql(ctx: RuleContext) -> str:
    return f"""
    WITH {_ASSISTED}
    SELECT 'household:' || household_id AS subject, NULL::bigint AS person_id, household_id, region_code, records,
           jsonb_build_object('benefits', benefits, 'granted_on', latest_start::text,
                              'new_grant_months', CAST(:new_grant_months AS int)) AS detail
    FROM assisted
    WHERE new_grant"""


def _income_sql(judged: str) -> str:
    """Households with older grants only, their income of the twelve months up to today's
    quarter and the line they are held to (this year's, else the latest earlier one);
    ``judged``: which of them (a condition on ``i`` and ``l``)."""
    period = (
        f"CASE WHEN i.quarters IS NOT NULL THEN {quarter_label('i.first_q')} || '–' || {quarter_label('i.last_q')} END"
    )
    return f"""
    WITH {_ASSISTED}
    SELECT 'household:' || a.household_id AS subject, NULL::bigint AS person_id, a.household_id, a.region_code,
           a.records,
           jsonb_build_object('benefits', a.benefits, 'assisted_since', a.since::text,
                              'income_complete', coalesce(i.quarters = 4, false), 'quarters', coalesce(i.quarters, 0),
                              'period', {period}, 'net_income', i.net_income::text, 'member_count', i.member_count,
                              'per_capita_net', i.per_capita_net::text,
                              'line', l.amount::text, 'line_year', l.year,
                              'line_of_current_year', l.year = CAST(:year AS int)) AS detail
    FROM assisted a
    LEFT JOIN LATERAL income_rolling(a.household_id, CAST(:upto AS int)) i ON true
    LEFT JOIN LATERAL (
        SELECT year, amount FROM income_lines
        WHERE province_code = left(a.region_code, 2) AND year <= CAST(:year AS int)
        ORDER BY year DESC LIMIT 1) l ON true
    WHERE NOT a.new_grant AND ({judged})"""


def _not_monitored_sql(ctx: RuleContext) -> str:
    return _income_sql("i.quarters = 4 AND i.per_capita_net < l.amount")


def _income_unknown_sql(ctx: RuleContext) -> str:
    return _income_sql("i.quarters IS NULL OR i.quarters < 4 OR i.per_capita_net IS NULL OR l.amount IS NULL")


def _no_labour_no_assistance_sql(ctx: RuleContext) -> str:
    # Every formerly poor or monitored household of the county, not only those the source
    # names: a household the civil-affairs records leave out receives nothing.
    # A grant counts if its holder is alive in the registry: a stale record of a member who
    # died is no assistance to the living (as for the three 低保/特困 rules).
    return f"""
    WITH households_without_labour AS (
        SELECT p.household_id, min(h.region_code) AS region_code, count(*) AS members,
               jsonb_agg(p.labour_capacity ORDER BY p.id) AS labour
        FROM persons p
        JOIN households h ON h.id = p.household_id
        WHERE {region_sql("h")}
          AND h.status = 'active' AND h.category IN {sql_in([Category.lifted_out, Category.monitored])}
          AND p.status = 'alive'
        GROUP BY p.household_id
        HAVING bool_and(p.labour_capacity IN {sql_in(NO_LABOUR)})
    )
    SELECT 'household:' || w.household_id AS subject, NULL::bigint AS person_id, w.household_id, w.region_code,
           '[]'::jsonb AS records,
           jsonb_build_object('living_members', w.members, 'labour_capacity', w.labour) AS detail
    FROM households_without_labour w
    WHERE NOT EXISTS (SELECT 1 FROM sync_rec r
                      WHERE r.household_id = w.household_id AND r.person_status = 'alive' AND {ACTIVE_ASSISTANCE_SQL})"""


def _household_size_differs_sql(ctx: RuleContext) -> str:
    # Only current records say how big the household is now (a grant stopped years ago
    # counted the household of then).
    return f"""
    WITH sizes AS (
        SELECT household_id, min(household_region) AS region_code, {RECORDS} AS records,
               array_agg(DISTINCT household_size ORDER BY household_size) AS sizes
        FROM sync_rec
        WHERE household_id IS NOT NULL AND household_status = 'active' AND household_size IS NOT NULL
          AND coalesce(status, 'active') = 'active' AND (end_date IS NULL OR end_date >= CAST(:today AS date))
        GROUP BY household_id
    ), living AS (
        SELECT p.household_id, count(*) AS members
        FROM persons p JOIN sizes s ON s.household_id = p.household_id
        WHERE p.status = 'alive'
        GROUP BY p.household_id
    )
    SELECT 'household:' || s.household_id AS subject, NULL::bigint AS person_id, s.household_id, s.region_code,
           s.records,
           jsonb_build_object('department_sizes', to_jsonb(s.sizes),
                              'registry_living_members', coalesce(l.members, 0)) AS detail
    FROM sizes s
    LEFT JOIN living l ON l.household_id = s.household_id
    WHERE NOT (coalesce(l.members, 0) = ALL(s.sizes))"""


RULES: tuple[Rule, ...] = (
    Rule(
        id="dead_elsewhere",
        term_zh="部门记录已死亡（死亡、亡故、去世、身故）",
        seed="001 §二(二) (部门信息比对); deaths as stop reasons (停保/注销原因)",
        severity=Severity.high,
        kinds=frozenset({CIVIL, MEDICAL}),
        explanation_en="The department records the person as dead (a death date, a stop reason such as 死亡 or "
        "去世, or a deceased status); the registry has them alive.",
        explanation_zh="部门记录该人员已死亡（死亡日期、停保/注销原因为死亡、亡故、去世、身故等），系统中仍为健在。",
        build_sql=_dead_elsewhere_sql,
    ),
    Rule(
        id="assistance_granted_not_monitored",
        term_zh="新纳入低保、特困未纳入监测",
        seed="002 §二(一) (低保 given instead of monitoring); 002 §三(四)",
        severity=Severity.high,
        kinds=frozenset({CIVIL}),
        explanation_en="The household was newly granted 低保 or 特困 (minimum living allowance or support for "
        "the destitute) and is not monitored: to be verified whatever its income.",
        explanation_zh="新纳入低保或特困供养，但未纳入防止返贫监测，需核实（不论收入）。",
        build_sql=_granted_not_monitored_sql,
        risk_type=RiskType.income_below_line,
        thresholds=("new_grant_months",),
    ),
    # Poor by the department's own means test and below our line over a complete year, yet
    # not monitored: the same 应纳未纳 risk the monitoring rule raises.
    Rule(
        id="assistance_not_monitored",
        term_zh="应纳未纳（低保、特困）",
        seed="002 §二(一); 004 §17",
        severity=Severity.high,
        kinds=frozenset({CIVIL}),
        explanation_en="The household receives 低保 or 特困, its per-capita net income over the last twelve "
        "months is below the monitoring line, and it is not monitored.",
        explanation_zh="享受低保或特困供养、近12个月人均纯收入低于监测标准，但未纳入监测（应纳未纳）。",
        build_sql=_not_monitored_sql,
        risk_type=RiskType.income_below_line,
        thresholds=("new_grant_months",),
    ),
    Rule(
        id="assistance_income_unknown",
        term_zh="低保、特困户收入不全（应纳未纳待核）",
        seed="income over twelve months (docs/README.md): an incomplete year is unknown",
        severity=Severity.medium,
        kinds=frozenset({CIVIL}),
        explanation_en="The household receives 低保 or 特困 and is not monitored, but its income over the last "
        "twelve months is incomplete (or there is no line): it cannot be judged until it is "
        "collected.",
        explanation_zh="享受低保或特困供养且未纳入监测，但近12个月收入记录不全（或无监测标准），无法判断是否应纳未纳，需补录收入。",
        build_sql=_income_unknown_sql,
        thresholds=("new_grant_months",),
    ),
    Rule(
        id="no_labour_no_assistance",
        term_zh="无劳动能力未享受低保、特困",
        seed=NO_SEED,
        severity=Severity.medium,
        kinds=frozenset({CIVIL}),
        explanation_en="Nobody in the formerly poor or monitored household can work, yet nobody receives 低保 or 特困.",
        explanation_zh="脱贫户或监测户家庭成员均无劳动能力，但无人享受低保或特困供养。",
        build_sql=_no_labour_no_assistance_sql,
        scoped=True,
    ),
    Rule(
        id="household_size_differs",
        term_zh="家庭人口数不一致",
        seed="001 §二(二) (部门信息比对: data that disagree)",
        severity=Severity.medium,
        kinds=frozenset({CIVIL}),
        explanation_en="The household size on the department's current records differs from the registry's "
        "number of living members.",
        explanation_zh="民政部门登记的家庭人口数与系统健在家庭成员数不一致。",
        build_sql=_household_size_differs_sql,
    ),
)
