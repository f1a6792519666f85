"""A database that goes away under load, as an operator meets it: the embedded PostgreSQL of
a running ``guardline serve`` restarted and stopped with ``pg_ctl`` while clients read
households and write income records with Idempotency-Keys, retrying as mobile apps do.

``Outage`` drives the server's database; ``Load`` is the clients and what each saw."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.core.db import import_pgserver


class Cluster:
    """The embedded PostgreSQL in ``pgdata``, driven with its own ``pg_ctl`` (as the user
    pgserver runs it under when we are root)."""

    def __init__(self, pgdata: Path):
        import_pgserver()
        from pgserver.postgres_server import PostmasterInfo

        self.pgdata = pgdata
        self.user = "pgserver" if os.geteuid() == 0 else None
        info = PostmasterInfo.read_from_pgdata(pgdata)
        assert info is not None and info.is_running(), f"no server runs in {pgdata}"
        self.socket_dir = info.socket_dir

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(["-w", *args], pgdata=self.pgdata, user=self.user, timeout=60)

    def restart(self) -> None:
        """A fast restart (``systemctl restart``): sessions are ended, the server comes back."""
        self._pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    @staticmethod
    def stop_left_running(pgdata: Path) -> None:
        """Stop the server in ``pgdata`` if it still runs: one this test started itself with
        ``pg_ctl`` is no longer the one ``guardline serve`` stops when it exits."""
        import_pgserver()
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        if (pgdata / "postmaster.pid").exists():
            user = "pgserver" if os.geteuid() == 0 else None
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)

    def start(self) -> None:
        """Start as pgserver does: no TCP, the socket in the same folder as before."""
        self._pg_ctl("-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"), "start")


@dataclass
class Seen:
    """What the clients saw: every status, every connection closed without an answer, every
    acknowledged write (its Idempotency-Key and the record's id), and when each happened."""

    statuses: list[tuple[float, str, int]] = field(default_factory=list)
    closed: list[tuple[float, str, str]] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)
    retried: set[str] = field(default_factory=set)
    missing_retry_after: list[tuple[str, int]] = field(default_factory=list)
    bad_bodies: list[tuple[str, int, str]] = field(default_factory=list)
    reads: list[tuple[int, str]] = field(default_factory=list)  # (client, request id) of each audited read
    attempted: int = 0

    def failures_after(self, moment: float) -> list[tuple[float, str, int]]:
        return [s for s in self.statuses if s[0] >= moment and s[2] >= 500]


class Load:
    """``clients`` clients for ``seconds``: each in turn reads a household (county staff:
    health decrypted, the read audited), reads a page of the list, and writes one income
    record (a new household-quarter each time) until the server acknowledges it, sending the
    same Idempotency-Key again after a 503 or a lost answer, as a mobile app does."""

    def __init__(self, base: str, token: str, households: list[int], clients: int = 8):
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.households = households
        self.clients = clients
        self.seen = Seen()
        self.started = time.monotonic()
        self._slots = iter(
            (household, year, quarter)
            for year in range(2000, 2021)
            for quarter in (1, 2, 3, 4)
            for household in households
        )

    def now(self) -> float:
        return time.monotonic() - self.started

    async def _send(self, http: httpx.AsyncClient, label: str, method: str, url: str, **kw) -> httpx.Response | None:
        try:
            response = await http.request(method, url, headers={**self.headers, **kw.pop("headers", {})}, **kw)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            self.seen.closed.append((self.now(), label, type(exc).__name__))
            return None
        self.seen.statuses.append((self.now(), label, response.status_code))
        if response.status_code >= 500:
            if response.headers.get("content-type") != "application/problem+json":
                self.seen.bad_bodies.append((label, response.status_code, response.text[:200]))
            if response.status_code == 503 and not response.headers.get("retry-after"):
                self.seen.missing_retry_after.append((label, response.status_code))
        return response

    async def _client(self, number: int, until: float) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=self.base, timeout=30, limits=limits) as http:
            turn = number
            while self.now() < until:
                household = self.households[turn % len(self.households)]
                turn += 1
                read = await self._send(http, "household", "GET", f"/api/v1/households/{household}")
                if read is not None and read.status_code == 200:
                    self.seen.reads.append((number, read.headers["x-request-id"]))
                await self._send(http, "list", "GET", "/api/v1/households", params={"limit": 20})
                await self._write(http, until)

    async def _write(self, http: httpx.AsyncClient, until: float) -> None:
        household, year, quarter = next(self._slots)
        self.seen.attempted += 1
        key = str(uuid.uuid4())
        body = {
            "year": year,
            "quarter": quarter,
            "wages": "3000.00",
            "business": "0",
            "property": "0",
            "transfers": "900",
            "production_costs": "0",
            "eligible_spending": "0",
        }
        attempts = 0
        while True:
            attempts += 1
            response = await self._send(
                http,
                "income",
                "POST",
                f"/api/v1/households/{household}/income-records",
                json=body,
                headers={"Idempotency-Key": key},
            )
            if response is not None and response.status_code == 201:
                self.seen.acknowledged[key] = response.json()["id"]
                if attempts > 1:
                    self.seen.retried.add(key)
                return
            if response is not None and response.status_code < 500:
                raise AssertionError(f"write refused: {response.status_code} {response.text[:300]}")
            if self.now() > until + 10:
                return  # never acknowledged: the client would try again later
            await asyncio.sleep(0.2)

    async def run(self, seconds: float) -> Seen:
        until = self.now() + seconds
        await asyncio.gather(*(self._client(n, until) for n in range(self.clients)))
        return self.seen
