"""The housing source (住建): C/D-grade unsafe houses as the other department sources are
built — the normaliser's spellings and quarantine, the rule's SQL, its risk clue and the
clearing-ledger entry it opens (发现一户、保障一户)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.core.ledgers.models import ClearingEntry
from services.core.monitoring.models import RiskClue
from services.core.settings import Settings
from services.core.sync.config import load_sources
from services.core.sync.headers import export_header
from services.core.sync.models import SyncPolicyRow
from services.core.sync.normalise import Normal, Normaliser, Rejected
from services.core.timeutil import today
from tests.factories import COUNTY, VILLAGE, person
from tests.sync.test_sync_reconcile import Stage, _household, findings, reconcile, source

HOUSING_SOURCE = source("housing", "housing")
HOUSING = Normaliser(load_sources(Settings()).get("housing"))
VALID = "11010519491231002X"


def house(**over):
    raw = {"fwbh": "ZJ1", "hzsfzh": VALID, "hzxm": "张三", "jddj": "D级危房", "jdrq": "2026-03-02", "gzzt": "未改造"}
    raw.update(over)
    return {k: v for k, v in raw.items() if v is not ...}


def test_api_record_and_spreadsheet_spellings_become_canonical():
    out = HOUSING.normalise(house())
    assert isinstance(out, Normal), out
    assert (out.record_type, out.id_number) == ("house", VALID)
    assert out.data == {"grade": "D", "appraised_on": "2026-03-02", "renovation": "none"}
    sheet = HOUSING.normalise(
        {
            "鉴定编号": "ZJ2",
            "户主身份证号": VALID,
            "户主姓名": "张三",
            "鉴定等级": "c级",
            "鉴定日期": "2026年3月2日",
            "改造状态": "已竣工",
        }
    )
    assert isinstance(sheet, Normal), sheet
    assert (sheet.data["grade"], sheet.data["renovation"]) == ("C", "done")
    assert export_header("housing", "grade") == "鉴定等级"


@pytest.mark.parametrize(
    "raw, reason, field",
    [
        (house(jddj="E级"), "invalid.grade", "grade"),
        (house(jdrq=...), "missing.appraised_on", "appraised_on"),
        (house(jdrq="2026-02-30"), "invalid.appraised_on", "appraised_on"),
        (house(hzsfzh=...), "missing.id_number", "id_number"),
    ],
)
def test_invalid_records_are_quarantined_with_reason_and_field(raw, reason, field):
    out = HOUSING.normalise(raw)
    assert isinstance(out, Rejected), out
    assert (out.reason, out.field) == (reason, field)


async def test_unsafe_houses_raise_findings_clues_and_clearing_entries(session, settings, client, auth):
    stage = Stage(session, settings)
    a = await _household(client, auth, VILLAGE, [person("head", name="甲")])
    b = await _household(client, auth, VILLAGE, [person("head", name="乙")])
    c = await _household(client, auth, VILLAGE, [person("head", name="丙")])
    d = await _household(client, auth, VILLAGE, [person("head", name="丁")])
    old, new = (today() - timedelta(days=400)).isoformat(), (today() - timedelta(days=20)).isoformat()
    await stage.add(HOUSING_SOURCE, a[0].id_number, "甲", "house", grade="D", appraised_on=new, renovation="none")
    await stage.add(HOUSING_SOURCE, b[0].id_number, "乙", "house", grade="C", appraised_on=new)
    # Renovated, or appraised again as safe after an unsafe grade: not unsafe.
    await stage.add(HOUSING_SOURCE, c[0].id_number, "丙", "house", grade="C", appraised_on=new, renovation="done")
    await stage.add(HOUSING_SOURCE, d[0].id_number, "丁", "house", grade="D", appraised_on=old)
    await stage.add(HOUSING_SOURCE, d[0].id_number, "丁", "house", grade="B", appraised_on=new)
    counts = await reconcile(session, settings, HOUSING_SOURCE, COUNTY, run_id=1)
    found = [f for f in (await findings(session, HOUSING_SOURCE)).values() if f.rule_id == "unsafe_house"]
    assert {f.household_id for f in found} == {a[0].household_id, b[0].household_id}
    assert counts["clues"] == 2
    clues = (await session.execute(select(RiskClue))).scalars().all()
    assert {tuple(c.risk_types) for c in clues} == {("unsafe_housing",)}
    entries = (await session.execute(select(ClearingEntry))).scalars().all()
    assert {(e.household_id, e.kind.value, e.origin.value) for e in entries} == {
        (a[0].household_id, "housing", "department"),
        (b[0].household_id, "housing", "department"),
    }
    assert all(e.department == "县住房和城乡建设局" and e.finding_id for e in entries)
    # A second run opens nothing twice.
    await reconcile(session, settings, HOUSING_SOURCE, COUNTY, run_id=2)
    assert len((await session.execute(select(ClearingEntry))).scalars().all()) == 2
    # A county that counts only D grades: B's finding resolves.
    session.add(SyncPolicyRow(region_prefix=COUNTY, year=today().year, values={"unsafe_house_grades": ["D"]}))
    await session.flush()
    await reconcile(session, settings, HOUSING_SOURCE, COUNTY, run_id=3)
    still = {f.household_id for f in (await findings(session, HOUSING_SOURCE)).values() if f.status != "resolved"}
    assert still == {a[0].household_id}


async def test_department_findings_of_other_sources_open_entries(session, settings, client, auth):
    from tests.sync.test_sync_reconcile import EDUCATION, MEDICAL

    stage = Stage(session, settings)
    y = today().year
    born = today().replace(year=y - 12, month=1, day=1)
    kids = await _household(client, auth, VILLAGE, [person("head", name="父"), person("child", name="童", born=born)])
    await stage.add(EDUCATION, kids[1].id_number, None, "student", term=f"{y}秋", status="dropped_out")
    await stage.add(MEDICAL, kids[0].id_number, None, "enrolment", year=y, insured=False, status="not_insured")
    await reconcile(session, settings, EDUCATION, COUNTY, run_id=1)
    await reconcile(session, settings, MEDICAL, COUNTY, run_id=2)
    entries = (await session.execute(select(ClearingEntry))).scalars().all()
    assert {(e.kind.value, e.person_id) for e in entries} == {("education", kids[1].id), ("medical", kids[0].id)}
    assert {e.department for e in entries} == {"县教育局", "县医疗保障局"}
