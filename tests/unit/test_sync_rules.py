"""The rule table and the sync policy, without a database: every rule defined once and
complete, thresholds reaching the SQL as bind parameters, the policy's validation. The
rules' behaviour is tested on their SQL against PostgreSQL (tests/sync/test_sync_reconcile.py,
tests/sync/test_sync_rules_sql.py)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.core.monitoring.enums import HEALTH_RISKS, RiskType
from services.core.policy import sync as p
from services.core.sync import rules as r
from services.core.sync.enums import Severity, SourceKind

CIVIL, MEDICAL, EDUCATION = SourceKind.civil_affairs, SourceKind.medical_insurance, SourceKind.education
POLICY = p.SyncPolicy()


def test_rule_table():
    ids = [rule.id for rule in r.RULES]
    assert len(ids) == len(set(ids))
    for rule in r.RULES:
        assert re.fullmatch(r"[a-z_]+", rule.id) and isinstance(rule.severity, Severity)
        assert rule.explanation_en and rule.explanation_zh and rule.term_zh and rule.seed
        assert re.search(r"[\u4e00-\u9fff]", rule.term_zh), rule.id  # the Chinese term, for grep
        assert set(rule.thresholds) <= p.FIELDS, rule.id
        if rule.risk_type in HEALTH_RISKS:  # a clue that tells health comes from a finding that does
            assert rule.health
    assert r.BY_ID["large_medical_cost"].risk_type == RiskType.illness and r.BY_ID["large_medical_cost"].health
    assert r.BY_ID["out_of_school"].risk_type == RiskType.out_of_school
    assert r.BY_ID["not_insured"].risk_type == RiskType.other and not r.BY_ID["not_insured"].health
    assert r.BY_ID["assistance_not_monitored"].risk_type == RiskType.income_below_line
    assert r.BY_ID["assistance_granted_not_monitored"].risk_type == RiskType.income_below_line
    assert not r.BY_ID["assistance_income_unknown"].risk  # an unknown income raises no clue
    assert not r.BY_ID["name_mismatch"].risk and not r.BY_ID["household_size_differs"].risk
    assert {x.id for x in r.rules_for(SourceKind.generic)} == {"name_mismatch", "not_in_registry", "id_number_invalid"}
    # Registry rules belong to no source: only the registry check runs them.
    assert all(x.id not in {y.id for kind in SourceKind for y in r.rules_for(kind)} for x in r.registry.RULES)
    assert r.BY_ID["illness_without_cost"].health and r.BY_ID["child_employed"].thresholds == ("child_employment_age",)
    assert "large_medical_cost" in {x.id for x in r.rules_for(MEDICAL)}
    assert "large_medical_cost" not in {x.id for x in r.rules_for(CIVIL)}
    assert "household_size_differs" in {x.id for x in r.rules_for(CIVIL)}


@pytest.mark.parametrize(
    "word, rule_id",
    [
        ("低保", "assistance_granted_not_monitored"),
        ("应纳未纳", "assistance_not_monitored"),
        ("大病", "large_medical_cost"),
        ("大额医疗支出", "large_medical_cost"),
        ("控辍保学", "out_of_school"),
        ("应保尽保", "not_insured"),
        ("家庭人口数", "household_size_differs"),
        ("去世", "dead_elsewhere"),
    ],
)
def test_a_chinese_term_finds_its_rule(word, rule_id):
    assert rule_id in {x.id for x in r.RULES if word in x.term_zh + x.explanation_zh}


@pytest.mark.parametrize("rule", r.RULES, ids=lambda rule: rule.id)
def test_thresholds_are_bind_parameters(rule):
    """Each threshold a rule names is read as ``:field`` by its SQL (of some kind it runs
    for), and the SQL reads no policy field it does not name."""
    kinds = rule.kinds or [None]  # None: a registry rule, run by the registry check
    sqls = [rule.sql(r.RuleContext(kind=kind, policy=POLICY, unmatched_findings=True)) for kind in kinds]
    text = "\n".join(s for s in sqls if s)
    for name in p.FIELDS:
        assert (f":{name}" in text) == (name in rule.thresholds), (rule.id, name)


def test_rule_sql_switches():
    ctx = r.RuleContext(kind=MEDICAL, policy=POLICY, unmatched_findings=False)
    assert r.BY_ID["not_in_registry"].sql(ctx) is None
    assert r.BY_ID["not_in_registry"].sql(r.RuleContext(MEDICAL, POLICY, True)) is not None
    nothing = dict.fromkeys(p.Category)
    off = p.SyncPolicy(large_cost_fixed_yuan=nothing, large_cost_income_share=nothing)
    assert r.BY_ID["large_medical_cost"].sql(r.RuleContext(MEDICAL, off, False)) is None
    # One category's threshold left: the rule runs.
    one = p.SyncPolicy(large_cost_fixed_yuan=nothing | {"monitored": "5000"}, large_cost_income_share=nothing)
    assert r.BY_ID["large_medical_cost"].sql(r.RuleContext(MEDICAL, one, False)) is not None
    sql = r.BY_ID["large_medical_cost"].sql(ctx)
    assert ":large_cost_fixed_yuan" in sql and "10000" not in sql


def test_explanations_come_from_the_rules():
    assert r.explain("large_medical_cost", chinese=True) == r.BY_ID["large_medical_cost"].explanation_zh
    assert r.explain("large_medical_cost", chinese=False) == r.BY_ID["large_medical_cost"].explanation_en
    assert r.explain("gone_rule", chinese=True) == "gone_rule"  # never refused
    assert r.tells_health("large_medical_cost") and not r.tells_health("not_insured")
    assert not r.tells_health("gone_rule")


def test_policy_defaults_and_params():
    assert POLICY.large_cost_fixed_yuan == {c: Decimal("10000") for c in p.Category}
    assert POLICY.large_cost_income_share == {c: Decimal("1.0") for c in p.Category}
    assert POLICY.large_cost_income_basis == "total" and POLICY.new_grant_months == 12
    assert (POLICY.compulsory_age_from, POLICY.compulsory_age_to) == (6, 15)
    params = p.params(POLICY)
    assert set(params) == p.FIELDS
    assert json.loads(params["large_cost_fixed_yuan"]) == {
        "lifted_out": "10000",
        "monitored": "10000",
        "ordinary": "10000",
    }
    assert params["out_of_school_statuses"] == ["dropped_out"] and params["large_cost_income_basis"] == "total"


def test_policy_override_of_one_category_keeps_the_others_default():
    county = p.SyncPolicy.model_validate({"large_cost_fixed_yuan": {"monitored": "5000", "ordinary": None}})
    assert county.large_cost_fixed_yuan == {
        p.Category.lifted_out: Decimal("10000"),
        p.Category.monitored: Decimal("5000"),
        p.Category.ordinary: None,
    }


@pytest.mark.parametrize(
    "values",
    [
        {"compulsory_age_from": 16, "compulsory_age_to": 15},
        {"large_cost_fixed_yuan": {"monitored": "-1"}},
        {"large_cost_fixed_yuan": {"rich": "5000"}},
        {"large_cost_income_share": {"monitored": "0"}},
        {"large_cost_income_basis": "gross"},
        {"out_of_school_statuses": ["gone_fishing"]},
        {"out_of_school_statuses": []},
        {"new_grant_months": 0},
        {"no_such_threshold": 1},
    ],
)
def test_policy_refuses(values):
    with pytest.raises(ValidationError):
        p.SyncPolicy.model_validate(values)


def test_sync_never_imports_the_api():
    root = Path(r.__file__).parent.parent
    for path in [*root.glob("*.py"), *root.glob("rules/*.py")]:
        assert "services.api" not in path.read_text(encoding="utf-8"), path.name
