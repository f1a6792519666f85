"""The three guarantees and safe water: status per household with history."""

from tests.api.test_households import create
from tests.factories import code_of


def status(**kw):
    body = {"education": "secure", "medical": "secure", "housing": "secure", "water": "secure"}
    body.update(kw)
    return body


async def test_new_household_starts_unknown_and_changes_are_recorded(client, auth, user_ids):
    h = auth("assistance_cadre.village")
    a = await create(client, auth)
    r = await client.get(f"/api/v1/households/{a['id']}/guarantees", headers=h)
    assert r.status_code == 200
    assert r.json()["housing"] == "unknown" and r.json()["all_secure"] is False
    r = await client.put(
        f"/api/v1/households/{a['id']}/guarantees",
        json=status(housing="at_risk", housing_grade="C", note="墙体开裂"),
        headers={**h, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["all_secure"] is False and r.json()["housing_grade"] == "C"
    r2 = await client.put(
        f"/api/v1/households/{a['id']}/guarantees",
        json=status(education="not_applicable", note="已改造"),
        headers={**h, "If-Match": r.headers["etag"]},
    )
    assert r2.json()["all_secure"] is True
    history = (
        await client.get(f"/api/v1/households/{a['id']}/guarantees/history", params={"limit": 3}, headers=h)
    ).json()
    assert len(history["items"]) == 3 and history["next_cursor"]
    newest = history["items"][0]
    assert newest["changed_by"] == user_ids["assistance_cadre.village"]
    rest = (
        await client.get(
            f"/api/v1/households/{a['id']}/guarantees/history", params={"cursor": history["next_cursor"]}, headers=h
        )
    ).json()
    items = history["items"] + rest["items"]
    assert len(items) == 6  # 4 from unknown, then housing back to secure, education to n/a
    assert [(c["item"], c["new_status"]) for c in items if c["item"] == "housing"] == [
        ("housing", "secure"),
        ("housing", "at_risk"),
    ]


async def test_guarantee_failures(client, auth):
    a = await create(client, auth)
    h = auth("assistance_cadre.village")
    etag = (await client.get(f"/api/v1/households/{a['id']}/guarantees", headers=h)).headers["etag"]
    r = await client.put(f"/api/v1/households/{a['id']}/guarantees", json=status(), headers=h)
    assert r.status_code == 428
    r = await client.put(
        f"/api/v1/households/{a['id']}/guarantees", json=status(housing_grade="D"), headers={**h, "If-Match": etag}
    )
    assert (r.status_code, r.json()["field"]) == (422, "housing_grade")
    r = await client.put(
        f"/api/v1/households/{a['id']}/guarantees", json=status(water="maybe"), headers={**h, "If-Match": etag}
    )
    assert (r.status_code, code_of(r)) == (422, "enum")
    r = await client.put(
        f"/api/v1/households/{a['id']}/guarantees", json=status(), headers={**auth("auditor.county"), "If-Match": etag}
    )
    assert r.status_code == 403
    r = await client.get(f"/api/v1/households/{a['id']}/guarantees", headers=auth("village_staff.village2"))
    assert r.status_code == 404
    ok = await client.put(f"/api/v1/households/{a['id']}/guarantees", json=status(), headers={**h, "If-Match": etag})
    assert ok.status_code == 200
    stale = await client.put(
        f"/api/v1/households/{a['id']}/guarantees", json=status(water="at_risk"), headers={**h, "If-Match": etag}
    )
    assert stale.status_code == 412
