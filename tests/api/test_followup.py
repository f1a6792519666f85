"""Follow-up of everyone (docs/follow-up.md): responsible cadres with history, scheduled
follow-up visits and the overdue list, households missing a quarter's income after its
deadline, and households whose income is low or fell — with regions, roles and China's
official calendar."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.core.monitoring.models import MonitoringCase, MonitoringPolicyRow, Visit
from tests.api.test_households import create
from tests.factories import OTHER_COUNTY_VILLAGE, VILLAGE_2, code_of, person

COUNTY = "county_staff.county"


@pytest.fixture(autouse=True)
def _on_a_fixed_day(today_is):
    today_is(date(2026, 7, 1))


async def _get(client, headers, path, expect=200, **params):
    r = await client.get(path, params=params, headers=headers)
    assert r.status_code == expect, r.text
    return r.json()


async def overdue(client, headers, **params):
    return (await _get(client, headers, "/api/v1/follow-up/overdue", **params))["items"]


async def walked(client, headers, path, **params) -> list[int]:
    """The list's households page by page, one a page, following each cursor; checked against
    one page of them all (the page after a cursor is its own statement)."""
    seen, cursor = [], None
    for _ in range(100):  # a cursor that does not move on would page for ever
        page = await _get(client, headers, path, limit=1, **params, **({"cursor": cursor} if cursor else {}))
        seen += [item["household_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    whole = await _get(client, headers, path, limit=100, **params)
    assert seen == [item["household_id"] for item in whole["items"]] == sorted(set(seen)), (path, seen)
    return seen


async def assign(client, headers, household_id, cadre_id, expect=201, **body):
    r = await client.post(
        f"/api/v1/households/{household_id}/cadre-assignments",
        json={"cadre_user_id": cadre_id, **body},
        headers=headers,
    )
    assert r.status_code == expect, r.text
    return r.json()


async def visit(client, headers, household_id, on, expect=201, **body):
    r = await client.post(
        f"/api/v1/households/{household_id}/follow-up-visits",
        json={"visited_on": on, "findings": "宣传政策，了解收入", **body},
        headers=headers,
    )
    assert r.status_code == expect, r.text
    return r.json()


async def eliminated_case(session, home: dict, on: date) -> MonitoringCase:
    """A case of ``home`` whose risk was eliminated ``on`` that day (written directly: the
    API would take months to get there)."""
    case = MonitoringCase(
        household_id=home["id"],
        region_code=home["region_code"],
        case_type="marginal",
        risk_types=["illness"],
        status="eliminated",
        first_clue_on=date(2023, 9, 1),
        opened_on=date(2023, 9, 1),
        identified_on=date(2023, 9, 20),
        eliminated_on=on,
        elimination_way="by_assistance",
        category_before="ordinary",
        deadline_breaches=[],
    )
    session.add(case)
    await session.flush()
    return case


async def monitored_household(client, auth, session) -> dict:
    """A household that became 监测户 (only a case makes one: set here directly)."""
    from sqlalchemy import update

    from services.core.households.models import Household

    home = await create(client, auth)
    await session.execute(update(Household).where(Household.id == home["id"]).values(category="monitored"))
    await session.flush()
    return home


# ---------------------------------------------------------------- responsible cadres


async def test_assign_reassign_and_history(client, auth, user_ids):
    county = auth(COUNTY)
    home = await create(client, auth)
    cadre, other = user_ids["assistance_cadre.village"], user_ids["assistance_cadre.township"]
    first = await assign(client, county, home["id"], cadre, from_on="2026-01-05", note="包户")
    assert (first["cadre_user_id"], first["from_on"], first["to_on"]) == (cadre, "2026-01-05", None)
    # The same cadre again is a conflict; a reassignment before the current one's first day is refused.
    r = await client.post(
        f"/api/v1/households/{home['id']}/cadre-assignments",
        json={"cadre_user_id": cadre},
        headers={**county, "Accept-Language": "zh"},
    )
    assert r.status_code == 409 and code_of(r) == "cadre_already_assigned" and "帮扶责任人" in r.json()["detail"]
    r = await client.post(
        f"/api/v1/households/{home['id']}/cadre-assignments",
        json={"cadre_user_id": other, "from_on": "2025-12-31"},
        headers=county,
    )
    assert r.status_code == 422 and code_of(r) == "assignment_before_current"
    assert r.json()["errors"][0]["field"] == "from_on"
    await assign(client, county, home["id"], other, from_on="2026-06-01")
    history = await _get(client, county, f"/api/v1/households/{home['id']}/cadre-assignments")
    assert [(a["cadre_user_id"], a["from_on"], a["to_on"]) for a in history["items"]] == [
        (cadre, "2026-01-05", "2026-06-01"),
        (other, "2026-06-01", None),
    ]
    # The cadre's households: only the current ones.
    mine = await _get(client, county, f"/api/v1/follow-up/cadres/{other}/households")
    assert [(h["household_id"], h["from_on"]) for h in mine["items"]] == [(home["id"], "2026-06-01")]
    assert (await _get(client, county, f"/api/v1/follow-up/cadres/{cadre}/households"))["items"] == []


async def test_assignment_failures(client, auth, user_ids):
    county = auth(COUNTY)
    home = await create(client, auth)
    # Not an assisting role, a cadre of another county, a missing user: 422 naming the field.
    for user in ("auditor.county", "county_staff.other", None):
        r = await client.post(
            f"/api/v1/households/{home['id']}/cadre-assignments",
            json={"cadre_user_id": user_ids[user] if user else 987654321},
            headers={**county, "Accept-Language": "zh"},
        )
        assert r.status_code == 422 and code_of(r) == "cadre_not_eligible", r.text
        assert r.json()["errors"][0]["field"] == "cadre_user_id"
    r = await client.post(
        f"/api/v1/households/{home['id']}/cadre-assignments",
        json={"cadre_user_id": user_ids["assistance_cadre.village"], "from_on": "2030-01-01"},
        headers=county,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from_on"
    # Roles without cases:assign get 403; another county's staff 404; a missing household 404.
    r = await client.post(
        f"/api/v1/households/{home['id']}/cadre-assignments",
        json={"cadre_user_id": user_ids["assistance_cadre.village"]},
        headers=auth("assistance_cadre.village"),
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/households/{home['id']}/cadre-assignments",
        json={"cadre_user_id": user_ids["assistance_cadre.village"]},
        headers=auth("county_staff.other"),
    )
    assert r.status_code == 404
    await _get(client, county, "/api/v1/households/987654321/cadre-assignments", expect=404)
    # A cadre outside the caller's regions is not found, like a missing one.
    await _get(
        client,
        auth("township_staff.township"),
        f"/api/v1/follow-up/cadres/{user_ids['assistance_cadre.county']}/households",
        expect=404,
    )
    await _get(client, county, "/api/v1/follow-up/cadres/987654321/households", expect=404)


# ---------------------------------------------------------------- scheduled visits


async def test_overdue_follow_up_and_the_visit_that_clears_it(client, auth, user_ids):
    county, cadre = auth(COUNTY), auth("assistance_cadre.village")
    home = await create(client, auth)
    ordinary = await create(client, auth, category="ordinary")
    await assign(client, county, home["id"], user_ids["assistance_cadre.village"], from_on="2026-01-05")
    # The March visit is due Tuesday 31 March 2026; on 1 April it is a day late.
    items = await overdue(client, county, as_of="2026-04-01")
    [item] = [i for i in items if i["household_id"] == home["id"]]
    assert (item["reason"], item["month"], item["due"], item["days_late"], item["provisional"]) == (
        "lifted_out",
        "2026-03-01",
        "2026-03-31",
        1,
        False,
    )
    assert item["cadre_user_id"] == user_ids["assistance_cadre.village"] and item["last_visit_on"] is None
    assert ordinary["id"] not in {i["household_id"] for i in items}
    # On the due day itself the March visit is not late yet (the list looks back on November 2025).
    assert {i["month"] for i in await overdue(client, county, as_of="2026-03-31")} == {"2025-11-01"}
    # Filter by cadre; other counties and other villages see nothing of it.
    assert [
        i["household_id"]
        for i in await overdue(client, county, as_of="2026-04-01", cadre_user_id=user_ids["assistance_cadre.village"])
    ] == [home["id"]]
    assert home["id"] not in {
        i["household_id"] for i in await overdue(client, auth("county_staff.other"), as_of="2026-04-01")
    }
    assert await overdue(client, auth("village_staff.village2"), as_of="2026-04-01") == []
    await _get(
        client,
        auth("township_staff.township"),
        "/api/v1/follow-up/overdue",
        expect=404,
        region=OTHER_COUNTY_VILLAGE[:9],
    )
    # A visit in March by the due day clears it; sent again, it changes nothing.
    visit_id = str(uuid.uuid4())
    done = await visit(client, cadre, home["id"], "2026-03-20", id=visit_id)
    assert done["cadre_user_id"] == user_ids["assistance_cadre.village"]
    again = await visit(client, cadre, home["id"], "2026-03-20", expect=200, id=visit_id)
    assert again["id"] == visit_id
    await visit(client, cadre, home["id"], "2026-03-21", expect=409, id=visit_id)
    assert home["id"] not in {i["household_id"] for i in await overdue(client, county, as_of="2026-04-01")}
    listed = await _get(client, county, f"/api/v1/households/{home['id']}/follow-up-visits")
    assert [v["visited_on"] for v in listed["items"]] == ["2026-03-20"]
    # A phone call does not count by default (the policy's counted modes).
    neighbour = await create(client, auth)
    await visit(client, cadre, neighbour["id"], "2026-03-20", mode="phone")
    assert neighbour["id"] in {i["household_id"] for i in await overdue(client, county, as_of="2026-04-01")}


async def test_follow_up_visit_failures(client, auth, session):
    cadre = auth("assistance_cadre.village")
    ordinary = await create(client, auth, category="ordinary")
    r = await client.post(
        f"/api/v1/households/{ordinary['id']}/follow-up-visits",
        json={"visited_on": "2026-03-02", "findings": "走访"},
        headers={**cadre, "Accept-Language": "zh"},
    )
    assert r.status_code == 409 and code_of(r) == "followup_not_applicable" and "跟踪" in r.json()["detail"]
    monitored = await monitored_household(client, auth, session)
    r = await client.post(
        f"/api/v1/households/{monitored['id']}/follow-up-visits",
        json={"visited_on": "2026-03-02", "findings": "走访"},
        headers=cadre,
    )
    assert r.status_code == 409 and code_of(r) == "followup_case_open"
    home = await create(client, auth)
    for body, field in (
        ({"visited_on": "2026-03-02"}, "findings"),
        ({"visited_on": "2027-01-01", "findings": "走访"}, "visited_on"),
        ({"visited_on": "2026-03-02", "findings": "走访", "mode": "letter"}, "mode"),
    ):
        r = await client.post(
            f"/api/v1/households/{home['id']}/follow-up-visits", json=body, headers={**cadre, "Accept-Language": "zh"}
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    # Roles without cases:assist: 403; another county's staff: 404.
    r = await client.post(
        f"/api/v1/households/{home['id']}/follow-up-visits",
        json={"visited_on": "2026-03-02", "findings": "走访"},
        headers=auth("auditor.county"),
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/households/{home['id']}/follow-up-visits",
        json={"visited_on": "2026-03-02", "findings": "走访"},
        headers=auth("county_staff.other"),
    )
    assert r.status_code == 404
    await _get(client, auth("admin.county"), "/api/v1/follow-up/overdue", expect=403)


async def test_the_regions_months_and_an_adjusted_saturday(client, auth, session):
    """The county visits in February from 2026: due Saturday 28 February (worked after Spring
    Festival); a visit on Sunday 1 March is too late for it."""
    county, cadre = auth(COUNTY), auth("assistance_cadre.village")
    session.add(MonitoringPolicyRow(region_prefix="529901", year=2026, values={"followup_visit_months": [2]}))
    await session.flush()
    home = await create(client, auth)
    assert home["id"] not in {
        i["household_id"] for i in await overdue(client, county, as_of="2026-02-28") if i["month"] == "2026-02-01"
    }
    [item] = [i for i in await overdue(client, county, as_of="2026-03-02") if i["household_id"] == home["id"]]
    assert (item["month"], item["due"], item["days_late"]) == ("2026-02-01", "2026-02-28", 2)
    await visit(client, cadre, home["id"], "2026-03-01")
    assert home["id"] in {i["household_id"] for i in await overdue(client, county, as_of="2026-03-02")}
    await visit(client, cadre, home["id"], "2026-02-28")
    assert home["id"] not in {i["household_id"] for i in await overdue(client, county, as_of="2026-03-02")}
    # Another county keeps the seed's months: its latest visit before 2 March 2026 is November 2025.
    other = await create(client, auth, user="county_staff.other", region=OTHER_COUNTY_VILLAGE)
    [item] = [
        i
        for i in await overdue(client, auth("county_staff.other"), as_of="2026-03-02")
        if i["household_id"] == other["id"]
    ]
    assert (item["month"], item["due"]) == ("2025-11-01", "2025-11-28")


async def test_eliminated_households_stay_on_follow_up_for_the_policy_period(client, auth, session):
    county = auth(COUNTY)
    home = await create(client, auth, category="ordinary")
    case = await eliminated_case(session, home, date(2025, 10, 15))
    [item] = [i for i in await overdue(client, county, as_of="2026-04-01") if i["household_id"] == home["id"]]
    assert (item["reason"], item["eliminated_on"]) == ("eliminated", "2025-10-15")
    # Twelve months after elimination (the default) end in October 2026: the November visit is not owed.
    assert home["id"] not in {i["household_id"] for i in await overdue(client, county, as_of="2026-12-01")}
    # A case visit in the month counts as the follow-up visit.
    session.add(
        Visit(
            id=uuid.uuid4(),
            case_id=case.id,
            household_id=home["id"],
            region_code=home["region_code"],
            cadre_user_id=await _any_user(session),
            visited_on=date(2026, 3, 5),
            mode="in_person",
            findings="回头看",
            attachments=[],
        )
    )
    await session.flush()
    assert home["id"] not in {i["household_id"] for i in await overdue(client, county, as_of="2026-04-01")}
    # A county whose period is two months: no longer followed in March 2026.
    session.add(MonitoringPolicyRow(region_prefix="529901", year=2026, values={"followup_after_elimination_months": 2}))
    await session.flush()
    assert home["id"] not in {i["household_id"] for i in await overdue(client, county, as_of="2026-09-01")}


async def _any_user(session) -> int:
    from sqlalchemy import select

    from services.core.accounts.models import User

    return (await session.execute(select(User.id).where(User.username == "assistance_cadre.village"))).scalar_one()


async def test_overdue_list_pages_by_household(client, auth):
    """Every page after the first keeps the visits of its own households: households visited
    in March, between and after the overdue ones, are on no page."""
    county, cadre = auth(COUNTY), auth("assistance_cadre.village")
    ids, visited = [], []
    for n in range(7):
        made = (await create(client, auth, members=[person("head")]))["id"]
        if n in (2, 5, 6):
            await visit(client, cadre, made, "2026-03-20")
            visited.append(made)
        else:
            ids.append(made)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"as_of": "2026-04-01", "limit": 2, "region": "529901001001"}
        if cursor:
            params["cursor"] = cursor
        page = await _get(client, county, "/api/v1/follow-up/overdue", **params)
        seen += [i["household_id"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert set(ids) <= set(seen) and seen == sorted(seen) and len(seen) == len(set(seen))
    assert not set(visited) & set(seen) and pages >= 2
    r = await client.get("/api/v1/follow-up/overdue", params={"cursor": "not-a-cursor"}, headers=county)
    assert r.status_code == 422 and code_of(r) == "cursor_invalid"


# ---------------------------------------------------------------- quarterly income


def _income(year, quarter, wages):
    return {"year": year, "quarter": quarter, "wages": wages, "business": "0", "property": "0", "transfers": "0"}


async def _record(client, headers, household_id, year, quarter, wages="3000.00"):
    r = await client.post(
        f"/api/v1/households/{household_id}/income-records", json=_income(year, quarter, wages), headers=headers
    )
    assert r.status_code == 201, r.text


async def test_missing_income_after_the_deadline_across_national_day(client, auth, session):
    county = auth(COUNTY)
    home = await create(client, auth)
    monitored = await monitored_household(client, auth, session)
    ordinary = await create(client, auth, category="ordinary")
    recorded = await create(client, auth)
    await _record(client, county, recorded["id"], 2025, 3)
    # Q3 2025 is due 21 October (1–8 October off, Saturday 11 October worked): not missing yet on the 21st.
    r = await client.get(
        "/api/v1/follow-up/income-missing",
        params={"year": 2025, "quarter": 3, "as_of": "2025-10-21"},
        headers={**county, "Accept-Language": "zh"},
    )
    assert r.status_code == 422 and code_of(r) == "income_quarter_not_due" and "2025-10-21" in r.json()["detail"]
    assert r.json()["errors"][0]["field"] == "quarter"
    page = await _get(client, county, "/api/v1/follow-up/income-missing", year=2025, quarter=3, as_of="2025-10-22")
    missing = {i["household_id"]: i for i in page["items"]}
    assert home["id"] in missing and monitored["id"] in missing
    assert ordinary["id"] not in missing and recorded["id"] not in missing
    paged = await walked(client, county, "/api/v1/follow-up/income-missing", year=2025, quarter=3, as_of="2025-10-22")
    assert {home["id"], monitored["id"]} <= set(paged) and recorded["id"] not in paged
    assert (missing[home["id"]]["deadline"], missing[home["id"]]["provisional"]) == ("2025-10-21", False)
    # Scope and roles.
    other = await _get(
        client, auth("county_staff.other"), "/api/v1/follow-up/income-missing", year=2025, quarter=3, as_of="2025-10-22"
    )
    assert home["id"] not in {i["household_id"] for i in other["items"]}
    assert (
        await _get(
            client,
            auth("village_staff.village2"),
            "/api/v1/follow-up/income-missing",
            year=2025,
            quarter=3,
            as_of="2025-10-22",
        )
    )["items"] == []
    await _get(client, county, "/api/v1/follow-up/income-missing", expect=404, year=2025, quarter=3, region="529902")
    await _get(client, auth("admin.county"), "/api/v1/follow-up/income-missing", expect=403, year=2025, quarter=3)
    r = await client.get("/api/v1/follow-up/income-missing", params={"year": 2025, "quarter": 5}, headers=county)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quarter"


async def test_missing_income_deadline_across_spring_festival(client, auth, session):
    """The county gives 20 working days for Q4 2024: Sunday 26 January 2025 is worked, 28
    January – 4 February off, so the income is due 5 February."""
    county = auth(COUNTY)
    session.add(MonitoringPolicyRow(region_prefix="529901", year=2024, values={"income_entry_days": 20}))
    await session.flush()
    home = await create(client, auth)
    r = await client.get(
        "/api/v1/follow-up/income-missing", params={"year": 2024, "quarter": 4, "as_of": "2025-02-05"}, headers=county
    )
    assert r.status_code == 422 and code_of(r) == "income_quarter_not_due" and "2025-02-05" in r.json()["detail"]
    page = await _get(client, county, "/api/v1/follow-up/income-missing", year=2024, quarter=4, as_of="2025-02-06")
    [item] = [i for i in page["items"] if i["household_id"] == home["id"]]
    assert item["deadline"] == "2025-02-05"


async def test_income_flags(client, auth):
    county = auth(COUNTY)
    three = [person("head"), person("spouse", name="王芳"), person("child", name="张小明", male=True)]
    low = await create(client, auth, members=three)
    fell = await create(
        client, auth, members=[person("head"), person("spouse", name="王芳"), person("child", name="张小明", male=True)]
    )
    steady = await create(
        client, auth, members=[person("head"), person("spouse", name="王芳"), person("child", name="张小明", male=True)]
    )
    incomplete = await create(client, auth, members=[person("head")])
    for quarter in range(1, 5):
        await _record(client, county, low["id"], 2025, quarter, "6000.00")  # 24,000 / 3 = 8,000 per capita
        await _record(client, county, fell["id"], 2024, quarter, "12000.00")  # 16,000 per capita
        await _record(client, county, fell["id"], 2025, quarter, "10500.50")  # 14,000.67 per capita
        await _record(client, county, steady["id"], 2024, quarter, "9000.00")
        await _record(client, county, steady["id"], 2025, quarter, "9000.00")
    await _record(client, county, incomplete["id"], 2025, 4, "100.00")
    page = await _get(client, county, "/api/v1/follow-up/income-flags", year=2025, quarter=4)
    flagged = {i["household_id"]: i for i in page["items"]}
    assert flagged[low["id"]]["flags"] == ["below_watch_line"]
    assert flagged[low["id"]]["per_capita_net"] == "8000.00" and flagged[low["id"]]["watch_line"] == "10000.00"
    assert flagged[fell["id"]]["flags"] == ["fell"]
    assert (flagged[fell["id"]]["per_capita_net"], flagged[fell["id"]]["per_capita_net_year_before"]) == (
        "14000.67",
        "16000.00",
    )
    assert steady["id"] not in flagged and incomplete["id"] not in flagged
    only_fell = await _get(client, county, "/api/v1/follow-up/income-flags", year=2025, quarter=4, flag="fell")
    assert {i["household_id"] for i in only_fell["items"]} >= {fell["id"]}
    assert low["id"] not in {i["household_id"] for i in only_fell["items"]}
    # The watch line is policy: a county that watches under 20,000 flags the steady household too.
    r = await client.post(
        "/api/v1/monitoring-policies",
        json={"region_prefix": "529901", "year": 2025, "values": {"income_watch_per_capita": "20000"}},
        headers=county,
    )
    assert r.status_code == 201, r.text
    page = await _get(client, county, "/api/v1/follow-up/income-flags", year=2025, quarter=4)
    assert steady["id"] in {i["household_id"] for i in page["items"]}
    paged = await walked(client, county, "/api/v1/follow-up/income-flags", year=2025, quarter=4)
    assert {low["id"], fell["id"], steady["id"]} <= set(paged) and incomplete["id"] not in paged
    # Regions.
    assert (await _get(client, auth("village_staff.village2"), "/api/v1/follow-up/income-flags", year=2025, quarter=4))[
        "items"
    ] == []
    await _get(client, county, "/api/v1/follow-up/income-flags", expect=404, year=2025, quarter=4, region="529902")
    await _get(
        client,
        auth("village_staff.village"),
        "/api/v1/follow-up/income-flags",
        expect=404,
        year=2025,
        quarter=4,
        region=VILLAGE_2,
    )


async def test_a_policy_override_is_validated(client, auth):
    r = await client.post(
        "/api/v1/monitoring-policies",
        json={"region_prefix": "529901", "year": 2026, "values": {"followup_visit_months": [3, 13]}},
        headers={**auth(COUNTY), "Accept-Language": "zh"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("values.followup_visit_months")


async def test_the_quarter_by_default(client, auth):
    """Today is 1 July 2026: Q2 is not due yet (10 working days after 30 June), so the missing
    list looks at Q1; the flags look at the last completed quarter, Q2."""
    county = auth(COUNTY)
    home = await create(client, auth)
    page = await _get(client, county, "/api/v1/follow-up/income-missing")
    [item] = [i for i in page["items"] if i["household_id"] == home["id"]]
    assert item["deadline"] == "2026-04-15"  # Qingming: 4–6 April 2026 off
    assert (await _get(client, county, "/api/v1/follow-up/income-flags"))["items"] == []
    # A year alone or a quarter alone is completed from the latest quarter that is due: 2026
    # alone is its Q1; Q1 alone is 2026's; Q2 alone is 2025's (2026's is not due).
    for params in ({"year": 2026}, {"quarter": 1}):
        r = await client.get("/api/v1/follow-up/income-missing", params=params, headers=county)
        assert r.status_code == 200, (params, r.text)
        [item] = [i for i in r.json()["items"] if i["household_id"] == home["id"]]
        assert item["deadline"] == "2026-04-15", params
    r = await client.get("/api/v1/follow-up/income-missing", params={"quarter": 2}, headers=county)
    assert r.status_code == 200
    assert all(i["deadline"].startswith("2025-07") for i in r.json()["items"]), r.json()["items"][:2]
