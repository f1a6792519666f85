"""Sub-collections answer the page shape of every list (``{items, next_cursor}``, ``limit`` and
``cursor``): paging one item at a time gives the same items, in the same order, as one page."""

from __future__ import annotations

import uuid

from services.api.params import MAX_LIMIT
from tests.api.test_households import create
from tests.api.test_income import LAST_YEAR, quarter
from tests.api.test_monitoring_clues import _identified
from tests.api.test_monitoring_lines import THIS_YEAR, line_path, national  # noqa: F401 (fixture)


async def pages(client, path: str, headers: dict, limit: int) -> list[list[dict]]:
    out, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await client.get(path, params=params, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"} and len(body["items"]) <= limit, body
        out.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out
        assert len(out) < 50, "the cursor does not move on"


async def assert_pages_alike(client, path: str, headers: dict, at_least: int) -> list[dict]:
    whole = await pages(client, path, headers, MAX_LIMIT)
    assert len(whole) == 1 and len(whole[0]) >= at_least, (path, whole)
    one_by_one = await pages(client, path, headers, 1)
    assert [p for p in one_by_one if p] == [[item] for item in whole[0]], path
    assert [i for p in await pages(client, path, headers, 2) for i in p] == whole[0], path
    return whole[0]


async def test_income_records_and_years_page_in_their_order(client, auth):
    h = auth("grid_worker.village")
    household = await create(client, auth)
    base = f"/api/v1/households/{household['id']}"
    for year, q in ((LAST_YEAR, 3), (LAST_YEAR - 1, 4), (LAST_YEAR, 1), (LAST_YEAR, 2)):
        r = await client.post(base + "/income-records", json=quarter(q, year=year), headers=h)
        assert r.status_code == 201, r.text
    records = await assert_pages_alike(client, base + "/income-records", h, 4)
    assert [(r["year"], r["quarter"]) for r in records] == [
        (LAST_YEAR - 1, 4),
        (LAST_YEAR, 1),
        (LAST_YEAR, 2),
        (LAST_YEAR, 3),
    ]
    years = await assert_pages_alike(client, base + "/income-years", h, 2)
    assert [y["year"] for y in years] == [LAST_YEAR - 1, LAST_YEAR]
    # A cursor of the right shape but outside the key's range is not ours.
    from services.core.paging import encode_cursor

    r = await client.get(base + "/income-records", params={"cursor": encode_cursor([1, 2])}, headers=h)
    assert (r.status_code, r.json()["field"]) == (422, "cursor")


async def test_income_lines_page_newest_year_first(client, auth, national):  # noqa: F811
    for year, province in ((THIS_YEAR, "52"), (LAST_YEAR, "52"), (THIS_YEAR, "11"), (LAST_YEAR, "11")):
        r = await client.put(line_path(year, province), json={"amount": "7300"}, headers=national)
        assert r.status_code == 201, r.text
    lines = await assert_pages_alike(client, "/api/v1/income-lines", national, 4)
    assert [(x["year"], x["province_code"]) for x in lines] == [
        (THIS_YEAR, "11"),
        (THIS_YEAR, "52"),
        (LAST_YEAR, "11"),
        (LAST_YEAR, "52"),
    ]


async def test_a_cases_transitions_measures_and_visits_page(client, auth):
    cadre = auth("assistance_cadre.village")
    case = await _identified(client, auth, await create(client, auth))
    path = f"/api/v1/monitoring-cases/{case['id']}"
    steps = await assert_pages_alike(client, path + "/transitions", cadre, 3)
    assert steps[0]["action"] == "open" and [s["id"] for s in steps] == sorted(s["id"] for s in steps)
    for day in ("2026-03-20", "2026-03-15", "2026-03-15"):
        measure = {
            "id": str(uuid.uuid4()),
            "category": "industry",
            "content": "发展林下养鸡",
            "planned_on": "2026-03-12",
            "responsible_unit": "镇农业服务中心",
            "start_on": day,
            "amount": "3000",
        }
        assert (await client.post(path + "/measures", json=measure, headers=cadre)).status_code == 201
    measures = await assert_pages_alike(client, path + "/measures", cadre, 3)
    assert [m["start_on"] for m in measures] == ["2026-03-15", "2026-03-15", "2026-03-20"]
    for day in ("2026-04-03", "2026-03-25"):
        visit = {"id": str(uuid.uuid4()), "visited_on": day, "findings": "鸡苗已到户", "mode": "in_person"}
        assert (await client.post(path + "/visits", json=visit, headers=cadre)).status_code == 201
    visits = await assert_pages_alike(client, path + "/visits", cadre, 2)
    assert [v["visited_on"] for v in visits] == ["2026-03-25", "2026-04-03"]
    breaches = await pages(client, path + "/visit-breaches", cadre, 1)
    assert all(len(p) <= 1 for p in breaches)
