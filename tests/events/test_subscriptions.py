"""Subscriptions (issue 20): made by system clients only, for types their permissions let
them see, in their own regions, with a callback URL that is not a trap; the secret shown
once; seen by their owner and by the administrators of clients of their region only."""

from __future__ import annotations

from services.core.accounts.roles import Permission
from services.core.events.subscriptions import callback_problem
from tests.factories import COUNTY, OTHER_COUNTY_VILLAGE, VILLAGE

SUBS = "/api/v1/subscriptions"
HOOK = "https://dept.example.cn/hooks/guardline"


async def test_a_client_subscribes_and_sees_the_secret_once(committing_client, auth, systems):
    client = committing_client
    ident, headers = await systems("dept.subs-a")
    body = {"types": ["household.created", "person.moved"], "region_prefix": VILLAGE, "callback_url": HOOK}
    r = await client.post(SUBS, json=body, headers=headers(**{"Idempotency-Key": "sub-1"}))
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["secret"].startswith("whsec_") and r.headers["cache-control"] == "no-store"
    assert made["client_id"] == ident and made["status"] == "active" and made["region_prefix"] == VILLAGE
    assert r.headers["location"] == f"{SUBS}/{made['id']}"
    # The same subscription again (a retry): refused, so no second one is made.
    again = await client.post(SUBS, json=body, headers=headers(**{"Idempotency-Key": "sub-1"}))
    assert again.status_code == 409 and again.json()["code"] == "subscription_exists"
    one = await client.get(f"{SUBS}/{made['id']}", headers=headers())
    assert one.status_code == 200 and "secret" not in one.json()
    assert one.headers["etag"]
    listed = await client.get(SUBS, headers=headers())
    assert [s["id"] for s in listed.json()["items"]] == [made["id"]]
    # The administrator of the county's clients sees it; a village's administrator (the client is wider) does not.
    assert (await client.get(f"{SUBS}/{made['id']}", headers=auth("admin.county"))).status_code == 200
    assert [s["id"] for s in (await client.get(SUBS, headers=auth("admin.county"))).json()["items"]] == [made["id"]]
    assert (await client.get(f"{SUBS}/{made['id']}", headers=auth("admin.village"))).status_code == 404
    assert (await client.get(SUBS, headers=auth("admin.village"))).json()["items"] == []


async def test_users_do_not_subscribe(committing_client, auth):
    r = await committing_client.post(
        SUBS, json={"callback_url": HOOK}, headers=auth("county_staff.county", **{"Accept-Language": "zh"})
    )
    assert r.status_code == 403 and r.json()["code"] == "subscription_needs_client"
    assert "接入系统" in r.json()["detail"]
    r = await committing_client.get(SUBS, headers=auth("county_staff.county"))
    assert r.status_code == 403 and r.json()["code"] == "subscriptions_forbidden"


async def test_types_beyond_the_clients_permissions_are_refused(committing_client, systems):
    _, headers = await systems("dept.subs-b", [Permission.registry_read])
    r = await committing_client.post(
        SUBS,
        json={"types": ["household.moved", "payment.recorded"], "callback_url": HOOK},
        headers=headers(**{"Accept-Language": "zh"}),
    )
    assert r.status_code == 403
    problem = r.json()
    assert problem["code"] == "event_type_forbidden" and problem["errors"][0]["field"] == "types"
    assert "payment.recorded" in problem["detail"] and "无权" in problem["detail"]
    # Without types: every type the client may see, and no other.
    r = await committing_client.post(SUBS, json={"callback_url": HOOK}, headers=headers())
    assert r.status_code == 201
    assert {t.split(".")[0] for t in r.json()["types"]} == {"household", "person"}


async def test_regions_outside_the_clients_are_not_found(committing_client, systems):
    _, headers = await systems("dept.subs-c", prefix=VILLAGE)
    for region in (COUNTY, OTHER_COUNTY_VILLAGE):
        r = await committing_client.post(SUBS, json={"region_prefix": region, "callback_url": HOOK}, headers=headers())
        assert r.status_code == 404, region
        assert r.json()["code"] == "region_not_found" and r.json()["errors"][0]["field"] == "region_prefix"


async def test_bad_callback_urls_are_refused(committing_client, systems):
    _, headers = await systems("dept.subs-d")
    for url, code in (
        ("ftp://dept.example.cn/x", "callback_url_invalid"),
        ("https://user:pw@dept.example.cn/x", "callback_url_credentials"),
        ("https://dept.example.cn/x#frag", "callback_url_invalid"),
        ("not a url", "callback_url_invalid"),
    ):
        r = await committing_client.post(SUBS, json={"callback_url": url}, headers=headers())
        assert r.status_code == 422, url
        assert r.json()["code"] == code and r.json()["errors"][0]["field"] == "callback_url", url
    # In production (no insecure callbacks): https only, and no address of this machine or its networks.
    for url, code in (
        ("http://dept.example.cn/x", "callback_url_not_https"),
        ("https://localhost/x", "callback_url_internal"),
        ("https://127.0.0.1:8443/x", "callback_url_internal"),
        ("https://10.1.2.3/x", "callback_url_internal"),
        ("https://169.254.169.254/latest/meta-data", "callback_url_internal"),
        ("https://[::1]/x", "callback_url_internal"),
    ):
        assert callback_problem(url, allow_insecure=False) == code, url
    assert callback_problem("https://8.8.8.8/x", allow_insecure=False) is None
    assert callback_problem(HOOK, allow_insecure=False) is None


async def test_changes_need_the_current_version(committing_client, systems):
    _, headers = await systems("dept.subs-e")
    made = await committing_client.post(SUBS, json={"callback_url": HOOK}, headers=headers())
    path = f"{SUBS}/{made.json()['id']}"
    tag = made.headers["etag"]
    assert (await committing_client.patch(path, json={"status": "paused"}, headers=headers())).status_code == 428
    paused = await committing_client.patch(path, json={"status": "paused"}, headers=headers(**{"If-Match": tag}))
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    stale = await committing_client.patch(path, json={"status": "active"}, headers=headers(**{"If-Match": tag}))
    assert stale.status_code == 412
    resumed = await committing_client.patch(
        path, json={"status": "active"}, headers=headers(**{"If-Match": paused.headers["etag"]})
    )
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    refused = await committing_client.patch(
        path,
        json={"types": ["finding.opened"]},
        headers=headers(**{"If-Match": resumed.headers["etag"]}),
    )
    assert refused.status_code == 403 and refused.json()["code"] == "event_type_forbidden"
    assert (await committing_client.delete(path, headers=headers())).status_code == 204
    assert (await committing_client.get(path, headers=headers())).status_code == 404


async def test_another_countys_subscription_is_not_found(committing_client, systems):
    _, ours = await systems("dept.subs-f")
    _, theirs = await systems("dept.subs-g", prefix="529902")
    made = await committing_client.post(SUBS, json={"callback_url": HOOK}, headers=theirs())
    path = f"{SUBS}/{made.json()['id']}"
    for method, extra in (("GET", {}), ("PATCH", {"json": {"status": "paused"}}), ("DELETE", {})):
        r = await committing_client.request(method, path, headers=ours(**{"If-Match": made.headers["etag"]}), **extra)
        assert r.status_code == 404, method
        assert r.json()["code"] == "subscription_not_found"
    for sub_path in ("/deliveries", "/redeliver", "/replay"):
        method = "GET" if sub_path == "/deliveries" else "POST"
        body = {"from_event_id": 1} if sub_path == "/replay" else {}
        r = await committing_client.request(method, path + sub_path, headers=ours(), json=body or None)
        assert r.status_code == 404, sub_path
    assert (await committing_client.get(SUBS, headers=ours())).json()["items"] == []
