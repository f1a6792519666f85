"""The region bounds of the rules' raw SQL: a rule that reads the registry's regional rows
itself carries ``scope.region_sql``'s bounds (``scoped_text`` refuses it otherwise), and
run for one county it finds nothing in another."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from services.core.policy import sync as sync_policy
from services.core.scope import REGION_HI, REGION_LO, region_params, region_sql, scoped_text
from services.core.sync import rules
from services.core.sync.reconcile import _run
from services.core.sync.registry_check import check_params
from tests.factories import COUNTY, OTHER_COUNTY_VILLAGE, VILLAGE, person

POLICY = sync_policy.SyncPolicy()
OTHER_COUNTY = OTHER_COUNTY_VILLAGE[:6]


def test_scoped_text_refuses_sql_without_the_bounds():
    with pytest.raises(ValueError, match="region_sql"):
        scoped_text("SELECT id FROM persons p WHERE p.region_code >= CAST(:county AS text)")
    with pytest.raises(ValueError):  # one bound is not enough
        scoped_text(f"SELECT id FROM persons p WHERE p.region_code >= CAST(:{REGION_LO} AS text)")
    statement = scoped_text(f"SELECT id FROM persons p WHERE {region_sql('p')}")
    assert set(statement._bindparams) == {REGION_LO, REGION_HI}
    # The bounds are a range on region_code (the btree index serves it), ':' right after '9'.
    assert region_sql("p") == ("p.region_code >= CAST(:region_lo AS text) AND p.region_code < CAST(:region_hi AS text)")
    assert region_params(COUNTY, county=COUNTY) == {"county": COUNTY, REGION_LO: COUNTY, REGION_HI: COUNTY + ":"}


def _contexts(rule: rules.Rule):
    kinds = sorted(rule.kinds) or [None]
    return [rules.RuleContext(kind=kind, policy=POLICY, unmatched_findings=True) for kind in kinds]


@pytest.mark.parametrize("rule", [r for r in rules.RULES if r.scoped], ids=lambda r: r.id)
def test_scoped_rules_carry_the_bounds(rule):
    for ctx in _contexts(rule):
        sql = rule.sql(ctx)
        assert sql is not None
        scoped_text(sql)  # raises without the bounds
        assert "CAST(:county AS text) ||" not in sql  # no bounds written by hand


def test_rules_write_no_bounds_by_hand():
    for rule in rules.RULES:
        for ctx in _contexts(rule):
            sql = rule.sql(ctx) or ""
            assert not re.search(r"region_code\s*[<>]=?\s*CAST\(:county", sql), rule.id


async def _phone_findings(session, county: str) -> set[str]:
    """The phone rule's SQL run for ``county`` as the registry check runs it."""
    rule = rules.BY_ID["phone_invalid"]
    sql = rule.sql(rules.RuleContext(kind=None, policy=POLICY, unmatched_findings=False))
    assert sql is not None
    rows = (await _run(session, sql, check_params(POLICY, county), scoped=True)).all()
    return {row.region_code for row in rows}


async def test_a_rule_run_for_a_county_finds_nothing_in_another(session, client, auth):
    for region, user in ((VILLAGE, "county_staff.county"), (OTHER_COUNTY_VILLAGE, "county_staff.other")):
        r = await client.post(
            "/api/v1/households",
            headers=auth(user),
            json={"region_code": region, "category": "lifted_out", "members": [person("head", name="甲")]},
        )
        assert r.status_code == 201, r.text
        # A landline: the API refuses it, imports and older data hold such numbers.
        await session.execute(
            text("UPDATE households SET phone = '0851-8123456' WHERE id = :id"), {"id": r.json()["id"]}
        )
    assert check_params(POLICY, COUNTY)[REGION_LO] == COUNTY
    assert await _phone_findings(session, COUNTY) == {VILLAGE}
    assert await _phone_findings(session, OTHER_COUNTY) == {OTHER_COUNTY_VILLAGE}
