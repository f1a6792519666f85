"""Each fault flag produces what it says, only on the data endpoints, and can be switched
at run time through the control endpoint."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import httpx
import pytest

from services.simulators.config import KINDS, Faults
from services.simulators.paging import START, Position
from tests.simulators.conftest import COUNTY, unwrap

RECORDS_KEY = {"civil-affairs": "records", "medical-insurance": "items", "education": "students", "housing": "houses"}


def has_records(kind: str, body) -> bool:
    if kind == "civil-affairs":
        return isinstance(body, dict) and isinstance(body.get("data"), dict) and "records" in body["data"]
    return isinstance(body, dict) and RECORDS_KEY[kind] in body


@pytest.mark.parametrize("kind", KINDS)
async def test_failures(simulator, kind):
    with simulator(kind, faults=Faults(fail_rate=1.0), fault_seed=3) as sim:
        async with httpx.AsyncClient() as client:
            headers = await sim.token(client)  # the token endpoint does not fail
            statuses = Counter()
            for _ in range(30):
                r = await sim.page(client, headers)
                statuses[r.status_code] += 1
                if r.status_code == 502:
                    assert r.headers["content-type"].startswith("text/html")
            assert set(statuses) == {500, 502, 503}
            assert (await client.get(sim.base + "/health")).status_code == 200
            # a source that failed totally recovers when told to
            await sim.faults(client, fail_rate=0.0)
            assert (await sim.page(client, headers)).status_code == 200
            stats = (await client.get(sim.base + "/_control/stats")).json()
            assert stats["data"] == {**{str(s): n for s, n in statuses.items()}, "200": 1}
            assert stats["token"] == {"200": 1}


async def test_fail_rate_is_deterministic_per_fault_seed(simulator):
    runs = []
    for seed in (5, 5, 6):
        with simulator("education", faults=Faults(fail_rate=0.5), fault_seed=seed) as sim:
            async with httpx.AsyncClient() as client:
                headers = await sim.token(client)
                runs.append([(await sim.page(client, headers)).status_code for _ in range(20)])
    assert runs[0] == runs[1] != runs[2]
    assert {200} < set(runs[0])  # some fail, some do not


async def test_rate_limit(simulator):
    with simulator("civil-affairs", faults=Faults(rate_limit=3, retry_after=2)) as sim:
        async with httpx.AsyncClient() as client:
            headers = await sim.token(client)
            answers = [await sim.page(client, headers, limit=1) for _ in range(5)]
            assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
            assert answers[3].headers["retry-after"] == "2"
            assert answers[3].json()["error"] == "rate_limited"
            # health and tokens are not limited
            assert (await client.get(sim.base + "/health")).status_code == 200
            await sim.token(client)
            await asyncio.sleep(1.05)
            assert (await sim.page(client, headers, limit=1)).status_code == 200


async def test_slow(simulator):
    with simulator("medical-insurance", faults=Faults(slow_rate=1.0, slow_ms=400)) as sim:
        async with httpx.AsyncClient() as client:
            headers = await sim.token(client)
            started = time.monotonic()
            assert (await sim.page(client, headers, limit=1)).status_code == 200
            assert time.monotonic() - started >= 0.4
            await sim.faults(client, slow_rate=0.0)
            started = time.monotonic()
            await sim.page(client, headers, limit=1)
            assert time.monotonic() - started < 0.4


@pytest.mark.parametrize("kind", KINDS)
async def test_truncated_body(simulator, kind):
    with simulator(kind, faults=Faults(truncate_rate=1.0)) as sim:
        async with httpx.AsyncClient() as client:
            headers = await sim.token(client)
            r = await sim.page(client, headers)
            assert r.status_code == 200 and r.headers["content-type"] == "application/json"
            assert len(r.content) > 10
            with pytest.raises(ValueError):  # JSONDecodeError, or a UTF-8 character cut in two
                json.loads(r.content)
            await sim.faults(client, truncate_rate=0.0)
            whole = await sim.page(client, headers)
            assert whole.content.startswith(r.content)


@pytest.mark.parametrize("kind", KINDS)
async def test_malformed_body(simulator, kind):
    with simulator(kind, faults=Faults(malformed_rate=1.0), fault_seed=1) as sim:
        async with httpx.AsyncClient() as client:
            headers = await sim.token(client)
            seen = set()
            for _ in range(12):
                r = await sim.page(client, headers)
                assert r.status_code == 200
                try:
                    body = r.json()
                except json.JSONDecodeError:
                    seen.add("not json")
                    continue
                assert not has_records(kind, body)
                seen.add("no records")
            assert seen == {"not json", "no records"}


@pytest.mark.parametrize("kind", ("civil-affairs", "education"))
async def test_repeated_cursor(simulator, kind):
    token_name, size = ("cursor", "limit") if kind == "civil-affairs" else ("page_token", "page_size")
    with simulator(kind, faults=Faults(repeat_cursor_rate=1.0)) as sim:
        async with httpx.AsyncClient() as client:
            headers = await sim.token(client)
            first = unwrap(kind, (await sim.page(client, headers, **{size: 5})).json())
            # the first page points back at the start: following it gives the first page again
            assert Position.decode(first[1], COUNTY) == START
            again = unwrap(kind, (await sim.page(client, headers, **{size: 5, token_name: first[1]})).json())
            assert again == first
            await sim.faults(client, repeat_cursor_rate=0.0)
            _, cursor = unwrap(kind, (await sim.page(client, headers, **{size: 5})).json())
            second = unwrap(kind, (await sim.page(client, headers, **{size: 5, token_name: cursor})).json())
            await sim.faults(client, repeat_cursor_rate=1.0)
            looped = unwrap(kind, (await sim.page(client, headers, **{size: 5, token_name: cursor})).json())
            assert looped[0] == second[0] and looped[1] == cursor != second[1]


async def test_repeated_page_of_medical_insurance(simulator):
    with simulator("medical-insurance") as sim:
        async with httpx.AsyncClient() as client:
            headers = await sim.token(client)
            page1 = (await sim.page(client, headers, limit=4)).json()
            last = page1["items"][-1]
            page2 = (
                await sim.page(client, headers, limit=4, updated_since=last["updated_at"], after=last["key"])
            ).json()
            await sim.faults(client, repeat_cursor_rate=1.0)
            # asked for what follows page 1, it sends page 1 again, saying there is more
            repeated = (
                await sim.page(client, headers, limit=4, updated_since=last["updated_at"], after=last["key"])
            ).json()
            assert repeated == {"items": page1["items"], "has_more": True}
            # a naive client that follows the last item asks the same again, forever
            end = repeated["items"][-1]
            assert (end["updated_at"], end["key"]) == (last["updated_at"], last["key"])
            # ... and a client that pages on from where it was, past the repeat, gets page 2 once it stops
            await sim.faults(client, repeat_cursor_rate=0.0)
            assert (
                await sim.page(client, headers, limit=4, updated_since=last["updated_at"], after=last["key"])
            ).json() == page2


async def test_control_endpoint_checks_what_it_is_sent(simulator):
    with simulator("civil-affairs") as sim:
        async with httpx.AsyncClient() as client:
            url = sim.base + "/_control/faults"
            for bad in (
                {"fail_rate": 2},
                {"fail_rate": "x"},
                {"nonsense": 1},
                {"rate_limit": -1},
                {"rate_limit": 1.5},
                [1],
            ):
                r = await client.post(url, json=bad)
                assert r.status_code == 400, bad
            r = await client.post(url, content=b"{not json")
            assert r.status_code == 400
            r = await client.post(url, json={"rate_limit": 10, "slow_ms": 5, "malformed_rate": 0.5})
            assert r.json() == {**Faults().as_dict(), "rate_limit": 10, "slow_ms": 5, "malformed_rate": 0.5}
            assert (await client.get(url)).json() == r.json()
