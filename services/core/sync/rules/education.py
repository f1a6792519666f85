"""Education (教育): students by term (控辍保学), absence from a complete school roster,
aid for students of monitored households (教育帮扶) and the registry's schooling status."""

from __future__ import annotations

from services.core.guarantees.models import Item
from services.core.households.enums import Schooling
from services.core.monitoring.enums import RiskType
from services.core.scope import region_sql
from services.core.sync.enums import Severity, SourceKind
from services.core.sync.rosters import covering_roster_sql, in_force_sql, term_rank_sql
from services.core.sync.rules.base import EDUCATION, NO_SEED, Rule, RuleContext
from services.core.sync.rules.sql import LATEST_TERM, ONE_RECORD, RECORDS, sql_in

IN_SCHOOL = (
    Schooling.primary,
    Schooling.junior_secondary,
    Schooling.senior_secondary,
    Schooling.vocational,
    Schooling.university,
)


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


def _missing_from_school_roster_sql(ctx: RuleContext) -> str:
    # The registry's side: every living child of a registry household in a region with a
    # school roster in force, of compulsory age on 1 September of the roster term's school
    # year, against the records that roster read (any status: a 辍学 record is
    # out_of_school's). A record of a later term in which the child is enrolled (another
    # run, another file) says the child is at school.
    return f"""
    WITH {in_force_sql(SourceKind.education)},
    children AS (
        SELECT p.id AS person_id, p.household_id, p.region_code, p.id_hash, p.schooling::text AS schooling,
               ro.roster_run, ro.roster_period, ro.roster_region, ro.period_rank, ro.file_name,
               date_part('year', age(make_date(ro.period_rank / 2, 9, 1), p.birth_date))::int AS age
        FROM persons p
        JOIN households h ON h.id = p.household_id
        CROSS JOIN {covering_roster_sql("p.region_code")} ro
        WHERE {region_sql("p")}
          AND p.status = 'alive' AND h.status = 'active'
    ), present AS (
        SELECT DISTINCT e.run_id, d.id_hash
        FROM rosters ro
        JOIN sync_roster_entries e ON e.run_id = ro.roster_run
        JOIN dept_records d ON d.source = CAST(:source AS text) AND d.external_key = e.external_key
        WHERE d.record_type = 'student' AND {term_rank_sql("d.data->>'term'")} = ro.period_rank
    )
    SELECT 'person:' || c.person_id || ':' || c.roster_period AS subject, c.person_id, c.household_id,
           c.region_code, '[]'::jsonb AS records,
           jsonb_build_object('term', c.roster_period, 'roster_region', c.roster_region,
                              'roster_file', c.file_name, 'age_on_1_september', c.age,
                              'registry_schooling', c.schooling) AS detail
    FROM children c
    WHERE c.age BETWEEN CAST(:compulsory_age_from AS int) AND CAST(:compulsory_age_to AS int)
      AND NOT EXISTS (SELECT 1 FROM present pr WHERE pr.run_id = c.roster_run AND pr.id_hash = c.id_hash)
      AND NOT EXISTS (SELECT 1 FROM sync_rec s WHERE s.person_id = c.person_id AND s.record_type = 'student'
                      AND s.term_rank > c.period_rank AND s.status = 'enrolled')"""


def _student_without_aid_sql(ctx: RuleContext) -> str | None:
    if not ctx.carries("aid_kind", "aid_amount"):
        return None  # a source that sends no aid says nothing about it
    # The student's latest term, enrolled; every record of that term (a transfer has two)
    # without aid: an amount above zero is aid; with no amount, a named kind of aid is.
    return f"""
    WITH {LATEST_TERM},
    term_records AS (
        SELECT person_id, {RECORDS} AS records,
               bool_or(coalesce(aid_amount > 0, nullif(btrim(aid_kind), '') IS NOT NULL)) AS aided
        FROM (SELECT s.* FROM sync_rec s
              JOIN latest l ON l.person_id = s.person_id AND s.term_rank = l.term_rank
              WHERE s.record_type = 'student') same_term
        GROUP BY person_id
    )
    SELECT 'person:' || l.person_id || ':' || left(l.term, 32) AS subject, l.person_id, l.household_id,
           l.person_region AS region_code, t.records,
           jsonb_build_object('term', l.term, 'school', l.school, 'stage', l.stage, 'category', l.category::text,
                              'open_case', l.open_case) AS detail
    FROM latest l
    JOIN term_records t ON t.person_id = l.person_id
    WHERE l.status = 'enrolled' AND l.person_status = 'alive' AND l.household_status = 'active'
      AND (l.category = 'monitored' OR l.open_case) AND NOT t.aided"""


RULES: tuple[Rule, ...] = (
    Rule(
        id="out_of_school",
        guarantee=Item.education,
        term_zh="控辍保学（义务教育适龄儿童失学辍学）",
        seed="001 §二(一); 003",
        severity=Severity.high,
        kinds=frozenset({EDUCATION}),
        explanation_en="A child of compulsory-education age is out of school in the latest term.",
        explanation_zh="义务教育阶段适龄儿童最近学期为辍学（控辍保学）。",
        build_sql=_out_of_school_sql,
        risk_type=RiskType.out_of_school,
        thresholds=("compulsory_age_from", "compulsory_age_to", "out_of_school_statuses"),
    ),
    Rule(
        id="schooling_differs",
        term_zh="在校状况不一致",
        seed=NO_SEED,
        severity=Severity.medium,
        kinds=frozenset({EDUCATION}),
        explanation_en="The registry's schooling status and the latest term's status disagree.",
        explanation_zh="系统在校状况与教育部门最近学期状态不一致。",
        build_sql=_schooling_differs_sql,
    ),
    Rule(
        id="missing_from_school_roster",
        guarantee=Item.education,
        term_zh="控辍保学（学籍名册中无此适龄儿童）",
        seed="004 §9; 000 一",
        severity=Severity.high,
        kinds=frozenset({EDUCATION}),
        explanation_en="A living child of compulsory-education age of a registry household in the roster's region "
        "is not in the department's complete school roster of the term, nor enrolled in a later "
        "term: possibly out of school.",
        explanation_zh="户籍家庭的义务教育适龄儿童不在教育部门报送的本学期完整学籍名册中，且无以后学期在读记录（疑似失学辍学，控辍保学）。",
        build_sql=_missing_from_school_roster_sql,
        risk_type=RiskType.out_of_school,
        thresholds=("compulsory_age_from", "compulsory_age_to", "roster_refused_share"),
        scoped=True,
    ),
    # A measure missing for a household already monitored, not a new risk: a finding for
    # the cadre and the education office, no clue.
    Rule(
        id="student_without_aid",
        term_zh="教育帮扶（监测户学生纳入教育资助）",
        seed="004 §9",
        severity=Severity.medium,
        kinds=frozenset({EDUCATION}),
        explanation_en="An enrolled student of a monitored household (not yet eliminated) receives no student aid "
        "in the latest term.",
        explanation_zh="未消除风险的监测户在读学生最近学期未享受教育资助（应纳入教育资助范围）。",
        build_sql=_student_without_aid_sql,
    ),
)
