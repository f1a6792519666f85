"""Pulling pages over HTTP: tokens, both paging styles, retries with backoff, Retry-After,
truncated and malformed pages, a cursor that repeats, and giving up with a reason."""

import gc
import tracemalloc

import httpx
import orjson
import pytest
import respx

from services.core.settings import Settings, SyncSettings
from services.core.sync.config import BUILTIN_SOURCES, INSTANCE_HEADER, load_sources, parse_sources, sources_on
from services.worker.fetch import SourceClient, SourceDown, retry_after_seconds

SOURCES = load_sources(Settings())
CIVIL = SOURCES.get("civil-affairs")
MEDICAL = SOURCES.get("medical-insurance")
BASE = CIVIL.base_url


class Sleeps(list):
    async def __call__(self, seconds):
        self.append(seconds)


def client(source=CIVIL, **settings):
    sleeps = Sleeps()
    c = SourceClient(source, SyncSettings(**settings), sleep=sleeps, rng=lambda: 1.0)
    return c, sleeps


def token_route(mock, base=BASE):
    return mock.post(f"{base}/oauth/token").mock(
        return_value=httpx.Response(200, json={"access_token": "t1", "token_type": "Bearer", "expires_in": 600})
    )


def page(records, nxt):
    return httpx.Response(200, json={"code": 0, "data": {"records": records, "next_cursor": nxt}})


@respx.mock
async def test_cursor_paging_with_token():
    token = token_route(respx)
    route = respx.get(f"{BASE}/api/assistance").mock(side_effect=[page([{"jzid": 1}], "c2"), page([{"jzid": 2}], None)])
    c, sleeps = client()
    first = await c.page(None, "529901")
    assert first.items == [{"jzid": 1}] and first.position == {"cursor": "c2"} and not first.done
    second = await c.page(first.position, "529901")
    assert second.done and second.position is None
    assert token.call_count == 1
    sent = route.calls[1].request
    assert sent.headers["Authorization"] == "Bearer t1"
    assert sent.url.params["cursor"] == "c2" and sent.url.params["county"] == "529901"
    assert sent.url.params["limit"] == "1000"
    assert sleeps == []


@respx.mock
async def test_server_errors_are_retried_with_growing_jittered_waits():
    token_route(respx)
    respx.get(f"{BASE}/api/assistance").mock(
        side_effect=[httpx.Response(500), httpx.Response(502), httpx.ConnectError("refused"), page([], None)]
    )
    c, sleeps = client(backoff_base_seconds=0.5, backoff_max_seconds=1.5)
    result = await c.page(None, "529901")
    assert result.done and result.retries == 3
    assert sleeps == [0.5, 1.0, 1.5]  # base × 2^attempt, capped (rng = 1.0: the ceiling)


@respx.mock
async def test_retry_after_is_honoured():
    token_route(respx)
    respx.get(f"{BASE}/api/assistance").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), page([], None)]
    )
    c, sleeps = client()
    await c.page(None, "529901")
    assert len(sleeps) == 1 and 7.0 <= sleeps[0] <= 7.1


@respx.mock
async def test_truncated_and_malformed_pages_are_fetched_again():
    token_route(respx)
    respx.get(f"{BASE}/api/assistance").mock(
        side_effect=[
            httpx.Response(200, content=b'{"code":0,"data":{"records":[{"jzid":'),
            httpx.Response(200, content=b"<html>gateway</html>"),
            httpx.Response(200, json={"code": 0, "data": {}}),
            page([{"jzid": 1}], None),
        ]
    )
    c, _ = client()
    result = await c.page(None, "529901")
    assert result.items == [{"jzid": 1}] and result.retries == 3


@respx.mock
async def test_expired_token_is_renewed_once():
    token = token_route(respx)
    respx.get(f"{BASE}/api/assistance").mock(
        side_effect=[page([], "c2"), httpx.Response(401, json={"error": "invalid_token"}), page([], None)]
    )
    c, sleeps = client()
    await c.page(None, "529901")
    await c.page({"cursor": "c2"}, "529901")
    assert token.call_count == 2 and sleeps == [0.0 + 0.1]


@respx.mock
async def test_wrong_credentials_fail_at_once():
    respx.post(f"{BASE}/oauth/token").mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))
    c, sleeps = client()
    with pytest.raises(SourceDown) as err:
        await c.page(None, "529901")
    assert err.value.code == "auth_failed" and sleeps == []


@pytest.mark.parametrize("shown", [None, "another-demo"])
@respx.mock
async def test_a_source_with_an_instance_is_read_only_from_the_server_that_shows_it(shown):
    """The demo's sources expect their simulators' token: a server without it (another
    checkout's demo on the same port, any other program) is refused at its first answer,
    not retried, and nothing of it is read."""
    source = CIVIL.model_copy(update={"instance": "this-demo"})
    mine, theirs = {INSTANCE_HEADER: "this-demo"}, {INSTANCE_HEADER: shown} if shown else {}
    respx.post(f"{BASE}/oauth/token").mock(
        side_effect=[
            httpx.Response(200, json={"access_token": "t1"}, headers=mine),
            httpx.Response(200, json={"access_token": "t2"}, headers=theirs),
        ]
    )
    data = respx.get(f"{BASE}/api/assistance").mock(
        side_effect=[
            httpx.Response(
                200, json={"code": 0, "data": {"records": [{"jzid": 1}], "next_cursor": "c2"}}, headers=mine
            ),
            httpx.Response(
                200, json={"code": 0, "data": {"records": [{"jzid": 2}], "next_cursor": None}}, headers=theirs
            ),
        ]
    )
    c, sleeps = client(source)
    first = await c.page(None, "529901")  # the simulator that shows the token is read
    assert first.items == [{"jzid": 1}]
    with pytest.raises(SourceDown) as err:  # a page from a stranger is refused
        await c.page(first.position, "529901")
    assert err.value.code == "wrong_instance" and "this-demo" in str(err.value) and sleeps == []

    stranger, sleeps = client(source)  # a stranger's token answer: no page is asked for
    with pytest.raises(SourceDown) as err:
        await stranger.page(None, "529901")
    assert err.value.code == "wrong_instance" and data.call_count == 2 and sleeps == []


@respx.mock
async def test_a_source_that_stays_down_gives_up_with_the_reason():
    token_route(respx)
    route = respx.get(f"{BASE}/api/assistance").mock(return_value=httpx.Response(503))
    c, sleeps = client(page_attempts=4)
    with pytest.raises(SourceDown) as err:
        await c.page(None, "529901")
    assert err.value.code == "server_error" and "4 attempts" in str(err.value)
    assert route.call_count == 4 and len(sleeps) == 3


async def test_an_unreachable_source_is_named():
    source = CIVIL.model_copy(update={"base_url": "http://127.0.0.1:9"})  # the discard port: refused
    c, _ = client(source, page_attempts=2)
    with pytest.raises(SourceDown) as err:
        await c.page(None, "529901")
    assert err.value.code == "unreachable"
    await c.aclose()


@respx.mock
async def test_a_repeating_cursor_is_not_followed():
    token_route(respx)
    respx.get(f"{BASE}/api/assistance").mock(side_effect=[page([], "c2"), page([], "c2"), page([], "c2")])
    c, _ = client(page_attempts=2)
    first = await c.page(None, "529901")
    with pytest.raises(SourceDown) as err:
        await c.page(first.position, "529901")
    assert err.value.code == "cursor_repeated"


@respx.mock
async def test_updated_since_paging_moves_its_mark():
    base = MEDICAL.base_url
    token_route(respx, base)
    items = [
        {"key": "A", "updated_at": "2026-01-01T00:00:01+08:00"},
        {"key": "B", "updated_at": "2026-01-01T00:00:02+08:00"},
    ]
    route = respx.get(f"{base}/api/v2/records").mock(
        side_effect=[
            httpx.Response(200, json={"items": items, "has_more": True}),
            httpx.Response(200, json={"items": items, "has_more": True}),  # the same page again: a repeat
            httpx.Response(200, json={"items": [], "has_more": False}),
        ]
    )
    c, _ = client(MEDICAL)
    first = await c.page(None, "529901")
    assert first.position == {"since": "2026-01-01T00:00:02+08:00", "after": "B"} and not first.done
    last = await c.page(first.position, "529901")
    assert last.done and last.position == first.position and last.retries == 1
    params = route.calls[1].request.url.params
    assert params["updated_since"] == "2026-01-01T00:00:02+08:00" and params["after"] == "B"


def test_retry_after_forms():
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@respx.mock
async def test_a_cursor_that_cannot_be_kept_is_a_broken_page():
    token_route(respx)
    respx.get(f"{BASE}/api/assistance").mock(
        side_effect=[
            page([{"jzid": 1}], "c\u00002"),
            page([{"jzid": 1}], "c" * 5000),
            page([{"jzid": 1}], "下一页\u3000c2"),
        ]
    )
    c, _sleeps = client(page_attempts=2)
    with pytest.raises(SourceDown) as err:
        await c.page(None, "529901")
    assert err.value.code == "malformed_page"
    c, _ = client()
    assert (await c.page(None, "529901")).position == {"cursor": "下一页\u3000c2"}  # not ASCII, yet usable


def test_sources_on_moves_the_named_sources_and_gives_them_the_instance():
    text = BUILTIN_SOURCES.read_text(encoding="utf-8").replace(
        'base_url = "http://127.0.0.1:8103"', "base_url  =  'http://127.0.0.1:8103'"
    )
    moved = parse_sources(sources_on(text, {"civil-affairs": 18101, "education": 18103}, "this-demo"))
    assert [(s.name, s.base_url, s.instance) for s in moved] == [
        ("civil-affairs", "http://127.0.0.1:18101", "this-demo"),
        ("medical-insurance", "http://127.0.0.1:8102", None),
        ("education", "http://127.0.0.1:18103", "this-demo"),
        ("housing", "http://127.0.0.1:8104", None),
    ]
    assert parse_sources(text).get("civil-affairs").instance is None  # the text given is not changed


class _Chunks(httpx.AsyncByteStream):
    """A body that arrives in parts, as over a network (made before the measurement)."""

    def __init__(self, parts: list[bytes]):
        self.parts = parts

    async def __aiter__(self):
        for part in self.parts:
            yield part


async def test_pages_read_leave_no_bodies_behind():
    """An httpx response and its stream refer to each other, so whatever the response keeps
    lives until the cycle collector runs. A pull of a million records kept some 150 MB of
    page bodies that way; the client keeps none (read here with the collector off)."""
    pages, records = 12, [{"jzid": i, "xm": "张三", "remark": "x" * 900} for i in range(1000)]
    bodies = []
    for n in range(pages):
        body = orjson.dumps({"code": 0, "data": {"records": records, "next_cursor": f"c{n + 1}"}})
        bodies.append([body[: len(body) // 2], body[len(body) // 2 :]])
    page_bytes = sum(map(len, bodies[0]))

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(200, json={"access_token": "t1", "token_type": "Bearer", "expires_in": 600})
        cursor = request.url.params.get("cursor")
        return httpx.Response(200, stream=_Chunks(bodies[int(cursor[1:]) if cursor else 0]))

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url=BASE)
    c = SourceClient(CIVIL, SyncSettings(), client=http)
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        position = None
        for _ in range(pages):
            read = await c.page(position, "529901")
            assert len(read.items) == len(records)
            position = read.position
            del read
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
        await http.aclose()
    assert page_bytes > 900_000
    assert held < 2 * page_bytes, f"{held:,} bytes held after {pages} pages of {page_bytes:,}"
