from tests.factories import household


async def test_create_and_read_household(client, auth):
    h = auth("village_staff.village")
    r = await client.post("/api/v1/households", json=household(), headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["member_count"] == 3
    r2 = await client.get(f"/api/v1/households/{body['id']}", headers=h)
    assert r2.status_code == 200
    assert r2.json()["members"][0]["relation"] == "head"
    assert r2.headers["etag"] == r.headers["etag"]
