"""Administration of users and system clients, and what a system client can do."""

from __future__ import annotations

from sqlalchemy import select

from services.core.accounts.models import ApiClient
from tests.factories import OTHER_COUNTY_VILLAGE, VILLAGE, household, person

TOKEN = "/api/v1/auth/token"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def _client_token(client, name, secret):
    return await client.post(
        TOKEN, data={"grant_type": "client_credentials", "client_id": name, "client_secret": secret}
    )


async def _new_client(client, auth, **body):
    body = {"name": "medical.insurance", "permissions": ["persons:lookup"], "region_prefix": "529901", **body}
    r = await client.post("/api/v1/admin/clients", headers=auth("admin.county"), json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_client_secret_is_shown_once_and_stored_as_a_digest(client, auth, session):
    created = await _new_client(client, auth)
    secret = created["client_secret"]
    assert len(secret) >= 40 and created["secret_hint"] == secret[:6]
    stored = (await session.execute(select(ApiClient).where(ApiClient.id == created["id"]))).scalar_one()
    assert secret.encode() not in (stored.secret_digest or b"") and len(stored.secret_digest) == 32
    again = await client.get(f"/api/v1/admin/clients/{created['id']}", headers=auth("admin.county"))
    assert "client_secret" not in again.json()


async def test_client_credentials_give_a_token_with_the_clients_permissions_and_scope(client, auth):
    head = person("head")
    await client.post("/api/v1/households", json=household(members=[head]), headers=auth("county_staff.county"))
    created = await _new_client(client, auth, region_prefix="529901")
    r = await _client_token(client, created["name"], created["client_secret"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["permissions"] == ["persons:lookup"] and body["refresh_token"] is None
    h = bearer(body["access_token"])
    found = await client.post("/api/v1/persons/lookup", headers=h, json={"id_number": head["id_number"]})
    assert found.status_code == 200
    assert found.json()["id_number"] != head["id_number"]  # masked
    # Not granted: browsing the registry, writing, administration.
    assert (await client.get("/api/v1/households", headers=h)).status_code == 403
    assert (await client.post("/api/v1/households", headers=h, json=household())).status_code == 403
    assert (await client.get("/api/v1/admin/clients", headers=h)).status_code == 403
    me = (await client.get("/api/v1/auth/me", headers=h)).json()
    assert me["kind"] == "client" and me["client_id"] == created["id"]


async def test_client_outside_its_scope_sees_nothing(client, auth):
    head = person("head")
    await client.post(
        "/api/v1/households",
        json=household(region=OTHER_COUNTY_VILLAGE, members=[head]),
        headers=auth("county_staff.other"),
    )
    created = await _new_client(client, auth, region_prefix="529901")
    token = (await _client_token(client, created["name"], created["client_secret"])).json()["access_token"]
    r = await client.post("/api/v1/persons/lookup", headers=bearer(token), json={"id_number": head["id_number"]})
    assert r.status_code == 404


async def test_rotation_voids_the_old_secret_and_its_tokens(client, auth):
    created = await _new_client(client, auth)
    old_token = (await _client_token(client, created["name"], created["client_secret"])).json()["access_token"]
    rotated = await client.post(f"/api/v1/admin/clients/{created['id']}/rotate", headers=auth("admin.county"))
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new_secret = rotated.json()["client_secret"]
    assert new_secret != created["client_secret"]
    assert (await _client_token(client, created["name"], created["client_secret"])).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer(old_token))).status_code == 401
    assert (await _client_token(client, created["name"], new_secret)).status_code == 200


async def test_revoked_client_cannot_get_tokens_and_its_tokens_stop(client, auth):
    created = await _new_client(client, auth)
    token = (await _client_token(client, created["name"], created["client_secret"])).json()["access_token"]
    r = await client.post(f"/api/v1/admin/clients/{created['id']}/revoke", headers=auth("admin.county"))
    assert r.status_code == 200 and r.json()["active"] is False
    assert (await _client_token(client, created["name"], created["client_secret"])).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    again = await client.post(f"/api/v1/admin/clients/{created['id']}/rotate", headers=auth("admin.county"))
    assert (again.status_code, again.json()["code"]) == (409, "client_revoked")


async def test_client_permissions_are_limited_to_what_systems_may_have(client, auth):
    for perms in (["users:admin"], ["households:write"], ["registry:unmask"], [], ["nonsense"]):
        r = await client.post(
            "/api/v1/admin/clients",
            headers=auth("admin.county"),
            json={"name": "x.system", "permissions": perms, "region_prefix": "529901"},
        )
        assert r.status_code == 422 and r.json()["field"].startswith("permissions"), perms


async def test_idempotent_retry_of_a_secret_is_not_replayed(client, auth):
    h = {**auth("admin.county"), "Idempotency-Key": "client-create-1"}
    body = {"name": "civil.affairs", "permissions": ["persons:lookup"], "region_prefix": "529901"}
    first = await client.post("/api/v1/admin/clients", headers=h, json=body)
    assert first.status_code == 201
    again = await client.post("/api/v1/admin/clients", headers=h, json=body)
    assert (again.status_code, again.json()["code"]) == (409, "client_name_taken")


async def test_role_change_takes_effect_at_once(client, auth):
    login = (await client.post(TOKEN, data={"username": "grid_worker.village", "password": "Test-Password-1"})).json()
    h = bearer(login["access_token"])
    admin = auth("admin.county")
    users = (await client.get("/api/v1/admin/users", headers=admin, params={"role": "grid_worker"})).json()["items"]
    target = next(u for u in users if u["username"] == "grid_worker.village")
    current = await client.get(f"/api/v1/admin/users/{target['id']}", headers=admin)
    r = await client.patch(
        f"/api/v1/admin/users/{target['id']}",
        json={"role": "auditor"},
        headers={**admin, "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 200 and r.json()["role"] == "auditor"
    assert (await client.get("/api/v1/households", headers=h)).status_code == 401
    stale = await client.patch(
        f"/api/v1/admin/users/{target['id']}",
        json={"role": "grid_worker"},
        headers={**admin, "If-Match": current.headers["etag"]},
    )
    assert stale.status_code == 412


async def test_admin_creates_users_only_in_scope_and_with_a_strong_password(client, auth):
    admin = auth("admin.township")  # 529901001
    base = {"display_name": "张三", "role": "grid_worker", "password": "Strong-Pass-2026"}
    inside = await client.post(
        "/api/v1/admin/users", headers=admin, json={**base, "username": "zhang.san", "region_prefix": VILLAGE}
    )
    assert inside.status_code == 201, inside.text
    outside = await client.post(
        "/api/v1/admin/users", headers=admin, json={**base, "username": "li.si", "region_prefix": "529901002"}
    )
    assert (outside.status_code, outside.json()["field"]) == (404, "region_prefix")
    weak = await client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={**base, "username": "wang.wu", "region_prefix": VILLAGE, "password": "12345678"},
    )
    assert (weak.status_code, weak.json()["field"]) == (422, "password")
    taken = await client.post(
        "/api/v1/admin/users", headers=admin, json={**base, "username": "zhang.san", "region_prefix": VILLAGE}
    )
    assert taken.status_code == 409
    listed = (await client.get("/api/v1/admin/users", headers=admin, params={"limit": 200})).json()["items"]
    assert all(u["region_prefix"].startswith("529901001") for u in listed)
    assert not any(u["username"] == "county_staff.county" for u in listed)
    login = await client.post(TOKEN, data={"username": "zhang.san", "password": "Strong-Pass-2026"})
    assert login.status_code == 200


async def test_admin_cannot_change_own_role(client, auth, user_ids):
    admin = auth("admin.county")
    me = await client.get(f"/api/v1/admin/users/{user_ids['admin.county']}", headers=admin)
    r = await client.patch(
        f"/api/v1/admin/users/{user_ids['admin.county']}",
        json={"active": False},
        headers={**admin, "If-Match": me.headers["etag"]},
    )
    assert (r.status_code, r.json()["code"]) == (409, "own_account")


async def test_administrator_does_not_read_peoples_data(client, auth):
    r = await client.get("/api/v1/households", headers=auth("admin.county"))
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
