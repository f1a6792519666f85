"""Income lines (监测标准) per year and province, and the policy's override rows: who may see
and set them, If-Match, bad input, the audit trail, and the effective policy."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from services.core.accounts.models import User
from services.core.accounts.roles import Role
from services.core.accounts.security import Caller, hash_password, issue_token
from services.core.monitoring.models import MonitoringPolicyRow
from services.core.timeutil import today as china_today
from tests.api.world import LAST_YEAR, LINE, make_world
from tests.factories import COUNTY, TOWNSHIP, VILLAGE

PROVINCIAL = "county_staff.province"
THIS_YEAR = china_today().year


@pytest.fixture
async def national(db, settings):
    """Headers of a nation-wide account (region prefix ""), which no test user has."""
    session = db.session()
    user = User(
        username="national.staff",
        display_name="国家级",
        password_hash=hash_password("Test-Password-1"),
        role="county_staff",
        region_prefix="",
    )
    session.add(user)
    await session.commit()
    await session.close()
    token, _ = issue_token(settings, Caller(user.id, user.username, Role.county_staff, ""))
    return {"Authorization": f"Bearer {token}"}


def line_path(year=THIS_YEAR, province="52"):
    return f"/api/v1/income-lines/{year}/{province}"


# ---- income lines ------------------------------------------------------------------------------


async def test_provincial_staff_create_then_replace_a_line_with_if_match(client, auth):
    h = auth(PROVINCIAL)
    created = await client.put(line_path(), json={"amount": "7300", "note": "贵州省 2026 年监测标准"}, headers=h)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == line_path()
    first_etag = created.headers["etag"]
    assert created.json()["amount"] == "7300.00" and created.json()["province_code"] == "52"

    missing = await client.put(line_path(), json={"amount": "7400"}, headers=h)
    assert missing.status_code == 428 and missing.json()["field"] == "If-Match"
    stale = await client.put(line_path(), json={"amount": "7400"}, headers={**h, "If-Match": '"income-line-x-v9"'})
    assert stale.status_code == 412
    replaced = await client.put(line_path(), json={"amount": "7400.50"}, headers={**h, "If-Match": first_etag})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["amount"] == "7400.50" and replaced.json()["note"] is None
    assert replaced.headers["etag"] != first_etag
    again = await client.put(line_path(), json={"amount": "7500"}, headers={**h, "If-Match": first_etag})
    assert again.status_code == 412, "the first ETag is stale now"

    one = await client.get(line_path(), headers=auth("grid_worker.village"))
    assert one.status_code == 200 and one.json()["amount"] == "7400.50"
    assert one.headers["etag"] == replaced.headers["etag"]


async def test_if_match_on_a_line_that_does_not_exist_fails(client, auth):
    r = await client.put(line_path(), json={"amount": "7300"}, headers={**auth(PROVINCIAL), "If-Match": "*"})
    assert r.status_code == 412
    assert (await client.get(line_path(), headers=auth(PROVINCIAL))).status_code == 404


@pytest.mark.parametrize("username", ["county_staff.county", "county_staff.township", "county_staff.village"])
async def test_staff_below_the_province_may_not_set_its_line(client, auth, username):
    """The line is a public figure: 403, never 404."""
    r = await client.put(line_path(), json={"amount": "7300"}, headers=auth(username))
    assert r.status_code == 403
    assert r.json()["code"] == "income_line_province_only" and r.json()["field"] == "province_code"


async def test_provincial_staff_may_not_set_another_provinces_line(client, auth, national):
    r = await client.put(line_path(province="11"), json={"amount": "9000"}, headers=auth(PROVINCIAL))
    assert r.status_code == 403
    ok = await client.put(line_path(province="11"), json={"amount": "9000"}, headers=national)
    assert ok.status_code == 201


@pytest.mark.parametrize("username", ["grid_worker.county", "county_approver.county", "auditor.county", "admin.county"])
async def test_roles_without_policy_write_may_not_set_a_line(client, auth, username):
    r = await client.put(line_path(), json={"amount": "7300"}, headers=auth(username))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "7300.123"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({}, "amount"),
        ({"amount": "7300", "note": "x" * 501}, "note"),
        ({"amount": "7300", "province_code": "11"}, "province_code"),
    ],
)
async def test_bad_line_bodies_are_refused(client, auth, body, field):
    r = await client.put(line_path(), json=body, headers=auth(PROVINCIAL))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


@pytest.mark.parametrize(
    "path,field",
    [
        ("/api/v1/income-lines/1999/52", "year"),
        ("/api/v1/income-lines/2026/5", "province_code"),
        ("/api/v1/income-lines/2026/5x", "province_code"),
    ],
)
async def test_bad_line_paths_are_refused(client, auth, path, field):
    r = await client.put(path, json={"amount": "7300"}, headers=auth(PROVINCIAL))
    assert r.status_code == 422 and r.json()["field"] == field


async def test_lines_listed_for_the_callers_province_only(client, auth, national):
    for year, province, amount in [(THIS_YEAR, "52", "7300"), (LAST_YEAR, "52", "6900"), (THIS_YEAR, "11", "9000")]:
        r = await client.put(line_path(year, province), json={"amount": amount}, headers=national)
        assert r.status_code == 201
    county = await client.get("/api/v1/income-lines", headers=auth("grid_worker.village"))
    assert county.status_code == 200
    assert [(x["year"], x["province_code"]) for x in county.json()["items"]] == [(THIS_YEAR, "52"), (LAST_YEAR, "52")]
    filtered = await client.get("/api/v1/income-lines", params={"year": LAST_YEAR}, headers=auth("auditor.county"))
    assert [x["amount"] for x in filtered.json()["items"]] == ["6900.00"]
    other = await client.get("/api/v1/income-lines", params={"province": "11"}, headers=auth("auditor.county"))
    assert other.json() == {"items": [], "next_cursor": None}
    everything = await client.get("/api/v1/income-lines", headers=national)
    assert {(x["year"], x["province_code"]) for x in everything.json()["items"]} == {
        (THIS_YEAR, "52"),
        (LAST_YEAR, "52"),
        (THIS_YEAR, "11"),
    }
    bad = await client.get("/api/v1/income-lines", params={"province": "529"}, headers=national)
    assert bad.status_code == 422 and bad.json()["field"] == "province"
    denied = await client.get("/api/v1/income-lines", headers=auth("admin.county"))
    assert denied.status_code == 403


async def test_changing_a_line_is_audited(client, auth, db):
    r = await client.put(line_path(), json={"amount": "7300"}, headers=auth(PROVINCIAL))
    assert r.status_code == 201
    r = await client.put(
        line_path(), json={"amount": "7350"}, headers={**auth(PROVINCIAL), "If-Match": r.headers["etag"]}
    )
    assert r.status_code == 200
    rows = (
        await db.connection.execute(
            text("SELECT action, before, after FROM audit_log WHERE action = 'api.put_income_line' ORDER BY id")
        )
    ).all()
    assert len(rows) == 2
    key = f"income_lines/{THIS_YEAR}/52"
    assert rows[0].after[key]["amount"] == "7300.00"
    assert rows[1].before[key]["amount"] == "7300.00" and rows[1].after[key]["amount"] == "7350.00"


async def test_the_world_has_its_line(client, auth):
    world = await make_world(client, auth)
    assert world.line["amount"] == LINE and world.line["year"] == LAST_YEAR


# ---- policy overrides ----------------------------------------------------------------------------

POLICIES = "/api/v1/monitoring-policies"


async def _create(client, headers, prefix, year=THIS_YEAR, values=None, **extra):
    body = {"region_prefix": prefix, "year": year, "values": values or {"identification_days": 10}, **extra}
    return await client.post(POLICIES, json=body, headers=headers)


async def test_override_create_read_change_delete(client, auth):
    h = auth("county_staff.county")
    r = await _create(client, h, COUNTY, values={"identification_days": 10, "plan_unit": "calendar"}, note="县政府文件")
    assert r.status_code == 201, r.text
    row = r.json()
    assert r.headers["location"] == f"{POLICIES}/{row['id']}"
    assert row["values"] == {"identification_days": 10, "plan_unit": "calendar"}
    assert row["deadlines_refreshed"] == 0 and row["region_prefix"] == COUNTY

    one = await client.get(f"{POLICIES}/{row['id']}", headers=auth("grid_worker.village"))
    assert one.status_code == 200 and one.headers["etag"] == r.headers["etag"]
    assert "deadlines_refreshed" not in one.json()

    path = f"{POLICIES}/{row['id']}"
    assert (await client.put(path, json={"values": {"identification_days": 12}}, headers=h)).status_code == 428
    stale = await client.put(
        path, json={"values": {"identification_days": 12}}, headers={**h, "If-Match": '"policy-1-v9"'}
    )
    assert stale.status_code == 412
    changed = await client.put(
        path, json={"values": {"identification_days": 12}, "note": "更正"}, headers={**h, "If-Match": r.headers["etag"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["values"] == {"identification_days": 12} and changed.json()["version"] == 2

    assert (await client.delete(path, headers=h)).status_code == 428
    assert (await client.delete(path, headers={**h, "If-Match": r.headers["etag"]})).status_code == 412
    gone = await client.delete(path, headers={**h, "If-Match": changed.headers["etag"]})
    assert gone.status_code == 204
    assert (await client.get(path, headers=h)).status_code == 404


async def test_effective_policy_combines_rows_wider_and_older_first(client, auth):
    province, county = auth(PROVINCIAL), auth("county_staff.county")
    assert (
        await _create(client, province, "52", LAST_YEAR, {"identification_days": 20, "notice_min_days": 7})
    ).status_code == 201
    assert (await _create(client, county, COUNTY, THIS_YEAR, {"identification_days": 10})).status_code == 201
    assert (await _create(client, county, VILLAGE, THIS_YEAR + 1, {"visits_per_month": 2})).status_code == 201

    r = await client.get(
        f"{POLICIES}/effective", params={"region": VILLAGE, "year": THIS_YEAR}, headers=auth("grid_worker.village")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["policy"]["identification_days"] == 10 and body["policy"]["notice_min_days"] == 7
    assert body["policy"]["visits_per_month"] == 1 and body["policy"]["plan_days"] == 10
    assert [(o["region_prefix"], o["year"]) for o in body["overrides"]] == [("52", LAST_YEAR), (COUNTY, THIS_YEAR)]

    earlier = await client.get(
        f"{POLICIES}/effective", params={"region": COUNTY, "year": LAST_YEAR - 1}, headers=county
    )
    assert earlier.json()["policy"]["identification_days"] == 15 and earlier.json()["overrides"] == []
    own = await client.get(f"{POLICIES}/effective", headers=auth("grid_worker.village"))  # own region, this year
    assert own.json()["region"] == VILLAGE and own.json()["policy"]["identification_days"] == 10
    hidden = await client.get(f"{POLICIES}/effective", params={"region": "529902"}, headers=county)
    assert hidden.status_code == 404 and hidden.json()["field"] == "region"


async def test_list_shows_own_and_wider_rows_not_others(client, auth):
    province, county, other = auth(PROVINCIAL), auth("county_staff.county"), auth("county_staff.other")
    ids = {}
    for name, headers, prefix in [
        ("province", province, "52"),
        ("county", county, COUNTY),
        ("village", county, VILLAGE),
        ("township2", county, "529901002"),
        ("other", other, "529902"),
    ]:
        r = await _create(client, headers, prefix)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]

    async def listed(username, **params):
        r = await client.get(POLICIES, params=params, headers=auth(username))
        assert r.status_code == 200, r.text
        return {next(k for k, v in ids.items() if v == item["id"]) for item in r.json()["items"]}

    assert await listed("grid_worker.village") == {"province", "county", "village"}
    assert await listed("county_staff.county") == {"province", "county", "village", "township2"}
    assert await listed("county_staff.other") == {"province", "other"}
    assert await listed(PROVINCIAL) == set(ids)
    assert await listed("county_staff.county", year=THIS_YEAR + 1) == set()

    page = await client.get(POLICIES, params={"limit": 2}, headers=county)
    second = await client.get(POLICIES, params={"limit": 2, "cursor": page.json()["next_cursor"]}, headers=county)
    assert len(page.json()["items"]) == 2 and len(second.json()["items"]) == 2
    assert second.json()["next_cursor"] is None

    # Visible but wider: 403. Elsewhere: 404, like a missing id.
    wider = await client.put(
        f"{POLICIES}/{ids['province']}", json={"values": {"plan_days": 8}}, headers={**county, "If-Match": "*"}
    )
    assert wider.status_code == 403 and wider.json()["code"] == "policy_region_too_wide"
    elsewhere = await client.put(
        f"{POLICIES}/{ids['other']}", json={"values": {"plan_days": 8}}, headers={**county, "If-Match": "*"}
    )
    missing = await client.put(
        f"{POLICIES}/987654321", json={"values": {"plan_days": 8}}, headers={**county, "If-Match": "*"}
    )
    assert elsewhere.status_code == missing.status_code == 404
    assert elsewhere.json()["code"] == missing.json()["code"] == "policy_not_found"
    # A role without policy:write: 403 for a row it sees, 404 for one it does not.
    assert (await client.delete(f"{POLICIES}/{ids['county']}", headers=auth("grid_worker.county"))).status_code == 403
    assert (await client.delete(f"{POLICIES}/{ids['other']}", headers=auth("grid_worker.county"))).status_code == 404
    assert (await client.get(f"{POLICIES}/{ids['other']}", headers=county)).status_code == 404


@pytest.mark.parametrize(
    "values,field",
    [
        ({"identification_days": 0}, "values.identification_days"),
        ({"identification_days": "many"}, "values.identification_days"),
        ({"plan_unit": "fortnight"}, "values.plan_unit"),
        ({"visit_modes_counted": []}, "values.visit_modes_counted"),
        ({"no_such_figure": 3}, "values.no_such_figure"),
        ({}, "values"),
    ],
)
async def test_override_values_are_checked_field_by_field(client, auth, values, field):
    r = await client.post(
        POLICIES,
        json={"region_prefix": COUNTY, "year": THIS_YEAR, "values": values},
        headers=auth("county_staff.county"),
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


async def test_a_renamed_figure_is_refused_naming_the_new_one(client, auth):
    r = await client.post(
        POLICIES,
        json={"region_prefix": COUNTY, "year": THIS_YEAR, "values": {"elimination_min_completed_measures": 2}},
        headers=auth("county_staff.county"),
    )
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["field"]) == (
        "policy_value_renamed",
        "values.elimination_min_completed_measures",
    )
    assert "elimination_min_measures_carried_out" in r.json()["detail"]
    r = await client.post(
        POLICIES,
        json={"region_prefix": COUNTY, "year": THIS_YEAR, "values": {"elimination_min_measures_carried_out": 2}},
        headers=auth("county_staff.county"),
    )
    assert r.status_code == 201, r.text


async def test_the_migration_renames_the_figure_in_stored_overrides(db):
    """Migration e5b7c9d1f311's statement, on a row written under the old name."""
    import importlib.util
    from pathlib import Path

    from sqlalchemy import text

    path = next(Path(__file__).resolve().parents[2].glob("migrations/versions/*e5b7c9d1f311*.py"))  # noqa: ASYNC240 (one glob)
    spec = importlib.util.spec_from_file_location("m_e5b7c9d1f311", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    conn = db.connection
    await conn.execute(
        text(
            "INSERT INTO monitoring_policies (region_prefix, year, values, version) "
            "VALUES ('529901', 2001, '{\"elimination_min_completed_measures\": 2, \"plan_days\": 9}', 1)"
        )
    )
    await conn.execute(text(migration.RENAME.format(old=migration.OLD, new=migration.NEW)))
    values = (await conn.execute(text("SELECT values FROM monitoring_policies WHERE year = 2001"))).scalar_one()
    assert values == {"elimination_min_measures_carried_out": 2, "plan_days": 9}


@pytest.mark.parametrize(
    "prefix,status,code",
    [
        ("529902", 404, "region_not_found"),  # another county
        ("529901009", 404, "region_not_found"),  # missing
        ("52", 403, "policy_region_too_wide"),  # the caller's own province: visible, not the caller's to set
        ("", 403, "policy_region_too_wide"),
        ("529900", 422, "region_prefix_malformed"),  # a city's code written as a county's
        ("5299011", 422, "string_pattern_mismatch"),
    ],
)
async def test_override_region_must_lie_within_the_callers(client, auth, prefix, status, code):
    r = await _create(client, auth("county_staff.county"), prefix)
    assert r.status_code == status, r.text
    assert r.json()["errors"][0]["code"] == code and r.json()["field"] == "region_prefix"


async def test_a_second_override_for_the_same_region_and_year_conflicts(client, auth):
    h = auth("county_staff.county")
    assert (await _create(client, h, TOWNSHIP)).status_code == 201
    r = await _create(client, h, TOWNSHIP, values={"plan_days": 5})
    assert r.status_code == 409 and r.json()["code"] == "policy_exists"


async def test_override_post_is_idempotent(client, auth, session):
    h = {**auth("county_staff.county"), "Idempotency-Key": "policy-once-1"}
    first = await _create(client, h, TOWNSHIP)
    second = await _create(client, h, TOWNSHIP)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    count = (
        (await session.execute(select(MonitoringPolicyRow).where(MonitoringPolicyRow.region_prefix == TOWNSHIP)))
        .scalars()
        .all()
    )
    assert len(count) == 1


@pytest.mark.parametrize("username", ["grid_worker.county", "county_approver.county", "auditor.county"])
async def test_roles_without_policy_write_may_not_create_overrides(client, auth, username):
    assert (await _create(client, auth(username), COUNTY)).status_code == 403


async def test_a_policy_change_recomputes_the_stored_deadlines(client, auth):
    from datetime import timedelta

    from services.core.timeutil import today
    from tests.api.monitoring_helpers import report
    from tests.factories import household, person

    county = auth("county_staff.county")
    hh = (await client.post("/api/v1/households", json=household(members=[person("head")]), headers=county)).json()
    clue = await report(client, auth("grid_worker.village"), hh["id"], ["illness"])
    day = today()
    assert clue["next_deadline"]["due"] == (day + timedelta(days=15)).isoformat()

    created = await _create(client, county, COUNTY, day.year, {"identification_days": 10})
    assert created.json()["deadlines_refreshed"] == 1
    now = (await client.get(f"/api/v1/risk-clues/{clue['id']}", headers=county)).json()
    assert now["next_deadline"]["due"] == (day + timedelta(days=10)).isoformat()

    # Outside the override's region nothing moves; removing it puts the default back.
    gone = await client.delete(
        f"{POLICIES}/{created.json()['id']}", headers={**county, "If-Match": created.headers["etag"]}
    )
    assert gone.status_code == 204
    back = (await client.get(f"/api/v1/risk-clues/{clue['id']}", headers=county)).json()
    assert back["next_deadline"]["due"] == (day + timedelta(days=15)).isoformat()
    other = await _create(client, county, "529901002", day.year, {"identification_days": 5})
    assert other.json()["deadlines_refreshed"] == 0


async def test_effective_policy_and_list_bad_requests_and_roles(client, auth):
    county = auth("county_staff.county")
    for params, field in [
        ({"year": 1999}, "year"),
        ({"region": "52990"}, "region"),
        ({"region": "529901009"}, "region"),
    ]:
        r = await client.get(f"{POLICIES}/effective", params=params, headers=county)
        assert r.status_code in (404, 422) and r.json()["field"] == field
    for path in (f"{POLICIES}/effective", POLICIES, "/api/v1/income-lines"):
        assert (await client.get(path, headers=auth("admin.county"))).status_code == 403
    assert (await client.get(POLICIES, params={"cursor": "bm9wZQ"}, headers=county)).status_code == 422
    assert (await client.get(f"{POLICIES}/abc", headers=county)).status_code == 422
    assert (await client.get("/api/v1/income-lines/2026/5", headers=county)).json()["field"] == "province_code"


async def test_override_changes_are_checked_too(client, auth):
    county = auth("county_staff.county")
    r = await _create(client, county, COUNTY)
    path, tag = f"{POLICIES}/{r.json()['id']}", r.headers["etag"]
    bad = await client.put(path, json={"values": {"notice_min_days": 0}}, headers={**county, "If-Match": tag})
    assert bad.status_code == 422 and bad.json()["field"] == "values.notice_min_days"
    extra = await client.put(path, json={"values": {"plan_days": 9}, "year": 2030}, headers={**county, "If-Match": tag})
    assert extra.status_code == 422 and extra.json()["field"] == "year"
    denied = await client.put(
        path, json={"values": {"plan_days": 9}}, headers={**auth("grid_worker.county"), "If-Match": tag}
    )
    assert denied.status_code == 403
    other = await client.put(
        path, json={"values": {"plan_days": 9}}, headers={**auth("county_staff.other"), "If-Match": tag}
    )
    assert other.status_code == 404
    ok = await client.put(path, json={"values": {"plan_days": 9}}, headers={**county, "If-Match": tag})
    assert ok.status_code == 200 and ok.json()["values"] == {"plan_days": 9}
