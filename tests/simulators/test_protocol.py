"""The simulators' protocol: tokens, paging (every record exactly once, the same page for
the same cursor, also after a restart), the county filter and refused parameters."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timedelta

import httpx
import pytest

from services.simulators.config import KINDS
from tests.simulators.conftest import COUNTY, ID_FIELD, KEY_FIELD, OTHER_COUNTY, person_id, unwrap

# ---- tokens -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_token_and_refusals(simulator, kind):
    with simulator(kind) as sim:
        async with httpx.AsyncClient() as client:
            r = await client.get(sim.base + "/health")
            assert (r.status_code, r.json()) == (200, {"status": "ok", "kind": kind})

            r = await client.post(
                sim.base + "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "guardline",
                    "client_secret": f"demo-{kind}-secret",
                },
            )
            assert r.status_code == 200
            body = r.json()
            assert body["token_type"] == "Bearer" and body["expires_in"] == 600 and len(body["access_token"]) > 20

            for wrong in (
                {"client_id": "guardline", "client_secret": "nope"},
                {"client_id": "someone", "client_secret": f"demo-{kind}-secret"},
                {},
            ):
                r = await client.post(sim.base + "/oauth/token", data={"grant_type": "client_credentials", **wrong})
                assert (r.status_code, r.json()) == (401, {"error": "invalid_client"})
            r = await client.post(
                sim.base + "/oauth/token",
                data={"grant_type": "password", "client_id": "guardline", "client_secret": f"demo-{kind}-secret"},
            )
            assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"

            for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic Z3U6eA=="}):
                r = await sim.page(client, headers)
                assert (r.status_code, r.json()) == (401, {"error": "invalid_token"})

            good = await sim.token(client)
            assert (await sim.page(client, good)).status_code == 200


def limit_name(kind: str) -> str:
    return "page_size" if kind == "education" else "limit"


async def test_basic_client_credentials(simulator):
    with simulator("education") as sim:
        async with httpx.AsyncClient() as client:
            basic = base64.b64encode(b"guardline:demo-education-secret").decode()
            r = await client.post(
                sim.base + "/oauth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {basic}"},
            )
            assert r.status_code == 200


async def test_token_expires(simulator):
    with simulator("civil-affairs", token_ttl=1, client_secret="s3cret") as sim:
        async with httpx.AsyncClient() as client:
            headers = await sim.token(client)
            assert (await sim.page(client, headers)).status_code == 200
            await asyncio.sleep(1.1)
            r = await sim.page(client, headers)
            assert (r.status_code, r.json()) == (401, {"error": "invalid_token"})
            # a new token works again; the control endpoint can expire every token at once
            headers = await sim.token(client)
            assert (await sim.page(client, headers)).status_code == 200
            r = await client.post(sim.base + "/_control/expire-tokens")
            assert r.json() == {"expired": 1}
            assert (await sim.page(client, headers)).status_code == 401


# ---- paging -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_paging_covers_every_record_once(simulator, world, kind):
    with simulator(kind) as sim:
        async with httpx.AsyncClient(timeout=30) as client:
            whole = await sim.all_records(client, size=5000)
            small = await sim.all_records(client, size=7)
            odd = await sim.all_records(client, size=293)
    keys = [rec[KEY_FIELD[kind]] for rec in whole]
    assert len(keys) == len(set(keys)), "a record came twice"
    assert small == whole and odd == whole, "the page size changed what was served"
    # far more than one page of 7, and only persons of the county
    assert len(whole) > 50
    county_ids = set(world.of_county(COUNTY))
    assert {person_id(kind, rec) for rec in whole} <= county_ids
    if kind == "medical-insurance":  # every person has an enrolment; the order is (updated_at, key)
        enrolled = {person_id(kind, rec) for rec in whole if rec["type"] == "enrolment"}
        assert enrolled == county_ids
        order = [(datetime.fromisoformat(rec["updated_at"]), rec["key"]) for rec in whole]
        assert order == sorted(order) and len(set(order)) == len(order)
        assert all(rec["updated_at"].endswith("+08:00") for rec in whole)
    else:
        assert [person_id(kind, rec) for rec in whole] == sorted(person_id(kind, rec) for rec in whole)


@pytest.mark.parametrize("kind", ("civil-affairs", "education"))
async def test_a_cursor_always_gives_the_same_page(simulator, kind):
    """The worker retries pages and restarts mid-run: a cursor's page is the same on every
    request, and on another server process with the same seed; another seed differs."""
    token_name = "cursor" if kind == "civil-affairs" else "page_token"
    size = limit_name(kind)
    with simulator(kind) as sim:
        async with httpx.AsyncClient() as client:
            headers = await sim.token(client)
            first = await sim.page(client, headers, **{size: 10})
            _, cursor = unwrap(kind, first.json())
            second = await sim.page(client, headers, **{size: 10, token_name: cursor})
            again = await sim.page(client, headers, **{size: 10, token_name: cursor})
            assert second.content == again.content
            assert unwrap(kind, second.json())[0] != unwrap(kind, first.json())[0]
    with simulator(kind) as restarted:
        async with httpx.AsyncClient() as client:
            headers = await restarted.token(client)
            after_restart = await restarted.page(client, headers, **{size: 10, token_name: cursor})
            assert after_restart.content == second.content
    pages = []
    for seed in (sim.config.seed, 7):
        with simulator(kind, seed=seed) as seeded:
            async with httpx.AsyncClient() as client:
                pages.append((await seeded.page(client, await seeded.token(client), **{size: 300})).json())
    assert unwrap(kind, pages[0])[0] != unwrap(kind, pages[1])[0]


async def test_medical_updated_since(simulator, world):
    with simulator("medical-insurance") as sim:
        async with httpx.AsyncClient() as client:
            headers = await sim.token(client)
            everything = (await sim.page(client, headers, limit=5000)).json()
            assert everything["has_more"] is False
            items = everything["items"]
            claim_at = next(i for i, item in enumerate(items) if item["type"] == "claim")
            # a person's records share updated_at: resuming after the enrolment gives the claims
            mark = items[claim_at - 1]
            r = (await sim.page(client, headers, limit=3, updated_since=mark["updated_at"], after=mark["key"])).json()
            assert r["items"] == items[claim_at : claim_at + 3] and r["has_more"] is True
            # updated_since alone includes what was updated at exactly that time
            r = (await sim.page(client, headers, limit=2, updated_since=mark["updated_at"])).json()
            assert r["items"][0]["updated_at"] == mark["updated_at"]
            assert r["items"] == [item for item in items if item["updated_at"] >= mark["updated_at"]][:2]
            # a Z (UTC) timestamp means the same instant; "after" without updated_since means nothing
            utc = (datetime.fromisoformat(mark["updated_at"]) - timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
            assert (await sim.page(client, headers, limit=2, updated_since=utc)).json() == r
            assert (await sim.page(client, headers, limit=2, after=mark["key"])).json()["items"] == items[:2]
            # after the last item: nothing more
            last = items[-1]
            r = (await sim.page(client, headers, updated_since=last["updated_at"], after=last["key"])).json()
            # every page names the enrolment year it is the roster of (docs/rosters.md)
            assert r == {"items": [], "has_more": False, "roster": {"year": sim.config.today.year}}
            # the current year's enrolments, with statuses of the protocol
            assert {item["year"] for item in items} == {sim.config.today.year}
            assert {item["status"] for item in items if item["type"] == "enrolment"} <= {"正常", "未参保", "死亡注销"}


# ---- county filter and parameters --------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_county_filter(simulator, world, kind):
    others = world.of_county(OTHER_COUNTY)
    with simulator(kind) as sim:
        async with httpx.AsyncClient(timeout=30) as client:
            there = await sim.all_records(client, county=OTHER_COUNTY)
            here = await sim.all_records(client, county=COUNTY, size=5000)
            nowhere = await sim.all_records(client, county="110101")
    ids = {person_id(kind, rec) for rec in there}
    assert ids and ids <= set(others)
    numbers = {rec[ID_FIELD[kind]] for rec in there}
    assert numbers <= {p.id_number for p in others.values()}
    assert not ids & {person_id(kind, rec) for rec in here}
    assert nowhere == []


@pytest.mark.parametrize("kind", KINDS)
async def test_bad_parameters_are_refused(simulator, kind):
    token_name = {
        "civil-affairs": "cursor",
        "education": "page_token",
        "medical-insurance": "updated_since",
        "housing": "cursor",
    }[kind]
    with simulator(kind) as sim:
        async with httpx.AsyncClient() as client:
            headers = await sim.token(client)
            size = limit_name(kind)
            for params in (
                {},
                {"county": ""},
                {"county": "52990"},
                {"county": "5299011"},
                {"county": "abcdef"},
                {"county": COUNTY, size: "0"},
                {"county": COUNTY, size: "5001"},
                {"county": COUNTY, size: "ten"},
                {"county": COUNTY, token_name: "%%%not-a-cursor"},
            ):
                r = await client.get(sim.data_url, params=params, headers=headers)
                assert r.status_code == 400, params
                assert r.json()["error"] == "invalid_request"
            assert (
                await client.get(sim.data_url, params={"county": COUNTY, size: "5000"}, headers=headers)
            ).status_code == 200
            if kind != "medical-insurance":
                # a cursor of another county is not accepted for this one
                _, cursor = unwrap(kind, (await sim.page(client, headers, **{size: 1})).json())
                r = await sim.page(client, headers, OTHER_COUNTY, **{token_name: cursor})
                assert r.status_code == 400
    # the control endpoints exist only with --control
    with simulator(kind, control=False) as sim:
        async with httpx.AsyncClient() as client:
            assert (await client.get(sim.base + "/_control/stats")).status_code == 404
