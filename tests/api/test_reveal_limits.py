"""Reveals of complete ID numbers are limited per user (counted from the audit trail, so
across API processes), refused with 429 and Retry-After, and the auditor sees who revealed
how many, refusals included."""

from datetime import datetime, timedelta

from sqlalchemy import text

from services.api.app import create_app
from services.core.timeutil import CHINA
from tests.api.test_households import create
from tests.conftest import _client
from tests.factories import person

UNMASK = "/api/v1/persons/{}/id-number"
REASON = {"reason": "核对低保申请材料"}


def _app(settings, db, **limits):
    limited = settings.model_copy(update={"rate_limits": settings.rate_limits.model_copy(update=limits)})
    return create_app(limited, database=db)


async def test_a_user_revealing_too_many_numbers_is_stopped_and_the_auditor_sees_it(settings, db, auth, user_ids):
    async with _client(_app(settings, db, reveals_per_hour=3, reveals_per_day=50)) as client:
        created = await create(
            client, auth, members=[person("head"), person("spouse", male=False), person("child", name="张小明")]
        )
        ids = [m["id"] for m in created["members"]]
        h = auth("county_staff.county")
        # A scraper walking the household: three numbers, then the limit.
        for pid in ids:
            r = await client.post(UNMASK.format(pid), json=REASON, headers=h)
            assert r.status_code == 200, r.text
        refused = await client.post(UNMASK.format(ids[0]), json=REASON, headers=h)
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "reveal_rate_limited"
        assert 3500 <= int(refused.headers["retry-after"]) <= 3600
        assert "id_number" not in refused.json() or len(refused.json().get("id_number", "")) != 18
        # Another user is not affected.
        other = await client.post(UNMASK.format(ids[0]), json=REASON, headers=auth("township_staff.township"))
        assert other.status_code == 200, other.text

        # The auditor: who revealed how many, the refusal included.
        report = await client.get("/api/v1/audit/reveals", headers=auth("auditor.county"))
        assert report.status_code == 200, report.text
        rows = {row["actor"]: row for row in report.json()["items"]}
        staff = rows[f"user:{user_ids['county_staff.county']}"]
        assert (staff["reveals"], staff["refused"], staff["actor_name"]) == (3, 1, "county_staff.county")
        assert rows[f"user:{user_ids['township_staff.township']}"]["reveals"] == 1
        assert report.json()["items"][0]["actor"] == staff["actor"]  # most first
        # The refusal is an event of the trail as well.
        events = await client.get(
            "/api/v1/audit/events",
            params={"actor": staff["actor"], "result": "failure"},
            headers=auth("auditor.county"),
        )
        assert [(e["action"], e["status"]) for e in events.json()["items"]] == [("api.unmask_id_number", 429)]
        # Only the auditor reads the report; an empty period is empty.
        assert (await client.get("/api/v1/audit/reveals", headers=h)).status_code == 403
        later = datetime.now(CHINA) + timedelta(hours=1)
        empty = await client.get(
            "/api/v1/audit/reveals", params={"since": later.isoformat()}, headers=auth("auditor.county")
        )
        assert empty.json()["items"] == []
        backwards = await client.get(
            "/api/v1/audit/reveals",
            params={"since": later.isoformat(), "until": (later - timedelta(hours=2)).isoformat()},
            headers=auth("auditor.county"),
        )
        assert backwards.status_code == 422


async def test_the_daily_limit_counts_reveals_of_earlier_hours(settings, db, auth, user_ids):
    actor = f"user:{user_ids['village_staff.village']}"
    async with db.session() as session:
        for hours in (5, 2):  # two reveals earlier today, as another API process recorded them
            await session.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, result, region_code) "
                    "VALUES (now() - make_interval(hours => :h), :actor, 'person.unmask', 'success', '529901')"
                ),
                {"h": hours, "actor": actor},
            )
        await session.commit()
    async with _client(_app(settings, db, reveals_per_hour=10, reveals_per_day=3)) as client:
        created = await create(client, auth)
        pid = created["members"][0]["id"]
        h = auth("village_staff.village")
        assert (await client.post(UNMASK.format(pid), json=REASON, headers=h)).status_code == 200
        refused = await client.post(UNMASK.format(pid), json=REASON, headers=h)
        assert refused.status_code == 429 and refused.json()["code"] == "reveal_rate_limited"
        # Allowed again when the oldest of the three (5 hours ago) is 24 hours old.
        assert 18 * 3600 - 60 <= int(refused.headers["retry-after"]) <= 19 * 3600
