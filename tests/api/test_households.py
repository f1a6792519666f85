"""Registering and reading households: validation, duplicates, filters, pagination."""

from datetime import date

import pytest

from tests.factories import OTHER_TOWNSHIP_VILLAGE, TOWNSHIP, VILLAGE, VILLAGE_2, household, id_number, person

PROBLEM = "application/problem+json"


async def create(client, auth, user="village_staff.village", **kw):
    r = await client.post("/api/v1/households", json=household(**kw), headers=auth(user))
    assert r.status_code == 201, r.text
    return r.json()


async def test_created_household_reads_back_with_derived_fields(client, auth):
    head = person("head", born=date(1970, 1, 2), male=True, name="张大山")
    wife = person("spouse", born=date(1972, 6, 30), male=False, name="李秀英")
    body = await create(
        client,
        auth,
        members=[wife, head],
        flags=["dibao", "relocated", "dibao"],
        resettlement_site="城南安置点",
        phone="13912345678",
    )
    assert body["household_no"].startswith(VILLAGE)
    assert body["flags"] == ["dibao", "relocated"]
    assert body["head_name"] == "张大山"
    assert body["member_count"] == 2
    assert [m["relation"] for m in body["members"]] == ["head", "spouse"]
    m = body["members"][0]
    assert m["sex"] == "male" and m["birth_date"] == "1970-01-02"
    assert m["id_number"] == head["id_number"][:6] + "*" * 12
    r = await client.get(f"/api/v1/households/{body['id']}", headers=auth("county_staff.county"))
    assert r.status_code == 200
    assert r.json() == body


async def test_response_matches_the_documented_schema(client, auth):
    from services.core.households.schemas import HouseholdDetail

    body = await create(client, auth)
    HouseholdDetail.model_validate(body)


async def test_id_number_spellings_are_normalised_on_entry(client, auth):
    number = id_number(date(1966, 2, 3), male=True)
    messy = " " + number[:-1].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + number[-1].lower() + " "
    body = await create(client, auth, members=[person("head", id_number=messy)])
    r = await client.post("/api/v1/persons/lookup", json={"id_number": number}, headers=auth("village_staff.village"))
    assert r.status_code == 200
    assert r.json()["id"] == body["members"][0]["id"]


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ("11010519491231002Y", "id_number_format"),
        ("11010519491331002X", "id_number_birth_date"),
        ("110105194912310021", "id_number_check_digit"),
    ],
)
async def test_bad_id_numbers_name_the_field(client, auth, bad, code):
    body = household(members=[person("head"), person("spouse", id_number=bad)])
    r = await client.post("/api/v1/households", json=body, headers=auth("village_staff.village"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    problem = r.json()
    assert problem["errors"][0]["field"] == "members[1].id_number"
    assert problem["errors"][0]["code"] == code
    assert bad not in r.text  # never echo an ID number back


async def test_chinese_messages_on_request(client, auth):
    body = household(members=[person("head", id_number="110105194912310021")])
    r = await client.post(
        "/api/v1/households", json=body, headers=auth("village_staff.village", **{"Accept-Language": "zh-CN,zh;q=0.9"})
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["message"] == "身份证号码校验位错误。"
    assert r.headers["content-language"] == "zh-CN"
    r = await client.post("/api/v1/households", json=body, headers=auth("village_staff.village"))
    assert r.json()["errors"][0]["message"] == "The ID number's check digit is wrong."


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"members": [person("spouse")]}, "members", "one_head"),
        ({"members": [person("head"), person("head")]}, "members", "one_head"),
        ({"category": "monitored"}, "category", "category_monitored_reserved"),
        ({"flags": ["relocated"]}, "resettlement_site", "flags_resettlement"),
        ({"flags": ["rich"]}, "flags[0]", "enum"),
        ({"region_code": "52990100100"}, "region_code", "region_code_malformed"),
        ({"phone": "12345678901"}, "phone", "phone_invalid"),
        ({"members": []}, "members", "too_short"),
    ],
)
async def test_invalid_households_are_refused_with_the_field(client, auth, change, field, code):
    r = await client.post("/api/v1/households", json=household(**change), headers=auth("village_staff.village"))
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert (field, code) in [(e["field"], e["code"]) for e in errors]


async def test_repeated_id_in_one_request(client, auth):
    head = person("head")
    r = await client.post(
        "/api/v1/households",
        json=household(members=[head, {**person("spouse"), "id_number": head["id_number"]}]),
        headers=auth("village_staff.village"),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "id_number_repeated"


@pytest.mark.parametrize(
    "field", ["id", "version", "created_at", "member_count", "head_name", "status", "previous_category", "region_name"]
)
async def test_mass_assignment_is_refused(client, auth, field):
    r = await client.post("/api/v1/households", json={**household(), field: 1}, headers=auth("village_staff.village"))
    assert r.status_code == 422
    assert r.json()["errors"][0] == {
        "field": field,
        "code": "extra_forbidden",
        "message": "This field is not accepted here.",
    }


async def test_unknown_or_hidden_village_is_404_and_township_code_is_422(client, auth):
    h = auth("village_staff.village")
    r = await client.post("/api/v1/households", json=household(region=VILLAGE_2), headers=h)
    assert (r.status_code, r.json()["code"]) == (404, "region_not_found")
    r = await client.post("/api/v1/households", json=household(region="529901001999"), headers=h)
    assert (r.status_code, r.json()["code"]) == (404, "region_not_found")
    r = await client.post(
        "/api/v1/households", json=household(region=TOWNSHIP + "000"), headers=auth("township_staff.township")
    )
    assert (r.status_code, r.json()["code"]) == (422, "region_not_village")


async def test_duplicate_id_conflict(client, auth):
    head = person("head")
    first = await create(client, auth, region=VILLAGE_2, user="county_staff.county", members=[head])
    # A county user sees the household that already has the person.
    r = await client.post(
        "/api/v1/households",
        json=household(region=VILLAGE, members=[{**person("head"), "id_number": head["id_number"]}]),
        headers=auth("county_staff.county"),
    )
    assert r.status_code == 409
    problem = r.json()
    assert problem["code"] == "id_number_duplicate_in"
    assert problem["field"] == "members[0].id_number"
    assert first["household_no"] in problem["detail"]
    # A village user of another village learns only that the number is registered.
    r = await client.post(
        "/api/v1/households",
        json=household(region=VILLAGE, members=[{**person("head"), "id_number": head["id_number"]}]),
        headers=auth("village_staff.village"),
    )
    assert r.status_code == 409
    assert r.json()["code"] == "id_number_duplicate"
    assert first["household_no"] not in r.text and str(first["id"]) not in r.json()["detail"]


async def test_list_filters_and_keyset_pages(client, auth):
    h = auth("county_staff.county")
    made = []
    for i in range(5):
        made.append(
            await create(
                client,
                auth,
                user="county_staff.county",
                category="ordinary" if i % 2 else "lifted_out",
                flags=["dibao"] if i < 2 else [],
            )
        )
    other = await create(client, auth, user="county_staff.county", region=OTHER_TOWNSHIP_VILLAGE)
    seen, cursor = [], None
    while True:
        r = await client.get(
            "/api/v1/households", params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=h
        )
        assert r.status_code == 200
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen) and set(seen) == {m["id"] for m in made} | {other["id"]}
    r = await client.get("/api/v1/households", params={"region": VILLAGE}, headers=h)
    assert {x["id"] for x in r.json()["items"]} == {m["id"] for m in made}
    r = await client.get("/api/v1/households", params={"category": "ordinary"}, headers=h)
    assert {x["id"] for x in r.json()["items"]} == {made[1]["id"], made[3]["id"]}
    r = await client.get("/api/v1/households", params=[("flags", "dibao")], headers=h)
    assert {x["id"] for x in r.json()["items"]} == {made[0]["id"], made[1]["id"]}
    r = await client.get("/api/v1/households", params=[("flags", "dibao"), ("flags", "tekun")], headers=h)
    assert r.json()["items"] == []


async def test_name_search_is_a_prefix_of_any_member(client, auth):
    h = auth("county_staff.county")
    a = await create(
        client,
        auth,
        user="county_staff.county",
        members=[person("head", name="欧阳修"), person("child", name="欧阳小明")],
    )
    b = await create(client, auth, user="county_staff.county", members=[person("head", name="王欧")])
    r = await client.get("/api/v1/households", params={"name": "欧阳"}, headers=h)
    assert [x["id"] for x in r.json()["items"]] == [a["id"]]
    r = await client.get("/api/v1/households", params={"name": "%"}, headers=h)
    assert r.json()["items"] == []  # wildcards are literal
    assert b["id"]


async def test_list_refuses_bad_filters(client, auth):
    h = auth("county_staff.county")
    for params, field, status in [
        ({"region": "52990"}, "region", 422),
        ({"region": "529902"}, "region", 404),
        ({"region": "529901009"}, "region", 404),
        ({"income_below": "7100"}, "income_year", 422),
        ({"income_year": "2025"}, "income_below", 422),
        ({"income_below": "7100.123", "income_year": "2025"}, "income_below", 422),
        ({"cursor": "not-a-cursor"}, "cursor", 422),
        ({"limit": "0"}, "limit", 422),
        ({"category": "rich"}, "category", 422),
    ]:
        r = await client.get("/api/v1/households", params=params, headers=h)
        assert r.status_code == status, (params, r.text)
        assert r.json()["field"] == field, params


async def test_page_size_has_the_documented_maximum(client, auth):
    from services.api.params import MAX_LIMIT

    h = auth("county_staff.county")
    assert (await client.get("/api/v1/households", params={"limit": MAX_LIMIT}, headers=h)).status_code == 200
    r = await client.get("/api/v1/households", params={"limit": MAX_LIMIT + 1}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "limit"
    assert r.json()["errors"][0]["code"] == "less_than_equal"


async def test_unknown_household_is_404_problem(client, auth):
    r = await client.get("/api/v1/households/999999999", headers=auth("county_staff.county"))
    assert r.status_code == 404
    assert r.json()["code"] == "household_not_found"
    r = await client.get("/api/v1/households/abc", headers=auth("county_staff.county"))
    assert r.status_code == 422 and r.json()["field"] == "household_id"


async def test_each_change_raises_the_version_by_one(client, auth):
    """One request, one new version: a PATCH, a change of head, a new member or a member's
    new name each raise the household's ETag by exactly one (its summary of members is
    written with the change, not as a second update), and the ETag read just before a
    change is the one its If-Match needs."""
    user = auth("county_staff.county")
    body = await create(client, auth)
    hid, wife = body["id"], next(m for m in body["members"] if m["relation"] == "spouse")
    path = f"/api/v1/households/{hid}"

    async def version() -> int:
        r = await client.get(path, headers=user)
        assert r.headers["etag"] == f'"household-{hid}-v{r.json()["version"]}"'
        return r.json()["version"]

    start = await version()
    changes = [
        ("PATCH", path, {"address": "石门镇白岩村3组"}),
        ("PATCH", path, {"phone": "13912345678", "head_person_id": wife["id"], "former_head_relation": "spouse"}),
        ("POST", f"{path}/members", person("child", name="张小红", born=date(2015, 4, 1), male=False)),
        ("PATCH", f"/api/v1/persons/{wife['id']}", {"name": "王芳芳"}),  # the head's name: the summary changes
    ]
    for n, (method, url, payload) in enumerate(changes, start=1):
        headers = {**user, "If-Match": f'"household-{hid}-v{start + n - 1}"'} if url == path else user
        if method == "PATCH" and url != path:  # a person's own ETag
            headers = {**user, "If-Match": (await client.get(url, headers=user)).headers["etag"]}
        r = await client.request(method, url, json=payload, headers=headers)
        assert r.status_code in (200, 201), r.text
        assert await version() == start + n, (method, url)
    after = (await client.get(path, headers=user)).json()
    assert after["head_name"] == "王芳芳" and after["member_count"] == 4 and after["address"] == "石门镇白岩村3组"
    stale = await client.patch(path, json={"address": "x"}, headers={**user, "If-Match": f'"household-{hid}-v{start}"'})
    assert stale.status_code == 412
