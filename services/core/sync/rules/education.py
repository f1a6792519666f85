"""Education (教育): students by term (控辍保学) and the registry's schooling status."""
from __future__ import annotations

from services.core.households.enums import Schooling
from services.core.monitoring.enums import RiskType
from services.core.sync.enums import Severity
from services.core.sync.rules.base import EDUCATION, Rule, RuleContext
from services.core.sync.rules.sql import LATEST_TERM, ONE_RECORD, sql_in

IN_SCHOOL = (Schooling.primary, Schooling.junior_secondary, Schooling.senior_secondary, Schooling.vocational,
             Schooling.university)


def _out_of_school_sql(ctx: RuleContext) -> str:
    # The latest term only: a child who dropped out and came back, moved school (a
    # transfer's two records: the enrolled one wins) or graduated is not out of school.
    return f"""
    WITH {LATEST_TERM}
    SELECT 'person:' || person_id || ':' || left(term, 32) AS subject, person_id, household_id,
           person_region AS region_code, {ONE_RECORD} AS records,
           jsonb_build_object('term', term, 'school', school, 'stage', stage, 'status', status,
                              'age_on_1_september', age) AS detail
    FROM latest
    WHERE person_status = 'alive' AND status = ANY(CAST(:out_of_school_statuses AS text[]))
      AND age BETWEEN CAST(:compulsory_age_from AS int) AND CAST(:compulsory_age_to AS int)"""


def _schooling_differs_sql(ctx: RuleContext) -> str:
    return f"""
    WITH {LATEST_TERM}
    SELECT 'person:' || person_id AS subject, person_id, household_id, person_region AS region_code,
           {ONE_RECORD} AS records,
           jsonb_build_object('registry_schooling', schooling, 'term', term, 'department_status', status) AS detail
    FROM latest
    WHERE person_status = 'alive'
      AND ((schooling IN {sql_in(IN_SCHOOL)} AND status = 'dropped_out')
           OR (schooling = 'dropped_out' AND status = 'enrolled'))"""


RULES: tuple[Rule, ...] = (
    Rule(id="out_of_school", term_zh="控辍保学（义务教育适龄儿童失学辍学）", seed="001 §二(一); 003", severity=Severity.high,
         kinds=frozenset({EDUCATION}),
         explanation_en="A child of compulsory-education age is out of school in the latest term.",
         explanation_zh="义务教育阶段适龄儿童最近学期为辍学（控辍保学）。",
         build_sql=_out_of_school_sql, risk_type=RiskType.out_of_school,
         thresholds=("compulsory_age_from", "compulsory_age_to", "out_of_school_statuses")),
    Rule(id="schooling_differs", term_zh="在校状况不一致", seed="provincial data-quality check", severity=Severity.medium,
         kinds=frozenset({EDUCATION}),
         explanation_en="The registry's schooling status and the latest term's status disagree.",
         explanation_zh="系统在校状况与教育部门最近学期状态不一致。",
         build_sql=_schooling_differs_sql),
)
