"""Personal data at rest and in responses: ID numbers and health details are encrypted in
the tables, responses show the masked number, health details only to roles allowed to see
them, the complete number only through the audited unmask endpoint, and no error ever
carries a full ID number."""

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from services.core.accounts.roles import Permission, Role, allows
from services.core.crypto import key_id_of, keyring
from services.core.households.sensitive import health_json, open_id_number
from services.core.idnumber import check_character, mask, normalise
from tests.api.test_households import create
from tests.factories import VILLAGE, VILLAGE_2, household, id_number, person

ILLNESS = "慢性阻塞性肺病（测试）"
HEALTH_KEYS = {"health", "disability_grade", "illness"}


def _sick_family():
    head = person("head", health="chronic_illness", illness=ILLNESS)
    spouse = person("spouse", name="王芳", health="disabled", disability_grade=2)
    child = person("child", name="张小明", male=True)
    return [head, spouse, child]


async def _dump(db, table: str) -> str:
    """Every row of ``table`` as PostgreSQL prints it (bytea as hex), one per line."""
    async with db.connection.begin_nested():
        rows = await db.connection.execute(text(f"SELECT t::text FROM {table} t"))
        return "\n".join(r[0] for r in rows)


async def test_a_raw_dump_shows_no_id_number_and_no_illness(client, auth, db, settings):
    members = _sick_family()
    created = await create(client, auth, members=members)
    extra = person(
        "grandchild", born=date(2020, 4, 4), name="张小宝", illness="先天性心脏病（测试）", health="serious_illness"
    )
    r = await client.post(
        f"/api/v1/households/{created['id']}/members",
        json=extra,
        headers={**auth("village_staff.village"), "Idempotency-Key": "add-grandchild-1"},
    )
    assert r.status_code == 201, r.text
    numbers = [m["id_number"] for m in (*members, extra)]

    dump = await _dump(db, "persons")
    assert dump.count("\n") == 3  # four persons
    for number in numbers:
        assert number not in dump and number.lower() not in dump
        assert mask(number) in dump  # the masked form is stored for responses
    assert ILLNESS not in dump and "先天性心脏病" not in dump and "chronic_illness" not in dump
    # Not in the stored idempotent response either (it carries the health details).
    stored = await _dump(db, "idempotency_keys")
    assert "add-grandchild-1" in stored and "先天性心脏病" not in stored and "serious_illness" not in stored

    # The blobs are AES-GCM under the active key and decrypt to what was sent.
    ring = keyring(settings)
    async with db.connection.begin_nested():
        rows = (await db.connection.execute(text("SELECT id_number_enc, health_enc FROM persons ORDER BY id"))).all()
    assert {open_id_number(ring, r[0]) for r in rows} == set(numbers)
    assert all(key_id_of(r[0]) == key_id_of(r[1]) == ring.active for r in rows)
    assert {health_json(ring, r[1])["illness"] for r in rows} >= {ILLNESS, "先天性心脏病（测试）"}


async def test_lookup_by_id_number_still_works_and_shows_it_masked(client, auth):
    members = _sick_family()
    created = await create(client, auth, members=members)
    for member, shown in zip(members, created["members"], strict=True):
        r = await client.post(
            "/api/v1/persons/lookup", json={"id_number": member["id_number"]}, headers=auth("grid_worker.village")
        )
        assert r.status_code == 200, r.text
        assert r.json()["id"] == shown["id"]
        assert r.json()["id_number"] == member["id_number"][:6] + "*" * 12
        assert member["id_number"] not in r.text


HEALTH_ROLES = {
    Role.grid_worker,
    Role.assistance_cadre,
    Role.village_staff,
    Role.township_staff,
    Role.county_staff,
    Role.county_approver,
}


def test_who_may_see_health_and_unmask():
    assert {r for r in Role if allows(r, Permission.registry_health)} == HEALTH_ROLES
    assert {r for r in Role if allows(r, Permission.registry_unmask)} == {
        Role.village_staff,
        Role.township_staff,
        Role.county_staff,
    }


READERS = [r for r in Role if allows(r, Permission.registry_read) and allows(r, Permission.persons_lookup)]


def test_roles_that_read_nothing_of_the_registry():
    # The administrator manages accounts only; a department system's user account may only look
    # up; the auditor reads (masked, without health details) but does not search by ID number.
    assert set(Role) - set(READERS) == {Role.admin, Role.department_system, Role.auditor}
    assert not allows(Role.auditor, Permission.registry_health)


@pytest.mark.parametrize("role", [*READERS, Role.auditor])
async def test_health_details_only_for_roles_that_may_see_them(client, auth, role):
    members = _sick_family()
    created = await create(client, auth, members=members)
    headers = auth(f"{role.value}.county")
    head_id = created["members"][0]["id"]
    responses = [
        await client.get(f"/api/v1/households/{created['id']}", headers=headers),
        await client.get(f"/api/v1/persons/{head_id}", headers=headers),
        await client.post("/api/v1/persons/lookup", json={"id_number": members[0]["id_number"]}, headers=headers),
    ]
    if role == Role.auditor:  # reads the registry, but looks nobody up by ID number
        assert responses[2].status_code == 403
        responses[2] = responses[1]
    for r in responses:
        assert r.status_code == 200, r.text
    household_doc, person_doc, lookup_doc = (r.json() for r in responses)
    people = [*household_doc["members"], person_doc, lookup_doc]
    if role in HEALTH_ROLES:
        assert all(set(p) >= HEALTH_KEYS for p in people)
        head, spouse, child = household_doc["members"]
        assert (head["health"], head["illness"], head["disability_grade"]) == ("chronic_illness", ILLNESS, None)
        assert (spouse["health"], spouse["disability_grade"]) == ("disabled", 2)
        assert (child["health"], child["illness"]) == ("healthy", None)
        assert person_doc == lookup_doc == head
    else:
        # Left out entirely (not null): nothing reveals whether there is anything to hide.
        assert all(not (HEALTH_KEYS & set(p)) for p in people)
        for r in responses:
            assert ILLNESS not in r.text and "disabled" not in r.text
    # The rest of the person is the same for every role.
    # (but the birth date: see test_no_role_without_unmask_can_rebuild_an_id_number)
    strip = lambda p: {k: v for k, v in p.items() if k not in HEALTH_KEYS | {"birth_date"}}  # noqa: E731
    assert [strip(m) for m in household_doc["members"]] == [strip(m) for m in created["members"]]


async def test_write_responses_follow_the_same_rule(client, auth):
    """The response of a write shows health details as a read by the same caller would."""
    created = await create(client, auth, user="county_staff.county", members=_sick_family())
    assert created["members"][0]["illness"] == ILLNESS
    r = await client.get(f"/api/v1/households/{created['id']}", headers=auth("auditor.county"))
    assert r.status_code == 200 and "illness" not in r.json()["members"][0]


async def test_patch_of_health_fields_merges_with_the_stored_details(client, auth):
    created = await create(client, auth, members=_sick_family())
    spouse_id = created["members"][1]["id"]
    h = auth("village_staff.village")

    async def patch(body):
        etag = (await client.get(f"/api/v1/persons/{spouse_id}", headers=h)).headers["etag"]
        return await client.patch(f"/api/v1/persons/{spouse_id}", json=body, headers={**h, "If-Match": etag})

    r = await patch({"illness": "腰椎间盘突出"})
    assert r.status_code == 200, r.text
    assert (r.json()["health"], r.json()["disability_grade"], r.json()["illness"]) == ("disabled", 2, "腰椎间盘突出")
    r = await patch({"disability_grade": 3, "family_doctor": True})
    assert (r.json()["health"], r.json()["disability_grade"], r.json()["illness"]) == ("disabled", 3, "腰椎间盘突出")
    assert r.json()["family_doctor"] is True
    r = await patch({"health": "healthy", "disability_grade": None, "illness": None})
    assert (r.json()["health"], r.json()["disability_grade"], r.json()["illness"]) == ("healthy", None, None)
    r = await patch({"name": "王芳芳"})  # no health field: the details are kept as they are
    assert r.json()["health"] == "healthy" and r.json()["name"] == "王芳芳"
    r = await patch({"health": None})
    assert (r.status_code, r.json()["field"]) == (422, "health")  # health cannot be emptied
    again = await client.get(f"/api/v1/persons/{spouse_id}", headers=h)
    assert again.json()["health"] == "healthy"


# ---- what a masked number and the fields beside it give away --------------------------------


def candidates(masked: str, sex: str, birth_year: int, birth_date: date | None, enough: int = 10_000) -> int:
    """How many valid ID numbers (GB 11643: birth date, sequence with the sex's parity, check
    character) agree with everything a reader was shown; counting stops at ``enough``."""
    assert len(masked) == 18
    if birth_date is not None:
        dates = [birth_date]
    else:
        first = date(birth_year, 1, 1)
        dates = [first + timedelta(days=n) for n in range((date(birth_year + 1, 1, 1) - first).days)]
    shown = [(i, c) for i, c in enumerate(masked) if c != "*"]
    parity = 1 if sex == "male" else 0
    count = 0
    for born in dates:
        for sequence in range(parity, 1000, 2):
            first17 = f"{masked[:6] if masked[:6].isdigit() else '000000'}{born:%Y%m%d}{sequence:03d}"
            number = first17 + check_character(first17)
            if all(number[i] == c for i, c in shown):
                count += 1
                if count >= enough:
                    return count
    return count


def test_candidates_counts_what_the_old_mask_gave_away():
    number = id_number(date(1975, 3, 8), True)
    old_mask = number[:6] + "********" + number[-4:]
    assert candidates(old_mask, "male", 1975, date(1975, 3, 8)) == 1  # the number itself
    assert candidates(mask(number), "male", 1975, None) == 10_000


@pytest.mark.parametrize("role", list(Role))
async def test_no_role_without_unmask_can_rebuild_an_id_number(client, auth, role):
    """Everything a role is shown of a person (household, person, lookup, the household list)
    leaves at least 10,000 candidate ID numbers, unless the role may reveal the number anyway."""
    members = _sick_family()
    created = await create(client, auth, members=members)
    headers = auth(f"{role.value}.county")
    head_id = created["members"][0]["id"]
    reads = [
        await client.get(f"/api/v1/households/{created['id']}", headers=headers),
        await client.get(f"/api/v1/persons/{head_id}", headers=headers),
        await client.post("/api/v1/persons/lookup", json={"id_number": members[0]["id_number"]}, headers=headers),
        await client.get("/api/v1/households", params={"region": VILLAGE}, headers=headers),
    ]
    seen: dict[str, dict] = {}  # what the role learnt of each person, by name
    for r in reads:
        if r.status_code == 403:
            continue
        assert r.status_code == 200, r.text
        doc = r.json()
        if "members" in doc:
            people = doc["members"]
        elif "id_number" in doc:
            people = [doc]
        else:
            people = []  # the household list: the head's name only
        for p in people:
            known = seen.setdefault(p["name"], {})
            for key, value in p.items():
                if value is not None:
                    known[key] = value
    reads_persons = allows(role, Permission.registry_read) or allows(role, Permission.persons_lookup)
    assert bool(seen) == reads_persons, role
    may_reveal = allows(role, Permission.registry_unmask)
    for member in members:
        known = seen.get(member["name"])
        if known is None:
            continue
        true_born = normalise(member["id_number"]).birth_date
        shown_date = date.fromisoformat(known["birth_date"]) if "birth_date" in known else None
        if may_reveal:
            assert shown_date == true_born and known["birth_year"] == true_born.year
            continue
        year = known.get("birth_year")
        if year is None:  # the date is read only when the year is not shown (it may be None)
            year = shown_date.year
        assert candidates(known["id_number"], known["sex"], year, shown_date) >= 10_000, (role, known)
        assert shown_date is None and known["birth_year"] == true_born.year
        assert known["id_number"] == mask(member["id_number"])
    for r in reads:
        for member in members:
            born = normalise(member["id_number"]).birth_date
            if not may_reveal:
                assert born.isoformat() not in r.text and f"{born:%Y%m%d}" not in r.text


async def test_the_audit_trail_keeps_birth_dates_to_their_year(client, auth):
    """The auditor may not reveal numbers: the rows of a registration in the trail carry the
    masked number and the birth year, never the date."""
    members = _sick_family()
    created = await create(client, auth, members=members)
    r = await client.get(
        "/api/v1/audit/events",
        params={"region": VILLAGE, "action": "api.create_household"},
        headers=auth("auditor.county"),
    )
    assert r.status_code == 200, r.text
    event = next(
        e
        for e in r.json()["items"]
        if e["object_id"] == str(created["id"])
        or any(str(created["id"]) in row for row in (e["detail"] or {}).get("rows", []))
    )
    persons = [row for key, row in (event["after"] or {}).items() if key.startswith("persons/")]
    assert len(persons) == len(members)
    assert sorted(row["birth_date"] for row in persons) == sorted(
        f"{normalise(m['id_number']).birth_date.year}-**-**" for m in members
    )
    for member in members:
        born = normalise(member["id_number"]).birth_date
        assert born.isoformat() not in r.text and member["id_number"] not in r.text


# ---- unmask ---------------------------------------------------------------------------------

UNMASK = "/api/v1/persons/{}/id-number"


async def test_unmask_gives_the_complete_number_to_allowed_roles_only(client, auth, db):
    members = _sick_family()
    created = await create(client, auth, members=members)
    head_id = created["members"][0]["id"]
    body = {"reason": "核对低保申请材料"}
    for user in ("village_staff.village", "township_staff.township", "county_staff.county"):
        r = await client.post(UNMASK.format(head_id), json=body, headers=auth(user))
        assert r.status_code == 200, (user, r.text)
        assert r.json() == {"person_id": head_id, "id_number": members[0]["id_number"]}
        assert r.headers["cache-control"] == "no-store"
    for user in (
        "grid_worker.village",
        "assistance_cadre.village",
        "county_approver.county",
        "department_system.county",
        "auditor.county",
        "admin.county",
    ):
        r = await client.post(UNMASK.format(head_id), json=body, headers=auth(user))
        assert (r.status_code, r.json()["code"]) == (403, "forbidden"), user
        assert members[0]["id_number"] not in r.text
    # Outside the caller's regions: 404, as for a person that does not exist.
    hidden = await client.post(UNMASK.format(head_id), json=body, headers=auth("village_staff.village2"))
    missing = await client.post(UNMASK.format(987654321), json=body, headers=auth("village_staff.village2"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"] == "person_not_found"
    assert members[0]["id_number"] not in hidden.text


async def test_unmask_needs_a_reason_and_is_never_stored_for_replay(client, auth, db):
    members = _sick_family()
    created = await create(client, auth, members=members)
    head_id = created["members"][0]["id"]
    h = auth("county_staff.county")
    for bad in ({}, {"reason": "x"}, {"reason": " x "}, {"reason": "长" * 201}, {"reason": "查看", "extra": 1}):
        r = await client.post(UNMASK.format(head_id), json=bad, headers=h)
        assert r.status_code == 422, bad
    r = await client.post(
        UNMASK.format(head_id), json={"reason": "入户核查"}, headers={**h, "Idempotency-Key": "unmask-1"}
    )
    assert r.status_code == 200 and "idempotent-replayed" not in r.headers
    again = await client.post(
        UNMASK.format(head_id), json={"reason": "再次核查"}, headers={**h, "Idempotency-Key": "unmask-1"}
    )
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers  # not a reused key
    assert "unmask-1" not in await _dump(db, "idempotency_keys")


# ---- errors never carry the number ------------------------------------------------------------


async def test_a_bad_id_number_is_not_echoed_in_the_422(client, auth):
    good = id_number()  # one number: two calls give two numbers, and the second's check may be the first's
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    for number in (bad_check, "11010519491331002X", "１１０１０５１９４９１２３１００２１"):
        # the hot lookup, a household registration, an added member
        responses = [
            await client.post(
                "/api/v1/persons/lookup", json={"id_number": number}, headers=auth("grid_worker.village")
            ),
            await client.post(
                "/api/v1/households",
                json=household(members=[person("head", id_number=number)]),
                headers=auth("village_staff.village"),
            ),
        ]
        for r in responses:
            assert r.status_code == 422, r.text
            assert r.json()["errors"][0]["code"].startswith("id_number_")
            assert number not in r.text and number.upper() not in r.text
            assert "input" not in r.text


async def test_a_duplicate_is_a_409_without_the_number(client, auth):
    head = person("head")
    await create(client, auth, members=[head])
    for user in ("village_staff.village", "county_staff.county", "village_staff.village2"):
        region = VILLAGE_2 if user.endswith("village2") else None
        body = household(
            members=[{**person("head"), "id_number": head["id_number"]}], **({"region": region} if region else {})
        )
        r = await client.post("/api/v1/households", json=body, headers=auth(user))
        assert r.status_code == 409, r.text
        assert r.json()["code"].startswith("id_number_duplicate")
        assert head["id_number"] not in r.text and head["id_number"][6:14] not in r.text


async def test_an_id_number_in_a_path_or_key_is_masked_in_the_problem(client, auth):
    number = id_number()
    h = auth("village_staff.village")
    for r in (
        await client.get(f"/api/v1/persons/{number}", headers=h),  # not an integer id: 422
        await client.get(f"/api/v1/no-such-thing/{number}", headers=h),  # 404
        await client.post(
            "/api/v1/households/1/merge", json={"household_id": 1, "relations": {number: "child"}}, headers=h
        ),
    ):
        assert r.status_code in (404, 422), r.text
        assert number not in r.text
    r = await client.get(f"/api/v1/persons/{number}", headers=h)
    assert r.json()["instance"] == f"/api/v1/persons/{mask(number)}"


def test_log_records_are_redacted(caplog):
    import logging

    from services.core.idnumber import install_log_redaction

    number = id_number()
    install_log_redaction()
    log = logging.getLogger("guardline.api")
    with caplog.at_level(logging.INFO, logger="guardline.api"):
        log.info("lookup of %s failed", number)
        try:
            raise ValueError(f"bad {number}")
        except ValueError:
            log.exception("unhandled error for %s", number)
    text = caplog.text
    assert number not in text and mask(number) in text
    assert "ValueError: bad " + mask(number) in text


async def test_flags_that_tell_health_follow_the_health_permission(client, auth):
    body = household(members=[person("head", health="disabled", disability_grade=1)], flags=["disabled", "dibao"])
    created = await client.post("/api/v1/households", json=body, headers=auth("county_staff.county"))
    assert created.status_code == 201, created.text
    assert set(created.json()["flags"]) == {"disabled", "dibao"}
    hid = created.json()["id"]
    for user, shown in (("county_staff.county", {"disabled", "dibao"}), ("auditor.county", {"dibao"})):
        h = auth(user)
        one = await client.get(f"/api/v1/households/{hid}", headers=h)
        assert set(one.json()["flags"]) == shown, user
        listed = await client.get("/api/v1/households", params={"flags": "dibao", "limit": 200}, headers=h)
        assert {tuple(x["flags"]) for x in listed.json()["items"] if x["id"] == hid} == {tuple(sorted(shown))}, user
    refused = await client.get("/api/v1/households", params={"flags": "disabled"}, headers=auth("auditor.county"))
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (
        403,
        "health_flags_forbidden",
        "flags",
    )
    allowed = await client.get("/api/v1/households", params={"flags": "disabled"}, headers=auth("county_staff.county"))
    assert hid in {x["id"] for x in allowed.json()["items"]}
