"""The reconciliation rules as plain predicates: their edges (age 15 vs 16 on 1 September,
thresholds equal vs above, names with spaces, full-width letters and middle dots), and the
rule table itself."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from services.core.monitoring.enums import HEALTH_RISKS, RiskType
from services.core.settings import SyncRuleSettings
from services.core.sync import rules as r
from services.core.sync.enums import Severity, SourceKind

RULES = SyncRuleSettings()
CIVIL, MEDICAL, EDUCATION = SourceKind.civil_affairs, SourceKind.medical_insurance, SourceKind.education


@pytest.mark.parametrize("registry, department, differ", [
    ("张三", "张三", False),
    ("张三", "张 三", False),
    ("张三", "张\u3000三", False),  # full-width space
    ("阿依古丽·买买提", "阿依古丽买买提", False),
    ("阿依古丽·买买提", "阿依古丽•买买提", False),
    ("阿依古丽·买买提", "阿依古丽・买买提", False),
    ("阿依古丽·买买提", "阿依古丽．买买提", False),  # full-width full stop
    ("Zhang San", "ＺＨＡＮＧ　ＳＡＮ", False),  # full-width letters, case
    ("王芳", "王芬", True),
    ("王芳", "王芳芳", True),
    ("王芳", None, False),
    ("王芳", "", False),
    ("王芳", " · ", False),  # nothing but separators: no name sent
])
def test_names_differ(registry, department, differ):
    assert r.names_differ(registry, department) is differ


def test_not_in_registry():
    assert r.not_in_registry(person_found=False, unmatched_findings=True)
    assert not r.not_in_registry(person_found=True, unmatched_findings=True)
    assert not r.not_in_registry(person_found=False, unmatched_findings=False)


@pytest.mark.parametrize("kind, fields, dead", [
    (CIVIL, {"stop_reason": "死亡"}, True),
    (CIVIL, {"stop_reason": "因死亡停保"}, True),
    (CIVIL, {"stop_reason": "收入超标"}, False),
    (CIVIL, {"death_date": "2025-01-01"}, True),
    (CIVIL, {"status": "deceased"}, False),  # not a civil-affairs status
    (MEDICAL, {"status": "deceased"}, True),
    (MEDICAL, {"death_date": "2025-01-01", "status": "normal"}, True),
    (MEDICAL, {"status": "not_insured"}, False),
    (EDUCATION, {"status": "dropped_out"}, False),
])
def test_says_dead(kind, fields, dead):
    assert r.says_dead(kind, fields) is dead


def test_dead_elsewhere():
    assert r.dead_elsewhere("alive", True)
    assert not r.dead_elsewhere("deceased", True)
    assert not r.dead_elsewhere("alive", False)


@pytest.mark.parametrize("category, open_case, alive, enrolments, flagged", [
    ("lifted_out", False, True, [(False, "not_insured")], True),
    ("monitored", False, True, [(None, "not_insured")], True),
    ("ordinary", True, True, [(False, None)], True),  # an open case makes a target
    ("ordinary", False, True, [(False, "not_insured")], False),
    ("lifted_out", False, False, [(False, "not_insured")], False),  # dead
    ("lifted_out", False, True, [], False),  # no enrolment record: nothing to say
    ("lifted_out", False, True, [(False, "not_insured"), (True, "normal")], False),  # insured by one record
    ("lifted_out", False, True, [(None, "deceased")], False),
    ("lifted_out", False, True, [(None, "normal")], False),
])
def test_not_insured(category, open_case, alive, enrolments, flagged):
    assert r.not_insured(category, open_case, alive, enrolments) is flagged


@pytest.mark.parametrize("cost, income, fixed, share, hit", [
    ("10000.00", None, "10000", "1.0", []),  # equal is not above
    ("10000.01", None, "10000", "1.0", ["fixed"]),
    ("3000.00", "3000.00", "10000", "1.0", []),
    ("3000.01", "3000.00", "10000", "1.0", ["income_share"]),
    ("1500.01", "3000.00", "10000", "0.5", ["income_share"]),
    ("1500.00", "3000.00", "10000", "0.5", []),
    ("12000.00", "5000.00", "10000", "1.0", ["fixed", "income_share"]),
    ("12000.00", "5000.00", None, None, []),  # both switched off
    ("1.00", "0.00", None, "1.0", ["income_share"]),  # no income at all
])
def test_large_cost_thresholds(cost, income, fixed, share, hit):
    d = lambda v: None if v is None else Decimal(v)  # noqa: E731
    assert r.large_cost_thresholds(d(cost), d(income), d(fixed), d(share)) == hit


@pytest.mark.parametrize("term, rank", [
    ("2026秋", 2026 * 2), ("2026秋季", 2026 * 2), ("2026 autumn", 2026 * 2), (" 2026秋 ", 2026 * 2),
    ("2027春", 2026 * 2 + 1), ("2027春季", 2026 * 2 + 1), ("2027 Spring", 2026 * 2 + 1),
    ("2026-2027-1", 2026 * 2), ("2026-2027-2", 2026 * 2 + 1), ("2026", 2026 * 2),
    ("秋季学期", None), ("", None), (None, None), ("２０２６秋", None),  # full-width: not understood
])
def test_term_rank(term, rank):
    assert r.term_rank(term) == rank


def test_age_at_school_start():
    # The school year of "2026秋" and of "2027春" starts on 1 September 2026.
    assert r.age_at_school_start(date(2010, 9, 1), "2026秋") == 16
    assert r.age_at_school_start(date(2010, 9, 2), "2026秋") == 15
    assert r.age_at_school_start(date(2010, 9, 2), "2027春") == 15
    assert r.age_at_school_start(date(2012, 2, 29), "2026秋") == 14
    assert r.age_at_school_start(date(2010, 9, 1), "someday") is None


@pytest.mark.parametrize("born, term, status, flagged", [
    (date(2010, 9, 2), "2026秋", "dropped_out", True),  # 15 on 1 September
    (date(2010, 9, 1), "2026秋", "dropped_out", False),  # 16 on 1 September
    (date(2020, 9, 1), "2026秋", "dropped_out", True),  # 6: the first compulsory age
    (date(2020, 9, 2), "2026秋", "dropped_out", False),  # 5
    (date(2010, 9, 2), "2026秋", "suspended", False),  # not an out-of-school status by default
    (date(2010, 9, 2), "2026秋", "enrolled", False),
    (date(2010, 9, 2), "unknown", "dropped_out", False),
])
def test_out_of_school(born, term, status, flagged):
    assert r.out_of_school(born, term, status, RULES) is flagged


def test_out_of_school_statuses_and_ages_are_settings():
    county = RULES.model_copy(update={"out_of_school_statuses": ["dropped_out", "suspended"], "compulsory_age_to": 16})
    assert r.out_of_school(date(2010, 9, 2), "2026秋", "suspended", county)
    assert r.out_of_school(date(2010, 9, 1), "2026秋", "dropped_out", county)


def test_latest_term():
    records = [
        {"term": "2026春", "status": "enrolled", "external_key": "a"},
        {"term": "2026秋", "status": "transferred", "external_key": "c"},
        {"term": "2026秋", "status": "enrolled", "external_key": "b"},  # wins its term
        {"term": "whenever", "status": "dropped_out", "external_key": "z"},
    ]
    assert r.latest_term(records)["external_key"] == "b"
    assert r.latest_term([{"term": "?", "status": "enrolled"}]) is None


TODAY = date(2026, 6, 15)


@pytest.mark.parametrize("benefit, status, start, end, active", [
    ("dibao", "active", date(2026, 1, 1), None, True),
    ("tekun", None, None, None, True),  # no status: active
    ("dibao", "active", date(2026, 1, 1), TODAY, True),  # ends today
    ("dibao", "active", date(2026, 1, 1), date(2026, 6, 14), False),  # ended yesterday
    ("dibao", "active", date(2026, 6, 16), None, False),  # starts tomorrow
    ("dibao", "stopped", date(2026, 1, 1), None, False),
    ("dibao_edge", "active", date(2026, 1, 1), None, False),
    ("temporary", "active", date(2026, 1, 1), None, False),
])
def test_active_assistance(benefit, status, start, end, active):
    assert r.active_assistance(benefit, status, start, end, TODAY) is active


@pytest.mark.parametrize("assisted, category, open_case, income, line, flagged", [
    (True, "lifted_out", False, "5999.99", "6000.00", True),
    (True, "ordinary", False, "5999.99", "6000.00", True),
    (True, "lifted_out", False, "6000.00", "6000.00", False),  # equal is not below
    (True, "monitored", False, "100.00", "6000.00", False),
    (True, "lifted_out", True, "100.00", "6000.00", False),  # an open case
    (False, "lifted_out", False, "100.00", "6000.00", False),
    (True, "lifted_out", False, None, "6000.00", False),  # no income year with a line
])
def test_assistance_not_monitored(assisted, category, open_case, income, line, flagged):
    d = lambda v: None if v is None else Decimal(v)  # noqa: E731
    assert r.assistance_not_monitored(assisted, category, open_case, d(income), d(line)) is flagged


@pytest.mark.parametrize("category, labour, assisted, flagged", [
    ("lifted_out", ["lost"], False, True),
    ("monitored", ["none", "lost"], False, True),
    ("lifted_out", ["none", "weak"], False, False),  # a weak labourer can work a little
    ("lifted_out", ["lost"], True, False),
    ("ordinary", ["lost"], False, False),
    ("lifted_out", [], False, False),  # nobody alive
])
def test_no_labour_no_assistance(category, labour, assisted, flagged):
    assert r.no_labour_no_assistance(category, labour, assisted) is flagged


BORN = date(2000, 3, 1)


@pytest.mark.parametrize("kind, fields, born, problems", [
    (CIVIL, {"benefit": "dibao", "dibao_class": "1", "start_date": "2026-01-01", "end_date": "2026-12-31"}, BORN, []),
    (CIVIL, {"benefit": "dibao", "start_date": "2026-02-01", "end_date": "2026-01-31"}, BORN, ["end_before_start"]),
    (CIVIL, {"benefit": "dibao", "start_date": "2026-02-01", "end_date": "2026-02-01"}, BORN, []),
    (CIVIL, {"benefit": "tekun", "dibao_class": "2"}, BORN, ["dibao_class_not_dibao"]),
    (CIVIL, {"benefit": "dibao", "status": "active", "death_date": "2026-01-01"}, BORN, ["active_after_death"]),
    (CIVIL, {"benefit": "dibao", "status": "stopped", "death_date": "2026-01-01"}, BORN, []),
    (CIVIL, {"benefit": "temporary", "amount": "-1.00"}, BORN, ["negative_amount"]),
    (MEDICAL, {"total_cost": "100.00", "out_of_pocket": "100.00"}, BORN, []),
    (MEDICAL, {"total_cost": "100.00", "out_of_pocket": "100.01"}, BORN, ["out_of_pocket_above_total"]),
    (MEDICAL, {"insured": True, "status": "not_insured"}, BORN, ["insured_status_conflict"]),
    (MEDICAL, {"insured": False, "status": "normal"}, BORN, ["insured_status_conflict"]),
    (MEDICAL, {"insured": False, "status": "not_insured"}, BORN, []),
    (EDUCATION, {"term": "2026秋", "stage": "primary"}, date(2001, 9, 1), ["compulsory_stage_over_age"]),  # 25
    (EDUCATION, {"term": "2026秋", "stage": "primary"}, date(2000, 9, 1), ["compulsory_stage_over_age"]),  # 26
    (EDUCATION, {"term": "2026秋", "stage": "junior_secondary"}, date(2001, 9, 2), []),  # 24
    (EDUCATION, {"term": "2026秋", "stage": "senior_secondary"}, date(1970, 1, 1), []),
    (EDUCATION, {"term": "?", "stage": "primary"}, date(1970, 1, 1), ["compulsory_stage_over_age"]),  # age today
    (EDUCATION, {"aid_amount": "-5.00"}, BORN, ["negative_amount"]),
])
def test_record_problems(kind, fields, born, problems):
    assert r.record_problems(kind, fields, born, TODAY, stage_max_age=24) == problems


@pytest.mark.parametrize("registry, department, differ", [
    ("junior_secondary", "dropped_out", True),
    ("university", "dropped_out", True),
    ("dropped_out", "enrolled", True),
    ("junior_secondary", "enrolled", False),
    ("dropped_out", "dropped_out", False),
    ("not_in_school", "dropped_out", False),
    ("preschool", "dropped_out", False),
])
def test_schooling_differs(registry, department, differ):
    assert r.schooling_differs(registry, department) is differ


def test_rule_table():
    ids = [rule.id for rule in r.RULES]
    assert len(ids) == len(set(ids))
    for rule in r.RULES:
        assert re.fullmatch(r"[a-z_]+", rule.id) and isinstance(rule.severity, Severity)
        assert rule.explanation_en and rule.explanation_zh and callable(rule.predicate)
        if rule.risk_type in HEALTH_RISKS:  # a clue that tells health comes from a finding that does
            assert rule.health
    assert r.BY_ID["large_medical_cost"].risk_type == RiskType.illness and r.BY_ID["large_medical_cost"].health
    assert r.BY_ID["out_of_school"].risk_type == RiskType.out_of_school
    assert r.BY_ID["not_insured"].risk_type == RiskType.other and not r.BY_ID["not_insured"].health
    assert r.BY_ID["assistance_not_monitored"].risk_type == RiskType.income_below_line
    assert not r.BY_ID["name_mismatch"].risk
    assert {x.id for x in r.rules_for(SourceKind.generic)} == {"name_mismatch", "not_in_registry"}
    assert "large_medical_cost" in {x.id for x in r.rules_for(MEDICAL)}
    assert "large_medical_cost" not in {x.id for x in r.rules_for(CIVIL)}


def test_rule_sql_switches():
    ctx = r.RuleContext(kind=MEDICAL, rules=RULES, unmatched_findings=False)
    assert r.BY_ID["not_in_registry"].sql(ctx) is None
    assert r.BY_ID["not_in_registry"].sql(r.RuleContext(MEDICAL, RULES, True)) is not None
    off = RULES.model_copy(update={"large_cost_fixed_yuan": None, "large_cost_income_share": None})
    assert r.BY_ID["large_medical_cost"].sql(r.RuleContext(MEDICAL, off, False)) is None
    # Thresholds reach the SQL as bind parameters, never as literals.
    sql = r.BY_ID["large_medical_cost"].sql(ctx)
    assert ":fixed" in sql and ":share" in sql and "10000" not in sql


def test_sync_never_imports_the_api():
    root = Path(r.__file__).parent
    for path in root.glob("*.py"):
        assert "services.api" not in path.read_text(encoding="utf-8"), path.name
