"""The offline upload (``POST /api/v1/batch``): each item run as its own operation and
answered on its own; one bad item never refuses the rest; the same batch sent again changes
nothing; an update the office overtook is a conflict with the record as it is now."""

from __future__ import annotations

import uuid

from tests.api.monitoring_helpers import identify
from tests.api.test_households import create
from tests.factories import OTHER_COUNTY_VILLAGE

BATCH = "/api/v1/batch"
DAYS = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-09", "2026-03-10", "2026-03-11"]


async def _case(client, auth) -> tuple[dict, dict]:
    h = await create(client, auth)
    case = await identify(client, auth, h["id"], DAYS, ["industry_failure"], case_type="unstable_lifted_out")
    return h, case


def _measure(mid: str) -> dict:
    return {
        "id": mid,
        "category": "industry",
        "content": "发展林下养鸡 200 羽",
        "responsible_unit": "镇农业服务中心",
        "planned_on": "2026-03-12",
        "start_on": "2026-03-15",
        "amount": "3000",
    }


async def test_a_week_offline_uploads_once_and_reports_each_item(client, auth):
    cadre = auth("assistance_cadre.village")
    h, case = await _case(client, auth)
    mid, vid = str(uuid.uuid4()), str(uuid.uuid4())
    # The phone had the measure already (made online before going offline) …
    made = await client.post(f"/api/v1/monitoring-cases/{case['id']}/measures", json=_measure(mid), headers=cadre)
    assert made.status_code == 201
    phone_etag = made.headers["etag"]
    # … and the office changed it meanwhile.
    office = await client.put(
        f"/api/v1/measures/{mid}",
        json={
            "content": "发展林下养鸡 300 羽",
            "responsible_unit": "镇农业服务中心",
            "start_on": "2026-03-15",
            "status": "in_progress",
        },
        headers={**auth("county_staff.county"), "If-Match": phone_etag},
    )
    assert office.status_code == 200, office.text
    other = await create(client, auth, user="county_staff.other", region=OTHER_COUNTY_VILLAGE)
    items = [
        {
            "client_id": "v1",
            "kind": "visit",
            "case_id": case["id"],
            "body": {"id": vid, "visited_on": "2026-04-03", "findings": "鸡苗已到户", "mode": "in_person"},
        },
        {
            "client_id": "m1",
            "kind": "measure_update",
            "measure_id": mid,
            "if_match": phone_etag,
            "body": {
                "content": "鸡苗已到户",
                "responsible_unit": "镇农业服务中心",
                "start_on": "2026-03-15",
                "status": "in_progress",
            },
        },
        {"client_id": "c1", "kind": "clue", "body": {"household_id": h["id"], "risk_types": ["nope"]}},
        {
            "client_id": "i1",
            "kind": "income",
            "household_id": h["id"],
            "body": {"year": 2026, "quarter": 1, "wages": "3000", "business": "0", "property": "0", "transfers": "0"},
        },
        {
            "client_id": "x1",
            "kind": "income",
            "household_id": other["id"],
            "body": {"year": 2026, "quarter": 1, "wages": "1", "business": "0", "property": "0", "transfers": "0"},
        },
        {"client_id": "k1", "kind": "teleport", "body": {}},
    ]
    r = await client.post(BATCH, json={"items": items}, headers=cadre)
    assert r.status_code == 200, r.text
    got = {i["client_id"]: i for i in r.json()["items"]}
    assert [i["client_id"] for i in r.json()["items"]] == [i["client_id"] for i in items]
    assert (got["v1"]["status"], got["v1"]["result"]) == (201, "created")
    assert got["v1"]["data"]["id"] == vid
    conflict = got["m1"]
    assert (conflict["status"], conflict["result"]) == (412, "conflict")
    assert conflict["current"]["data"]["content"] == "发展林下养鸡 300 羽"
    assert conflict["current"]["etag"] == office.headers["etag"]
    assert (got["c1"]["status"], got["c1"]["result"]) == (422, "refused")
    assert got["c1"]["problem"]["status"] == 422
    assert (got["i1"]["status"], got["i1"]["result"]) == (201, "created")
    assert got["x1"]["status"] == 404  # another county's household does not exist for this phone
    assert (got["k1"]["status"], got["k1"]["problem"]["code"]) == (422, "batch_item_kind")

    # The answer was lost; the phone sends the same batch again: nothing happens twice.
    again = await client.post(BATCH, json={"items": items}, headers=cadre)
    replay = {i["client_id"]: i for i in again.json()["items"]}
    assert (replay["v1"]["status"], replay["v1"]["result"]) == (201, "replayed")  # its first answer
    assert (replay["i1"]["status"], replay["i1"]["result"]) == (201, "replayed")
    assert replay["i1"]["data"] == got["i1"]["data"]
    records = await client.get(f"/api/v1/households/{h['id']}/income-records", headers=cadre)
    assert len(records.json()["items"]) == 1
    visits = await client.get(f"/api/v1/monitoring-cases/{case['id']}/visits", headers=cadre)
    assert [v["id"] for v in visits.json()["items"]] == [vid]

    # The phone resolves the conflict with the current ETag: the update goes through once.
    resolved = {**items[1], "client_id": "m2", "if_match": conflict["current"]["etag"]}
    r = await client.post(BATCH, json={"items": [resolved]}, headers=cadre)
    assert (r.json()["items"][0]["status"], r.json()["items"][0]["result"]) == (200, "updated")
    r = await client.post(BATCH, json={"items": [resolved]}, headers=cadre)
    assert (r.json()["items"][0]["status"], r.json()["items"][0]["result"]) == (200, "replayed")
    # A changed item under a used client id is refused, not applied.
    changed = {**resolved, "body": {**resolved["body"], "content": "别的"}}
    r = await client.post(BATCH, json={"items": [changed]}, headers=cadre)
    assert r.json()["items"][0]["result"] == "refused"


async def test_the_batch_itself_is_checked(client, auth):
    cadre = auth("assistance_cadre.village", **{"Accept-Language": "zh"})
    for body, field in (
        ({"items": []}, "items"),
        ({"items": [{"kind": "clue", "body": {}}]}, "items[0].client_id"),
        ({"items": [{"client_id": "a", "kind": "clue", "body": {}}] * 2}, "items[1].client_id"),
        ({"items": [{"client_id": "a b", "kind": "clue", "body": {}}]}, "items[0].client_id"),
        ({"items": [{"client_id": str(n), "kind": "clue", "body": {}} for n in range(101)]}, "items"),
        ({"things": []}, "items"),
    ):
        r = await client.post(BATCH, json=body, headers=cadre)
        assert r.status_code == 422, body
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"].startswith(field), (r.json(), field)
    assert (await client.post(BATCH, json={"items": [{"client_id": "a", "kind": "clue"}]})).status_code == 401


async def test_an_item_the_role_may_not_do_is_refused_alone(client, auth):
    _, case = await _case(client, auth)
    auditor = auth("auditor.county")
    items = [
        {"client_id": "a1", "kind": "measure", "case_id": case["id"], "body": _measure(str(uuid.uuid4()))},
        {"client_id": "a2", "kind": "visit", "case_id": 987654321, "body": {}},
    ]
    r = await client.post(BATCH, json={"items": items}, headers=auditor)
    assert r.status_code == 200
    assert [(i["status"], i["result"]) for i in r.json()["items"]] == [(403, "refused"), (404, "refused")]
