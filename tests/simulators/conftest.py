"""A small world for the department simulators, and simulators serving it over real sockets.

The world is a scratch database (``guardline_test_sim``, committed, dropped at the end):
the demo county 清溪县 (529901) with ``PERSONS`` generated persons, plus hand-made
households — a 低保 household with a dead member in 529901, and a 低保 household with a
pupil in the other county 529902 — so that every kind has something in both counties.
Each simulator runs uvicorn in a thread of its own on a free port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.crypto import keyring
from services.core.db import create_engine
from services.core.households.models import Household, Person
from services.core.households.sensitive import open_id_number, protected_id_fields
from services.core.idnumber import check_character
from services.core.regions.rules import level_of, parent_of
from services.core.scope import UNRESTRICTED, bind_scope
from services.core.timeutil import today as china_today
from services.demo.loader import load_demo
from services.simulators.app import DATA_PATHS, create_app
from services.simulators.config import Faults, Problems, SimConfig
from tests.conftest import scratch_database

SIM_DB = "guardline_test_sim"
PERSONS = 1200
COUNTY = "529901"
OTHER_COUNTY = "529902"
TODAY = china_today()

# No data problems: what a clean department would send (the findings' shares stay).
CLEAN = Problems(
    bad_check_rate=0,
    old_id_rate=0,
    messy_id_rate=0,
    unknown_rate=0,
    name_mismatch_rate=0,
    malformed_record_rate=0,
    unenrolled_rate=0,
    unlisted_pupil_rate=0,
)


@dataclass
class RegistryPerson:
    id: int
    id_number: str
    name: str
    birth_date: date
    region_code: str
    status: str
    date_of_death: date | None
    schooling: str
    household_id: int | None
    category: str | None
    flags: frozenset
    net_income: object


@dataclass
class World:
    url: str
    persons: dict[int, RegistryPerson] = field(default_factory=dict)

    def of_county(self, county: str) -> dict[int, RegistryPerson]:
        return {pid: p for pid, p in self.persons.items() if p.region_code.startswith(county)}

    @property
    def numbers(self) -> set[str]:
        return {p.id_number for p in self.persons.values()}


def _number(born: date, seq: int, area: str) -> str:
    first17 = f"{area}{born:%Y%m%d}{seq:03d}"
    return first17 + check_character(first17)


async def _add_households(eng, settings) -> None:
    ring, key = keyring(settings), settings.id_hash_key

    def person(number: str, name: str, born: date, region: str, **kw) -> Person:
        return Person(
            **protected_id_fields(ring, key, number),
            name=name,
            sex="male" if int(number[16]) % 2 else "female",
            birth_date=born,
            region_code=region,
            labour_capacity="none",
            **kw,
        )

    async with AsyncSession(eng, expire_on_commit=False) as session:
        bind_scope(session, UNRESTRICTED)
        for code, name in (("529902000000", "远山县"), ("529902001000", "松林镇"), ("529902001001", "松林村")):
            await session.execute(
                text(
                    "INSERT INTO regions (code, name, level, parent_code) VALUES (:c, :n, :l, :p) "
                    "ON CONFLICT (code) DO NOTHING"
                ),
                {"c": code, "n": name, "l": int(level_of(code)), "p": parent_of(code)},
            )
        grieving = Household(
            household_no="SIM-1", region_code="529901001001", category="ordinary", flags=["dibao"], member_count=2
        )
        foreign = Household(
            household_no="SIM-2", region_code="529902001001", category="lifted_out", flags=["dibao"], member_count=2
        )
        session.add_all([grieving, foreign])
        await session.flush()
        pupil_born = date(TODAY.year - 10, 3, 1)
        session.add_all(
            [
                person(
                    _number(date(1948, 2, 3), 901, "529901"),
                    "孙故",
                    date(1948, 2, 3),
                    "529901001001",
                    household_id=grieving.id,
                    relation="head",
                    status="deceased",
                    date_of_death=date(TODAY.year - 1, 6, 1),
                ),
                person(
                    _number(date(1952, 7, 9), 902, "529901"),
                    "孙在",
                    date(1952, 7, 9),
                    "529901001001",
                    household_id=grieving.id,
                    relation="spouse",
                ),
                person(
                    _number(date(1966, 4, 5), 903, "529902"),
                    "赵远山",
                    date(1966, 4, 5),
                    "529902001001",
                    household_id=foreign.id,
                    relation="head",
                ),
                person(
                    _number(pupil_born, 905, "529902"),
                    "赵小松",
                    pupil_born,
                    "529902001001",
                    household_id=foreign.id,
                    relation="child",
                    schooling="primary",
                    school="松林小学",
                ),
            ]
        )
        await session.commit()


async def _read_registry(eng, settings) -> dict[int, RegistryPerson]:
    ring = keyring(settings)
    out = {}
    async with eng.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT p.id, p.id_number_enc, p.name, p.birth_date, p.region_code, p.status::text, p.date_of_death, "
                "p.schooling::text, p.household_id, h.category::text, coalesce(h.flags, '{}'), "
                "(SELECT net_income FROM income_years iy WHERE iy.household_id = p.household_id "
                " ORDER BY year DESC LIMIT 1) "
                "FROM persons p LEFT JOIN households h ON h.id = p.household_id"
            )
        )
        for pid, blob, name, born, region, status, died, schooling, hid, category, flags, income in rows:
            out[pid] = RegistryPerson(
                pid,
                open_id_number(ring, blob),
                name,
                born,
                region,
                status,
                died,
                schooling,
                hid,
                category,
                frozenset(flags),
                income,
            )
    return out


@pytest.fixture(scope="session")
async def world(engine, settings) -> World:
    async with scratch_database(engine, SIM_DB) as url:
        await load_demo(url, settings, persons=PERSONS, progress=None, parallel=False)
        eng = create_engine(url, settings, "tests-sim")
        try:
            await _add_households(eng, settings)
            found = World(url, await _read_registry(eng, settings))
        finally:
            await eng.dispose()
        yield found


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` on a free local port (uvicorn in a thread); yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", loop="uvloop", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the simulator did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture
def simulator(world, settings):
    """``with simulator(kind, problems=…, faults=…, **config) as sim:`` a running department."""

    @contextmanager
    def start(kind: str, *, problems: Problems = CLEAN, faults: Faults | None = None, **kw) -> Iterator[Sim]:
        kw.setdefault("control", True)
        config = SimConfig(kind, today=TODAY, problems=replace(problems), faults=faults or Faults(), **kw)
        with serving(create_app(config, settings, world.url)) as base:
            yield Sim(kind, base, config)

    return start


def clean(**rates) -> Problems:
    return replace(CLEAN, **rates)


@dataclass
class Sim:
    kind: str
    base: str
    config: SimConfig

    @property
    def data_url(self) -> str:
        return self.base + DATA_PATHS[self.kind]

    async def token(self, client: httpx.AsyncClient) -> dict[str, str]:
        r = await client.post(
            self.base + "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
            },
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def faults(self, client: httpx.AsyncClient, **changes) -> dict:
        r = await client.post(self.base + "/_control/faults", json=changes)
        assert r.status_code == 200, r.text
        return r.json()

    async def page(self, client, headers, county: str = COUNTY, **params) -> httpx.Response:
        return await client.get(self.data_url, params={"county": county, **params}, headers=headers)

    async def all_records(self, client, county: str = COUNTY, size: int = 500, max_pages: int = 10_000) -> list[dict]:
        """Every record, page by page, as a careful client fetches them."""
        headers = await self.token(client)
        out: list[dict] = []
        if self.kind == "medical-insurance":
            params: dict = {"limit": size}
            for _ in range(max_pages):
                r = await self.page(client, headers, county, **params)
                assert r.status_code == 200, r.text
                body = r.json()
                out += body["items"]
                if not body["has_more"]:
                    return out
                params = {"limit": size, "updated_since": out[-1]["updated_at"], "after": out[-1]["key"]}
        else:
            token_name, size_name = (
                ("cursor", "limit") if self.kind in ("civil-affairs", "housing") else ("page_token", "page_size")
            )
            params = {size_name: size}
            for _ in range(max_pages):
                r = await self.page(client, headers, county, **params)
                assert r.status_code == 200, r.text
                records, nxt = unwrap(self.kind, r.json())
                out += records
                if not nxt:
                    return out
                params = {size_name: size, token_name: nxt}
        raise AssertionError("the pages did not end")


def unwrap(kind: str, body: dict) -> tuple[list[dict], str | None]:
    """A cursor page's records and next cursor ("" / None at the end)."""
    if kind == "civil-affairs":
        return body["data"]["records"], body["data"]["next_cursor"]
    if kind == "housing":
        return body["houses"], body["next"]
    return body["students"], body["nextPageToken"]


ID_FIELD = {"civil-affairs": "sfzh", "medical-insurance": "id_no", "education": "sfzjh", "housing": "hzsfzh"}
NAME_FIELD = {"civil-affairs": "xm", "medical-insurance": "name", "education": "xsxm", "housing": "hzxm"}
KEY_FIELD = {"civil-affairs": "jzid", "medical-insurance": "key", "education": "xjh", "housing": "fwbh"}


def person_id(kind: str, rec: dict) -> int:
    """The registry person a record was derived from (or rides along with, for a stranger)."""
    key = rec[KEY_FIELD[kind]]
    return int(
        {"civil-affairs": key[2:12], "medical-insurance": key[6:16], "education": key[2:14], "housing": key[2:12]}[kind]
    )


def is_stranger(kind: str, rec: dict) -> bool:
    key = rec[KEY_FIELD[kind]]
    return {
        "civil-affairs": key.endswith("99"),
        "medical-insurance": key.endswith("U"),
        "education": key.startswith("XW"),
        "housing": key.startswith("ZW"),
    }[kind]
