"""``guardline simulate`` as an operator runs it: spreadsheet exports read back with their
title rows, and a simulator started as a child process with ``launch.spawn``."""
from __future__ import annotations

import csv
import os
import socket

import httpx
import pytest
from openpyxl import load_workbook

from services.simulators.config import Problems
from services.simulators.export import HEADERS
from services.simulators.launch import SimulatorDidNotStart, spawn, stop
from tests.cli import needs_embedded_server, run_guardline
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


@pytest.mark.parametrize(("kind", "suffix"), [("civil-affairs", ".csv"), ("medical-insurance", ".xlsx"),
                                              ("education", ".xlsx"), ("medical-insurance", ".csv")])
async def test_export(world, settings, simulator, tmp_path, kind, suffix):
    target = tmp_path / f"{kind}{suffix}"
    done = run_guardline(settings, SIM_DB, "simulate", kind, "--export", str(target), "--county", COUNTY)
    assert done.returncode == 0, done.stderr
    rows = _rows_of(target)
    served = await _served(simulator, kind)
    assert f"wrote {len(served)} {kind} records" in done.stdout

    title, blank, header, body = rows[0], rows[1], rows[2], rows[3:]
    assert title[0].startswith({"civil-affairs": "清溪县民政局", "medical-insurance": "清溪县医疗保障局",
                                "education": "清溪县教育局"}[kind])
    assert not any(blank)
    assert [h for h in header if h] == [h for _, h in HEADERS[kind]]
    assert len(body) == len(served)
    column = [h for _, h in HEADERS[kind]].index({"civil-affairs": "身份证号", "medical-insurance": "身份证号",
                                                  "education": "身份证件号"}[kind])
    assert [row[column] for row in body] == [rec[ID_FIELD[kind]] or "" for rec in served]
    if kind == "medical-insurance":
        assert {row[1] for row in body} == {"参保", "结算"}
        assert any(set(row[column]) & FULL_WIDTH_DIGITS for row in body), "some numbers have full-width digits"


def test_export_needs_a_county_and_a_known_format(world, settings, tmp_path):
    done = run_guardline(settings, SIM_DB, "simulate", "education", "--export", str(tmp_path / "x.csv"))
    assert done.returncode == 2 and "--county" in done.stderr
    done = run_guardline(settings, SIM_DB, "simulate", "education", "--export", str(tmp_path / "x.ods"),
                         "--county", COUNTY)
    assert done.returncode == 2 and ".xlsx" in done.stderr


def _environ(settings) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GUARDLINE_")}
    environ.update({"GUARDLINE_DATA_DIR": str(settings.data_dir), "GUARDLINE_ENV": "test",
                    "GUARDLINE_DATABASE_NAME": SIM_DB})
    return environ


def test_spawn_and_stop(world, settings):
    port = _free_port()
    proc = spawn("civil-affairs", port, "--client-secret", "spawned", "--fail-rate", "0", env=_environ(settings))
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/health").json() == {"status": "ok", "kind": "civil-affairs"}
        token = httpx.post(base + "/oauth/token", data={"grant_type": "client_credentials", "client_id": "guardline",
                                                        "client_secret": "spawned"}).json()["access_token"]
        r = httpx.get(base + "/api/assistance", params={"county": COUNTY, "limit": 3},
                      headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and len(r.json()["data"]["records"]) == 3
    finally:
        stop(proc)
    assert proc.returncode is not None
    assert not os.path.exists(proc.log_path)


def test_spawn_reports_a_simulator_that_cannot_start(settings):
    with pytest.raises(SimulatorDidNotStart, match="cannot read the database"):
        spawn("education", _free_port(), "--database-url", "postgresql://nobody@127.0.0.1:1/nothing",
              env=_environ(settings))
