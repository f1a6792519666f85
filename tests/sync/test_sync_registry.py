"""The registry checks against PostgreSQL: rules on the registry alone (and the invalid-ID
rule of every source, over the quarantine), run through the real check in the test's
rolled-back transaction. For each rule what it finds and what it leaves alone; a rerun
that no longer finds a condition resolves its finding; the run row; the findings API."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from services.core import idnumber
from services.core.income.models import IncomeRecord
from services.core.income.rolling import quarter_of, quarter_of_index
from services.core.monitoring.models import Measure, MonitoringCase
from services.core.sync.config import SourceConfig
from services.core.sync.models import Finding, QuarantinedRecord, SyncPolicyRow
from services.core.sync.normalise import masked_id
from services.core.sync.reconcile import RESOLVED_NOTE, reconcile
from services.core.sync.registry_check import check_registry
from services.core.timeutil import now, today
from tests.factories import COUNTY, OTHER_COUNTY_VILLAGE, OTHER_TOWNSHIP_VILLAGE, VILLAGE, code_of, id_number, person

TODAY = today()
ZERO = Decimal("0.00")


def years_ago(years: int, days: int = 0) -> date:
    """The day ``years`` years before today (28 February for a 29th), less ``days``."""
    try:
        day = TODAY.replace(year=TODAY.year - years)
    except ValueError:
        day = TODAY.replace(year=TODAY.year - years, day=28)
    return day - timedelta(days=days)


@dataclass
class Home:
    id: int
    region_code: str
    members: dict[str, int]  # name -> person id


async def household(client, auth, members: list[dict], region: str = VILLAGE, category: str = "lifted_out") -> Home:
    user = "county_staff.county" if region.startswith(COUNTY) else "county_staff.other"
    r = await client.post(
        "/api/v1/households", headers=auth(user), json={"region_code": region, "category": category, "members": members}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Home(body["id"], region, {m["name"]: m["id"] for m in body["members"]})


async def add_case(session, home: Home, risks=("illness",), status="assisting") -> MonitoringCase:
    case = MonitoringCase(
        household_id=home.id,
        region_code=home.region_code,
        case_type="marginal",
        risk_types=list(risks),
        status=status,
        first_clue_on=TODAY,
        opened_on=TODAY,
        deadline_breaches=[],
    )
    session.add(case)
    await session.flush()
    return case


async def add_measure(session, case: MonitoringCase, category: str, status: str = "in_progress") -> None:
    session.add(
        Measure(
            id=uuid.uuid4(),
            case_id=case.id,
            household_id=case.household_id,
            region_code=case.region_code,
            category=category,
            content="措施",
            responsible_unit="县医保局",
            planned_on=TODAY,
            start_on=TODAY,
            status=status,
        )
    )
    await session.flush()


async def add_income(session, home: Home, spending: list[str]) -> None:
    """Quarters ending with this one, the last quarter's spending last."""
    now = quarter_of(TODAY)
    for back, amount in enumerate(reversed(spending)):
        year, quarter = quarter_of_index(now - back)
        session.add(
            IncomeRecord(
                household_id=home.id,
                region_code=home.region_code,
                year=year,
                quarter=quarter,
                wages=Decimal("3000.00"),
                business=ZERO,
                property=ZERO,
                transfers=ZERO,
                details={},
                production_costs=ZERO,
                eligible_spending=Decimal(amount),
                member_count=2,
                net_income=Decimal("3000.00") - Decimal(amount),
                per_capita_net=(Decimal("3000.00") - Decimal(amount)) / 2,
            )
        )
    await session.flush()


async def sql(session, statement: str, **params) -> None:
    await session.execute(text(statement), params)


async def findings(session, source: str = "registry") -> dict[str, Finding]:
    rows = (
        await session.execute(select(Finding).where(Finding.source == source).execution_options(populate_existing=True))
    ).scalars()
    return {f.fingerprint: f for f in rows}


def of_rule(found: dict[str, Finding], rule: str) -> list[Finding]:
    return sorted((f for f in found.values() if f.rule_id == rule), key=lambda f: f.fingerprint)


def open_of_rule(found: dict[str, Finding], rule: str) -> list[Finding]:
    return [f for f in of_rule(found, rule) if f.status == "open"]


async def check(session, settings) -> dict:
    return await check_registry(session, settings, COUNTY)


def fp(rule: str, subject: str) -> str:
    return f"{rule}:registry:{COUNTY}:{subject}"


# ---- illness without cost -----------------------------------------------------------------


async def test_illness_without_cost(session, settings, client, auth):
    couple = [person("head", name="甲"), person("spouse", name="乙")]
    free = await household(client, auth, couple)  # illness, a whole year without spending: found
    paying = await household(client, auth, [person("head", name="丙")])  # spent something
    partial = await household(client, auth, [person("head", name="丁")])  # three quarters only
    disaster = await household(client, auth, [person("head", name="戊")])  # another risk
    closed = await household(client, auth, [person("head", name="己")])  # eliminated case
    unknown = await household(client, auth, [person("head", name="庚")])  # no income recorded
    case = await add_case(session, free, ("disaster", "illness"))
    for home, risks in (
        (paying, ("illness",)),
        (partial, ("illness",)),
        (disaster, ("disaster",)),
        (unknown, ("illness",)),
    ):
        await add_case(session, home, risks)
    await add_case(session, closed, ("illness",), status="eliminated")
    await add_income(session, free, ["0", "0", "0", "0"])
    await add_income(session, paying, ["0", "0", "120.50", "0"])
    await add_income(session, partial, ["0", "0", "0"])
    await add_income(session, disaster, ["0", "0", "0", "0"])
    await add_income(session, closed, ["0", "0", "0", "0"])

    counts = await check(session, settings)
    assert counts["rules"]["illness_without_cost"] == 1
    found = of_rule(await findings(session), "illness_without_cost")
    assert [f.fingerprint for f in found] == [fp("illness_without_cost", f"case:{case.id}")]
    [finding] = found
    now = quarter_of(TODAY)
    first, last = quarter_of_index(now - 3), quarter_of_index(now)
    assert finding.values == {
        "case_id": case.id,
        "risk_types": ["disaster", "illness"],
        "quarters": 4,
        "period": f"{first[0]}Q{first[1]}–{last[0]}Q{last[1]}",
        "eligible_spending": "0.00",
    }
    assert finding.household_id == free.id and finding.person_id is None and finding.records == []
    assert finding.health and finding.severity == "medium" and finding.region_code == VILLAGE

    # Spending entered for a quarter of the window: resolved.
    await sql(
        session,
        "UPDATE income_records SET eligible_spending = 800 WHERE household_id = :h AND quarter = "
        "(SELECT min(quarter) FROM income_records WHERE household_id = :h)",
        h=free.id,
    )
    again = await check(session, settings)
    assert again["findings_resolved"] == 1
    assert (await findings(session))[finding.fingerprint].status == "resolved"


# ---- uninsured without measure --------------------------------------------------------------


async def test_uninsured_without_measure(session, settings, client, auth):
    bare = await household(
        client, auth, [person("head", name="甲"), person("spouse", name="乙", medical_insurance=False)]
    )
    helped = await household(client, auth, [person("head", name="丙", medical_insurance=False)])
    stopped = await household(client, auth, [person("head", name="丁", medical_insurance=False)])
    social = await household(client, auth, [person("head", name="戊", medical_insurance=False)])
    ordinary = await household(
        client, auth, [person("head", name="己", medical_insurance=False)], category="ordinary"
    )  # not a watched household: no finding
    gone = await household(
        client, auth, [person("head", name="庚"), person("spouse", name="辛", medical_insurance=False)]
    )
    bare_case = await add_case(session, bare, ("disaster",))
    await add_measure(session, bare_case, "industry")  # not a health or social measure
    await add_measure(session, await add_case(session, helped), "health", status="planned")
    stopped_case = await add_case(session, stopped)
    await add_measure(session, stopped_case, "health", status="stopped")  # stopped: no protection
    await add_measure(session, await add_case(session, social), "social_assistance")
    await add_case(session, gone)
    await sql(
        session,
        "UPDATE persons SET status = 'deceased', date_of_death = :d WHERE id = :id",
        d=TODAY,
        id=gone.members["辛"],
    )

    counts = await check(session, settings)
    found = of_rule(await findings(session), "uninsured_without_measure")
    assert counts["rules"]["uninsured_without_measure"] == 2
    assert {f.person_id for f in found} == {bare.members["乙"], stopped.members["丁"]}
    assert ordinary.id not in {f.household_id for f in found}
    spouse = next(f for f in found if f.person_id == bare.members["乙"])
    assert spouse.fingerprint == fp("uninsured_without_measure", f"person:{bare.members['乙']}")
    assert spouse.values == {
        "medical_insurance": False,
        "case_id": bare_case.id,
        "household_category": "lifted_out",
        "measure_categories": ["industry"],
    }
    assert not spouse.health and spouse.household_id == bare.id
    assert next(f for f in found if f.person_id == stopped.members["丁"]).values["measure_categories"] == []

    # Insured now: resolved; the other stays.
    await sql(session, "UPDATE persons SET medical_insurance = true WHERE id = :id", id=bare.members["乙"])
    again = await check(session, settings)
    assert (again["findings_opened"], again["findings_resolved"]) == (0, 1)
    assert [f.person_id for f in open_of_rule(await findings(session), "uninsured_without_measure")] == [
        stopped.members["丁"]
    ]


async def test_uninsured_in_a_monitored_household_without_a_case(session, settings, client, auth):
    home = await household(client, auth, [person("head", name="甲", medical_insurance=False)])
    await sql(session, "UPDATE households SET category = 'monitored' WHERE id = :id", id=home.id)
    await check(session, settings)
    [finding] = of_rule(await findings(session), "uninsured_without_measure")
    assert finding.values["case_id"] is None and finding.values["household_category"] == "monitored"


# ---- child employed ---------------------------------------------------------------------------


async def test_child_employed(session, settings, client, auth):
    kids = [
        person("head", name="父"),
        person("child", name="十五", born=years_ago(16, days=-1), employment="migrant"),  # 16 tomorrow
        person("child", name="十六", born=years_ago(16), employment="migrant"),  # 16 today: not a child
        person("child", name="十岁", born=years_ago(10)),
        person("child", name="九岁", born=years_ago(9)),
        person("child", name="八岁", born=years_ago(8)),
    ]
    home = await household(client, auth, kids)
    m = home.members
    # Months or income recorded without an employment kind count too; zeros do not.
    await sql(session, "UPDATE persons SET employment_months = 3 WHERE id = :id", id=m["十岁"])
    await sql(session, "UPDATE persons SET employment_income = 500 WHERE id = :id", id=m["九岁"])
    await sql(session, "UPDATE persons SET employment_months = 0, employment_income = 0 WHERE id = :id", id=m["八岁"])

    counts = await check(session, settings)
    found = of_rule(await findings(session), "child_employed")
    assert counts["rules"]["child_employed"] == 3
    assert {f.person_id for f in found} == {m["十五"], m["十岁"], m["九岁"]}
    fifteen = next(f for f in found if f.person_id == m["十五"])
    assert fifteen.values == {
        "age": 15,
        "age_limit": 16,
        "employment": "migrant",
        "employment_months": None,
        "employment_income": None,
    }
    assert next(f for f in found if f.person_id == m["九岁"]).values["employment_income"] == "500.00"
    assert not fifteen.health and fifteen.severity == "medium"

    # Employment cleared: resolved.
    await sql(session, "UPDATE persons SET employment = 'none' WHERE id = :id", id=m["十五"])
    again = await check(session, settings)
    assert again["findings_resolved"] == 1
    assert {f.person_id for f in open_of_rule(await findings(session), "child_employed")} == {m["十岁"], m["九岁"]}

    # The age is the county's policy: at 17, the sixteen-year-old is a child too; at 10,
    # only the nine-year-old is.
    session.add(SyncPolicyRow(region_prefix=COUNTY, year=TODAY.year, values={"child_employment_age": 17}))
    await session.flush()
    await check(session, settings)
    older = {f.person_id: f for f in open_of_rule(await findings(session), "child_employed")}
    assert set(older) == {m["十六"], m["十岁"], m["九岁"]} and older[m["十六"]].values["age_limit"] == 17
    await sql(session, "UPDATE sync_policies SET values = '{\"child_employment_age\": 10}'")
    await check(session, settings)
    assert {f.person_id for f in open_of_rule(await findings(session), "child_employed")} == {m["九岁"]}


# ---- monitored twice --------------------------------------------------------------------------


async def test_monitored_twice(session, settings, client, auth):
    first = await household(client, auth, [person("head", name="甲"), person("spouse", name="乙")])
    second = await household(client, auth, [person("head", name="丙")])
    third = await household(client, auth, [person("head", name="丁")])  # no open case
    case_1 = await add_case(session, first, ("disaster",))
    case_2 = await add_case(session, second, ("disaster",))
    await add_case(session, third, ("disaster",), status="eliminated")
    # 甲 moved to the second household, but the first membership was never ended (the
    # only way one person is in two open cases: a person has one household and a household
    # one open case); 乙's old membership there was ended properly; 甲 is also an open
    # member of the third household, whose case is closed.
    await sql(
        session,
        "INSERT INTO memberships (person_id, household_id, region_code, relation, start_reason) "
        "VALUES (:p, :h, :r, 'spouse', 'moved')",
        p=first.members["甲"],
        h=second.id,
        r=VILLAGE,
    )
    await sql(
        session,
        "INSERT INTO memberships (person_id, household_id, region_code, relation, start_reason, "
        "ended_at, end_reason) VALUES (:p, :h, :r, 'other', 'moved', now(), 'moved')",
        p=first.members["乙"],
        h=second.id,
        r=VILLAGE,
    )
    await sql(
        session,
        "INSERT INTO memberships (person_id, household_id, region_code, relation, start_reason) "
        "VALUES (:p, :h, :r, 'other', 'moved')",
        p=first.members["甲"],
        h=third.id,
        r=VILLAGE,
    )

    counts = await check(session, settings)
    found = of_rule(await findings(session), "monitored_twice")
    assert counts["rules"]["monitored_twice"] == 1
    [twice] = found
    assert twice.person_id == first.members["甲"] and twice.household_id == first.id
    assert twice.values == {"case_ids": [case_1.id, case_2.id], "household_ids": [first.id, second.id]}

    # The other ways are closed by the schema: a second open case of one household, or a
    # second person with the same ID number, is refused.
    for statement, params, constraint in (
        (
            "INSERT INTO monitoring_cases (household_id, region_code, case_type, risk_types, status, first_clue_on, "
            "opened_on, deadline_breaches, version, deadline_provisional) VALUES (:h, :r, 'marginal', '{disaster}', "
            "'verification', :d, :d, '[]', 1, false)",
            {"h": first.id, "r": VILLAGE, "d": TODAY},
            "uq_monitoring_cases_open_household",
        ),
        (
            "INSERT INTO persons (id_number_enc, id_hash, id_masked, name, sex, birth_date, region_code, "
            "labour_capacity, schooling, medical_insurance, pension_insurance, family_doctor, employment, status, "
            "version) SELECT id_number_enc, id_hash, id_masked, '又一个', sex, birth_date, region_code, "
            "labour_capacity, schooling, medical_insurance, pension_insurance, family_doctor, employment, status, 1 "
            "FROM persons WHERE id = :p",
            {"p": first.members["甲"]},
            "id_hash",
        ),
    ):
        with pytest.raises(IntegrityError, match=constraint):
            async with session.begin_nested():
                await session.execute(text(statement), params)

    # The old membership ended: resolved.
    await sql(
        session,
        "UPDATE memberships SET ended_at = now(), end_reason = 'moved' WHERE person_id = :p AND household_id = :h",
        p=first.members["甲"],
        h=second.id,
    )
    again = await check(session, settings)
    assert again["findings_resolved"] == 1 and open_of_rule(await findings(session), "monitored_twice") == []


# ---- head and spouse of the same sex ----------------------------------------------------------


async def test_head_spouse_same_sex(session, settings, client, auth):
    same = await household(client, auth, [person("head", name="甲"), person("spouse", name="乙", male=True)])
    mixed = await household(client, auth, [person("head", name="丙"), person("spouse", name="丁")])
    widowed = await household(client, auth, [person("head", name="戊"), person("spouse", name="己", male=True)])
    await sql(
        session,
        "UPDATE persons SET status = 'deceased', date_of_death = :d WHERE id = :id",
        d=TODAY,
        id=widowed.members["己"],
    )
    # Two heads (another inconsistency) and two spouses still make one finding per household.
    crowded = await household(
        client,
        auth,
        [
            person("head", name="庚"),
            person("spouse", name="辛", male=True),
            person("other", name="壬", male=True),
            person("other", name="癸", male=True),
        ],
    )
    await sql(session, "UPDATE persons SET relation = 'head' WHERE id = :id", id=crowded.members["壬"])
    await sql(session, "UPDATE persons SET relation = 'spouse' WHERE id = :id", id=crowded.members["癸"])

    counts = await check(session, settings)
    found = {f.household_id: f for f in of_rule(await findings(session), "head_spouse_same_sex")}
    assert counts["rules"]["head_spouse_same_sex"] == 2 and set(found) == {same.id, crowded.id}
    assert found[crowded.id].values["head_person_ids"] == sorted([crowded.members["庚"], crowded.members["壬"]])
    assert found[crowded.id].values["spouse_person_ids"] == sorted([crowded.members["辛"], crowded.members["癸"]])
    assert mixed.id not in found
    finding = found[same.id]
    assert finding.fingerprint == fp("head_spouse_same_sex", f"household:{same.id}")
    assert finding.values == {
        "sex": "male",
        "head_person_ids": [same.members["甲"]],
        "spouse_person_ids": [same.members["乙"]],
    }
    assert finding.household_id == same.id and finding.person_id is None and finding.severity == "low"

    await sql(session, "UPDATE persons SET relation = 'child' WHERE id = :id", id=same.members["乙"])
    again = await check(session, settings)
    assert again["findings_resolved"] == 1 and again["findings_open"] == 1


# ---- phone invalid ----------------------------------------------------------------------------


async def test_phone_invalid(session, settings, client, auth):
    home = await household(
        client,
        auth,
        [
            person("head", name="甲", phone="13812345678"),
            person("spouse", name="乙"),
            person("child", name="丙"),
            person("child", name="丁"),
        ],
    )
    other = await household(client, auth, [person("head", name="戊")], region=OTHER_TOWNSHIP_VILLAGE)
    elsewhere = await household(client, auth, [person("head", name="己")], region=OTHER_COUNTY_VILLAGE)
    m = home.members
    # The API refuses such numbers: they come from imports and older data.
    await sql(session, "UPDATE households SET phone = '0851-8123456' WHERE id = :id", id=home.id)  # a landline
    await sql(session, "UPDATE households SET phone = '19912345678' WHERE id = :id", id=other.id)
    await sql(session, "UPDATE households SET phone = '0851-8123456' WHERE id = :id", id=elsewhere.id)
    await sql(session, "UPDATE persons SET phone = '12812345678' WHERE id = :id", id=m["乙"])  # 12…
    await sql(session, "UPDATE persons SET phone = '' WHERE id = :id", id=m["丙"])  # nothing given
    await sql(session, "UPDATE persons SET phone = '1381234567' WHERE id = :id", id=m["丁"])  # ten digits

    counts = await check(session, settings)
    found = {f.fingerprint: f for f in of_rule(await findings(session), "phone_invalid")}
    assert counts["rules"]["phone_invalid"] == 3
    assert set(found) == {
        fp("phone_invalid", f"phone:household:{home.id}"),
        fp("phone_invalid", f"phone:person:{m['乙']}"),
        fp("phone_invalid", f"phone:person:{m['丁']}"),
    }
    assert found[fp("phone_invalid", f"phone:household:{home.id}")].values == {
        "whose": "household",
        "phone_masked": "085*******56",
        "length": 12,
    }
    spouse = found[fp("phone_invalid", f"phone:person:{m['乙']}")]
    assert spouse.values == {"whose": "person", "phone_masked": "128******78", "length": 11}
    assert spouse.person_id == m["乙"] and spouse.household_id == home.id and spouse.severity == "low"
    assert "12812345678" not in str(spouse.values)

    await sql(session, "UPDATE persons SET phone = '13812345679' WHERE id = :id", id=m["乙"])
    assert (await check(session, settings))["findings_resolved"] == 1


# ---- the check itself: its run, reruns, the API ------------------------------------------------


async def test_the_check_is_a_run_and_reruns_change_nothing(session, settings, client, auth):
    home = await household(client, auth, [person("head", name="甲"), person("spouse", name="乙", male=True)])
    first = await check(session, settings)
    assert (first["findings_opened"], first["findings_resolved"], first["findings_open"]) == (1, 0, 1)
    run = (await session.execute(text("SELECT * FROM sync_runs WHERE id = :id"), {"id": first["run_id"]})).one()
    assert (run.source, run.county, run.trigger, run.status, run.phase) == (
        "registry",
        COUNTY,
        "manual",
        "succeeded",
        "done",
    )
    assert (run.findings_opened, run.findings_resolved, run.findings_open, run.clues) == (1, 0, 1, 0)
    assert run.finished_at is not None

    second = await check(session, settings)
    assert (second["findings_opened"], second["findings_resolved"], second["findings_open"]) == (0, 0, 1)
    [finding] = (await findings(session)).values()
    assert (finding.first_run_id, finding.last_run_id) == (first["run_id"], second["run_id"])
    assert finding.household_id == home.id

    # Fixed, then broken again: resolved, then open again (the same finding).
    await sql(session, "UPDATE persons SET sex = 'female' WHERE id = :id", id=home.members["乙"])
    third = await check(session, settings)
    resolved = (await findings(session))[finding.fingerprint]
    assert third["findings_resolved"] == 1 and resolved.status == "resolved" and resolved.note == RESOLVED_NOTE
    await sql(session, "UPDATE persons SET sex = 'male' WHERE id = :id", id=home.members["乙"])
    fourth = await check(session, settings)
    reopened = (await findings(session))[finding.fingerprint]
    assert fourth["findings_opened"] == 1 and reopened.status == "open" and reopened.id == finding.id
    assert reopened.resolved_at is None and reopened.note is None

    # A source's reconciliation never resolves the registry's findings.
    civil = SourceConfig(
        name="civil-affairs",
        kind="civil-affairs",
        counties=[COUNTY],
        fields={"record_id": ["id"], "id_number": ["sfzh"]},
    )
    await reconcile(session, settings, civil, COUNTY, run_id=fourth["run_id"] + 1)
    assert (await findings(session))[finding.fingerprint].status == "open"


async def test_unknown_county(session, settings):
    with pytest.raises(LookupError):
        await check_registry(session, settings, "119999")


async def test_findings_api_lists_them_and_hides_health(session, settings, client, auth):
    home = await household(client, auth, [person("head", name="甲"), person("spouse", name="乙", male=True)])
    await add_case(session, home)
    await add_income(session, home, ["0", "0", "0", "0"])
    await check(session, settings)
    staff = auth("village_staff.village", **{"Accept-Language": "zh-CN"})
    r = await client.get("/api/v1/findings", params={"source": "registry"}, headers=staff)
    assert r.status_code == 200, r.text
    items = {x["rule_id"]: x for x in r.json()["items"]}
    assert set(items) == {"head_spouse_same_sex", "illness_without_cost"}
    assert items["head_spouse_same_sex"]["records"] == [] and items["head_spouse_same_sex"]["source"] == "registry"
    assert "户主" in items["head_spouse_same_sex"]["explanation"]
    assert items["illness_without_cost"]["health"] is True
    english = await client.get(
        "/api/v1/findings", params={"rule_id": "head_spouse_same_sex"}, headers=auth("village_staff.village")
    )
    assert "head" in english.json()["items"][0]["explanation"].lower()

    auditor = auth("auditor.county")
    listed = await client.get("/api/v1/findings", params={"source": "registry"}, headers=auditor)
    assert [x["rule_id"] for x in listed.json()["items"]] == ["head_spouse_same_sex"]
    refused = await client.get("/api/v1/findings", params={"rule_id": "illness_without_cost"}, headers=auditor)
    assert (refused.status_code, code_of(refused)) == (403, "health_rule_forbidden")


# ---- the invalid ID number (every source, over the quarantine) -----------------------------------

CIVIL = SourceConfig(
    name="civil-affairs", kind="civil-affairs", counties=[COUNTY], fields={"record_id": ["id"], "id_number": ["sfzh"]}
)
EDUCATION = SourceConfig(
    name="education", kind="education", counties=[COUNTY], fields={"record_id": ["id"], "id_number": ["sfzh"]}
)


def _quarantined(
    source: str, key: str | None, reason: str, number: str | None, county: str = COUNTY, status: str = "open"
) -> QuarantinedRecord:
    return QuarantinedRecord(
        source=source,
        county=county,
        first_run_id=1,
        last_run_id=1,
        external_key=key,
        reason=reason,
        field="id_number" if reason.startswith("id_number") else "name",
        detail="ID number check digit does not match (18 characters)",
        location="page 1",
        raw_enc=b"encrypted",
        raw_hash=hashlib.sha256(f"{source}{key}{reason}".encode()).digest(),
        id_masked=masked_id(number) if number else None,
        status=status,
        resolved_at=None if status == "open" else now(),
    )


async def test_id_number_invalid(session, settings):
    good = id_number(date(1980, 1, 1))
    wrong = good[:17] + ("0" if good[17] != "0" else "1")  # the check digit off
    session.add_all(
        [
            bad := _quarantined("civil-affairs", "A1", "id_number.check_digit", wrong),
            short := _quarantined("civil-affairs", None, "id_number.format", good[:17]),
            _quarantined("civil-affairs", "A3", "missing.name", None),  # not about the ID number
            _quarantined("civil-affairs", "A4", "id_number.birth_date", good, county="529902"),  # another county
            _quarantined("civil-affairs", "A5", "id_number.check_digit", good, status="reprocessed"),  # passed since
            _quarantined("education", "E1", "id_number.birth_date", good),  # another source's
        ]
    )
    await session.flush()

    counts = await reconcile(session, settings, CIVIL, COUNTY, run_id=1)
    found = of_rule(await findings(session, "civil-affairs"), "id_number_invalid")
    assert counts["findings_opened"] == len(found) == 2
    by_id = {f.fingerprint.rsplit(":", 1)[1]: f for f in found}
    finding = by_id[bad.raw_hash.hex()]
    assert finding.fingerprint == f"id_number_invalid:civil-affairs:{COUNTY}:quarantine:{bad.raw_hash.hex()}"
    assert finding.values == {
        "reason": "id_number.check_digit",
        "id_masked": idnumber.mask(wrong),
        "location": "page 1",
        "detail": "ID number check digit does not match (18 characters)",
    }
    assert finding.records == [{"source": "civil-affairs", "external_key": "A1"}]
    assert finding.person_id is None and finding.region_code == COUNTY + "000000"
    assert finding.severity == "medium" and not finding.health and finding.clue_id is None
    assert by_id[short.raw_hash.hex()].records == []
    assert by_id[short.raw_hash.hex()].values["id_masked"] == idnumber.mask(good[:17])
    assert wrong not in str(finding.values) and wrong not in finding.fingerprint
    assert of_rule(await findings(session, "education"), "id_number_invalid") == []

    # The record passes a later try (reprocessed): its finding resolves with the next run.
    await sql(
        session, "UPDATE sync_quarantine SET status = 'reprocessed', resolved_at = now() WHERE id = :id", id=bad.id
    )
    again = await reconcile(session, settings, CIVIL, COUNTY, run_id=2)
    assert again["findings_resolved"] == 1
    assert (await findings(session, "civil-affairs"))[finding.fingerprint].status == "resolved"


def test_masked_id_never_shows_more_than_the_address_code():
    assert masked_id("52990119800101123") == "529901***********"
    assert masked_id("５２９９０１１９８００１０１１２３４") == "529901************"
    long = "5299011980010112341234567"
    assert masked_id(long) == "529901************" and len(masked_id(long)) == 18
    assert masked_id("12345") == "*****"


def test_no_source_may_be_called_registry():
    from pydantic import ValidationError

    from services.core.sync.config import BUILTIN_SOURCES, parse_sources

    builtin = BUILTIN_SOURCES.read_text(encoding="utf-8")
    assert "registry" not in parse_sources(builtin).names()
    with pytest.raises(ValidationError, match="reserved"):
        parse_sources(builtin.replace('name = "education"', 'name = "registry"', 1))
