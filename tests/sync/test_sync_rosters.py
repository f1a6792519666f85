"""Complete rosters and the rules of presence (docs/rosters.md), through the real
reconciliation in the test's rolled-back transaction: absent from a declared enrolment
roster (应保尽保) or school roster (控辍保学), a student of a monitored household without
aid (教育帮扶), a key-group member without a family doctor (签约一人、做实一人). Each rule
with the cases it must find and those it must leave alone."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text

from services.core.monitoring.models import RiskClue
from services.core.sync.config import SourceConfig
from services.core.sync.enums import SourceKind, Trigger
from services.core.sync.models import RosterEntry, SyncPolicyRow, SyncRun
from services.core.sync.rosters import RosterError, declare, term_rank, term_rank_sql
from services.core.timeutil import today
from tests.factories import COUNTY, OTHER_TOWNSHIP_VILLAGE, TOWNSHIP, VILLAGE, person
from tests.sync.test_sync_reconcile import Stage, _household, findings, reconcile

Y = today().year
AUTUMN = f"{Y}秋"


def source(name: str, kind: str, *fields: str) -> SourceConfig:
    return SourceConfig(
        name=name,
        kind=kind,
        counties=[COUNTY],
        fields={"record_id": ["id"], "id_number": ["sfzh"], **{f: [f] for f in fields}},
    )


MEDICAL = source("medical-insurance", "medical-insurance", "year", "insured", "status", "family_doctor")
EDUCATION = source("education", "education", "term", "status", "stage", "aid_kind", "aid_amount")
CIVIL = source("civil-affairs", "civil-affairs", "benefit", "status", "start_date")


def of(found: dict, rule: str) -> dict[int, object]:
    return {f.person_id: f for f in found.values() if f.rule_id == rule}


async def roster_run(
    session,
    src: SourceConfig,
    period: str,
    records=(),
    *,
    region: str = COUNTY,
    status: str = "succeeded",
    refused: int = 0,
) -> int:
    """A run that declared a roster, as the worker leaves it, with the records it read."""
    run = SyncRun(
        source=src.name,
        county=COUNTY,
        trigger=Trigger.spreadsheet,
        status=status,
        phase="done",
        roster_period=period,
        roster_region=region,
        roster_records=len(records),
        roster_rejected=refused,
        file_name="名册.xlsx",
        attempts=1,
        pages=1,
        fetched=len(records),
        staged=len(records),
        unchanged=0,
        quarantined=refused,
        retries=0,
    )
    session.add(run)
    await session.flush()
    session.add_all([RosterEntry(run_id=run.id, external_key=r.external_key) for r in records])
    await session.flush()
    return run.id


async def plain_run(session, src: SourceConfig) -> int:
    """A run that declared nothing (the run reconciling now, e.g. a claims file)."""
    run = SyncRun(
        source=src.name,
        county=COUNTY,
        trigger=Trigger.manual,
        status="succeeded",
        phase="done",
        attempts=1,
        pages=0,
        fetched=0,
        staged=0,
        unchanged=0,
        quarantined=0,
        retries=0,
    )
    session.add(run)
    await session.flush()
    return run.id


@pytest.fixture
async def people(client, auth, session):
    """Lifted-out A (VILLAGE: head, spouse); monitored B; ordinary C; lifted-out D in another
    township; lifted-out E whose head died; F with children of 5, 6, 15 and 16 on
    1 September of this autumn's school year and a dead one of 10."""
    a = await _household(client, auth, VILLAGE, [person("head", name="甲一"), person("spouse", name="甲二")])
    b = await _household(client, auth, VILLAGE, [person("head", name="乙一")])
    c = await _household(client, auth, VILLAGE, [person("head", name="丙一")], category="ordinary")
    d = await _household(client, auth, OTHER_TOWNSHIP_VILLAGE, [person("head", name="丁一")])
    e = await _household(client, auth, VILLAGE, [person("head", name="戊一")])
    f = await _household(
        client,
        auth,
        VILLAGE,
        [
            person("head", name="己一"),
            person("child", name="己五", male=True, born=date(Y - 6, 9, 2)),
            person("child", name="己六", male=True, born=date(Y - 6, 9, 1)),
            person("child", name="己十五", male=True, born=date(Y - 16, 9, 2)),
            person("child", name="己十六", male=True, born=date(Y - 16, 9, 1)),
            person("child", name="己十", male=False, born=date(Y - 10, 3, 1)),
        ],
        category="ordinary",
    )
    await session.execute(
        text("UPDATE households SET category = 'monitored' WHERE id = :id"), {"id": b[0].household_id}
    )
    await session.execute(
        text("UPDATE persons SET status = 'deceased' WHERE id = ANY(:ids)"), {"ids": [e[0].id, f[5].id]}
    )
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f}


# ---- 应保尽保: absent from the enrolment roster ---------------------------------------------


async def test_missing_from_insurance_roster(session, settings, people):
    stage = Stage(session, settings)
    a, b, c, d, e = (people[k] for k in "abcde")
    listed = await stage.add(MEDICAL, a[0].id_number, "甲一", "enrolment", year=Y, insured=True, status="normal")
    # 甲二 has a record of the year from an earlier file, but the declared roster does not hold it.
    await stage.add(MEDICAL, a[1].id_number, "甲二", "enrolment", year=Y, insured=True, status="normal")
    # 乙一 is in the roster, but with last year's record only: not present for this year.
    last_year = await stage.add(MEDICAL, b[0].id_number, "乙一", "enrolment", year=Y - 1, insured=True)
    await roster_run(session, MEDICAL, str(Y), [listed, last_year])

    counts = await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    missing = of(await findings(session, MEDICAL), "missing_from_insurance_roster")
    # Found: 甲二 (left out), 乙一 (monitored, no record of the year), 丁一 (lifted out, other
    # township, inside the county's roster). Not: 甲一 (listed), 丙一 (ordinary), 戊一 (dead).
    assert set(missing) == {a[1].id, b[0].id, d[0].id}
    found = missing[b[0].id]
    assert found.fingerprint == f"missing_from_insurance_roster:medical-insurance:{COUNTY}:person:{b[0].id}:{Y}"
    # Which roster says so (the run's id is left out: a rerun would change the finding).
    assert found.values == {
        "year": Y,
        "roster_region": COUNTY,
        "roster_file": "名册.xlsx",
        "category": "monitored",
        "open_case": False,
    }
    assert found.severity == "high" and found.region_code == VILLAGE and found.household_id == b[0].household_id
    assert counts["clues"] == 3
    clue = (await session.execute(select(RiskClue).where(RiskClue.id == found.clue_id))).scalar_one()
    assert clue.risk_types == ["other"]
    assert c[0].id not in missing and e[0].id not in missing


async def test_no_declared_roster_no_absence(session, settings, people):
    """Records of the year without a declared roster: absence means nothing."""
    stage = Stage(session, settings)
    await stage.add(MEDICAL, people["a"][0].id_number, "甲一", "enrolment", year=Y, insured=True, status="normal")
    await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    assert not of(await findings(session, MEDICAL), "missing_from_insurance_roster")


async def test_a_failed_or_running_roster_declares_nothing_but_the_run_reconciling_does(session, settings, people):
    await roster_run(session, MEDICAL, str(Y), status="failed")
    running = await roster_run(session, MEDICAL, str(Y), status="running")
    await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    assert not of(await findings(session, MEDICAL), "missing_from_insurance_roster")
    # The run reconciling now has read every page: its own roster counts.
    await reconcile(session, settings, MEDICAL, COUNTY, running)
    assert len(of(await findings(session, MEDICAL), "missing_from_insurance_roster")) == 4  # 甲一 甲二 乙一 丁一


async def test_the_roster_region_and_the_narrowest_roster(session, settings, people):
    stage = Stage(session, settings)
    a, b, d = people["a"], people["b"], people["d"]
    everyone = [
        await stage.add(MEDICAL, m.id_number, None, "enrolment", year=Y, insured=True) for m in (a[0], a[1], b[0])
    ]
    # A township's roster: 丁一 lives in another township and is not judged.
    await roster_run(session, MEDICAL, str(Y), everyone[:2], region=TOWNSHIP)
    await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    assert set(of(await findings(session, MEDICAL), "missing_from_insurance_roster")) == {b[0].id}
    # Then a county roster that lists everyone of the township but leaves 丁一 out: the
    # township's own roster still judges its people (乙一 stays), the county's judges 丁一.
    await roster_run(session, MEDICAL, str(Y), everyone, region=COUNTY)
    await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    assert set(of(await findings(session, MEDICAL), "missing_from_insurance_roster")) == {b[0].id, d[0].id}
    # A county roster of next year that lists 乙一 judges everyone: this year's township
    # list is older.
    ahead = [
        await stage.add(MEDICAL, m.id_number, None, "enrolment", year=Y + 1, insured=True) for m in (a[0], a[1], b[0])
    ]
    await roster_run(session, MEDICAL, str(Y + 1), ahead, region=COUNTY)
    await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    # The open ones first, then by person: 丁一 has this year's finding (resolved) and next
    # year's, and the rows come in no particular order.
    found = await findings(session, MEDICAL)
    open_ = of({k: f for k, f in found.items() if f.status == "open"}, "missing_from_insurance_roster")
    assert set(open_) == {d[0].id} and open_[d[0].id].values["year"] == Y + 1


async def test_the_latest_period_and_resolution(session, settings, people):
    stage = Stage(session, settings)
    a, b, d = people["a"], people["b"], people["d"]
    old = [
        await stage.add(MEDICAL, m.id_number, None, "enrolment", year=Y - 1, insured=True)
        for m in (a[0], a[1], b[0], d[0])
    ]
    await roster_run(session, MEDICAL, str(Y - 1), old)
    await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    assert not of(await findings(session, MEDICAL), "missing_from_insurance_roster")  # all there last year
    new = [await stage.add(MEDICAL, m.id_number, None, "enrolment", year=Y, insured=True) for m in (a[0], a[1])]
    await roster_run(session, MEDICAL, str(Y), new)
    await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    found = of(await findings(session, MEDICAL), "missing_from_insurance_roster")
    assert set(found) == {b[0].id, d[0].id} and all(f.values["year"] == Y for f in found.values())
    # A later roster of the year lists them: the findings resolve.
    later = new + [await stage.add(MEDICAL, m.id_number, None, "enrolment", year=Y, insured=True) for m in (b[0], d[0])]
    await roster_run(session, MEDICAL, str(Y), later)
    counts = await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    assert counts["findings_resolved"] == 2
    assert all(
        f.status == "resolved" for f in of(await findings(session, MEDICAL), "missing_from_insurance_roster").values()
    )


async def test_a_roster_that_refused_too_many_rows_is_not_trusted(session, settings, people):
    stage = Stage(session, settings)
    listed = [
        await stage.add(MEDICAL, m.id_number, None, "enrolment", year=Y, insured=True)
        for m in (people["a"][0], people["a"][1], people["b"][0])
    ]
    await roster_run(session, MEDICAL, str(Y), listed, refused=1)  # 1 of 4 rows refused: above 1 %
    await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    assert not of(await findings(session, MEDICAL), "missing_from_insurance_roster")
    session.add(SyncPolicyRow(region_prefix=COUNTY, year=Y, values={"roster_refused_share": "0.25"}))
    await session.flush()
    await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    assert set(of(await findings(session, MEDICAL), "missing_from_insurance_roster")) == {people["d"][0].id}


# ---- 控辍保学: absent from the school roster --------------------------------------------------


async def test_missing_from_school_roster(session, settings, people):
    stage = Stage(session, settings)
    f = people["f"]
    _head, _five, six, fifteen, _sixteen, _dead = f
    listed = await stage.add(
        EDUCATION,
        fifteen.id_number,
        None,
        "student",
        term=AUTUMN,
        status="enrolled",
        stage="junior_secondary",
        aid_kind="营养改善计划",
    )
    await roster_run(session, EDUCATION, AUTUMN, [listed])

    counts = await reconcile(session, settings, EDUCATION, COUNTY, await plain_run(session, EDUCATION))
    missing = of(await findings(session, EDUCATION), "missing_from_school_roster")
    # 6 on 1 September and absent: found. Not: 5 or 16 (outside 6–15), 15 (listed), the dead
    # child, the adults.
    assert set(missing) == {six.id}
    found = missing[six.id]
    assert {k: v for k, v in found.values.items() if k != "registry_schooling"} == {
        "term": AUTUMN,
        "roster_region": COUNTY,
        "roster_file": "名册.xlsx",
        "age_on_1_september": 6,
    }
    assert found.fingerprint.endswith(f":person:{six.id}:{AUTUMN}") and counts["clues"] == 1
    clue = (await session.execute(select(RiskClue).where(RiskClue.id == found.clue_id))).scalar_one()
    assert clue.risk_types == ["out_of_school"]


async def test_school_roster_negatives(session, settings, people):
    stage = Stage(session, settings)
    six = people["f"][2]
    # No roster: nothing. A failed roster: nothing.
    await reconcile(session, settings, EDUCATION, COUNTY, await plain_run(session, EDUCATION))
    await roster_run(session, EDUCATION, AUTUMN, status="failed")
    await reconcile(session, settings, EDUCATION, COUNTY, await plain_run(session, EDUCATION))
    assert not of(await findings(session, EDUCATION), "missing_from_school_roster")
    # A roster of another township: the village's children are not judged.
    await roster_run(session, EDUCATION, AUTUMN, region=OTHER_TOWNSHIP_VILLAGE[:9])
    await reconcile(session, settings, EDUCATION, COUNTY, await plain_run(session, EDUCATION))
    assert not of(await findings(session, EDUCATION), "missing_from_school_roster")
    # The county's roster of the autumn term, written another way, leaves 己六 and 己十五
    # out; 己六 has a record of the spring term after it that says enrolled: at school.
    await stage.add(
        EDUCATION,
        six.id_number,
        None,
        "student",
        term=f"{Y + 1}春",
        status="enrolled",
        stage="primary",
        aid_kind="营养改善计划",
    )
    await roster_run(session, EDUCATION, f"{Y}-{Y + 1}-1")
    await reconcile(session, settings, EDUCATION, COUNTY, await plain_run(session, EDUCATION))
    assert set(of(await findings(session, EDUCATION), "missing_from_school_roster")) == {people["f"][3].id}


# ---- 教育帮扶: a student of a monitored household without aid -------------------------------


async def test_student_without_aid(session, settings, people):
    stage = Stage(session, settings)
    b, a = people["b"], people["a"]
    await session.execute(
        text("UPDATE households SET category = 'monitored' WHERE id = :id"), {"id": people["f"][0].household_id}
    )
    _head, five, six, fifteen, sixteen, _ = people["f"]
    spring, autumn = f"{Y}春", AUTUMN
    # 乙一 (monitored): aid last term, none this term → found.
    await stage.add(
        EDUCATION,
        b[0].id_number,
        None,
        "student",
        term=spring,
        status="enrolled",
        aid_kind="国家助学金",
        aid_amount="1000.00",
    )
    await stage.add(EDUCATION, b[0].id_number, None, "student", term=autumn, status="enrolled")
    # 己六: an aid kind with a zero amount → no aid, found.
    await stage.add(
        EDUCATION,
        six.id_number,
        None,
        "student",
        term=autumn,
        status="enrolled",
        aid_kind="营养改善计划",
        aid_amount="0.00",
    )
    # 己五: a named aid without an amount → aid. 己十五: a transfer, aid on one record → aid.
    await stage.add(EDUCATION, five.id_number, None, "student", term=autumn, status="enrolled", aid_kind="营养改善计划")
    await stage.add(EDUCATION, fifteen.id_number, None, "student", term=autumn, status="transferred")
    await stage.add(
        EDUCATION,
        fifteen.id_number,
        None,
        "student",
        term=autumn,
        status="enrolled",
        aid_kind="生活补助",
        aid_amount="625.00",
    )
    # 己十六: dropped out this term → out_of_school's, not this rule's. 甲一: lifted out, not monitored.
    await stage.add(EDUCATION, sixteen.id_number, None, "student", term=autumn, status="dropped_out")
    await stage.add(EDUCATION, a[0].id_number, None, "student", term=autumn, status="enrolled")

    counts = await reconcile(session, settings, EDUCATION, COUNTY, await plain_run(session, EDUCATION))
    found = of(await findings(session, EDUCATION), "student_without_aid")
    assert set(found) == {b[0].id, six.id}
    assert found[b[0].id].values == {
        "term": autumn,
        "school": None,
        "stage": None,
        "category": "monitored",
        "open_case": False,
    }
    assert found[b[0].id].severity == "medium" and found[b[0].id].clue_id is None and counts["clues"] == 0
    # A source that sends no aid fields says nothing about aid.
    bare = source("education", "education", "term", "status")
    await reconcile(session, settings, bare, COUNTY, await plain_run(session, EDUCATION))
    assert not [
        f for f in of(await findings(session, EDUCATION), "student_without_aid").values() if f.status != "resolved"
    ]


# ---- 家庭医生签约: a key-group member without a contract ---------------------------------


async def test_no_family_doctor(session, settings, people):
    stage = Stage(session, settings)
    a, b, c, e, f = (people[k] for k in "abcef")
    await session.execute(text("UPDATE households SET flags = '{dibao}' WHERE id = :id"), {"id": c[0].household_id})
    civil_granted = f[0]  # an ordinary household granted 低保 by civil affairs (no flag yet)
    await stage.add(
        CIVIL,
        civil_granted.id_number,
        None,
        "assistance",
        benefit="dibao",
        status="active",
        start_date=f"{Y - 1}-03-01",
    )
    unsigned = {"year": Y, "insured": True, "status": "normal", "family_doctor": False}
    for m in (a[0], b[0], c[0], e[0], civil_granted, f[1]):
        await stage.add(MEDICAL, m.id_number, None, "enrolment", **unsigned)
    await stage.add(MEDICAL, a[1].id_number, None, "enrolment", year=Y, insured=True)  # the source did not say
    # 丁一: unsigned last year, signed this year.
    await stage.add(MEDICAL, people["d"][0].id_number, None, "enrolment", **{**unsigned, "year": Y - 1})
    await stage.add(MEDICAL, people["d"][0].id_number, None, "enrolment", **{**unsigned, "family_doctor": True})

    counts = await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    found = of(await findings(session, MEDICAL), "no_family_doctor")
    # 甲一 lifted out, 乙一 monitored, 丙一 低保 flag; 己一 and his child 己五: their household
    # was granted 低保. Not: 甲二 (the record says nothing), 丁一 (signed in the latest
    # year), 戊一 (dead).
    assert set(found) == {a[0].id, b[0].id, c[0].id, civil_granted.id, f[1].id}
    assert found[a[0].id].values == {"year": Y, "family_doctor": False, "groups": ["lifted_out"]}
    assert found[b[0].id].values["groups"] == ["monitored"]
    assert found[c[0].id].values["groups"] == ["dibao"] and found[civil_granted.id].values["groups"] == ["dibao"]
    assert found[a[0].id].severity == "low" and found[a[0].id].clue_id is None and counts["clues"] == 0

    # The policy's key groups of seed 004 §10 only: the lifted-out member is no longer found.
    session.add(
        SyncPolicyRow(region_prefix=COUNTY, year=Y, values={"family_doctor_groups": ["dibao", "tekun", "monitored"]})
    )
    await session.flush()
    await reconcile(session, settings, MEDICAL, COUNTY, await plain_run(session, MEDICAL))
    still = {p for p, f in of(await findings(session, MEDICAL), "no_family_doctor").items() if f.status == "open"}
    assert still == {b[0].id, c[0].id, civil_granted.id, f[1].id}
    # A source without the field judges nothing.
    await reconcile(
        session,
        settings,
        source("medical-insurance", "medical-insurance", "year", "insured"),
        COUNTY,
        await plain_run(session, MEDICAL),
    )
    assert not [f for f in of(await findings(session, MEDICAL), "no_family_doctor").values() if f.status == "open"]


# ---- the declaration --------------------------------------------------------------------


def test_a_declaration_is_checked():
    assert declare(SourceKind.medical_insurance, COUNTY, " 2026 ").period == "2026"
    assert declare(SourceKind.education, COUNTY, "2026秋", TOWNSHIP).region == TOWNSHIP
    assert declare(SourceKind.education, COUNTY, "2026秋").region == COUNTY
    for kind, period, region, code in [
        (SourceKind.civil_affairs, "2026", None, "roster.kind"),
        (SourceKind.medical_insurance, "2026秋", None, "roster.period"),
        (SourceKind.education, "秋季学期", None, "roster.period"),
        (SourceKind.education, "2026秋", "529902", "roster.region"),
        (SourceKind.education, "2026秋", "5299", "roster.region"),
    ]:
        with pytest.raises(RosterError) as err:
            declare(kind, COUNTY, period, region)
        assert err.value.code == code


async def test_term_rank_in_python_and_sql_agree(session):
    from services.core.sync.rules.sql import TERM_RANK_SQL

    for term in ("2026秋", "2026秋季", "2027春", "2027 Spring", "2026-2027-1", "2026-2027-2", "2026", "秋季学期"):
        ours = (await session.execute(text(f"SELECT {term_rank_sql(':t')}"), {"t": term})).scalar_one()
        theirs = TERM_RANK_SQL.replace("r.data->>'term'", "CAST(:t AS text)")
        rules = (await session.execute(text(f"SELECT {theirs}"), {"t": term})).scalar_one()
        assert ours == rules == term_rank(term), term
