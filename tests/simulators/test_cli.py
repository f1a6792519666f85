"""``guardline simulate`` as an operator runs it: spreadsheet exports read back with their
title rows, and a simulator started as a child process with ``launch.spawn``."""

from __future__ import annotations

import csv
import os
import socket

import httpx
import pytest
from openpyxl import load_workbook

from services.core.sync.config import BUILTIN_SOURCES, INSTANCE_HEADER, parse_sources
from services.simulators import demo
from services.simulators.config import Problems
from services.simulators.export import HEADERS
from services.simulators.launch import PortTaken, SimulatorDidNotStart, spawn, stop
from tests.cli import needs_embedded_server, run_guardline
from tests.impostor import impostor
from tests.simulators.conftest import COUNTY, ID_FIELD, SIM_DB

pytestmark = needs_embedded_server

FULL_WIDTH_DIGITS = set("０１２３４５６７８９")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _served(simulator, kind: str) -> list[dict]:
    """What the API serves with the command line's defaults."""
    with simulator(kind, problems=Problems()) as sim:
        async with httpx.AsyncClient(timeout=60) as client:
            return await sim.all_records(client, size=5000)


def _rows_of(path) -> list[list[str]]:
    if str(path).endswith(".csv"):
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), "Excel's UTF-8 CSV starts with a BOM"
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.reader(handle))
    sheet = load_workbook(path, read_only=True).worksheets[0]
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize(
    ("kind", "suffix"),
    [("civil-affairs", ".csv"), ("medical-insurance", ".xlsx"), ("education", ".xlsx"), ("medical-insurance", ".csv")],
)
async def test_export(world, settings, simulator, tmp_path, kind, suffix):
    target = tmp_path / f"{kind}{suffix}"
    done = run_guardline(settings, SIM_DB, "simulate", kind, "--export", str(target), "--county", COUNTY)
    assert done.returncode == 0, done.stderr
    rows = _rows_of(target)
    served = await _served(simulator, kind)
    assert f"wrote {len(served)} {kind} records" in done.stdout

    title, blank, header, body = rows[0], rows[1], rows[2], rows[3:]
    assert title[0].startswith(
        {"civil-affairs": "清溪县民政局", "medical-insurance": "清溪县医疗保障局", "education": "清溪县教育局"}[kind]
    )
    assert not any(blank)
    assert [h for h in header if h] == [h for _, h in HEADERS[kind]]
    assert len(body) == len(served)
    column = [h for _, h in HEADERS[kind]].index(
        {"civil-affairs": "身份证号", "medical-insurance": "身份证号", "education": "身份证件号"}[kind]
    )
    assert [row[column] for row in body] == [rec[ID_FIELD[kind]] or "" for rec in served]
    if kind == "medical-insurance":
        assert {row[1] for row in body} == {"参保", "结算"}
        assert any(set(row[column]) & FULL_WIDTH_DIGITS for row in body), "some numbers have full-width digits"


def test_export_needs_a_county_and_a_known_format(world, settings, tmp_path):
    done = run_guardline(settings, SIM_DB, "simulate", "education", "--export", str(tmp_path / "x.csv"))
    assert done.returncode == 2 and "--county" in done.stderr
    done = run_guardline(
        settings, SIM_DB, "simulate", "education", "--export", str(tmp_path / "x.ods"), "--county", COUNTY
    )
    assert done.returncode == 2 and ".xlsx" in done.stderr


def _environ(settings) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    environ.update(
        {"GUARDLINE_DATA_DIR": str(settings.data_dir), "GUARDLINE_ENV": "test", "GUARDLINE_DATABASE_NAME": SIM_DB}
    )
    return environ


def test_spawn_and_stop(world, settings):
    port = _free_port()
    proc = spawn("civil-affairs", port, "--client-secret", "spawned", "--fail-rate", "0", env=_environ(settings))
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/health").json() == {"status": "ok", "kind": "civil-affairs"}
        token = httpx.post(
            base + "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "guardline", "client_secret": "spawned"},
        ).json()["access_token"]
        r = httpx.get(
            base + "/api/assistance",
            params={"county": COUNTY, "limit": 3},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200 and len(r.json()["data"]["records"]) == 3
    finally:
        stop(proc)
    assert proc.returncode is not None
    assert not os.path.exists(proc.log_path)


def test_spawn_reports_a_simulator_that_cannot_start(settings):
    with pytest.raises(SimulatorDidNotStart, match="cannot read the database"):
        spawn(
            "education",
            _free_port(),
            "--database-url",
            "postgresql://nobody@127.0.0.1:1/nothing",
            env=_environ(settings),
        )


@pytest.mark.parametrize("shown", [None, "another-demo"])
def test_spawn_with_an_instance_does_not_take_a_stranger_for_its_simulator(settings, shown):
    """Something already answers on the port (another demo's simulator, showing its own token,
    or any other program): the new simulator cannot bind there, and ``spawn`` says so instead
    of returning a process that the stranger's answers seem to vouch for."""
    port = _free_port()
    with impostor(port, instance=shown) as stranger, pytest.raises(PortTaken, match=f"port {port} is taken"):
        spawn("civil-affairs", port, env=_environ(settings), instance="this-demo")
    assert "GET /health" in stranger.requests


def _api_port() -> int:
    """A port P whose derived simulator ports P+101..P+103 are free too."""
    while True:
        port = _free_port()
        if all(demo.port_free(demo.derived_port(port, kind)) for kind in demo.KINDS):
            return port


def test_an_instance_token_that_begins_with_a_dash_is_passed_whole(world, settings):
    """``secrets.token_urlsafe`` may begin with "-": passed as a separate argument, argparse
    took it for an option and the demo's simulators failed to start (one run in a few)."""
    token = "-Zk3v_QUPm9rTwl0xY8aBcDe"
    proc = spawn("education", _free_port(), env=_environ(settings), instance=token)
    try:
        assert (
            httpx.get(f"http://127.0.0.1:{proc.args[proc.args.index('--port') + 1]}/health").headers[INSTANCE_HEADER]
            == token
        )
    finally:
        stop(proc)


def test_demo_simulators_follow_the_api_port_and_avoid_a_taken_one(world, settings, tmp_path):
    api = _api_port()
    taken = demo.derived_port(api, "civil-affairs")
    assert (taken, demo.derived_port(api, "education")) == (api + 101, api + 103)
    builtin = BUILTIN_SOURCES.read_text(encoding="utf-8")
    with impostor(taken) as stranger:
        started = demo.start(settings.model_copy(update={"data_dir": tmp_path}), api, _environ(settings))
        try:
            assert started.failed == {}
            assert started.ports["medical-insurance"] == api + 102 and started.ports["education"] == api + 103
            assert started.ports["civil-affairs"] not in (taken, api + 102, api + 103)
            # The demo's worker reads a copy pointing at exactly these simulators, each expected
            # to show this start's token; the configured file is untouched.
            sources = parse_sources(started.sources_file.read_text(encoding="utf-8"))
            assert started.sources_file.parent == tmp_path.resolve()
            for name, port in started.ports.items():
                source = sources.get(name)
                assert source.base_url == f"http://127.0.0.1:{port}" and source.instance == started.instance
                answer = httpx.get(f"{source.base_url}/health")
                assert answer.headers[INSTANCE_HEADER] == started.instance
                assert answer.json()["instance"] == started.instance
            assert BUILTIN_SOURCES.read_text(encoding="utf-8") == builtin
        finally:
            for child in started.children:
                stop(child)
        assert stranger.requests == []  # never asked: its port was seen taken
