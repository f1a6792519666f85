"""Reconciliation against PostgreSQL: a small registry made through the API, department
records staged directly (as the staging step writes them), ``reconcile`` run in the test's
rolled-back transaction. Findings (rule, subject, values, region), risk clues raised once,
idempotent reruns, a condition gone (resolved) and back (open again)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from services.core import idnumber
from services.core.income.models import IncomeYear
from services.core.monitoring.models import ClueReport, IncomeLine, RiskClue
from services.core.sync.config import SourceConfig
from services.core.sync.models import DeptRecord, Finding, SyncPolicyRow
from services.core.sync.reconcile import RESOLVED_NOTE, raise_clues
from services.core.sync.reconcile import reconcile as reconcile_only
from services.core.timeutil import today
from tests.factories import COUNTY, OTHER_TOWNSHIP_VILLAGE, VILLAGE, id_number, person

Y = today().year
LAST = Y - 1
AUTUMN = f"{Y}秋"


async def reconcile(session, settings, source, county, run_id):
    """What the worker does: the reconciliation, then risk clues a batch at a time (small
    batches here, so the batching itself is exercised)."""
    counts = await reconcile_only(session, settings, source, county, run_id)
    counts["clues"], after = 0, 0
    while True:
        raised, after = await raise_clues(session, settings, source, county, after=after, limit=2)
        if after is None:
            return counts
        counts["clues"] += raised


def source(name: str, kind: str, unmatched_findings: bool = False) -> SourceConfig:
    return SourceConfig(
        name=name,
        kind=kind,
        counties=[COUNTY],
        unmatched_findings=unmatched_findings,
        fields={"record_id": ["id"], "id_number": ["sfzh"]},
    )


CIVIL = source("civil-affairs", "civil-affairs", unmatched_findings=True)
MEDICAL = source("medical-insurance", "medical-insurance")
EDUCATION = source("education", "education")


@dataclass
class Member:
    id: int
    household_id: int
    id_number: str
    region_code: str


async def _household(client, auth, region: str, members: list[dict], category: str = "lifted_out") -> list[Member]:
    r = await client.post(
        "/api/v1/households",
        headers=auth("county_staff.county"),
        json={"region_code": region, "category": category, "members": members},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    by_name = {m["name"]: m for m in body["members"]}
    return [Member(by_name[m["name"]]["id"], body["id"], m["id_number"], region) for m in members]


class Stage:
    """Writes dept_records rows the way the staging step does."""

    def __init__(self, session, settings):
        self.session, self.key = session, settings.id_hash_key
        self.n = 0

    async def add(self, src: SourceConfig, number: str, name: str | None, record_type: str, **data) -> DeptRecord:
        self.n += 1
        parsed = idnumber.normalise(number)
        record = DeptRecord(
            source=src.name,
            external_key=f"K{self.n:04d}",
            county=COUNTY,
            record_type=record_type,
            id_hash=idnumber.keyed_hash(parsed.value, self.key),
            id_masked=idnumber.mask(parsed.value),
            name=name,
            birth_date=parsed.birth_date,
            data=data,
            raw_enc=b"encrypted",
            raw_hash=hashlib.sha256(f"{self.n}".encode()).digest(),
            first_run_id=1,
            changed_run_id=1,
        )
        self.session.add(record)
        await self.session.flush()
        return record


async def findings(session, src: SourceConfig) -> dict[str, Finding]:
    rows = (
        await session.execute(
            select(Finding).where(Finding.source == src.name).execution_options(populate_existing=True)
        )
    ).scalars()
    return {f.fingerprint: f for f in rows}


def one(found: dict[str, Finding], rule: str) -> Finding:
    hits = [f for f in found.values() if f.rule_id == rule]
    assert len(hits) == 1, (rule, [f.fingerprint for f in found.values()])
    return hits[0]


def rules_of(found: dict[str, Finding]) -> list[str]:
    return sorted(f.rule_id for f in found.values())


@pytest.fixture
async def registry(client, auth, session):
    """H1: lifted-out family (VILLAGE) with children of 15 and 16 on 1 September; H2:
    lifted-out, other township, income below the line; H3: monitored, below the line; H4:
    nobody can work; H5: nobody can work, 特困; H6: ordinary."""
    h1 = await _household(
        client,
        auth,
        VILLAGE,
        [
            person("head", name="张三"),
            person("spouse", name="王芳"),
            person("child", name="张十五", male=True, born=date(Y - 16, 9, 2), schooling="junior_secondary"),
            person("child", name="张十六", male=True, born=date(Y - 16, 9, 1), schooling="junior_secondary"),
        ],
    )
    h2 = await _household(client, auth, OTHER_TOWNSHIP_VILLAGE, [person("head", name="陈二")])
    h3 = await _household(client, auth, VILLAGE, [person("head", name="刘三")])
    h4 = await _household(client, auth, VILLAGE, [person("head", name="孙四", labour_capacity="lost")])
    h5 = await _household(client, auth, VILLAGE, [person("head", name="周五", labour_capacity="none")])
    h6 = await _household(client, auth, VILLAGE, [person("head", name="李邻")], category="ordinary")
    await session.execute(
        text("UPDATE households SET category = 'monitored' WHERE id = :id"), {"id": h3[0].household_id}
    )
    session.add(IncomeLine(year=LAST, province_code="52", amount=Decimal("6000.00")))
    for member, per_capita in ((h2[0], "5000.00"), (h3[0], "5000.00")):
        session.add(_income(member, LAST, Decimal(per_capita)))
    await session.flush()
    for member in (h2[0], h3[0]):
        await income_quarters(session, member, LAST, Decimal("1250.00"))
    return {"h1": h1, "h2": h2, "h3": h3, "h4": h4, "h5": h5, "h6": h6}


async def income_quarters(
    session, member: Member, year: int, net: Decimal, quarters=(1, 2, 3, 4), members: int = 1
) -> None:
    """Quarterly income records (what ``income_rolling`` reads): ``net`` a quarter."""
    for quarter in quarters:
        await session.execute(
            text(
                "INSERT INTO income_records (household_id, region_code, year, quarter, wages, business, property, "
                "transfers, details, production_costs, eligible_spending, member_count, net_income, per_capita_net, "
                "version) VALUES (:h, :r, :y, :q, :net, 0, 0, 0, '{}', 0, 0, :m, :net, 0, 1)"
            ),
            {"h": member.household_id, "r": member.region_code, "y": year, "q": quarter, "net": net, "m": members},
        )


def _income(member: Member, year: int, net: Decimal) -> IncomeYear:
    zero = Decimal("0.00")
    return IncomeYear(
        household_id=member.household_id,
        year=year,
        region_code=member.region_code,
        quarters=4,
        wages=net,
        business=zero,
        property=zero,
        transfers=zero,
        production_costs=zero,
        eligible_spending=zero,
        member_count=1,
        net_income=net,
        per_capita_net=net,
    )


async def test_civil_affairs(session, settings, registry):
    stage = Stage(session, settings)
    h1, h2, h3, h4, h5, h6 = (registry[k] for k in ("h1", "h2", "h3", "h4", "h5", "h6"))
    active = {"status": "active", "start_date": f"{Y - 2}-03-01"}  # long-standing grants
    await stage.add(CIVIL, h1[0].id_number, "张 三", "assistance", benefit="temporary", **active)
    await stage.add(CIVIL, h1[1].id_number, "王芬", "assistance", benefit="temporary", **active)
    stranger = id_number(date(1960, 1, 1))
    await stage.add(CIVIL, stranger, "路人", "assistance", benefit="dibao", **active)
    grant = await stage.add(CIVIL, h2[0].id_number, "陈二", "assistance", benefit="dibao", dibao_class="2", **active)
    await stage.add(CIVIL, h3[0].id_number, "刘三", "assistance", benefit="dibao", **active)
    await stage.add(CIVIL, h5[0].id_number, "周五", "assistance", benefit="tekun", **active)
    await stage.add(
        CIVIL,
        h6[0].id_number,
        "李邻",
        "assistance",
        benefit="dibao",
        status="stopped",
        start_date="2020-01-01",
        end_date=f"{LAST}-06-30",
        stop_reason="死亡",
    )
    odd = await stage.add(
        CIVIL,
        h1[0].id_number,
        "张三",
        "assistance",
        benefit="temporary",
        dibao_class="1",
        start_date=f"{LAST}-05-01",
        end_date=f"{LAST}-04-01",
        status="stopped",
    )

    counts = await reconcile(session, settings, CIVIL, COUNTY, run_id=11)
    assert counts == {
        "matched": 7,
        "unmatched": 1,
        "findings_opened": 7,
        "findings_resolved": 0,
        "findings_open": 7,
        "clues": 1,
    }
    found = await findings(session, CIVIL)
    assert rules_of(found) == [
        "assistance_income_unknown",
        "assistance_not_monitored",
        "dead_elsewhere",
        "name_mismatch",
        "no_labour_no_assistance",
        "not_in_registry",
        "record_inconsistent",
    ]

    mismatch = one(found, "name_mismatch")  # "张 三" is 张三; 王芬 is not 王芳
    assert (
        mismatch.person_id == h1[1].id
        and mismatch.fingerprint == f"name_mismatch:civil-affairs:{COUNTY}:person:{h1[1].id}"
    )
    assert mismatch.values == {"registry_name": "王芳", "department_names": ["王芬"]}
    assert mismatch.region_code == VILLAGE and mismatch.severity == "medium" and not mismatch.health

    unknown = one(found, "not_in_registry")
    assert unknown.person_id is None and unknown.household_id is None
    assert unknown.region_code == COUNTY + "000000"  # the county's own region row
    assert unknown.values == {"id_masked": idnumber.mask(stranger), "names": ["路人"], "record_types": ["assistance"]}
    assert stranger not in str(unknown.values) and stranger not in unknown.fingerprint

    dead = one(found, "dead_elsewhere")
    assert dead.person_id == h6[0].id and dead.severity == "high"
    assert dead.values == {"registry_status": "alive", "death_date": None, "department_stop_reason": ["死亡"]}

    uncovered = one(found, "assistance_not_monitored")  # H3 (monitored) is not
    assert uncovered.household_id == h2[0].household_id and uncovered.region_code == OTHER_TOWNSHIP_VILLAGE
    # Twelve months of income (the latest four recorded quarters), against the latest line
    # set (this year's is not).
    assert uncovered.values == {
        "benefits": ["dibao"],
        "assisted_since": f"{Y - 2}-03-01",
        "income_complete": True,
        "quarters": 4,
        "period": f"{LAST}Q1–{LAST}Q4",
        "net_income": "5000.00",
        "member_count": 1,
        "per_capita_net": "5000.00",
        "line": "6000.00",
        "line_year": LAST,
        "line_of_current_year": False,
    }
    assert uncovered.records == [{"source": "civil-affairs", "external_key": grant.external_key}]
    assert uncovered.clue_id is not None and uncovered.status == "open" and uncovered.version >= 1

    unknown_income = one(found, "assistance_income_unknown")  # H5: 特困, no income recorded: no clue
    assert unknown_income.household_id == h5[0].household_id and unknown_income.clue_id is None
    assert unknown_income.values["income_complete"] is False and unknown_income.values["quarters"] == 0

    idle = one(found, "no_labour_no_assistance")  # H5 (特困) is not
    assert idle.household_id == h4[0].household_id and idle.records == []
    assert idle.values == {"living_members": 1, "labour_capacity": ["lost"]}

    inconsistent = one(found, "record_inconsistent")
    assert inconsistent.fingerprint.endswith(f":record:{odd.external_key}")
    assert inconsistent.values["problems"] == ["end_before_start", "dibao_class_not_dibao"]

    clue = (await session.execute(select(RiskClue).where(RiskClue.id == uncovered.clue_id))).scalar_one()
    assert clue.household_id == h2[0].household_id and clue.risk_types == ["income_below_line"]
    assert clue.channels == ["department_screening"] and clue.region_code == OTHER_TOWNSHIP_VILLAGE
    report = (await session.execute(select(ClueReport).where(ClueReport.clue_id == clue.id))).scalar_one()
    assert report.source == "sync:civil-affairs" and report.external_ref == uncovered.fingerprint
    assert "assistance_not_monitored" in report.evidence and "civil-affairs" in report.evidence
    assert report.reporter_user_id is None and report.reporter_client_id is None

    # A rerun changes nothing but when the findings were last seen.
    before = {fp: (f.last_seen_at, f.version) for fp, f in found.items()}
    again = await reconcile(session, settings, CIVIL, COUNTY, run_id=12)
    assert again == {
        "matched": 7,
        "unmatched": 1,
        "findings_opened": 0,
        "findings_resolved": 0,
        "findings_open": 7,
        "clues": 0,
    }
    found = await findings(session, CIVIL)
    assert set(found) == set(before)
    for fp, f in found.items():
        assert f.last_seen_at > before[fp][0] and f.version == before[fp][1] + 1
        assert f.first_run_id == 11 and f.last_run_id == 12
    assert await _clue_reports(session) == 1

    # The grant stops: the finding resolves itself …
    grant.data = {**grant.data, "status": "stopped"}
    await session.flush()
    gone = await reconcile(session, settings, CIVIL, COUNTY, run_id=13)
    assert (gone["findings_opened"], gone["findings_resolved"], gone["findings_open"]) == (0, 1, 6)
    resolved = (await findings(session, CIVIL))[uncovered.fingerprint]
    assert resolved.status == "resolved" and resolved.resolved_at is not None and resolved.resolved_by is None
    assert resolved.note == RESOLVED_NOTE and resolved.last_run_id == 12

    # … and opens again when the grant is back; the clue is not raised twice.
    grant.data = {**grant.data, "status": "active"}
    await session.flush()
    back = await reconcile(session, settings, CIVIL, COUNTY, run_id=14)
    assert (back["findings_opened"], back["findings_resolved"], back["findings_open"], back["clues"]) == (1, 0, 7, 0)
    reopened = (await findings(session, CIVIL))[uncovered.fingerprint]
    assert reopened.status == "open" and reopened.resolved_at is None and reopened.note is None
    assert reopened.id == uncovered.id and reopened.first_run_id == 11 and reopened.last_run_id == 14
    assert reopened.clue_id == uncovered.clue_id
    assert await _clue_reports(session) == 1
    assert (await session.execute(text("SELECT count(*) FROM sync_findings"))).scalar_one() == 7


async def _clue_reports(session) -> int:
    return (await session.execute(text("SELECT count(*) FROM clue_reports WHERE source LIKE 'sync:%'"))).scalar_one()


async def test_acknowledged_finding_stays_acknowledged_and_resolves(session, settings, registry):
    stage = Stage(session, settings)
    h1 = registry["h1"]
    record = await stage.add(
        CIVIL, h1[1].id_number, "王芬", "assistance", benefit="temporary", status="stopped", start_date=f"{LAST}-01-01"
    )
    await reconcile(session, settings, CIVIL, COUNTY, run_id=1)
    mismatch = one(await findings(session, CIVIL), "name_mismatch")
    await session.execute(text("UPDATE sync_findings SET status = 'acknowledged' WHERE id = :id"), {"id": mismatch.id})
    counts = await reconcile(session, settings, CIVIL, COUNTY, run_id=2)
    assert counts["findings_opened"] == 0 and counts["findings_open"] == 3  # and H4, H5: nobody can work
    assert (await findings(session, CIVIL))[mismatch.fingerprint].status == "acknowledged"
    record.name = "王芳"
    await session.flush()
    counts = await reconcile(session, settings, CIVIL, COUNTY, run_id=3)
    assert counts["findings_resolved"] == 1
    assert (await findings(session, CIVIL))[mismatch.fingerprint].status == "resolved"


async def test_medical_insurance(session, settings, registry):
    stage = Stage(session, settings)
    h1, h4, h5, h6 = (registry[k] for k in ("h1", "h4", "h5", "h6"))
    await stage.add(MEDICAL, h1[0].id_number, "张三", "enrolment", year=Y, insured=True, status="normal")
    await stage.add(MEDICAL, h1[1].id_number, "王芳", "enrolment", year=Y, insured=False, status="not_insured")
    await stage.add(MEDICAL, h6[0].id_number, "李邻", "enrolment", year=Y, insured=False, status="not_insured")
    claims = [
        await stage.add(
            MEDICAL,
            h1[0].id_number,
            "张三",
            "claim",
            year=Y,
            settled_on=f"{Y}-01-02",
            hospital="县医院",
            total_cost="20000.00",
            out_of_pocket="6000.00",
        ),
        await stage.add(
            MEDICAL,
            h1[1].id_number,
            "王芳",
            "claim",
            year=Y,
            settled_on=f"{Y}-01-03",
            hospital="市医院",
            total_cost="9000.00",
            out_of_pocket="4000.01",
        ),
    ]
    # H4 exactly at both thresholds: not above; H5 above its previous year's income only.
    await stage.add(
        MEDICAL,
        h4[0].id_number,
        "孙四",
        "claim",
        year=Y,
        settled_on=f"{Y}-01-04",
        total_cost="30000.00",
        out_of_pocket="10000.00",
    )
    await stage.add(
        MEDICAL,
        h5[0].id_number,
        "周五",
        "claim",
        year=Y,
        settled_on=f"{Y}-01-05",
        total_cost="5000.00",
        out_of_pocket="3000.00",
    )
    session.add_all([_income(h4[0], LAST, Decimal("10000.00")), _income(h5[0], LAST, Decimal("2999.99"))])
    await stage.add(
        MEDICAL, h6[0].id_number, "李邻", "enrolment", year=Y - 1, status="deceased", death_date=f"{LAST}-12-01"
    )
    odd = await stage.add(
        MEDICAL,
        h6[0].id_number,
        "李邻",
        "claim",
        year=Y - 5,
        settled_on=f"{Y - 5}-02-01",
        total_cost="100.00",
        out_of_pocket="200.00",
    )
    await stage.add(MEDICAL, id_number(date(1990, 2, 2)), "路人", "enrolment", year=Y, insured=False)

    counts = await reconcile(session, settings, MEDICAL, COUNTY, run_id=21)
    assert counts["matched"] == 9 and counts["unmatched"] == 1  # no finding: unmatched_findings is off
    found = await findings(session, MEDICAL)
    assert rules_of(found) == [
        "dead_elsewhere",
        "large_medical_cost",
        "large_medical_cost",
        "not_insured",
        "record_inconsistent",
    ]
    assert counts["clues"] == 3 and counts["findings_open"] == 5

    uninsured = one(found, "not_insured")  # H6 is ordinary: not a target
    assert uninsured.person_id == h1[1].id and uninsured.fingerprint.endswith(f":person:{h1[1].id}:{Y}")
    assert uninsured.values == {
        "year": Y,
        "insured": False,
        "status": "not_insured",
        "registry_medical_insurance": True,
        "registry_disagrees": True,
    }
    assert not uninsured.health and uninsured.clue_id is not None

    costs = {f.household_id: f for f in found.values() if f.rule_id == "large_medical_cost"}
    assert set(costs) == {h1[0].household_id, h5[0].household_id}
    family = costs[h1[0].household_id]
    assert family.health and family.severity == "high"
    assert family.values["out_of_pocket"] == "10000.01" and family.values["thresholds_hit"] == ["fixed"]
    assert family.values["claim_count"] == 2 and family.values["income"] is None
    assert family.values["income_complete"] is False and family.values["income_year"] == LAST
    assert family.values["category"] == "lifted_out" and family.values["fixed_yuan"] == "10000.00"
    assert [c["out_of_pocket"] for c in family.values["claims"]] == ["6000.00", "4000.01"]
    assert family.records == [{"source": "medical-insurance", "external_key": c.external_key} for c in claims]
    single = costs[h5[0].household_id]
    assert single.values["thresholds_hit"] == ["income_share"] and single.values["income_threshold"] == "2999.99"
    assert single.values["income_basis"] == "total" and single.values["income"] == "2999.99"

    clue = (await session.execute(select(RiskClue).where(RiskClue.id == family.clue_id))).scalar_one()
    # Clues merge only when they share a risk type: not insured ("other") is a clue of its own.
    assert clue.risk_types == ["illness"] and uninsured.clue_id != family.clue_id

    dead = one(found, "dead_elsewhere")
    assert dead.person_id == h6[0].id and dead.values["death_date"] == f"{LAST}-12-01"
    assert dead.values["department_status"] == ["deceased"]
    assert one(found, "record_inconsistent").values["problems"] == ["out_of_pocket_above_total"]
    assert odd.external_key in one(found, "record_inconsistent").fingerprint


async def test_thresholds_come_from_the_policy(session, settings, registry):
    """The sync policy of the county wins over its province's; a threshold switched off
    resolves the rule's findings."""
    stage = Stage(session, settings)
    h4 = registry["h4"]
    await stage.add(
        MEDICAL,
        h4[0].id_number,
        "孙四",
        "claim",
        year=Y,
        settled_on=f"{Y}-01-04",
        total_cost="3000.00",
        out_of_pocket="2000.00",
    )
    quiet = settings.model_copy(update={"sync": settings.sync.model_copy(update={"raise_clues": False})})
    session.add_all(
        [
            SyncPolicyRow(
                region_prefix=COUNTY[:2], year=Y - 3, values={"large_cost_fixed_yuan": {"lifted_out": "1000"}}
            ),
            SyncPolicyRow(
                region_prefix=COUNTY, year=Y - 1, values={"large_cost_fixed_yuan": {"lifted_out": "1999.99"}}
            ),
            SyncPolicyRow(region_prefix=COUNTY, year=Y + 1, values={"large_cost_fixed_yuan": {"lifted_out": "1"}}),
        ]
    )
    await session.flush()
    counts = await reconcile(session, quiet, MEDICAL, COUNTY, run_id=1)
    assert counts["findings_opened"] == 1 and counts["clues"] == 0
    finding = one(await findings(session, MEDICAL), "large_medical_cost")
    assert finding.values["fixed_yuan"] == "1999.99" and finding.values["thresholds_hit"] == ["fixed"]
    assert finding.clue_id is None
    # The county's row from this year switches both tests off for the category: the rule
    # finds nothing, and its findings resolve.
    session.add(
        SyncPolicyRow(
            region_prefix=COUNTY,
            year=Y,
            values={"large_cost_fixed_yuan": {"lifted_out": None}, "large_cost_income_share": {"lifted_out": None}},
        )
    )
    await session.flush()
    counts = await reconcile(session, quiet, MEDICAL, COUNTY, run_id=2)
    assert counts["findings_resolved"] == 1 and counts["findings_open"] == 0


async def test_education(session, settings, registry):
    stage = Stage(session, settings)
    h1 = registry["h1"]
    head, _, fifteen, sixteen = h1
    await stage.add(
        EDUCATION,
        fifteen.id_number,
        "张十五",
        "student",
        term=f"{Y}春",
        stage="junior_secondary",
        status="enrolled",
        school="一中",
    )
    await stage.add(
        EDUCATION,
        fifteen.id_number,
        "张十五",
        "student",
        term=AUTUMN,
        stage="junior_secondary",
        status="dropped_out",
        school="一中",
    )
    await stage.add(
        EDUCATION,
        sixteen.id_number,
        "张十六",
        "student",
        term=AUTUMN,
        stage="junior_secondary",
        status="dropped_out",
        school="一中",
    )
    await stage.add(EDUCATION, head.id_number, "张三", "student", term=AUTUMN, stage="primary", status="enrolled")

    counts = await reconcile(session, settings, EDUCATION, COUNTY, run_id=31)
    found = await findings(session, EDUCATION)
    assert rules_of(found) == ["out_of_school", "record_inconsistent", "schooling_differs", "schooling_differs"]
    dropout = one(found, "out_of_school")  # 15 on 1 September; his brother is 16
    assert dropout.person_id == fifteen.id
    assert dropout.fingerprint == f"out_of_school:education:{COUNTY}:person:{fifteen.id}:{AUTUMN}"
    assert dropout.values == {
        "term": AUTUMN,
        "school": "一中",
        "stage": "junior_secondary",
        "status": "dropped_out",
        "age_on_1_september": 15,
    }
    assert counts["clues"] == 1
    clue = (await session.execute(select(RiskClue).where(RiskClue.id == dropout.clue_id))).scalar_one()
    assert clue.risk_types == ["out_of_school"]
    assert {f.person_id for f in found.values() if f.rule_id == "schooling_differs"} == {fifteen.id, sixteen.id}
    over_age = one(found, "record_inconsistent")
    assert over_age.person_id == head.id and over_age.values["problems"] == ["compulsory_stage_over_age"]


async def test_county_without_records(session, settings, registry):
    """A county with no records: nothing matched; the registry's households without labour
    are still found (nobody there receives anything)."""
    counts = await reconcile(session, settings, CIVIL, COUNTY, run_id=1)
    assert counts == {
        "matched": 0,
        "unmatched": 0,
        "findings_opened": 2,
        "findings_resolved": 0,
        "findings_open": 2,
        "clues": 0,
    }
    assert await reconcile(session, settings, EDUCATION, COUNTY, run_id=2) == {
        "matched": 0,
        "unmatched": 0,
        "findings_opened": 0,
        "findings_resolved": 0,
        "findings_open": 0,
        "clues": 0,
    }


async def test_unknown_county_region(session, settings):
    with pytest.raises(LookupError):
        await reconcile(session, settings, CIVIL, "119999", run_id=1)


TERMS = {
    "2026秋": 4052,
    "2026秋季": 4052,
    "2026 autumn": 4052,
    " 2026秋 ": 4052,
    "2027春": 4053,
    "2027春季": 4053,
    "2027 Spring": 4053,
    "2026-2027-1": 4052,
    "2026-2027-2": 4053,
    "2026": 4052,
    "秋季学期": None,
    "": None,
    "２０２６秋": None,
    "2026-27": 4052,
    "20261": 4052,
}
NAMES = [
    ("张三", "张 三", False),
    ("张三", "张\u3000三", False),
    ("阿依古丽·买买提", "阿依古丽•买买提", False),
    ("阿依古丽·买买提", "阿依古丽．买买提", False),
    ("阿依古丽·买买提", "阿依古丽・买买提", False),
    ("Zhang San", "ＺＨＡＮＧ　ＳＡＮ", False),
    ("王芳", "王芬", True),
    ("王芳", "王芳芳", True),
    ("王芳", " · ", False),
    ("李・四", "李‧四", False),
    ("A", "a", False),
]


async def test_term_ranks_and_name_comparison_in_sql(session):
    """How the SQL ranks terms (2 × the school year's first year, + 1 in spring; NULL when
    not understood) and compares names (NFKC, separators and case ignored; a department
    name of separators only disagrees with nothing)."""
    from services.core.sync.rules import sql

    for term, expected in TERMS.items():
        rank = (
            await session.execute(
                text(f"SELECT {sql.TERM_RANK_SQL} FROM (SELECT CAST(:d AS jsonb) AS data) r"),
                {"d": json.dumps({"term": term})},
            )
        ).scalar_one()
        assert rank == expected, term
    for registry, department, expected in NAMES:
        differ = (
            await session.execute(
                text(
                    f"SELECT {sql.norm('CAST(:b AS text)')} <> '' AND {sql.norm('CAST(:b AS text)')} <> {sql.norm('CAST(:a AS text)')}"
                ),
                {"a": registry, "b": department},
            )
        ).scalar_one()
        assert differ == expected, (registry, department)


async def test_reopened_finding_raises_a_new_clue_when_its_clue_ended(session, settings, registry):
    """A dismissed clue holds while its finding stays open; the finding resolved and found
    again raises a new clue (its own reference); a clue whose case is still running is
    kept; one whose case has ended (rejected) is replaced again."""
    from services.core.monitoring import clues as clue_service
    from services.core.monitoring.context import load_policy_context
    from services.core.monitoring.enums import ClueStatus
    from services.core.monitoring.models import MonitoringCase

    stage = Stage(session, settings)
    h2 = registry["h2"][0]
    grant = await stage.add(
        CIVIL, h2.id_number, "陈二", "assistance", benefit="dibao", status="active", start_date=f"{LAST}-03-01"
    )
    run = iter(range(21, 40))

    async def again(status: str | None = None) -> tuple[Finding, int]:
        if status is not None:
            grant.data = {**grant.data, "status": status}
            await session.flush()
        counts = await reconcile(session, settings, CIVIL, COUNTY, run_id=next(run))
        finding = one(await findings(session, CIVIL), "assistance_not_monitored") if status != "stopped" else None
        return finding, counts["clues"]

    async def clue_of(finding: Finding) -> RiskClue:
        return (
            await session.execute(
                select(RiskClue).where(RiskClue.id == finding.clue_id).execution_options(populate_existing=True)
            )
        ).scalar_one()

    first, raised = await again()
    assert raised == 1 and first.clue_round == 0
    first_clue, fingerprint = first.clue_id, first.fingerprint  # the row object is refreshed by each run
    rules = await load_policy_context(session)
    await clue_service.close(
        session, rules, await clue_of(first), ClueStatus.dismissed, None, reason="已核实，收入达标"
    )

    # Still open, clue dismissed: not raised again, run after run.
    for _ in range(2):
        still, raised = await again()
        assert raised == 0 and still.clue_id == first_clue and still.clue_round == 0
    assert await _clue_reports(session) == 1

    # Gone, then back: a new clue under the next round's reference.
    await again("stopped")
    back, raised = await again("active")
    assert raised == 1 and back.status == "open" and back.clue_round == 1
    assert back.clue_id is not None and back.clue_id != first_clue
    second = await clue_of(back)
    assert second.status == ClueStatus.open and second.household_id == h2.household_id
    report = (await session.execute(select(ClueReport).where(ClueReport.clue_id == second.id))).scalar_one()
    assert report.external_ref == f"{fingerprint}:r1" and report.source == "sync:civil-affairs"
    assert (await again())[1] == 0

    # Turned into a case that is still running: the reopened finding keeps its clue.
    case = MonitoringCase(
        household_id=h2.household_id,
        region_code=h2.region_code,
        case_type="marginal",
        risk_types=["income_below_line"],
        status="verification",
        first_clue_on=today(),
        opened_on=today(),
        deadline_breaches=[],
    )
    session.add(case)
    await session.flush()
    await clue_service.close(session, rules, second, ClueStatus.converted, None, case_id=case.id)
    await again("stopped")
    kept, raised = await again("active")
    assert raised == 0 and kept.clue_id == second.id and kept.clue_round == 1

    # The case ended (not taken into monitoring): found again, a third clue.
    await session.execute(text("UPDATE monitoring_cases SET status = 'rejected' WHERE id = :id"), {"id": case.id})
    await again("stopped")
    third, raised = await again("active")
    assert raised == 1 and third.clue_round == 2 and third.clue_id not in (first_clue, second.id)
    refs = (
        (
            await session.execute(
                text("SELECT external_ref FROM clue_reports WHERE source = 'sync:civil-affairs' ORDER BY id")
            )
        )
        .scalars()
        .all()
    )
    assert refs == [fingerprint, f"{fingerprint}:r1", f"{fingerprint}:r2"]


def test_clue_ref_of_later_rounds_fits_the_column():
    from services.core.sync.reconcile import EXTERNAL_REF_MAX, clue_ref

    short = f"out_of_school:education:{COUNTY}:person:12"
    assert clue_ref(short) == short and clue_ref(short, 3) == short + ":r3"
    long = f"record_inconsistent:{'x' * 60}:{COUNTY}:record:{'k' * 60}"
    refs = {clue_ref(long, n) for n in range(4)}
    assert len(refs) == 4 and all(len(r) <= EXTERNAL_REF_MAX and r.startswith("record_inconsistent:") for r in refs)
    assert clue_ref(long) == f"record_inconsistent:{hashlib.sha256(long.encode()).hexdigest()[:40]}"


async def test_findings_of_one_household_merge_within_a_batch(session, settings, registry):
    """Two members of a family not insured: two findings of risk "other" in one batch make
    one clue with two reports (created, then merged), and both findings name it."""
    stage = Stage(session, settings)
    h1 = registry["h1"]
    for member, name in ((h1[0], "张三"), (h1[1], "王芳")):
        await stage.add(MEDICAL, member.id_number, name, "enrolment", year=Y, insured=False, status="not_insured")
    await reconcile_only(session, settings, MEDICAL, COUNTY, run_id=31)
    raised, after = await raise_clues(session, settings, MEDICAL, COUNTY)
    assert raised == 2 and after is not None
    assert await raise_clues(session, settings, MEDICAL, COUNTY, after=after) == (0, None)
    uninsured = [f for f in (await findings(session, MEDICAL)).values() if f.rule_id == "not_insured"]
    assert len(uninsured) == 2 and uninsured[0].clue_id == uninsured[1].clue_id is not None
    clue = (await session.execute(select(RiskClue).where(RiskClue.id == uninsured[0].clue_id))).scalar_one()
    assert clue.report_count == 2 and clue.risk_types == ["other"] and clue.household_id == h1[0].household_id
    assert clue.next_deadline is not None and clue.next_deadline_kind == "identification"
    refs = (
        (
            await session.execute(
                select(ClueReport.external_ref).where(ClueReport.clue_id == clue.id).order_by(ClueReport.id)
            )
        )
        .scalars()
        .all()
    )
    assert sorted(refs) == sorted(f.fingerprint for f in uninsured)
