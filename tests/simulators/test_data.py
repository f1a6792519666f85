"""What the simulators send agrees with the registry they read, carries the findings the
worker must raise, and the data problems at forced rates show on every record."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import httpx
import pytest

from services.core.idnumber import InvalidIdNumber, normalise
from services.simulators.config import KINDS, Problems
from services.simulators.records import ENROLMENT_STATUS, JZLX, XD, XJZT
from tests.simulators.conftest import (
    COUNTY,
    ID_FIELD,
    NAME_FIELD,
    TODAY,
    clean,
    is_stranger,
    person_id,
)

AMOUNT = re.compile(r"^\d+\.\d{2}$")
STUDYING = {"primary", "junior_secondary", "senior_secondary", "vocational", "university"}


def _date(value) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _amount(value) -> bool:
    if not isinstance(value, str) or not AMOUNT.match(value):
        return False
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def defects(kind: str, rec: dict) -> list[str]:
    """What a worker would quarantine the record for (empty: a well-formed record)."""
    found = []
    if not rec.get(ID_FIELD[kind]):
        found.append("no ID number")
    if kind == "civil-affairs":
        if rec["jzlx"] not in JZLX:
            found.append("jzlx")
        if (rec["dbfl"] is not None) != (rec["jzlx"] == "低保") and rec["jzlx"] in JZLX:
            found.append("dbfl")
        for name in ("ksrq", "jsrq", "swrq"):
            if rec[name] is not None and _date(rec[name]) is None:
                found.append(name)
        if not _amount(rec["yje"]):
            found.append("yje")
        if rec["zt"] not in ("在保", "停保"):
            found.append("zt")
    elif kind == "medical-insurance":
        if rec["type"] == "enrolment":
            if rec["status"] not in ENROLMENT_STATUS:
                found.append("status")
            if rec["death_date"] is not None and _date(rec["death_date"]) is None:
                found.append("death_date")
        else:
            if _date(rec["settled_on"]) is None:
                found.append("settled_on")
            for name in ("total_cost", "out_of_pocket"):
                if not _amount(rec[name]):
                    found.append(name)
    elif kind == "housing":
        if rec["jddj"] not in ("A级", "B级", "C级", "D级危房"):
            found.append("jddj")
        if _date(rec["jdrq"]) is None:
            found.append("jdrq")
    else:
        if rec["xjzt"] not in XJZT:
            found.append("xjzt")
        if rec["xd"] not in XD:
            found.append("xd")
        if rec["zzje"] is not None and not _amount(rec["zzje"]):
            found.append("zzje")
    return found


async def fetch(simulator, kind: str, **options) -> list[dict]:
    with simulator(kind, **options) as sim:
        async with httpx.AsyncClient(timeout=60) as client:
            return await sim.all_records(client, size=5000)


def age(born: date) -> int:
    return TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))


# ---- consistent with the registry --------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_clean_records_are_the_registry_persons(simulator, world, kind):
    records = await fetch(simulator, kind)
    county = world.of_county(COUNTY)
    for rec in records:
        p = county[person_id(kind, rec)]
        assert rec[ID_FIELD[kind]] == p.id_number
        assert rec[NAME_FIELD[kind]] == p.name
        assert defects(kind, rec) == [], rec
    holders = {person_id(kind, rec) for rec in records}
    if kind == "medical-insurance":
        assert holders == set(county)
        enrolments = [rec for rec in records if rec["type"] == "enrolment"]
        assert len(enrolments) == len(county)
        assert any(rec["type"] == "claim" for rec in records)
        for rec in records:
            if rec["type"] == "claim":
                assert date(TODAY.year, 1, 1) <= _date(rec["settled_on"]) <= TODAY
                assert Decimal(rec["out_of_pocket"]) <= Decimal(rec["total_cost"])
    elif kind == "education":
        students = {
            pid
            for pid, p in county.items()
            if 6 <= age(p.birth_date) <= 22
            and p.status == "alive"
            and p.schooling not in ("not_in_school", "preschool")
        }
        assert holders == students
        by_person = {person_id(kind, rec): rec for rec in records}
        for pid, rec in by_person.items():
            if county[pid].schooling == "dropped_out":
                assert rec["xjzt"] == "辍学"
            assert rec["xq"] == (
                f"{TODAY.year}秋"
                if TODAY.month >= 9
                else f"{TODAY.year - 1}秋"
                if TODAY.month == 1
                else f"{TODAY.year}春"
            )
    elif kind == "housing":
        # One appraisal per household, of its living head.
        households = [county[pid].household_id for pid in holders]
        assert holders and len(set(households)) == len(households) == len(records)
        assert all(county[pid].status == "alive" for pid in holders)
        assert all(rec["gxsj"].endswith("+08:00") for rec in records)
    else:
        kinds_of = {}
        for rec in records:
            kinds_of.setdefault(person_id(kind, rec), set()).add(rec["jzlx"])
            assert rec["gxsj"].endswith("+08:00")
            if rec["jzlx"] != "低保":
                assert rec["dbfl"] is None
        for pid, p in county.items():
            if "dibao" in p.flags and "tekun" not in p.flags:
                assert "低保" in kinds_of.get(pid, set()), p
            if "tekun" in p.flags:
                assert "特困" in kinds_of.get(pid, set()), p
        assert {"低保", "特困"} <= set().union(*kinds_of.values())


async def test_the_registry_dead_are_dead_for_departments(simulator, world):
    dead = next(p for p in world.persons.values() if p.status == "deceased" and p.name == "孙故")
    civil = [rec for rec in await fetch(simulator, "civil-affairs") if person_id("civil-affairs", rec) == dead.id]
    assert civil and all(
        (rec["zt"], rec["tbyy"], rec["swrq"]) == ("停保", "死亡", dead.date_of_death.isoformat()) for rec in civil
    )
    medical = [
        rec for rec in await fetch(simulator, "medical-insurance") if person_id("medical-insurance", rec) == dead.id
    ]
    assert [(r["type"], r["status"], r["insured"], r["death_date"]) for r in medical] == [
        ("enrolment", "死亡注销", False, dead.date_of_death.isoformat())
    ]


# ---- findings at forced rates -------------------------------------------------------------


async def test_deaths_reported_by_civil_affairs(simulator, world):
    records = await fetch(simulator, "civil-affairs", problems=clean(death_rate=1.0))
    assert records
    for rec in records:
        swrq = _date(rec["swrq"])
        assert (rec["zt"], rec["tbyy"]) == ("停保", "死亡") and swrq is not None and swrq <= TODAY
        assert rec["jsrq"] <= rec["swrq"] and rec["ksrq"] <= rec["swrq"]
    alive = [rec for rec in records if world.persons[person_id("civil-affairs", rec)].status == "alive"]
    assert len(alive) > 10


async def test_dibao_granted_but_not_monitored(simulator, world):
    records = await fetch(simulator, "civil-affairs", problems=clean(unmonitored_dibao_rate=1.0, death_rate=0))
    dibao = {person_id("civil-affairs", rec): rec for rec in records if rec["jzlx"] == "低保"}
    unflagged = [
        p
        for p in world.of_county(COUNTY).values()
        if not p.flags & {"dibao", "tekun"} and p.category != "monitored" and p.household_id
    ]
    assert len(unflagged) > 100
    for p in unflagged:
        rec = dibao[p.id]
        assert rec["zt"] == "在保" and TODAY - timedelta(days=90) <= _date(rec["ksrq"]) <= TODAY
    monitored = [p for p in world.of_county(COUNTY).values() if p.category == "monitored" and not p.flags & {"dibao"}]
    assert monitored and not any(p.id in dibao for p in monitored)


async def test_household_size(simulator, world):
    """家庭人口数 is the household's living members; at --household-size-rate one more or one
    less, for every record of the household alike."""
    living: dict[int, int] = {}
    for p in world.persons.values():
        if p.household_id is not None and p.status == "alive":
            living[p.household_id] = living.get(p.household_id, 0) + 1
    exact = await fetch(simulator, "civil-affairs", problems=clean(household_size_rate=0))
    holders = [
        (world.persons[person_id("civil-affairs", rec)], rec) for rec in exact if not is_stranger("civil-affairs", rec)
    ]
    assert len(holders) > 50
    for p, rec in holders:
        assert rec["jtrks"] == (living.get(p.household_id, 0) if p.household_id is not None else 1)
    off = await fetch(simulator, "civil-affairs", problems=clean(household_size_rate=1.0))
    sizes: dict[int, set[int]] = {}
    for rec in off:
        if not is_stranger("civil-affairs", rec):
            p = world.persons[person_id("civil-affairs", rec)]
            if p.household_id is not None:
                assert abs(rec["jtrks"] - living.get(p.household_id, 0)) == 1
                sizes.setdefault(p.household_id, set()).add(rec["jtrks"])
    assert sizes and all(len(s) == 1 for s in sizes.values())


async def test_not_insured(simulator, world):
    records = await fetch(simulator, "medical-insurance", problems=clean(not_insured_rate=1.0, death_rate=0))
    for rec in records:
        if rec["type"] == "enrolment" and world.persons[person_id("medical-insurance", rec)].status == "alive":
            assert (rec["insured"], rec["status"]) == (False, "未参保")


async def test_large_out_of_pocket_costs(simulator, world):
    records = await fetch(simulator, "medical-insurance", problems=clean(large_cost_rate=1.0, death_rate=0))
    largest: dict[int, Decimal] = {}
    for rec in records:
        if rec["type"] == "claim":
            pid = person_id("medical-insurance", rec)
            largest[pid] = max(largest.get(pid, Decimal(0)), Decimal(rec["out_of_pocket"]))
    for pid, p in world.of_county(COUNTY).items():
        if p.status != "alive":
            continue
        assert largest[pid] > Decimal(10_000)
        if p.net_income is not None:
            assert largest[pid] > p.net_income


async def test_compulsory_age_dropouts(simulator, world):
    records = await fetch(simulator, "education", problems=clean(dropout_rate=1.0))
    pupils = [
        (rec, world.persons[person_id("education", rec)])
        for rec in records
        if 6 <= age(world.persons[person_id("education", rec)].birth_date) <= 15
    ]
    # Every compulsory-age pupil is reported 辍学, but those the registry has as suspended (休学).
    assert len(pupils) > 50
    assert all(rec["xjzt"] == ("休学" if p.schooling == "suspended" else "辍学") for rec, p in pupils)
    older = [rec for rec in records if age(world.persons[person_id("education", rec)].birth_date) > 15]
    assert any(rec["xjzt"] == "在读" for rec in older)


def _key_group(p) -> bool:
    return p.category in ("lifted_out", "monitored") or bool(p.flags & {"dibao", "tekun"})


async def test_family_doctor_contracts(simulator, world):
    """Key groups are signed up (签约一人); at --no-family-doctor-rate 1 none of them is."""
    county = world.of_county(COUNTY)
    signed = await fetch(simulator, "medical-insurance", problems=clean(no_family_doctor_rate=0.0))
    enrolments = [(county[person_id("medical-insurance", r)], r) for r in signed if r["type"] == "enrolment"]
    assert {r["family_doctor"] for _, r in enrolments} == {"已签约", "未签约"}
    assert all(r["family_doctor"] == "已签约" for p, r in enrolments if _key_group(p))
    assert all("family_doctor" not in r for r in signed if r["type"] == "claim")
    unsigned = await fetch(simulator, "medical-insurance", problems=clean(no_family_doctor_rate=1.0))
    keys = [r for r in unsigned if r["type"] == "enrolment" and _key_group(county[person_id("medical-insurance", r)])]
    assert len(keys) > 50 and all(r["family_doctor"] == "未签约" for r in keys)


async def test_left_out_of_the_rosters(simulator, world):
    """At the forced rates the living have no enrolment record at all (the dead keep
    theirs), and compulsory-age pupils are not in the term's list."""
    county = world.of_county(COUNTY)
    medical = await fetch(simulator, "medical-insurance", problems=clean(unenrolled_rate=1.0, death_rate=0))
    assert medical and all(county[person_id("medical-insurance", r)].status == "deceased" for r in medical)
    pupils = await fetch(simulator, "education", problems=clean(unlisted_pupil_rate=1.0))
    ages = [age(county[person_id("education", r)].birth_date) for r in pupils]
    assert ages and all(a > 15 for a in ages)


async def test_student_aid(simulator, world):
    """Enrolled students of formerly poor, monitored, 低保 and 特困 households get aid; at
    --no-aid-rate 1 none of them does."""
    county = world.of_county(COUNTY)
    aided = await fetch(simulator, "education", problems=clean(no_aid_rate=0.0, dropout_rate=0.0))
    poor = [r for r in aided if r["xjzt"] == "在读" and _key_group(county[person_id("education", r)])]
    assert len(poor) > 20 and all(r["zzlx"] and Decimal(r["zzje"]) > 0 for r in poor)
    none = await fetch(simulator, "education", problems=clean(no_aid_rate=1.0, dropout_rate=0.0))
    poor = [r for r in none if r["xjzt"] == "在读" and _key_group(county[person_id("education", r)])]
    assert poor and all(r["zzlx"] is None and r["zzje"] is None for r in poor)


# ---- problems at forced rates -------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_wrong_check_digits(simulator, world, kind):
    for rec in await fetch(simulator, kind, problems=clean(bad_check_rate=1.0)):
        real = world.persons[person_id(kind, rec)].id_number
        sent = rec[ID_FIELD[kind]]
        assert sent[:17] == real[:17] and sent != real
        with pytest.raises(InvalidIdNumber) as caught:
            normalise(sent)
        assert caught.value.code == "check_digit"


@pytest.mark.parametrize("kind", KINDS)
async def test_old_fifteen_digit_numbers(simulator, world, kind):
    old = 0
    for rec in await fetch(simulator, kind, problems=clean(old_id_rate=1.0)):
        p = world.persons[person_id(kind, rec)]
        sent = rec[ID_FIELD[kind]]
        if 1900 <= p.birth_date.year <= 1999:
            old += 1
            assert len(sent) == 15 and normalise(sent, allow_15=True).value == p.id_number
        else:
            assert sent == p.id_number
    # students of 6-22 were born in this century: no old numbers among them
    assert old > 0 if kind != "education" else old == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_messy_numbers(simulator, world, kind):
    styles = set()
    for rec in await fetch(simulator, kind, problems=clean(messy_id_rate=1.0)):
        real = world.persons[person_id(kind, rec)].id_number
        sent = rec[ID_FIELD[kind]]
        assert sent != real and normalise(sent).value == real
        styles.add("full-width" if "０" <= sent[0] <= "９" else "x" if sent.endswith("x") else "space")
    assert {"full-width", "space"} <= styles


@pytest.mark.parametrize("kind", KINDS)
async def test_unknown_people(simulator, world, kind):
    records = await fetch(simulator, kind, problems=clean(unknown_rate=1.0))
    strangers = [rec for rec in records if is_stranger(kind, rec)]
    hosts = {person_id(kind, rec) for rec in records if not is_stranger(kind, rec)}
    assert len(strangers) == len(hosts) > 0
    numbers = [rec[ID_FIELD[kind]] for rec in strangers]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert normalise(number).value == number and number not in world.numbers
    if kind == "education":
        assert all(6 <= age(normalise(n).birth_date) <= 22 for n in numbers)


@pytest.mark.parametrize("kind", KINDS)
async def test_other_names(simulator, world, kind):
    for rec in await fetch(simulator, kind, problems=clean(name_mismatch_rate=1.0)):
        p = world.persons[person_id(kind, rec)]
        sent = rec[NAME_FIELD[kind]]
        assert sent != p.name and len(sent) == len(p.name) and sent[:-1] == p.name[:-1]
        assert rec[ID_FIELD[kind]] == p.id_number


@pytest.mark.parametrize("kind", KINDS)
async def test_malformed_records(simulator, world, kind):
    records = await fetch(simulator, kind, problems=clean(malformed_record_rate=1.0))
    kinds_of_defect = set()
    for rec in records:
        found = defects(kind, rec)
        assert found, rec
        kinds_of_defect.update(found)
    expected = {
        "civil-affairs": {"no ID number", "ksrq", "yje", "jzlx"},
        "medical-insurance": {"no ID number", "status", "death_date", "settled_on", "out_of_pocket", "total_cost"},
        "education": {"no ID number", "xjzt", "zzje", "xd"},
        "housing": {"no ID number", "jddj", "jdrq"},
    }[kind]
    assert kinds_of_defect == expected


async def test_default_rates_change_nothing_for_most_persons(simulator, world):
    """At the default shares the defects are rare: almost every number is the registry's."""
    records = await fetch(simulator, "medical-insurance", problems=Problems())
    exact = sum(
        1
        for rec in records
        if rec["type"] == "enrolment"
        and rec["id_no"] == world.persons.get(person_id("medical-insurance", rec)).id_number
    )
    enrolments = sum(1 for rec in records if rec["type"] == "enrolment" and not is_stranger("medical-insurance", rec))
    assert 0.9 * enrolments < exact < enrolments


@pytest.mark.parametrize(
    "problems", [clean(), Problems(), clean(unmonitored_dibao_rate=1.0), clean(unmonitored_dibao_rate=0.0)]
)
async def test_civil_affairs_candidates_query_misses_no_one(simulator, world, settings, problems):
    """Civil affairs reads only the persons its selection draws can pick (computed in SQL):
    deriving every person of the county without that filter gives the same records."""
    from services.core.crypto import keyring
    from services.core.db import Database, create_engine
    from services.simulators.config import SimConfig
    from services.simulators.records import Deriver
    from services.simulators.registry import Registry

    served = await fetch(simulator, "civil-affairs", problems=problems)
    db = Database(create_engine(world.url, settings, "tests-sim"), read_pool_size=1)
    try:
        registry = Registry(db, keyring(settings))
        deriver = Deriver(
            SimConfig("civil-affairs", today=TODAY, problems=problems), await registry.county_name(COUNTY)
        )
        everyone = await registry.persons(COUNTY, 0, 1_000_000)
    finally:
        await db.dispose()
    assert len(everyone) == len(world.of_county(COUNTY))
    assert [rec for p in everyone for rec in deriver.records(p)] == served


def test_export_headers_of_the_new_fields_are_read_by_the_import():
    """家庭医生签约 and the aid columns come back through the built-in sources' mapping, and
    the values the simulators write are ones the normaliser knows."""
    from services.core.settings import Settings
    from services.core.sync.config import load_sources
    from services.core.sync.normalise import Normaliser
    from services.simulators.export import HEADERS

    sources = load_sources(Settings())
    for kind, wanted in (("medical-insurance", {"family_doctor"}), ("education", {"aid_kind", "aid_amount"})):
        normaliser = Normaliser(sources.get(kind))
        mapped = {normaliser.canonical_of(header): header for _, header in HEADERS[kind]}
        assert wanted <= set(mapped), (kind, mapped)
    medical = Normaliser(sources.get("medical-insurance"))
    for value, expected in (("已签约", True), ("未签约", False), ("是", True), ("否", False)):
        record = {
            "记录编号": "K1",
            "记录类型": "参保",
            "身份证号": "11010519491231002X",
            "年度": "2026",
            "家庭医生签约": value,
        }
        assert medical.normalise(record).data["family_doctor"] is expected
