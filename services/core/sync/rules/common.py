"""Rules of any source kind: the name differs, the ID number is unknown, a record
contradicts itself."""

from __future__ import annotations

from services.core.sync.enums import SchoolStage, Severity, SourceKind
from services.core.sync.rules.base import ANY_KIND, CIVIL, EDUCATION, MEDICAL, NO_SEED, Rule, RuleContext
from services.core.sync.rules.sql import ONE_RECORD, RECORDS, SCHOOL_START, norm, sql_in

COMPULSORY_STAGES = (SchoolStage.primary, SchoolStage.junior_secondary)


def _name_mismatch_sql(ctx: RuleContext) -> str:
    # The plain inequality first: equal names (nearly all) skip the normalisation. A
    # department that sends no name (or only separators) disagrees with nothing.
    return f"""
    SELECT 'person:' || person_id AS subject, person_id, min(household_id) AS household_id,
           min(person_region) AS region_code, {RECORDS} AS records,
           jsonb_build_object('registry_name', min(person_name), 'department_names', jsonb_agg(DISTINCT dept_name)) AS detail
    FROM sync_rec
    WHERE person_id IS NOT NULL AND dept_name <> person_name
      AND {norm("dept_name")} <> '' AND {norm("dept_name")} <> {norm("person_name")}
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


def _record_inconsistent_sql(ctx: RuleContext) -> str | None:
    if ctx.kind == SourceKind.civil_affairs:
        checks = [
            ("end_before_start", "end_date < start_date"),
            ("dibao_class_not_dibao", "dibao_class IS NOT NULL AND benefit IS DISTINCT FROM 'dibao'"),
            ("active_after_death", "status = 'active' AND death_date IS NOT NULL"),
            ("negative_amount", "amount < 0"),
        ]
        fields = (
            "'benefit', benefit, 'dibao_class', dibao_class, 'start_date', start_date::text, "
            "'end_date', end_date::text, 'status', status, 'death_date', death_date::text, 'amount', amount::text"
        )
    elif ctx.kind == SourceKind.medical_insurance:
        checks = [
            ("out_of_pocket_above_total", "out_of_pocket > total_cost"),
            ("negative_amount", "total_cost < 0 OR out_of_pocket < 0"),
            (
                "insured_status_conflict",
                "(insured IS TRUE AND status IN ('not_insured', 'deceased')) OR (insured IS FALSE AND status = 'normal')",
            ),
        ]
        fields = (
            "'year', year, 'insured', insured, 'status', status, 'total_cost', total_cost::text, "
            "'out_of_pocket', out_of_pocket::text"
        )
    elif ctx.kind == SourceKind.education:
        # The age on 1 September of the term's school year (today's age for a term not understood).
        age = f"date_part('year', age(coalesce({SCHOOL_START}, CAST(:today AS date)), birth_date))::int"
        checks = [
            (
                "compulsory_stage_over_age",
                f"stage IN {sql_in(COMPULSORY_STAGES)} AND {age} > CAST(:compulsory_stage_max_age AS int)",
            ),
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


def _id_number_invalid_sql(ctx: RuleContext) -> str:
    # Not over ``sync_rec``: such records never reach it. Over the source's quarantine in
    # the county: each open record refused for its ID number (check digit, birth date,
    # format; ``missing.id_number`` is another matter), masked as the staging step kept it.
    # A record that passes a later try is marked reprocessed, and its finding resolves. The
    # subject is the quarantine's own key (the payload's hash), not its row id: the same
    # records give the same findings in any database, however a run was interrupted.
    return """
    SELECT 'quarantine:' || encode(q.raw_hash, 'hex') AS subject, NULL::bigint AS person_id, NULL::bigint AS household_id,
           NULL::text AS region_code,
           CASE WHEN q.external_key IS NULL THEN '[]'::jsonb
                ELSE jsonb_build_array(jsonb_build_object('source', CAST(:source AS text),
                                                          'external_key', q.external_key)) END AS records,
           jsonb_build_object('reason', q.reason, 'id_masked', q.id_masked,
                              'detail', q.detail, 'location', q.location) AS detail
    FROM sync_quarantine q
    WHERE q.source = CAST(:source AS text) AND q.county = CAST(:county AS text) AND q.status = 'open'
      AND q.reason IN ('id_number.check_digit', 'id_number.birth_date', 'id_number.format')"""


RULES: tuple[Rule, ...] = (
    Rule(
        id="name_mismatch",
        term_zh="姓名不一致",
        seed=NO_SEED,
        severity=Severity.medium,
        kinds=ANY_KIND,
        explanation_en="Matched by ID number, but the department spells the name differently.",
        explanation_zh="身份证号一致，但部门登记的姓名与系统不一致。",
        build_sql=_name_mismatch_sql,
    ),
    Rule(
        id="not_in_registry",
        term_zh="疑似漏登（查无此人）",
        seed=NO_SEED,
        severity=Severity.medium,
        kinds=ANY_KIND,
        explanation_en="The department holds a record for an ID number the registry does not know.",
        explanation_zh="部门有记录的身份证号在系统中不存在（疑似漏登）。",
        build_sql=_not_in_registry_sql,
    ),
    Rule(
        id="record_inconsistent",
        term_zh="部门数据自相矛盾",
        seed=NO_SEED,
        severity=Severity.low,
        kinds=frozenset({CIVIL, MEDICAL, EDUCATION}),
        explanation_en="The department record contradicts itself (an end date before its start, out-of-pocket "
        "costs above the total, a primary-school pupil of 30 …).",
        explanation_zh="部门记录自相矛盾（如结束日期早于开始日期、自付费用高于总费用、义务教育学段年龄过大）。",
        build_sql=_record_inconsistent_sql,
        thresholds=("compulsory_stage_max_age",),
    ),
    Rule(
        id="id_number_invalid",
        term_zh="身份证号码错误（校验位、出生日期、格式）",
        seed="GB 11643-1999 (citizen ID number)",
        severity=Severity.medium,
        kinds=ANY_KIND,
        explanation_en="The department sent a record whose ID number fails its check digit, holds an impossible "
        "birth date or is malformed: it is quarantined and matches no one until the department "
        "corrects it.",
        explanation_zh="部门记录的身份证号码校验位错误、出生日期不合法或格式错误，已隔离，无法比对，需部门更正。",
        build_sql=_id_number_invalid_sql,
    ),
)
