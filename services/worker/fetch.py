"""Pulling one source over HTTP (httpx): client-credentials token, cursor or updated-since
paging, timeouts, and retries of a page with exponential backoff and full jitter, or the
wait a 429/503 names in ``Retry-After``. A page that cannot be had after the configured
attempts raises ``SourceDown`` with the reason; the run fails with it and the circuit
breaker (``queue``) counts it.

Positions (what the cursor table stores):
- cursor paging: ``{"cursor": "<the source's next cursor>"}``; None = the first page.
- updated-since paging: ``{"since": "<updated_at>", "after": "<key>"}`` of the last record
  read; kept between runs, so the next run reads only what changed.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from services.core.settings import SyncSettings
from services.core.sync.config import INSTANCE_HEADER, SourceConfig


class SourceDown(Exception):
    """The source could not give a page: ``code`` is stable (unreachable, timeout,
    server_error, rate_limited, malformed_page, cursor_repeated, auth_failed, rejected,
    wrong_instance)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class _Retry(Exception):
    def __init__(self, code: str, message: str, wait: float | None = None):
        super().__init__(message)
        self.code = code
        self.wait = wait


@dataclass
class Page:
    items: list[Any]
    position: dict | None  # where the next page starts
    done: bool
    retries: int
    roster_period: str | None = None  # the period the page names, for a roster source (``roster.period_path``)


def dig(document: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(document, dict) or part not in document:
            raise KeyError(path)
        document = document[part]
    return document


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _storable(text: str) -> bool:
    """Whether a position can be kept in ``sync_cursors`` (jsonb: no NUL) and sent back
    as a query parameter: a source's cursor or key beyond this is a broken page."""
    return len(text) <= 4096 and (text.isprintable() or not _CONTROL.search(text))


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class SourceClient:
    def __init__(
        self,
        source: SourceConfig,
        settings: SyncSettings,
        *,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ):
        if not source.base_url or source.paging is None:  # ``pulls``, spelled out for the type checker
            raise ValueError(f"source {source.name} is not pulled over HTTP")
        self.source = source
        self.paging = source.paging
        self.settings = settings
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(
            base_url=source.base_url,
            timeout=httpx.Timeout(settings.read_timeout_seconds, connect=settings.connect_timeout_seconds),
            headers={"User-Agent": "guardline-sync"},
        )
        self._sleep = sleep
        self._rng = rng
        self._token: str | None = None
        self._seen_cursors: set[str] = set()

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to base × 2^attempt, capped."""
        ceiling = min(self.settings.backoff_max_seconds, self.settings.backoff_base_seconds * 2**attempt)
        return self._rng() * ceiling

    async def _authenticate(self) -> None:
        auth = self.source.auth
        if auth.style == "none":
            self._token = ""
            return
        try:
            response = await self.client.post(
                auth.token_path,
                data={"grant_type": "client_credentials", "client_id": auth.client_id, "client_secret": auth.secret()},
            )
        except httpx.TimeoutException as exc:
            raise _Retry("timeout", f"token request timed out ({exc.__class__.__name__})") from None
        except httpx.TransportError as exc:
            raise _Retry("unreachable", f"cannot reach {self.source.base_url}: {exc.__class__.__name__}") from None
        self._check_instance(response)
        if response.status_code in (401, 403):
            raise SourceDown("auth_failed", f"the source refused our credentials ({response.status_code})")
        self._check_status(response)
        try:
            self._token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            raise _Retry("malformed_page", "the token response is not readable") from None

    def _check_instance(self, response: httpx.Response) -> None:
        """A source configured with ``instance`` is read only from the server that shows it:
        another program on its port (another checkout's demo) is never synced from."""
        expected = self.source.instance
        if expected and response.headers.get(INSTANCE_HEADER) != expected:
            raise SourceDown(
                "wrong_instance",
                f"what answers at {self.source.base_url} is not the server this "
                f"source expects (no {INSTANCE_HEADER} {expected!r}): nothing "
                f"is read from it",
            )

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 429 or status == 503:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            raise _Retry("rate_limited" if status == 429 else "server_error", f"the source answered {status}", wait)
        if status >= 500:
            raise _Retry("server_error", f"the source answered {status}")
        if status >= 400:
            raise SourceDown("rejected", f"the source refused the request ({status}): {response.text[:200]}")

    def _params(self, position: dict | None, county: str) -> dict[str, str]:
        p = self.paging
        params = {p.county_param: county, p.limit_param: str(min(self.settings.page_size, 5000))}
        if position:
            if p.style == "cursor":
                params[p.cursor_param] = position["cursor"]
            else:
                params[p.since_param] = position["since"]
                params[p.after_param] = position["after"]
        return params

    async def _once(self, position: dict | None, county: str) -> Page:
        if self._token is None:
            await self._authenticate()
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            async with self.client.stream(
                "GET", self.paging.path, params=self._params(position, county), headers=headers
            ) as response:
                if response.status_code >= 400:
                    await response.aread()  # the refusal's text, for its reason
                    body = b""
                else:
                    # Read into a buffer of our own, not kept on the response: an httpx
                    # response and its stream refer to each other, so a body kept on it
                    # (``aread``) lives on until the cycle collector runs — a page's
                    # megabytes each time, some 150 MB over a pull of a million records.
                    body = b"".join([part async for part in response.aiter_bytes()])
        except httpx.TimeoutException as exc:
            raise _Retry("timeout", f"the page request timed out ({exc.__class__.__name__})") from None
        except httpx.TransportError as exc:
            raise _Retry("unreachable", f"cannot reach {self.source.base_url}: {exc.__class__.__name__}") from None
        self._check_instance(response)
        if response.status_code == 401:
            self._token = None  # expired: one fresh token, then the page again
            raise _Retry("token_expired", "the token was refused", 0.0)
        self._check_status(response)
        try:
            document = orjson.loads(body)
            items = dig(document, self.paging.items)
        except (orjson.JSONDecodeError, KeyError):
            raise _Retry("malformed_page", "the page is not readable (truncated or malformed)") from None
        if not isinstance(items, list):
            raise _Retry("malformed_page", "the page's record list is not a list")
        page = self._next(document, items, position)
        page.roster_period = self._roster_period(document)
        return page

    def _roster_period(self, document: Any) -> str | None:
        roster = self.source.roster
        if roster is None or not roster.period_path:
            return None
        try:
            value = dig(document, roster.period_path)
        except KeyError:
            return None
        return None if value in (None, "") else str(value)

    def _next(self, document: Any, items: list, position: dict | None) -> Page:
        p = self.paging
        if p.style == "cursor":
            assert p.next_cursor is not None  # PagingConfig requires it for cursor paging
            try:
                cursor = dig(document, p.next_cursor)
            except KeyError:
                raise _Retry("malformed_page", "the page has no next cursor") from None
            if cursor in (None, ""):
                return Page(items, None, True, 0)
            cursor = str(cursor)
            if not _storable(cursor):
                raise _Retry("malformed_page", "the next cursor is not usable (too long or with control characters)")
            if cursor in self._seen_cursors or (position and position.get("cursor") == cursor):
                raise _Retry("cursor_repeated", "the source returned a cursor it had already given")
            return Page(items, {"cursor": cursor}, False, 0)
        assert p.has_more is not None  # PagingConfig requires it for updated-since paging
        try:
            more = bool(dig(document, p.has_more))
        except KeyError:
            raise _Retry("malformed_page", "the page has no has_more flag") from None
        if not items:
            return Page(items, position, True, 0)
        last = items[-1]
        try:
            mark = {"since": str(last[p.updated_field]), "after": str(last[p.key_field])}
        except (KeyError, TypeError):
            raise _Retry("malformed_page", "the last record has no update time or key") from None
        if not (_storable(mark["since"]) and _storable(mark["after"])):
            raise _Retry("malformed_page", "the last record's update time or key is not usable as a position")
        if position and (mark["since"], mark["after"]) <= (position["since"], position["after"]):
            raise _Retry("cursor_repeated", "the source repeated records already read")
        return Page(items, mark, not more, 0)

    async def page(self, position: dict | None, county: str) -> Page:
        """The page at ``position``, retried as the settings say."""
        attempts = self.settings.page_attempts
        last: _Retry | None = None
        for attempt in range(attempts):
            try:
                page = await self._once(position, county)
            except _Retry as exc:
                last = exc
                if attempt + 1 == attempts:
                    break
                wait = exc.wait
                if wait is None:
                    wait = self.backoff(attempt)
                else:  # the source said how long; a little jitter keeps workers apart
                    wait = min(wait, self.settings.retry_after_max_seconds) + self._rng() * 0.1
                await self._sleep(wait)
                continue
            page.retries = attempt
            if page.position and "cursor" in page.position:
                self._seen_cursors.add(page.position["cursor"])
            return page
        assert last is not None
        raise SourceDown(last.code, f"{last} (after {attempts} attempts)")
