"""Each cross-check rule's SQL against PostgreSQL, its positive and negative cases: registry
households made through the API, department records staged as the staging step writes
them, income and policy rows inserted, ``reconcile`` run in the test's rolled-back
transaction (helpers: tests/sync/test_sync_reconcile.py)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select, text

from services.core.income.rolling import quarter_of
from services.core.monitoring.models import IncomeLine, RiskClue
from services.core.sync.models import SyncPolicyRow
from services.core.timeutil import today
from tests.factories import COUNTY, VILLAGE, person
from tests.sync.test_sync_reconcile import (
    CIVIL,
    EDUCATION,
    MEDICAL,
    Stage,
    _household,
    _income,
    findings,
    income_quarters,
    reconcile,
)

Y = today().year
LAST = Y - 1
OLD = f"{Y - 3}-05-01"  # a long-standing grant
RECENT = (today() - timedelta(days=60)).isoformat()  # a grant of two months ago


def by_household(found, rule_id: str) -> dict:
    return {f.household_id: f for f in found.values() if f.rule_id == rule_id}


def by_person(found, rule_id: str) -> dict:
    return {f.person_id: f for f in found.values() if f.rule_id == rule_id}


async def _monitored(session, members):
    """A household becomes monitored through a case; here, directly."""
    await session.execute(
        text("UPDATE households SET category = 'monitored' WHERE id = :id"), {"id": members[0].household_id}
    )
    return members


async def _line(session, year: int, amount: str) -> None:
    session.add(IncomeLine(year=year, province_code="52", amount=Decimal(amount)))
    await session.flush()


async def _last_four_quarters(session, member, per_quarter: str, members: int = 1, quarters: int = 4) -> None:
    """``quarters`` consecutive quarters ending with the one before today's."""
    last = quarter_of(today()) - 1
    for index in range(last - quarters + 1, last + 1):
        await income_quarters(
            session, member, index // 4, Decimal(per_quarter), quarters=(index % 4 + 1,), members=members
        )


# ---- civil affairs ----------------------------------------------------------------------


async def test_deaths_as_stop_reasons(session, settings, client, auth):
    reasons = ["死亡", "亡故", "去世", "身故", "已故", "因病去世停保", "死亡注销", "收入超标", "迁出", None]
    people = await _household(
        client,
        auth,
        VILLAGE,
        [
            person("head", name="甲"),
            *[person("child", name=f"子{i}", born=date(Y - 30 + i, 3, 1)) for i in range(len(reasons) - 1)],
        ],
    )
    stage = Stage(session, settings)
    for member, reason in zip(people, reasons, strict=True):
        await stage.add(
            CIVIL,
            member.id_number,
            None,
            "assistance",
            benefit="temporary",
            status="stopped",
            start_date=OLD,
            end_date=f"{LAST}-01-01",
            stop_reason=reason,
        )
    # A death date says it whatever the reason; a person already dead in the registry is no news.
    dated = await _household(client, auth, VILLAGE, [person("head", name="乙")])
    await stage.add(
        CIVIL,
        dated[0].id_number,
        None,
        "assistance",
        benefit="temporary",
        status="stopped",
        start_date=OLD,
        death_date=f"{LAST}-02-02",
    )
    gone = await _household(client, auth, VILLAGE, [person("head", name="丙")])
    await session.execute(
        text("UPDATE persons SET status = 'deceased', date_of_death = :d WHERE id = :id"),
        {"d": today() - timedelta(days=400), "id": gone[0].id},
    )
    await stage.add(
        CIVIL,
        gone[0].id_number,
        None,
        "assistance",
        benefit="temporary",
        status="stopped",
        start_date=OLD,
        stop_reason="死亡",
    )

    await reconcile(session, settings, CIVIL, COUNTY, run_id=1)
    dead = by_person(await findings(session, CIVIL), "dead_elsewhere")
    expected = {
        m.id
        for m, reason in zip(people, reasons, strict=True)
        if reason is not None and any(w in reason for w in ("死亡", "亡故", "去世", "身故", "已故"))
    }
    assert set(dead) == expected | {dated[0].id}
    assert dead[people[2].id].values["department_stop_reason"] == ["去世"]
    assert dead[dated[0].id].values["death_date"] == f"{LAST}-02-02"


async def test_newly_granted_assistance_not_monitored(session, settings, client, auth):
    """A 低保/特困 granted within new_grant_months to a household that is not monitored is a
    clue whatever its income; a monitored household, an old, stopped or edge grant, or a
    grant to someone dead is not. A household with an old and a new grant is found once."""
    stage = Stage(session, settings)
    await _line(session, LAST, "6000.00")
    rich = await _household(client, auth, VILLAGE, [person("head", name="富")], category="ordinary")
    await _last_four_quarters(session, rich[0], "90000.00")  # well above the line: still a clue
    await stage.add(CIVIL, rich[0].id_number, None, "assistance", benefit="dibao", status="active", start_date=RECENT)
    both = await _household(client, auth, VILLAGE, [person("head", name="双"), person("spouse", name="双妻")])
    await stage.add(CIVIL, both[0].id_number, None, "assistance", benefit="tekun", status="active", start_date=OLD)
    await stage.add(CIVIL, both[1].id_number, None, "assistance", benefit="dibao", status="active", start_date=RECENT)
    watched = await _monitored(session, await _household(client, auth, VILLAGE, [person("head", name="监")]))
    await stage.add(
        CIVIL, watched[0].id_number, None, "assistance", benefit="dibao", status="active", start_date=RECENT
    )
    edge = await _household(client, auth, VILLAGE, [person("head", name="边")])
    await stage.add(
        CIVIL, edge[0].id_number, None, "assistance", benefit="dibao_edge", status="active", start_date=RECENT
    )
    stopped = await _household(client, auth, VILLAGE, [person("head", name="停")])
    await stage.add(
        CIVIL, stopped[0].id_number, None, "assistance", benefit="dibao", status="stopped", start_date=RECENT
    )
    late = await _household(client, auth, VILLAGE, [person("head", name="故"), person("spouse", name="故妻")])
    await session.execute(
        text("UPDATE persons SET status = 'deceased', date_of_death = :d WHERE id = :id"),
        {"d": today() - timedelta(days=10), "id": late[0].id},
    )
    await stage.add(CIVIL, late[0].id_number, None, "assistance", benefit="tekun", status="active", start_date=RECENT)

    counts = await reconcile(session, settings, CIVIL, COUNTY, run_id=1)
    found = await findings(session, CIVIL)
    granted = by_household(found, "assistance_granted_not_monitored")
    assert set(granted) == {rich[0].household_id, both[0].household_id}
    assert granted[rich[0].household_id].values == {"benefits": ["dibao"], "granted_on": RECENT, "new_grant_months": 12}
    # The household with an old and a new grant: one finding, one clue.
    assert both[0].household_id not in by_household(found, "assistance_not_monitored")
    assert both[0].household_id not in by_household(found, "assistance_income_unknown")
    assert counts["clues"] == 2
    clue = (
        await session.execute(select(RiskClue).where(RiskClue.id == granted[rich[0].household_id].clue_id))
    ).scalar_one()
    assert clue.risk_types == ["income_below_line"] and clue.channels == ["department_screening"]

    # A county that counts only the last month's grants as new: the two-month-old grants
    # are old ones, judged on income (the rich household is above the line).
    session.add(SyncPolicyRow(region_prefix=COUNTY, year=Y, values={"new_grant_months": 1}))
    await session.flush()
    await reconcile(session, settings, CIVIL, COUNTY, run_id=2)
    found = await findings(session, CIVIL)
    assert not [f for f in found.values() if f.rule_id == "assistance_granted_not_monitored" and f.status == "open"]
    assert rich[0].household_id not in by_household(found, "assistance_not_monitored")


async def test_assistance_not_monitored_on_twelve_months_of_income(session, settings, client, auth):
    """应纳未纳 on the rolling twelve months (income_rolling) against the line of the year
    (or the latest earlier one), only when the twelve months are complete; an incomplete
    year is a finding that says so, with no clue."""
    stage = Stage(session, settings)
    await _line(session, LAST, "6000.00")
    below = await _household(client, auth, VILLAGE, [person("head", name="低"), person("spouse", name="低妻")])
    await _last_four_quarters(session, below[0], "2999.00", members=2)  # 11996 / 2 = 5998 a head
    above = await _household(client, auth, VILLAGE, [person("head", name="高")])
    await _last_four_quarters(session, above[0], "1500.00")  # 6000: equal is not below
    partial = await _household(client, auth, VILLAGE, [person("head", name="缺")])
    await _last_four_quarters(session, partial[0], "100.00", quarters=3)  # far below, but three quarters
    for member in (below[0], above[0], partial[0]):
        await stage.add(CIVIL, member.id_number, None, "assistance", benefit="dibao", status="active", start_date=OLD)

    counts = await reconcile(session, settings, CIVIL, COUNTY, run_id=1)
    found = await findings(session, CIVIL)
    uncovered = by_household(found, "assistance_not_monitored")
    assert set(uncovered) == {below[0].household_id}
    last = quarter_of(today()) - 1
    values = uncovered[below[0].household_id].values
    assert values["income_complete"] is True and values["quarters"] == 4
    assert values["per_capita_net"] == "5998.00" and values["member_count"] == 2
    assert values["period"] == (f"{(last - 3) // 4}Q{(last - 3) % 4 + 1}–{last // 4}Q{last % 4 + 1}")
    assert (values["line"], values["line_year"], values["line_of_current_year"]) == ("6000.00", LAST, False)
    unknown = by_household(found, "assistance_income_unknown")
    assert set(unknown) == {partial[0].household_id}
    assert unknown[partial[0].household_id].values["income_complete"] is False
    assert unknown[partial[0].household_id].values["quarters"] == 3
    assert unknown[partial[0].household_id].clue_id is None
    assert counts["clues"] == 1

    # This year's line, once set, is the one held to: a cent higher, and the household at
    # exactly last year's line is below it.
    await _line(session, Y, "6000.01")
    await reconcile(session, settings, CIVIL, COUNTY, run_id=2)
    found = await findings(session, CIVIL)
    uncovered = {k: f for k, f in by_household(found, "assistance_not_monitored").items() if f.status == "open"}
    assert set(uncovered) == {below[0].household_id, above[0].household_id}
    assert uncovered[above[0].household_id].values["line_of_current_year"] is True
    assert uncovered[above[0].household_id].values["line"] == "6000.01"


async def test_household_size_differs(session, settings, client, auth):
    stage = Stage(session, settings)
    three = await _household(
        client, auth, VILLAGE, [person("head", name="三"), person("spouse", name="三妻"), person("child", name="三子")]
    )
    await session.execute(
        text("UPDATE persons SET status = 'deceased', date_of_death = :d WHERE id = :id"),
        {"d": today() - timedelta(days=100), "id": three[2].id},
    )  # two living members
    await stage.add(
        CIVIL,
        three[0].id_number,
        None,
        "assistance",
        benefit="dibao",
        status="active",
        start_date=OLD,
        household_size=3,
    )  # still counts the dead child
    same = await _household(client, auth, VILLAGE, [person("head", name="同"), person("spouse", name="同妻")])
    await stage.add(
        CIVIL, same[0].id_number, None, "assistance", benefit="dibao", status="active", start_date=OLD, household_size=2
    )
    await stage.add(
        CIVIL,
        same[1].id_number,
        None,
        "assistance",
        benefit="temporary",
        status="stopped",
        start_date=OLD,
        end_date=f"{Y - 2}-01-01",
        household_size=5,
    )  # an old record: not read
    unsaid = await _household(client, auth, VILLAGE, [person("head", name="无")])
    await stage.add(
        CIVIL, unsaid[0].id_number, None, "assistance", benefit="dibao", status="active", start_date=OLD
    )  # no size sent: nothing to compare

    await reconcile(session, settings, CIVIL, COUNTY, run_id=1)
    differs = by_household(await findings(session, CIVIL), "household_size_differs")
    assert set(differs) == {three[0].household_id}
    assert differs[three[0].household_id].values == {"department_sizes": [3], "registry_living_members": 2}
    assert differs[three[0].household_id].clue_id is None


async def test_no_labour_no_assistance_counts_only_grants_to_the_living(session, settings, client, auth):
    """A stale active 低保 of a member dead in the registry is no assistance to the living."""
    stage = Stage(session, settings)
    stale = await _household(
        client,
        auth,
        VILLAGE,
        [
            person("head", name="孤", labour_capacity="lost", born=date(1945, 1, 1)),
            person("spouse", name="故", labour_capacity="none", born=date(1944, 1, 1)),
        ],
    )
    await session.execute(
        text("UPDATE persons SET status = 'deceased', date_of_death = :d WHERE id = :id"),
        {"d": today() - timedelta(days=200), "id": stale[1].id},
    )
    await stage.add(CIVIL, stale[1].id_number, None, "assistance", benefit="dibao", status="active", start_date=OLD)
    aided = await _household(
        client, auth, VILLAGE, [person("head", name="助", labour_capacity="lost", born=date(1946, 1, 1))]
    )
    await stage.add(CIVIL, aided[0].id_number, None, "assistance", benefit="tekun", status="active", start_date=OLD)

    await reconcile(session, settings, CIVIL, COUNTY, run_id=1)
    found = by_household(await findings(session, CIVIL), "no_labour_no_assistance")
    assert set(found) == {stale[0].household_id}
    assert found[stale[0].household_id].values == {"living_members": 1, "labour_capacity": ["lost"]}


# ---- medical insurance ------------------------------------------------------------------


async def test_large_medical_cost_per_category_and_income_basis(session, settings, client, auth):
    """Thresholds per household category from the county's policy; the previous year's
    total income (transfers included) unless the policy says net; an incomplete year's
    income is no threshold."""
    stage = Stage(session, settings)
    lifted = await _household(client, auth, VILLAGE, [person("head", name="脱")])
    watched = await _monitored(session, await _household(client, auth, VILLAGE, [person("head", name="监")]))
    plain = await _household(client, auth, VILLAGE, [person("head", name="普")], category="ordinary")
    partial = await _household(client, auth, VILLAGE, [person("head", name="缺")])
    # Lifted-out: net 4000, but total income 9000 (5000 of transfers, 4000 of costs).
    session.add(_income(lifted[0], LAST, Decimal("4000.00")))
    await session.flush()
    await session.execute(
        text("UPDATE income_years SET wages = 4000, transfers = 5000, production_costs = 5000 WHERE household_id = :h"),
        {"h": lifted[0].household_id},
    )
    incomplete = _income(partial[0], LAST, Decimal("100.00"))
    incomplete.quarters = 3
    session.add(incomplete)
    await session.flush()
    for member, cost in (
        (lifted[0], "6000.00"),
        (watched[0], "5000.01"),
        (plain[0], "9000.00"),
        (partial[0], "9000.00"),
    ):
        await stage.add(
            MEDICAL,
            member.id_number,
            None,
            "claim",
            year=Y,
            settled_on=f"{Y}-01-10",
            total_cost="20000.00",
            out_of_pocket=cost,
        )
    session.add(
        SyncPolicyRow(
            region_prefix=COUNTY,
            year=LAST,
            values={
                "large_cost_fixed_yuan": {"monitored": "5000", "ordinary": "8000"},
                "large_cost_income_share": {"lifted_out": "0.5", "ordinary": None},
            },
        )
    )
    await session.flush()

    await reconcile(session, settings, MEDICAL, COUNTY, run_id=1)
    costs = by_household(await findings(session, MEDICAL), "large_medical_cost")
    # lifted-out: 6000 > 0.5 × total 9000 = 4500 (and below its fixed 10000); monitored: above 5000;
    # ordinary: above its 8000; the incomplete year: 9000 is below the fixed 10000, no income test.
    assert set(costs) == {lifted[0].household_id, watched[0].household_id, plain[0].household_id}
    v = costs[lifted[0].household_id].values
    assert v["thresholds_hit"] == ["income_share"] and v["income_basis"] == "total" and v["income"] == "9000.00"
    assert (v["income_share"], v["income_threshold"], v["income_year"], v["fixed_yuan"]) == (
        "0.5",
        "4500.00",
        LAST,
        "10000.00",
    )
    assert costs[watched[0].household_id].values["thresholds_hit"] == ["fixed"]
    assert costs[watched[0].household_id].values["fixed_yuan"] == "5000.00"
    assert costs[plain[0].household_id].values["income_share"] is None

    # On net income (4000 × 0.5 = 2000) the lifted-out household is still above; the
    # monitored one's fixed threshold switched off and its income unknown: not found.
    session.add(
        SyncPolicyRow(
            region_prefix=COUNTY,
            year=Y,
            values={
                "large_cost_income_basis": "net",
                "large_cost_fixed_yuan": {"monitored": None, "ordinary": "8000"},
                "large_cost_income_share": {"lifted_out": "0.5", "ordinary": None},
            },
        )
    )
    await session.flush()
    await reconcile(session, settings, MEDICAL, COUNTY, run_id=2)
    open_costs = {
        k: f
        for k, f in by_household(await findings(session, MEDICAL), "large_medical_cost").items()
        if f.status == "open"
    }
    assert set(open_costs) == {lifted[0].household_id, plain[0].household_id}
    v = open_costs[lifted[0].household_id].values
    assert (v["income_basis"], v["income"], v["income_threshold"]) == ("net", "4000.00", "2000.00")


async def test_not_insured_skips_the_dead(session, settings, client, auth):
    stage = Stage(session, settings)
    people = await _household(client, auth, VILLAGE, [person("head", name="甲"), person("spouse", name="乙")])
    await stage.add(MEDICAL, people[0].id_number, None, "enrolment", year=Y, insured=False, status="not_insured")
    # Not insured any more because they died (a death date, the status not saying so).
    await stage.add(
        MEDICAL,
        people[1].id_number,
        None,
        "enrolment",
        year=Y,
        insured=False,
        status="not_insured",
        death_date=f"{Y}-01-05",
    )
    await reconcile(session, settings, MEDICAL, COUNTY, run_id=1)
    found = await findings(session, MEDICAL)
    assert set(by_person(found, "not_insured")) == {people[0].id}
    assert set(by_person(found, "dead_elsewhere")) == {people[1].id}


# ---- education --------------------------------------------------------------------------


async def test_out_of_school_reads_the_latest_term_and_the_policy(session, settings, client, auth):
    stage = Stage(session, settings)
    born = date(Y - 12, 1, 1)
    kids = await _household(
        client,
        auth,
        VILLAGE,
        [person("head", name="父"), *[person("child", name=f"童{i}", born=born + timedelta(days=i)) for i in range(4)]],
    )
    autumn, spring = f"{Y}秋", f"{Y}春"
    # 0: dropped out this autumn; 1: dropped out in spring, enrolled again in autumn;
    # 2: transferred (two records of a term: the enrolled one wins); 3: suspended.
    await stage.add(EDUCATION, kids[1].id_number, None, "student", term=autumn, status="dropped_out")
    await stage.add(EDUCATION, kids[2].id_number, None, "student", term=spring, status="dropped_out")
    await stage.add(EDUCATION, kids[2].id_number, None, "student", term=autumn, status="enrolled")
    await stage.add(EDUCATION, kids[3].id_number, None, "student", term=autumn, status="transferred")
    await stage.add(EDUCATION, kids[3].id_number, None, "student", term=autumn, status="enrolled")
    await stage.add(EDUCATION, kids[4].id_number, None, "student", term=autumn, status="suspended")
    await reconcile(session, settings, EDUCATION, COUNTY, run_id=1)
    assert set(by_person(await findings(session, EDUCATION), "out_of_school")) == {kids[1].id}

    # A county that counts 休学 as out of school, and compulsory age only up to 11.
    session.add(
        SyncPolicyRow(region_prefix=COUNTY, year=Y, values={"out_of_school_statuses": ["dropped_out", "suspended"]})
    )
    await session.flush()
    await reconcile(session, settings, EDUCATION, COUNTY, run_id=2)
    found = by_person(await findings(session, EDUCATION), "out_of_school")
    assert {k for k, f in found.items() if f.status == "open"} == {kids[1].id, kids[4].id}
    await session.execute(text("""UPDATE sync_policies SET "values" = "values" || '{"compulsory_age_to": 11}'"""))
    await reconcile(session, settings, EDUCATION, COUNTY, run_id=3)
    found = by_person(await findings(session, EDUCATION), "out_of_school")
    assert not {k for k, f in found.items() if f.status == "open"}


async def test_compulsory_stage_age_from_the_policy(session, settings, client, auth):
    stage = Stage(session, settings)
    adult = await _household(client, auth, VILLAGE, [person("head", name="成")])  # born 1975
    await stage.add(EDUCATION, adult[0].id_number, None, "student", term=f"{Y}秋", stage="primary", status="enrolled")
    session.add(SyncPolicyRow(region_prefix=COUNTY[:2], year=Y, values={"compulsory_stage_max_age": 60}))
    await session.flush()
    await reconcile(session, settings, EDUCATION, COUNTY, run_id=1)
    assert not by_person(await findings(session, EDUCATION), "record_inconsistent")
    await session.execute(text("""UPDATE sync_policies SET "values" = '{"compulsory_stage_max_age": 40}'"""))
    await reconcile(session, settings, EDUCATION, COUNTY, run_id=2)
    inconsistent = by_person(await findings(session, EDUCATION), "record_inconsistent")
    assert inconsistent[adult[0].id].values["problems"] == ["compulsory_stage_over_age"]
