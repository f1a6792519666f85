"""A county's year, played through the API: a clue in January, identification within the
deadline, assistance with a plan, monthly visits and quarterly income, the elimination
guard refusing and then allowing, the household's category following, and a new risk
opening a new case. Dates are given as the steps' days (paper first, entered later)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.api.monitoring_helpers import add_line, etag_of, open_case, report, step
from tests.api.test_households import create
from tests.factories import code_of

YEAR = 2025


@pytest.fixture(autouse=True)
def _in_the_following_year(today_is):
    """The year played is past: the code's today is fixed in the next one, so that these
    tests run, and the same, on any date."""
    today_is(date(2026, 7, 1))


async def _income(client, headers, household_id, quarter, wages, year=YEAR):
    body = {"year": year, "quarter": quarter, "wages": wages, "business": "0", "property": "0", "transfers": "0"}
    r = await client.post(f"/api/v1/households/{household_id}/income-records", json=body, headers=headers)
    assert r.status_code == 201, r.text


async def test_a_year_of_one_household(client, auth, session, user_ids):
    grid, village = auth("grid_worker.village"), auth("village_staff.village")
    township, approver = auth("township_staff.township"), auth("county_approver.county")
    cadre = auth("assistance_cadre.village")
    await add_line(session, YEAR, "7300.00")
    home = await create(client, auth)  # lifted_out, three members, two able to work
    hid = home["id"]

    # January: a grid worker's visit finds the risk; a self-declaration of the same risk merges.
    clue = await report(client, grid, hid, ["illness"], on="2025-01-06")
    assert clue["outcome"] == "created" and clue["next_deadline"] == {
        "kind": "identification",
        "due": "2025-01-21",
        "provisional": False,
    }
    again = await report(
        client,
        grid,
        hid,
        ["illness", "schooling_costs"],
        channel="self_declaration",
        on="2025-01-07",
        declarant_name="张三",
    )
    assert (again["id"], again["outcome"], again["report_count"]) == (clue["id"], "merged", 2)
    assert again["risk_types"] == ["illness", "schooling_costs"]

    case = await open_case(client, village, clue["id"], effective_on="2025-01-07")
    cid = case["id"]
    assert case["status"] == "verification" and case["first_clue_on"] == "2025-01-06"
    assert [a["action"] for a in case["allowed_actions"]] == ["verify", "terminate"]

    # Verification needs the household's consent.
    r = await step(
        client,
        grid,
        cid,
        "verification",
        {"decision": "approve", "findings": "属实", "effective_on": "2025-01-08"},
        expect=422,
    )
    assert r["field"] == "consent_signed"
    await step(
        client,
        grid,
        cid,
        "verification",
        {
            "decision": "approve",
            "consent_signed": True,
            "findings": "属实",
            "effective_on": "2025-01-08",
            "attachments": [{"name": "承诺授权书", "ref": "doc://1"}],
        },
    )
    # A notice shorter than five days is refused; the shortest allowed is the default.
    r = await step(
        client,
        village,
        cid,
        "village-review",
        {"decision": "approve", "effective_on": "2025-01-09", "notice_end": "2025-01-12"},
        expect=422,
    )
    assert (r["field"], r["errors"][0]["code"]) == ("notice_end", "notice_too_short")
    case = await step(client, village, cid, "village-review", {"decision": "approve", "effective_on": "2025-01-09"})
    assert (case["notice_start"], case["notice_end"]) == ("2025-01-09", "2025-01-13")
    r = await step(
        client, village, cid, "notice-result", {"decision": "approve", "effective_on": "2025-01-13"}, expect=409
    )
    assert r["code"] == "notice_not_over"
    await step(client, village, cid, "notice-result", {"decision": "approve", "effective_on": "2025-01-14"})
    await step(client, township, cid, "township-review", {"decision": "approve", "effective_on": "2025-01-16"})
    case = await step(client, approver, cid, "county-decision", {"decision": "approve", "effective_on": "2025-01-20"})
    assert (case["status"], case["identified_on"], case["category_before"]) == ("assisting", "2025-01-20", "lifted_out")
    assert case["deadline_breaches"] == []
    # Cadre and plan within 10 working days: Spring Festival 2025 (28 Jan – 4 Feb off, 26 Jan and
    # 8 Feb worked) puts the day on Saturday 8 February.
    assert {d["kind"]: d["due"] for d in case["deadlines"]} == {
        "cadre_assignment": "2025-02-08",
        "plan": "2025-02-08",
        "monthly_visit": "2025-02-28",
    }
    h = (await client.get(f"/api/v1/households/{hid}", headers=grid)).json()
    assert h["category"] == "monitored"

    tag = await etag_of(client, township, f"/api/v1/monitoring-cases/{cid}")
    r = await client.put(
        f"/api/v1/monitoring-cases/{cid}/cadre",
        headers={**township, "If-Match": tag},
        json={"cadre_user_id": user_ids["assistance_cadre.village"], "assigned_on": "2025-01-24"},
    )
    assert r.status_code == 200, r.text
    # The plan comes late (10 February): recorded as a breach, not corrected.
    r = await client.post(
        f"/api/v1/monitoring-cases/{cid}/measures",
        headers=cadre,
        json={
            "category": "health",
            "content": "落实大病保险和医疗救助",
            "responsible_unit": "县医保局",
            "planned_on": "2025-02-10",
            "start_on": "2025-02-10",
        },
    )
    assert r.status_code == 201, r.text
    measure = r.json()
    case = (await client.get(f"/api/v1/monitoring-cases/{cid}", headers=cadre)).json()
    assert case["deadline_breaches"] == [{"kind": "plan", "due": "2025-02-08", "met_on": "2025-02-10"}]
    assert case["next_deadline"]["kind"] == "monthly_visit"

    # Monthly visits February to July.
    for month in range(2, 8):
        r = await client.post(
            f"/api/v1/monitoring-cases/{cid}/visits",
            headers=cadre,
            json={"visited_on": f"2025-{month:02d}-15", "findings": "病情稳定"},
        )
        assert r.status_code == 201, r.text
    case = (await client.get(f"/api/v1/monitoring-cases/{cid}", headers=cadre)).json()
    assert case["next_deadline"] == {"kind": "monthly_visit", "due": "2025-08-31", "provisional": False}

    # July: elimination proposed. The conditions are checked at the proposal already (and at
    # every step after it): the guard lists everything missing, and the case stays assisting.
    r = await step(client, cadre, cid, "elimination-proposal", {"effective_on": "2025-07-21"}, expect=409)
    assert r["code"] == "elimination_conditions_unmet"
    assert {e["code"] for e in r["errors"]} == {
        "elimination_measures_missing",
        "elimination_income_incomplete",
        "elimination_guarantees_insecure",
    }
    assert [e["field"] for e in r["errors"] if e["field"].startswith("income")] == ["income[2025Q2]", "income[2025Q1]"]
    # The measure is only planned: not carried out.
    assert "2025-07-21" in next(e for e in r["errors"] if e["field"] == "measures")["message"]
    assert (await client.get(f"/api/v1/monitoring-cases/{cid}", headers=cadre)).json()["status"] == "assisting"

    # Put things right: the measure under way (carried out, not necessarily finished), a year
    # of income recorded, guarantees verified.
    tag = (await client.get(f"/api/v1/measures/{measure['id']}", headers=cadre)).headers["etag"]
    r = await client.put(
        f"/api/v1/measures/{measure['id']}",
        headers={**cadre, "If-Match": tag},
        json={
            "content": measure["content"],
            "responsible_unit": measure["responsible_unit"],
            "start_on": "2025-02-10",
            "status": "in_progress",
        },
    )
    assert r.status_code == 200, r.text
    for year, quarter, wages in (
        (YEAR - 1, 2, "3000"),
        (YEAR - 1, 3, "3000"),
        (YEAR - 1, 4, "6000"),
        (YEAR, 1, "6000"),
        (YEAR, 2, "9000"),
    ):
        await _income(client, cadre, hid, quarter, wages, year)
    tag = await etag_of(client, cadre, f"/api/v1/households/{hid}/guarantees")
    r = await client.put(
        f"/api/v1/households/{hid}/guarantees",
        headers={**cadre, "If-Match": tag},
        json={"education": "secure", "medical": "secure", "housing": "secure", "water": "secure"},
    )
    assert r.status_code == 200, r.text
    # The twelve months to 2025Q2 (3000 + 6000 + 6000 + 9000 for three: 8000) are above the 7300 line,
    # but the twelve months to 2025Q1 (18000 / 3 = 6000) were not: not stable for half a year yet.
    r = await step(client, cadre, cid, "elimination-proposal", {"effective_on": "2025-07-21"}, expect=409)
    assert [(e["code"], e["field"]) for e in r["errors"]] == [("elimination_income_below_line", "income[2025Q1]")]
    check = (
        await client.get(
            f"/api/v1/monitoring-cases/{cid}/elimination-check", params={"on": "2025-10-08"}, headers=approver
        )
    ).json()
    assert [(e["code"], e["field"]) for e in check["unmet"]] == [
        ("elimination_income_incomplete", "income[2025Q3]")
    ]  # Q3 not recorded yet
    await _income(client, cadre, hid, 3, "6000")
    check = (
        await client.get(
            f"/api/v1/monitoring-cases/{cid}/elimination-check", params={"on": "2025-10-08"}, headers=approver
        )
    ).json()
    assert check["met"] is True and check["unmet"] == [] and check["status"] == "assisting"

    # October: proposed, verified; then the housing is found unsafe before the democratic
    # review: the notice cannot go up (409, the same list), whoever asks sees why.
    await step(client, cadre, cid, "elimination-proposal", {"effective_on": "2025-10-08"})
    await step(
        client,
        grid,
        cid,
        "verification",
        {"decision": "approve", "findings": "风险已消除", "effective_on": "2025-10-09"},
    )
    tag = await etag_of(client, cadre, f"/api/v1/households/{hid}/guarantees")
    r = await client.put(
        f"/api/v1/households/{hid}/guarantees",
        headers={**cadre, "If-Match": tag},
        json={"education": "secure", "medical": "secure", "housing": "at_risk", "water": "secure"},
    )
    assert r.status_code == 200, r.text
    r = await step(
        client, village, cid, "village-review", {"decision": "approve", "effective_on": "2025-10-10"}, expect=409
    )
    assert [(e["code"], e["field"]) for e in r["errors"]] == [("elimination_guarantees_insecure", "guarantees")]
    check = (
        await client.get(
            f"/api/v1/monitoring-cases/{cid}/elimination-check", params={"on": "2025-10-10"}, headers=approver
        )
    ).json()
    assert (check["status"], check["met"], [e["code"] for e in check["unmet"]]) == (
        "elimination_review",
        False,
        ["elimination_guarantees_insecure"],
    )
    tag = await etag_of(client, cadre, f"/api/v1/households/{hid}/guarantees")
    r = await client.put(
        f"/api/v1/households/{hid}/guarantees",
        headers={**cadre, "If-Match": tag},
        json={"education": "secure", "medical": "secure", "housing": "secure", "water": "secure"},
    )
    assert r.status_code == 200, r.text
    case = await step(client, village, cid, "village-review", {"decision": "approve", "effective_on": "2025-10-10"})
    assert case["notice_end"] == "2025-10-14"
    await step(client, village, cid, "notice-result", {"decision": "approve", "effective_on": "2025-10-15"})
    await step(client, township, cid, "township-review", {"decision": "approve", "effective_on": "2025-10-16"})
    transitions = (await client.get(f"/api/v1/monitoring-cases/{cid}/transitions", headers=grid)).json()["items"]
    assert [t["details"].get("elimination_conditions_met_on") for t in transitions[-5:]] == [
        "2025-10-08",
        "2025-10-09",
        "2025-10-10",
        "2025-10-15",
        "2025-10-16",
    ]
    case = await step(
        client,
        approver,
        cid,
        "county-decision",
        {"decision": "approve", "way": "by_assistance", "effective_on": "2025-10-20"},
    )
    assert (case["status"], case["eliminated_on"], case["elimination_way"]) == (
        "eliminated",
        "2025-10-20",
        "by_assistance",
    )
    assert case["next_deadline"] is None and case["allowed_actions"] == []
    h = (await client.get(f"/api/v1/households/{hid}", headers=grid)).json()
    assert h["category"] == "lifted_out"
    transitions = (await client.get(f"/api/v1/monitoring-cases/{cid}/transitions", headers=grid)).json()["items"]
    assert [t["to_status"] for t in transitions][:3] == ["verification", "village_review", "identification_notice"]

    # A new risk after elimination: a new case, linked to the old one.
    clue = await report(client, grid, hid, ["disaster"], on="2025-12-02")
    new = await open_case(client, village, clue["id"], case_type="sudden_hardship", effective_on="2025-12-03")
    assert new["id"] != cid and new["reopened_from_id"] == cid and new["status"] == "verification"

    # The village's other households that year: one rejected by the township, one clue dismissed.
    other = await create(client, auth)
    c2 = await open_case(
        client,
        village,
        (await report(client, grid, other["id"], ["unstable_employment"], on="2025-03-03"))["id"],
        effective_on="2025-03-03",
    )
    await step(
        client,
        grid,
        c2["id"],
        "verification",
        {"decision": "approve", "consent_signed": True, "findings": "务工收入减少", "effective_on": "2025-03-04"},
    )
    await step(client, village, c2["id"], "village-review", {"decision": "approve", "effective_on": "2025-03-05"})
    await step(client, village, c2["id"], "notice-result", {"decision": "approve", "effective_on": "2025-03-10"})
    rejected = await step(
        client,
        township,
        c2["id"],
        "township-review",
        {"decision": "reject", "comment": "家庭收入高于监测标准", "effective_on": "2025-03-11"},
    )
    assert (rejected["status"], rejected["closed_on"], rejected["allowed_actions"]) == ("rejected", "2025-03-11", [])
    assert (await client.get(f"/api/v1/households/{other['id']}", headers=grid)).json()["category"] == "lifted_out"
    third = await create(client, auth)
    dismissed = await report(client, grid, third["id"], ["other"], on="2025-05-06")
    tag = await etag_of(client, village, f"/api/v1/risk-clues/{dismissed['id']}")
    r = await client.post(
        f"/api/v1/risk-clues/{dismissed['id']}/dismissal",
        json={"reason": "经核实无风险"},
        headers={**village, "If-Match": tag},
    )
    assert r.status_code == 200 and r.json()["status"] == "dismissed"

    # The year in figures, for the village (the county sees the same under its township).
    stats = await client.get(
        "/api/v1/monitoring/statistics",
        params={"region": "529901001001", "level": "village", "year": YEAR},
        headers=village,
    )
    assert stats.status_code == 200, stats.text
    [row] = stats.json()["items"]
    assert {k: v for k, v in row["cases"]["by_status"].items() if v} == {
        "eliminated": 1,
        "rejected": 1,
        "verification": 1,
    }
    assert (row["identified"], row["eliminated"], row["avg_days_to_identification"]) == (1, 1, 14)
    assert row["open_clues"] == 0


async def test_illegal_step_says_what_is_allowed(client, auth):
    village, approver = auth("village_staff.village"), auth("county_approver.county")
    home = await create(client, auth)
    case = await open_case(client, village, (await report(client, village, home["id"]))["id"])
    r = await step(client, approver, case["id"], "county-decision", {"decision": "approve"}, expect=409)
    assert r["code"] == "transition_not_allowed"
    assert [a["action"] for a in r["allowed"]] == ["verify", "terminate"]
    assert r["allowed"][0] == {
        "action": "verify",
        "path": "verification",
        "permission": "cases:verify",
        "decisions": ["approve", "reject"],
    }


async def test_step_needs_current_etag(client, auth):
    village, grid = auth("village_staff.village"), auth("grid_worker.village")
    home = await create(client, auth)
    case = await open_case(client, village, (await report(client, village, home["id"]))["id"])
    path = f"/api/v1/monitoring-cases/{case['id']}/verification"
    body = {"decision": "reject", "findings": "不属实"}
    assert (await client.post(path, json=body, headers=grid)).status_code == 428
    stale = f'"case-{case["id"]}-v0"'
    r = await client.post(path, json=body, headers={**grid, "If-Match": stale})
    assert (r.status_code, code_of(r)) == (412, "precondition_failed")


async def test_measures_carried_out_as_of_the_day(client, auth, session):
    """至少落实一项: a measure counts once it has started (in progress or completed) by the
    day checked; planned, stopped or starting later does not."""
    import uuid
    from datetime import date as day

    from services.core.monitoring.models import Measure, MonitoringCase

    home = await create(client, auth)
    case = MonitoringCase(
        household_id=home["id"],
        region_code=home["region_code"],
        case_type="marginal",
        risk_types=["illness"],
        status="assisting",
        first_clue_on=day(2025, 1, 2),
        opened_on=day(2025, 1, 2),
        identified_on=day(2025, 1, 10),
        deadline_breaches=[],
    )
    session.add(case)
    await session.flush()

    def measure(status, start, **kw):
        session.add(
            Measure(
                id=uuid.uuid4(),
                case_id=case.id,
                household_id=home["id"],
                region_code=case.region_code,
                category="health",
                content="医疗救助",
                responsible_unit="县医保局",
                planned_on=day(2025, 1, 12),
                start_on=start,
                status=status,
                **kw,
            )
        )

    measure("planned", day(2025, 2, 1))
    measure("stopped", day(2025, 2, 1))
    measure("in_progress", day(2025, 9, 1))
    await session.flush()
    approver = auth("county_approver.county")

    async def measures_unmet(on):
        r = await client.get(
            f"/api/v1/monitoring-cases/{case.id}/elimination-check", params={"on": on}, headers=approver
        )
        assert r.status_code == 200, r.text
        return [e["message"] for e in r.json()["unmet"] if e["field"] == "measures"]

    [message] = await measures_unmet("2025-08-31")  # the public-welfare post starts on 1 September
    assert "0 so far" in message and "2025-08-31" in message
    assert await measures_unmet("2025-09-01") == []
    # Completed ones count too, and from their start.
    measure("completed", day(2025, 3, 1), result="已报销")
    await session.flush()
    assert await measures_unmet("2025-08-31") == []
    assert len(await measures_unmet("2025-02-28")) == 1
