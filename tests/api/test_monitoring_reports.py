"""Households the monitoring misses (应纳未纳) and the clues raised for them, statistics by
region level, and public notice lists that never show what they must not."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update

from services.core.households.models import Household
from services.core.monitoring import lines
from services.core.monitoring.models import ClueReport, MonitoringCase, RiskClue
from services.core.monitoring.schemas import Reporter
from services.core.timeutil import today
from tests.api.monitoring_helpers import add_line, open_case, report, step
from tests.api.world import LAST_YEAR, LINE, make_world
from tests.factories import (
    COUNTY,
    OTHER_COUNTY_VILLAGE,
    OTHER_TOWNSHIP_VILLAGE,
    TOWNSHIP,
    VILLAGE,
    VILLAGE_2,
    household,
    person,
)

COUNTY_STAFF = "county_staff.county"
UNCOVERED = "/api/v1/monitoring/uncovered-households"


async def new_household(
    client, auth, region=VILLAGE, category="lifted_out", members=None, user=COUNTY_STAFF, **kw
) -> dict:
    members = members or [person("head"), person("spouse", name="王芳")]
    r = await client.post(
        "/api/v1/households",
        json=household(region=region, members=members, category=category, **kw),
        headers=auth(user),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def income(
    client, auth, hh: dict, wages: str, year: int = LAST_YEAR, user=COUNTY_STAFF, quarters=(1, 2, 3, 4)
) -> None:
    """``wages`` over the year, a quarter of it in each of ``quarters``."""
    for quarter in quarters:
        body = {
            "year": year,
            "quarter": quarter,
            "wages": str(Decimal(wages) / 4),
            "business": "0",
            "property": "0",
            "transfers": "0",
        }
        r = await client.post(f"/api/v1/households/{hh['id']}/income-records", json=body, headers=auth(user))
        assert r.status_code == 201, r.text


async def add_case(session, hh: dict, status: str, case_type="marginal", risks=("illness",), **kw) -> MonitoringCase:
    day = today()
    case = MonitoringCase(
        household_id=hh["id"],
        region_code=hh["region_code"],
        case_type=case_type,
        risk_types=list(risks),
        status=status,
        first_clue_on=kw.pop("first_clue_on", day),
        opened_on=kw.pop("opened_on", day),
        deadline_breaches=[],
        **kw,
    )
    session.add(case)
    await session.flush()
    return case


async def add_clue(session, hh: dict, status="open", risks=("illness",), **kw) -> RiskClue:
    clue = RiskClue(
        household_id=hh["id"],
        region_code=hh["region_code"],
        risk_types=list(risks),
        channels=["visit"],
        status=status,
        first_reported_on=kw.pop("first_reported_on", today()),
        report_count=1,
        deadline_breaches=[],
        **kw,
    )
    session.add(clue)
    await session.flush()
    return clue


# ---- uncovered households ---------------------------------------------------------------------


@pytest.fixture
async def uncovered_world(client, auth, session):
    """The world (a LAST_YEAR line of 6000 in province 52; ``home`` with only its first
    quarter recorded, so its year cannot be judged) and households for each side of the
    rule, each with four quarters of LAST_YEAR unless said otherwise."""
    w = await make_world(client, auth)
    grid = auth("grid_worker.village")
    made = {"home": w.home, "foreign": w.foreign}
    made["poor"] = await new_household(client, auth)  # 5000 for two: 2500 each
    await income(client, auth, made["poor"], "5000")
    made["above"] = await new_household(client, auth)  # 14000 for two: 7000 each
    await income(client, auth, made["above"], "14000")
    made["at_line"] = await new_household(client, auth, members=[person("head")])  # exactly 6000: not below
    await income(client, auth, made["at_line"], "6000")
    made["ordinary"] = await new_household(client, auth, category="ordinary")
    await income(client, auth, made["ordinary"], "100")
    made["monitored"] = await new_household(client, auth)  # 监测户 with no open case (imported so): not the rule's
    await income(client, auth, made["monitored"], "100")
    await session.execute(update(Household).where(Household.id == made["monitored"]["id"]).values(category="monitored"))
    made["no_income"] = await new_household(client, auth)
    made["open_case"] = await new_household(client, auth)
    await income(client, auth, made["open_case"], "100")
    clue = await report(client, grid, made["open_case"]["id"], ["illness"])
    await open_case(client, auth("village_staff.village"), clue["id"])
    made["eliminated"] = await new_household(client, auth)  # an old case, closed: the rule looks again
    await income(client, auth, made["eliminated"], "100")
    await add_case(session, made["eliminated"], "eliminated", eliminated_on=today() - timedelta(days=400))
    made["with_clue"] = await new_household(client, auth, region=VILLAGE_2)
    await income(client, auth, made["with_clue"], "1000")
    made["clue"] = await report(client, auth("grid_worker.county"), made["with_clue"]["id"], ["income_below_line"])
    made["other_year"] = await new_household(client, auth)
    await income(client, auth, made["other_year"], "100", year=LAST_YEAR - 1)
    # Incomplete years: never judged, listed as such.
    made["q1_to_q3"] = await new_household(client, auth)
    await income(client, auth, made["q1_to_q3"], "100", quarters=(1, 2, 3))
    made["gap"] = await new_household(client, auth)  # Q3 never collected
    await income(client, auth, made["gap"], "100", quarters=(1, 2, 4))
    # Across the year boundary: LAST_YEAR's Q4 is missing but the four quarters up to Q3 make
    # a year (the year before's Q4 and LAST_YEAR's Q1–Q3): judged, below.
    made["boundary"] = await new_household(client, auth)
    await income(client, auth, made["boundary"], "400", year=LAST_YEAR - 1, quarters=(4,))
    await income(client, auth, made["boundary"], "400", quarters=(1, 2, 3))
    return made


def _ids(made, *names):
    return [made[n]["id"] for n in names]


BELOW = ("poor", "eliminated", "with_clue", "boundary")  # judged below the line over twelve months
INCOMPLETE = ("home", "q1_to_q3", "gap")  # twelve months incomplete: listed, never judged


async def test_uncovered_households_follow_the_rule(client, auth, uncovered_world):
    made = uncovered_world
    r = await client.get(UNCOVERED, headers=auth(COUNTY_STAFF))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == sorted(_ids(made, *BELOW, *INCOMPLETE))
    by_id = {i["id"]: i for i in items}
    poor = by_id[made["poor"]["id"]]
    assert poor == {
        "id": made["poor"]["id"],
        "household_no": made["poor"]["household_no"],
        "head_name": "张三",
        "region_code": VILLAGE,
        "per_capita_net": "2500.00",
        "line": LINE,
        "income_complete": True,
        "quarters": 4,
        "period": f"{LAST_YEAR}Q1–{LAST_YEAR}Q4",
        "open_clue_id": None,
    }
    assert by_id[made["with_clue"]["id"]]["open_clue_id"] == made["clue"]["id"]
    assert r.json()["next_cursor"] is None
    # Only Q1 recorded (100 for three people): the figure is shown, the year is not judged.
    home = by_id[made["home"]["id"]]
    assert (home["income_complete"], home["quarters"], home["period"], home["per_capita_net"]) == (
        False,
        1,
        f"{LAST_YEAR - 1}Q2–{LAST_YEAR}Q1",
        "33.33",
    )
    assert (by_id[made["q1_to_q3"]["id"]]["quarters"], by_id[made["q1_to_q3"]["id"]]["period"]) == (
        3,
        f"{LAST_YEAR - 1}Q4–{LAST_YEAR}Q3",
    )
    assert (by_id[made["gap"]["id"]]["quarters"], by_id[made["gap"]["id"]]["period"]) == (
        3,
        f"{LAST_YEAR}Q1–{LAST_YEAR}Q4",
    )
    boundary = by_id[made["boundary"]["id"]]  # 4 × 100 for two: 200 each
    assert (boundary["income_complete"], boundary["period"], boundary["per_capita_net"]) == (
        True,
        f"{LAST_YEAR - 1}Q4–{LAST_YEAR}Q3",
        "200.00",
    )

    # Judged ones only, incomplete ones only.
    r = await client.get(UNCOVERED, params={"income_complete": "true"}, headers=auth(COUNTY_STAFF))
    assert [i["id"] for i in r.json()["items"]] == sorted(_ids(made, *BELOW))
    r = await client.get(UNCOVERED, params={"income_complete": "false"}, headers=auth(COUNTY_STAFF))
    assert [i["id"] for i in r.json()["items"]] == sorted(_ids(made, *INCOMPLETE))

    # A region filter, and the village's own view.
    r = await client.get(UNCOVERED, params={"region": VILLAGE_2}, headers=auth(COUNTY_STAFF))
    assert [i["id"] for i in r.json()["items"]] == _ids(made, "with_clue")
    r = await client.get(UNCOVERED, headers=auth("grid_worker.village"))
    assert [i["id"] for i in r.json()["items"]] == sorted(
        _ids(made, "home", "poor", "eliminated", "q1_to_q3", "gap", "boundary")
    )
    # The other county sees its own (its household has only Q1: incomplete).
    r = await client.get(UNCOVERED, headers=auth("county_staff.other"))
    assert [(i["id"], i["income_complete"]) for i in r.json()["items"]] == [(made["foreign"]["id"], False)]
    # The year before: only that year's income counts, and it has no line yet.
    r = await client.get(UNCOVERED, params={"year": LAST_YEAR - 1}, headers=auth(COUNTY_STAFF))
    assert r.status_code == 409 and r.json()["field"] == "year" and r.json()["code"] == "income_line_missing"


async def test_the_running_year_reaches_todays_quarter(client, auth, session, uncovered_world):
    """For the year that runs, the twelve months end at today's quarter (reaching back into
    last year); households with nothing recorded this year are not judged for it."""
    this_year, current = today().year, (today().month - 1) // 3 + 1
    await add_line(session, this_year, "7000.00")
    hh = await new_household(client, auth)  # two members
    await income(client, auth, hh, "4000", year=this_year - 1, quarters=range(current + 1, 5))
    await income(client, auth, hh, "4000", year=this_year, quarters=range(1, current + 1))
    part = await new_household(client, auth)  # this year's quarters only: incomplete unless it is Q4
    await income(client, auth, part, "4000", year=this_year, quarters=range(1, current + 1))
    r = await client.get(UNCOVERED, params={"year": this_year}, headers=auth(COUNTY_STAFF))
    assert r.status_code == 200, r.text
    items = {i["id"]: i for i in r.json()["items"]}
    assert set(items) == {hh["id"], part["id"]}
    mine = items[hh["id"]]
    first = f"{this_year - 1}Q{current + 1}" if current < 4 else f"{this_year}Q1"
    assert (mine["income_complete"], mine["period"], mine["per_capita_net"], mine["line"]) == (
        True,
        f"{first}–{this_year}Q{current}",
        "2000.00",
        "7000.00",
    )
    assert (items[part["id"]]["income_complete"], items[part["id"]]["quarters"]) == (current == 4, current)


async def test_uncovered_households_in_pages(client, auth, uncovered_world):
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        r = await client.get(UNCOVERED, params=params, headers=auth(COUNTY_STAFF))
        assert r.status_code == 200 and len(r.json()["items"]) <= 1
        seen += [i["id"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(_ids(uncovered_world, *BELOW, *INCOMPLETE))
    bad = await client.get(UNCOVERED, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=auth(COUNTY_STAFF))
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"


@pytest.mark.parametrize(
    "params,status,field",
    [
        ({"region": "529902"}, 404, "region"),
        ({"region": "529901009"}, 404, "region"),
        ({"region": "52990"}, 422, "region"),
        ({"year": 1999}, 422, "year"),
        ({"limit": 0}, 422, "limit"),
    ],
)
async def test_uncovered_households_bad_requests(client, auth, uncovered_world, params, status, field):
    r = await client.get(UNCOVERED, params=params, headers=auth(COUNTY_STAFF))
    assert r.status_code == status and r.json()["field"] == field


async def test_uncovered_households_need_monitoring_read(client, auth, uncovered_world):
    assert (await client.get(UNCOVERED, headers=auth("admin.county"))).status_code == 403
    assert (await client.get(UNCOVERED, headers=auth("department_system.county"))).status_code == 403


async def _clue_of(session, household_id) -> tuple[RiskClue, list[ClueReport]]:
    clue = (
        await session.execute(select(RiskClue).where(RiskClue.household_id == household_id, RiskClue.status == "open"))
    ).scalar_one()
    reports = (
        (await session.execute(select(ClueReport).where(ClueReport.clue_id == clue.id).order_by(ClueReport.id)))
        .scalars()
        .all()
    )
    return clue, list(reports)


async def test_the_rule_raises_clues_once(client, auth, session, uncovered_world):
    made = uncovered_world
    h = auth("grid_worker.county")
    r = await client.post(f"{UNCOVERED}/clues", json={}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"year": LAST_YEAR, "households": 4, "created": 3, "merged": 1, "duplicate": 0}
    # Never a clue on an incomplete year.
    for name in INCOMPLETE:
        assert (
            await session.execute(select(RiskClue).where(RiskClue.household_id == made[name]["id"]))
        ).first() is None, name

    clue, reports = await _clue_of(session, made["poor"]["id"])
    assert clue.risk_types == ["income_below_line"] and clue.channels == ["department_screening"]
    assert clue.next_deadline is not None
    assert len(reports) == 1
    assert (reports[0].source, reports[0].external_ref) == (
        "rule:income_below_line",
        f"income_below_line:{LAST_YEAR}:{made['poor']['id']}",
    )
    assert "2500.00" in reports[0].evidence and LINE in reports[0].evidence
    assert f"{LAST_YEAR}Q1–{LAST_YEAR}Q4" in reports[0].evidence
    merged, merged_reports = await _clue_of(session, made["with_clue"]["id"])
    assert merged.id == made["clue"]["id"] and merged.report_count == 2
    assert merged_reports[-1].channel == "department_screening"
    # The list now names the clues.
    listed = (await client.get(UNCOVERED, params={"income_complete": "true"}, headers=h)).json()["items"]
    assert all(i["open_clue_id"] is not None for i in listed)

    again = await client.post(f"{UNCOVERED}/clues", json={"year": LAST_YEAR, "region": COUNTY}, headers=h)
    assert again.json() == {"year": LAST_YEAR, "households": 4, "created": 0, "merged": 0, "duplicate": 4}
    assert len((await _clue_of(session, made["poor"]["id"]))[1]) == 1


async def test_raising_clues_is_limited_to_the_region_and_audited(client, auth, session, db, uncovered_world):
    r = await client.post(f"{UNCOVERED}/clues", json={"region": VILLAGE_2}, headers=auth("grid_worker.county"))
    assert r.json() == {"year": LAST_YEAR, "households": 1, "created": 0, "merged": 1, "duplicate": 0}
    rows = (
        await db.connection.execute(
            text("SELECT detail FROM audit_log WHERE action = 'api.raise_uncovered_clues' ORDER BY id")
        )
    ).all()
    assert rows and any("clue_reports" in " ".join(d.detail.get("rows", [])) for d in rows)


async def test_raising_clues_is_idempotent_with_a_key(client, auth, session, uncovered_world):
    h = {**auth("grid_worker.county"), "Idempotency-Key": "uncovered-run-1"}
    first = await client.post(f"{UNCOVERED}/clues", json={}, headers=h)
    second = await client.post(f"{UNCOVERED}/clues", json={}, headers=h)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and first.json()["created"] == 3


async def test_raising_clues_in_small_batches(session, uncovered_world):
    """The service reads the households a batch at a time; the result is the same."""
    batches = []

    async def after_batch():
        batches.append(1)

    from services.core.scope import bind_scope

    bind_scope(session, COUNTY)
    counts = await lines.raise_uncovered_clues(
        session, LAST_YEAR, COUNTY, Reporter(None, None), after_batch=after_batch, batch=2
    )
    assert counts == {"households": 4, "created": 3, "merged": 1, "duplicate": 0}
    assert len(batches) == 2


@pytest.mark.parametrize(
    "body,status,field",
    [
        ({"region": "529902"}, 404, "region"),
        ({"region": "5299"}, 404, "region"),
        ({"region": "5299011"}, 422, "region"),
        ({"year": 1999}, 422, "year"),
        ({"year": LAST_YEAR - 1}, 409, "year"),
        ({"household_id": 1}, 422, "household_id"),
    ],
)
async def test_raising_clues_bad_requests(client, auth, session, uncovered_world, body, status, field):
    r = await client.post(f"{UNCOVERED}/clues", json=body, headers=auth("grid_worker.county"))
    assert r.status_code == status, r.text
    assert r.json()["field"] == field
    assert (
        await session.execute(select(ClueReport).where(ClueReport.source == "rule:income_below_line"))
    ).first() is None


@pytest.mark.parametrize("username", ["auditor.county", "county_approver.county", "admin.county"])
async def test_raising_clues_needs_clues_report(client, auth, uncovered_world, username):
    assert (await client.post(f"{UNCOVERED}/clues", json={}, headers=auth(username))).status_code == 403


# ---- statistics ---------------------------------------------------------------------------------

STATS = "/api/v1/monitoring/statistics"


@pytest.fixture
async def stats_world(client, auth, session):
    y = today().year
    d = today()
    hh = {
        name: await new_household(client, auth, region=region, user=user)
        for name, region, user in [
            ("a1", VILLAGE, COUNTY_STAFF),
            ("a2", VILLAGE, COUNTY_STAFF),
            ("a3", VILLAGE, COUNTY_STAFF),
            ("b1", VILLAGE_2, COUNTY_STAFF),
            ("b2", VILLAGE_2, COUNTY_STAFF),
            ("c1", OTHER_TOWNSHIP_VILLAGE, COUNTY_STAFF),
            ("x1", OTHER_COUNTY_VILLAGE, "county_staff.other"),
        ]
    }
    await add_case(
        session,
        hh["a1"],
        "assisting",
        "marginal",
        ["illness", "schooling_costs"],
        first_clue_on=date(y, 1, 5),
        identified_on=date(y, 1, 20),
        next_deadline=d - timedelta(days=1),
    )
    await add_case(
        session, hh["a2"], "verification", "sudden_hardship", ["disaster"], next_deadline=d + timedelta(days=1)
    )
    await add_case(
        session,
        hh["a3"],
        "eliminated",
        "unstable_lifted_out",
        ["illness"],
        first_clue_on=date(y - 1, 2, 1),
        identified_on=date(y - 1, 2, 21),
        eliminated_on=date(y, 2, 1),
    )
    await add_case(
        session,
        hh["b1"],
        "assisting",
        "unstable_lifted_out",
        ["unstable_employment", "illness"],
        first_clue_on=date(y, 2, 1),
        identified_on=date(y, 2, 11),
    )
    await add_case(session, hh["b2"], "rejected", "marginal", ["other"])
    await add_case(
        session, hh["c1"], "identification_notice", "marginal", ["unsafe_housing"], next_deadline=d - timedelta(days=3)
    )
    await add_case(
        session,
        hh["x1"],
        "assisting",
        "marginal",
        ["illness"],
        identified_on=date(y, 3, 1),
        first_clue_on=date(y, 2, 1),
        next_deadline=d - timedelta(days=1),
    )
    await add_clue(session, hh["a2"], next_deadline=d - timedelta(days=2))
    await add_clue(session, hh["b2"], risks=["disaster"], next_deadline=d + timedelta(days=2))
    await add_clue(session, hh["a1"], status="dismissed", next_deadline=d - timedelta(days=9))
    await add_clue(session, hh["x1"], next_deadline=d - timedelta(days=2))
    return hh


def _zeros(keys):
    return dict.fromkeys(keys, 0)


def _row(body, code):
    return next(i for i in body["items"] if i["region_code"] == code)


async def test_statistics_by_township_and_total(client, auth, stats_world):
    r = await client.get(STATS, headers=auth(COUNTY_STAFF))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["region"], body["level"], body["year"], body["as_of"]) == (
        COUNTY,
        "township",
        today().year,
        today().isoformat(),
    )
    assert [(i["region_code"], i["name"]) for i in body["items"]] == [
        ("529901001000", "石门镇"),
        ("529901002000", "龙潭镇"),
    ]
    first = _row(body, "529901001000")
    cases = first["cases"]
    assert cases["total"] == 5
    assert {k: v for k, v in cases["by_status"].items() if v} == {
        "assisting": 2,
        "verification": 1,
        "eliminated": 1,
        "rejected": 1,
    }
    assert set(cases["by_status"]) == {
        "verification",
        "village_review",
        "identification_notice",
        "township_review",
        "county_approval",
        "assisting",
        "elimination_verification",
        "elimination_review",
        "elimination_notice",
        "elimination_township_review",
        "elimination_approval",
        "eliminated",
        "rejected",
        "terminated",
    }
    assert cases["by_case_type"] == {"unstable_lifted_out": 1, "marginal": 1, "sudden_hardship": 1}
    assert {k: v for k, v in cases["by_risk_type"].items() if v} == {
        "illness": 2,
        "schooling_costs": 1,
        "disaster": 1,
        "unstable_employment": 1,
    }
    assert (first["identified"], first["eliminated"], first["avg_days_to_identification"]) == (2, 1, 12.5)
    assert first["open_clues"] == 2 and first["overdue"] == {"cases": 1, "clues": 1}

    second = _row(body, "529901002000")
    assert second["cases"]["total"] == 1 and second["cases"]["by_status"]["identification_notice"] == 1
    assert second["avg_days_to_identification"] is None and second["identified"] == 0
    assert second["overdue"] == {"cases": 1, "clues": 0} and second["open_clues"] == 0

    total = body["total"]
    assert (total["region_code"], total["name"]) == ("529901000000", "清溪县")
    assert total["cases"]["total"] == 6 and total["cases"]["by_risk_type"]["illness"] == 2
    assert (total["identified"], total["eliminated"], total["avg_days_to_identification"]) == (2, 1, 12.5)
    assert total["open_clues"] == 2 and total["overdue"] == {"cases": 2, "clues": 1}


async def test_statistics_by_village_county_and_year(client, auth, stats_world):
    h = auth(COUNTY_STAFF)
    villages = (await client.get(STATS, params={"region": TOWNSHIP}, headers=h)).json()
    assert villages["level"] == "village"
    assert [(i["region_code"], i["cases"]["total"]) for i in villages["items"]] == [(VILLAGE, 3), (VILLAGE_2, 2)]
    assert villages["total"]["cases"]["total"] == 5 and villages["total"]["name"] == "石门镇"

    county = (await client.get(STATS, params={"level": "county"}, headers=h)).json()
    assert [i["region_code"] for i in county["items"]] == ["529901000000"]
    assert county["items"][0] == {**county["total"]}

    earlier = (await client.get(STATS, params={"year": today().year - 1}, headers=h)).json()["total"]
    assert (earlier["identified"], earlier["eliminated"], earlier["avg_days_to_identification"]) == (1, 0, 20.0)

    one = (await client.get(STATS, params={"region": VILLAGE_2, "level": "village"}, headers=h)).json()
    assert [i["region_code"] for i in one["items"]] == [VILLAGE_2]

    empty = await client.get(STATS, params={"region": TOWNSHIP}, headers=auth("county_staff.other"))
    assert empty.status_code == 404


async def test_statistics_of_an_empty_region_are_zeros(client, auth):
    r = await client.get(STATS, params={"region": VILLAGE}, headers=auth("grid_worker.village"))
    assert r.status_code == 200
    row = r.json()["items"][0]
    assert row["cases"]["total"] == 0 and row["avg_days_to_identification"] is None
    assert (
        row["cases"]["by_risk_type"] == _zeros(row["cases"]["by_risk_type"]) and len(row["cases"]["by_risk_type"]) == 13
    )
    assert r.json()["total"] == {**row}


async def test_statistics_keep_to_the_callers_regions(client, auth, stats_world):
    village = (await client.get(STATS, headers=auth("grid_worker.village"))).json()
    assert village["level"] == "village" and village["total"]["cases"]["total"] == 3
    other = (await client.get(STATS, headers=auth("county_staff.other"))).json()
    assert other["total"]["cases"]["total"] == 1 and other["total"]["overdue"] == {"cases": 1, "clues": 1}


async def test_statistics_show_risk_counts_without_health_permission(client, auth, stats_world):
    r = await client.get(STATS, headers=auth("auditor.county"))  # monitoring:read, not registry:health
    assert r.status_code == 200 and r.json()["total"]["cases"]["by_risk_type"]["illness"] == 2


@pytest.mark.parametrize(
    "username,params,status,field",
    [
        (COUNTY_STAFF, {"region": "529902"}, 404, "region"),
        ("township_staff.township", {"region": COUNTY}, 404, "region"),
        (COUNTY_STAFF, {"region": "5299x1"}, 422, "region"),
        (COUNTY_STAFF, {"region": TOWNSHIP, "level": "county"}, 422, "level"),
        (COUNTY_STAFF, {"level": "province"}, 422, "level"),
        (COUNTY_STAFF, {"year": 3000}, 422, "year"),
    ],
)
async def test_statistics_bad_requests(client, auth, username, params, status, field):
    r = await client.get(STATS, params=params, headers=auth(username))
    assert r.status_code == status and r.json()["field"] == field


async def test_statistics_need_monitoring_read(client, auth):
    assert (await client.get(STATS, headers=auth("admin.county"))).status_code == 403


# ---- public notice lists --------------------------------------------------------------------------

NOTICES = "/api/v1/monitoring/notices"
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
PHONE = re.compile(r"1[3-9]\d{9}")
HEALTH_WORDS = ("illness", "disab", "health", "尿毒症", "疾病", "残疾", "risk", "phone", "id_number", "bank")


@pytest.fixture
async def notice_world(client, auth, session):
    d = today()
    sick = person("head", name="刘病", health="serious_illness", illness="尿毒症", phone="13912345678")
    hh = {
        "api": await new_household(
            client,
            auth,
            members=[sick, person("spouse", name="王芳", health="disabled", disability_grade=2)],
            phone="13812345678",
        )
    }
    for name, region in [("eliminating", VILLAGE), ("reviewing", VILLAGE), ("past", VILLAGE), ("elsewhere", VILLAGE_2)]:
        hh[name] = await new_household(client, auth, region=region)
    # Through the API: a clue today, verified, reviewed, the notice up from today.
    clue = await report(client, auth("grid_worker.village"), hh["api"]["id"], ["illness", "disability"])
    case = await open_case(client, auth("village_staff.village"), clue["id"], case_type="sudden_hardship")
    await step(
        client,
        auth("grid_worker.village"),
        case["id"],
        "verification",
        {"decision": "approve", "consent_signed": True, "findings": "属实"},
    )
    case = await step(client, auth("village_staff.village"), case["id"], "village-review", {"decision": "approve"})
    assert case["status"] == "identification_notice"
    await add_case(
        session,
        hh["eliminating"],
        "elimination_notice",
        "unstable_lifted_out",
        ["disability"],
        notice_start=d - timedelta(days=1),
        notice_end=d + timedelta(days=4),
        identified_on=d - timedelta(days=300),
    )
    await add_case(
        session,
        hh["reviewing"],
        "township_review",
        "marginal",
        ["illness"],
        notice_start=d - timedelta(days=2),
        notice_end=d + timedelta(days=3),
    )
    await add_case(
        session,
        hh["past"],
        "township_review",
        "marginal",
        ["illness"],
        notice_start=d - timedelta(days=12),
        notice_end=d - timedelta(days=7),
    )
    await add_case(
        session,
        hh["elsewhere"],
        "identification_notice",
        "marginal",
        ["illness"],
        notice_start=d,
        notice_end=d + timedelta(days=5),
    )
    hh["id_numbers"] = [sick["id_number"]] + [m["id_number"] for m in hh["api"]["members"]]
    return hh, case


async def test_identification_notice_list(client, auth, notice_world):
    hh, case = notice_world
    r = await client.get(NOTICES, params={"village": VILLAGE}, headers=auth("village_staff.village"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["village"], body["village_name"], body["kind"]) == (VILLAGE, "白岩村", "identification")
    assert [i["household_no"] for i in body["items"]] == [hh["reviewing"]["household_no"], hh["api"]["household_no"]]
    api_item = body["items"][1]
    assert api_item == {
        "household_no": hh["api"]["household_no"],
        "head_name": "刘病",
        "member_count": 2,
        "case_type": "sudden_hardship",
        "notice_start": case["notice_start"],
        "notice_end": case["notice_end"],
    }


async def test_elimination_notice_list(client, auth, notice_world):
    hh, _ = notice_world
    r = await client.get(NOTICES, params={"village": VILLAGE, "kind": "elimination"}, headers=auth(COUNTY_STAFF))
    assert [i["household_no"] for i in r.json()["items"]] == [hh["eliminating"]["household_no"]]
    r = await client.get(NOTICES, params={"village": VILLAGE_2}, headers=auth(COUNTY_STAFF))
    assert [i["household_no"] for i in r.json()["items"]] == [hh["elsewhere"]["household_no"]]


@pytest.mark.parametrize("kind", ["identification", "elimination"])
async def test_notice_lists_show_no_id_numbers_phones_or_health(client, auth, notice_world, kind):
    hh, _ = notice_world
    for username in ("county_staff.county", "village_staff.village", "auditor.county"):
        r = await client.get(NOTICES, params={"village": VILLAGE, "kind": kind}, headers=auth(username))
        assert r.status_code == 200 and r.json()["items"]
        raw = r.text
        assert not ID_NUMBER.search(raw), raw
        assert not any(n in raw or n[:6] + "*" in raw for n in hh["id_numbers"]), raw
        assert not PHONE.search(raw), raw
        assert not any(word in raw for word in HEALTH_WORDS), raw
        for item in r.json()["items"]:
            assert set(item) == {"household_no", "head_name", "member_count", "case_type", "notice_start", "notice_end"}


@pytest.mark.parametrize(
    "username,params,status,field",
    [
        (COUNTY_STAFF, {"village": OTHER_COUNTY_VILLAGE}, 404, "village"),
        ("village_staff.village", {"village": VILLAGE_2}, 404, "village"),
        (COUNTY_STAFF, {"village": "529901001999"}, 404, "village"),
        (COUNTY_STAFF, {"village": TOWNSHIP.ljust(12, "0")}, 422, "village"),
        (COUNTY_STAFF, {"village": "52990100100"}, 422, "village"),
        (COUNTY_STAFF, {"village": VILLAGE, "kind": "death"}, 422, "kind"),
        (COUNTY_STAFF, {}, 422, "village"),
    ],
)
async def test_notice_list_bad_requests(client, auth, username, params, status, field):
    r = await client.get(NOTICES, params=params, headers=auth(username))
    assert r.status_code == status and r.json()["field"] == field


async def test_notice_lists_need_monitoring_read(client, auth):
    r = await client.get(NOTICES, params={"village": VILLAGE}, headers=auth("admin.county"))
    assert r.status_code == 403


# ---- the line's own rule, directly ------------------------------------------------------------------


async def test_require_lines_names_the_year_and_province(session):
    await add_line(session, 2030, "9000.00", province="52")
    assert await lines.require_lines(session, 2030, COUNTY) == {"52": Decimal("9000.00")}
    from services.core.errors import Conflict

    with pytest.raises(Conflict) as raised:
        await lines.require_lines(session, 2031, COUNTY)
    assert raised.value.field == "year" and raised.value.params == {"year": 2031, "province": "52"}
