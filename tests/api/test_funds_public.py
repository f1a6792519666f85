"""Public disclosure (公告公示): projects and fund allocations without login, and never a
person's data. Rows are made directly with the ORM (the fund and project APIs are written
elsewhere); households through the API, so that their members' names and ID numbers exist
and can be looked for in the answers."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from services.api.app import create_app
from services.core.funds.enums import FundKind, FundLevel, ProjectCategory, ProjectStatus, SpendingItem
from services.core.funds.models import Allocation, Beneficiary, Disbursement, Fund, Project
from services.core.settings import RateLimitSettings, Settings
from tests.conftest import _client
from tests.factories import OTHER_COUNTY_VILLAGE, OTHER_TOWNSHIP_VILLAGE, VILLAGE, household, person

YEAR = 2026
PROJECTS = "/api/v1/public/projects"
FUNDS = "/api/v1/public/fund-allocations"
PERSON_NAME = "欧阳公示"
PAYEE = "李某某劳务队"


def _fund(county: str, level: FundLevel, kind: FundKind, amount: str, name: str, year: int = YEAR) -> Fund:
    return Fund(
        year=year,
        level=level,
        kind=kind,
        name=name,
        document_ref=f"黔财农〔{year}〕{len(name)}号",
        region_code=county.ljust(12, "0"),
        amount=Decimal(amount),
        received_on=date(year, 1, 15),
    )


def _project(
    region: str,
    name: str,
    status: ProjectStatus = ProjectStatus.started,
    category: ProjectCategory = ProjectCategory.industry,
    year: int = YEAR,
) -> Project:
    return Project(
        year=year,
        name=name,
        category=category,
        region_code=region,
        location="白岩村二组",
        implementing_unit="县农业农村局",
        content="新建蔬菜大棚 20 亩",
        budget=Decimal("300000.00"),
        performance_targets=[{"indicator": "带动脱贫户增收", "target": "20", "unit": "户"}],
        farmer_links="务工带动、入股分红",
        planned_start=date(year, 3, 1),
        planned_end=date(year, 10, 31),
        status=status,
        proposed_on=date(year - 1, 11, 1),
        reviewed_on=date(year - 1, 12, 1) if status != ProjectStatus.proposed else None,
        approved_on=date(year, 2, 1) if status not in (ProjectStatus.proposed, ProjectStatus.reviewed) else None,
        started_on=date(year, 3, 5) if status == ProjectStatus.started else None,
        history=[{"status": "proposed", "on": f"{year - 1}-11-01", "by": 1}],
    )


@pytest.fixture
async def data(client, auth, session):
    """Two funds of the county and one of the other county; a started industry project in
    VILLAGE with two sources, payments and two beneficiary households; a proposed one; a
    reviewed work-relief project in another township; one in the other county; one of
    another year."""
    h = auth("county_staff.county")
    homes, id_numbers = [], []
    for _ in range(2):
        head = person("head", name=PERSON_NAME)
        r = await client.post("/api/v1/households", headers=h, json=household(region=VILLAGE, members=[head]))
        assert r.status_code == 201, r.text
        homes.append(r.json())
        id_numbers.append(head["id_number"])
    central = _fund("529901", FundLevel.central, FundKind.transition, "1000000.00", "中央衔接资金")
    county = _fund("529901", FundLevel.county, FundKind.work_relief, "200000.00", "县级以工代赈资金")
    other_fund = _fund("529902", FundLevel.central, FundKind.transition, "500000.00", "远山县中央衔接资金")
    old_fund = _fund("529901", FundLevel.central, FundKind.transition, "800000.00", "去年资金", year=YEAR - 1)
    started = _project(VILLAGE, "白岩村蔬菜大棚")
    proposed = _project(VILLAGE, "申报中的项目", ProjectStatus.proposed)
    relief = _project(OTHER_TOWNSHIP_VILLAGE, "水井村以工代赈道路", ProjectStatus.reviewed, ProjectCategory.work_relief)
    foreign = _project(OTHER_COUNTY_VILLAGE, "松林村产业路", ProjectStatus.approved, ProjectCategory.infrastructure)
    old = _project(VILLAGE, "去年的项目", ProjectStatus.accepted, year=YEAR - 1)
    session.add_all([central, county, other_fund, old_fund, started, proposed, relief, foreign, old])
    await session.flush()

    def alloc(fund, project, amount):
        return Allocation(
            fund_id=fund.id,
            project_id=project.id,
            region_code=project.region_code,
            amount=Decimal(amount),
            allocated_on=date(YEAR, 2, 10),
        )

    def pay(fund, project, amount, item, day):
        return Disbursement(
            fund_id=fund.id,
            project_id=project.id,
            region_code=project.region_code,
            amount=Decimal(amount),
            paid_on=day,
            voucher_ref=f"记-{day:%m%d}",
            item=item,
            payee=PAYEE,
        )

    session.add_all(
        [
            alloc(central, started, "250000.00"),
            alloc(county, started, "40000.50"),
            alloc(central, started, "10000.00"),
            alloc(county, relief, "60000.00"),
            alloc(central, proposed, "5000.00"),
            alloc(other_fund, foreign, "100000.00"),
            alloc(old_fund, old, "300000.00"),
            pay(central, started, "120000.00", SpendingItem.construction, date(YEAR, 4, 1)),
            pay(county, started, "8000.25", SpendingItem.labour_pay, date(YEAR, 5, 1)),
            pay(county, started, "2000.00", SpendingItem.labour_pay, date(YEAR, 6, 1)),
            Beneficiary(
                project_id=started.id,
                household_id=homes[0]["id"],
                region_code=VILLAGE,
                benefit="务工",
                labour_days=20,
                labour_pay=Decimal("3000.00"),
            ),
            Beneficiary(
                project_id=started.id,
                household_id=homes[1]["id"],
                region_code=VILLAGE,
                benefit="分红",
                amount=Decimal("800.00"),
            ),
        ]
    )
    await session.commit()
    return {
        "homes": homes,
        "id_numbers": id_numbers,
        "started": started.id,
        "proposed": proposed.id,
        "relief": relief.id,
        "foreign": foreign.id,
        "old": old.id,
        "central": central.id,
        "county": county.id,
        "other_fund": other_fund.id,
    }


def _assert_no_personal_data(response, data) -> None:
    text = response.text
    for number in data["id_numbers"]:
        assert number not in text and number[-6:] not in text
    for home in data["homes"]:
        assert home["household_no"] not in text
    for word in (PERSON_NAME, PAYEE, "household_id", "id_number", "payee", "history", "created_by", "voucher"):
        assert word not in text, word


async def test_project_list_without_token(client, data):
    r = await client.get(PROJECTS, params={"region": "529901", "year": YEAR})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "public, max-age=300"
    items = r.json()["items"]
    assert [p["id"] for p in items] == sorted([data["started"], data["relief"]])  # no proposed, other county, year
    started = next(p for p in items if p["id"] == data["started"])
    assert started == {
        "id": data["started"],
        "name": "白岩村蔬菜大棚",
        "category": "industry",
        "year": YEAR,
        "region_code": VILLAGE,
        "region_name": "白岩村",
        "location": "白岩村二组",
        "status": "started",
        "implementing_unit": "县农业农村局",
        "content": "新建蔬菜大棚 20 亩",
        "budget": "300000.00",
        "performance_targets": [{"indicator": "带动脱贫户增收", "target": "20", "unit": "户"}],
        "farmer_links": "务工带动、入股分红",
        "planned_start": f"{YEAR}-03-01",
        "planned_end": f"{YEAR}-10-31",
        "approved_on": f"{YEAR}-02-01",
        "started_on": f"{YEAR}-03-05",
        "completed_on": None,
        "accepted_on": None,
        "handed_over_on": None,
        "cancelled_on": None,
        "fund_sources": [
            {
                "level": "central",
                "kind": "transition",
                "fund_name": "中央衔接资金",
                "document_ref": "黔财农〔2026〕6号",
                "amount": "260000.00",
            },
            {
                "level": "county",
                "kind": "work_relief",
                "fund_name": "县级以工代赈资金",
                "document_ref": "黔财农〔2026〕8号",
                "amount": "40000.50",
            },
        ],
        "allocated": "300000.50",
        "disbursed": "130000.25",
        "labour_pay": "10000.25",
        "beneficiary_households": 2,
    }
    relief = next(p for p in items if p["id"] == data["relief"])
    assert (relief["status"], relief["region_name"], relief["disbursed"], relief["beneficiary_households"]) == (
        "reviewed",
        "水井村",
        "0.00",
        0,
    )
    _assert_no_personal_data(r, data)


async def test_a_token_is_neither_needed_nor_read(client, auth, data):
    for headers in ({"Authorization": "Bearer not-a-token"}, auth("village_staff.village2")):
        r = await client.get(PROJECTS, params={"region": "529901", "year": YEAR}, headers=headers)
        assert r.status_code == 200, r.text
        # The caller's own scope does not narrow it either: the public sees the whole county.
        assert len(r.json()["items"]) == 2
        assert (await client.get(f"{PROJECTS}/{data['relief']}", headers=headers)).status_code == 200


async def test_filters_and_regions(client, data):
    async def ids(**params):
        r = await client.get(PROJECTS, params={"year": YEAR, **params})
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()["items"]]

    assert await ids(region=VILLAGE) == [data["started"]]
    assert await ids(region=VILLAGE[:9]) == [data["started"]]
    assert await ids(region="529902") == [data["foreign"]]
    assert sorted(await ids(region="52")) == sorted([data["started"], data["relief"], data["foreign"]])
    assert await ids(region="529901", category="work_relief") == [data["relief"]]
    assert await ids(region="529901", status="started") == [data["started"]]
    assert await ids(region="529901", status="accepted") == []
    assert await ids(region="529901", year=YEAR - 1) == [data["old"]]
    assert await ids(region="529901", year=2001) == []


async def test_proposed_projects_are_never_published(client, data):
    r = await client.get(PROJECTS, params={"region": "529901", "year": YEAR, "status": "proposed"})
    assert r.status_code == 422 and r.json()["field"] == "status"
    hidden = await client.get(f"{PROJECTS}/{data['proposed']}")
    missing = await client.get(f"{PROJECTS}/987654321")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"] == "public_project_not_found"
    assert hidden.headers["content-type"].startswith("application/problem+json")
    assert "申报中的项目" not in (await client.get(PROJECTS, params={"region": "52", "year": YEAR})).text


async def test_one_project(client, data):
    r = await client.get(f"{PROJECTS}/{data['started']}")
    assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=300"
    listed = (await client.get(PROJECTS, params={"region": VILLAGE, "year": YEAR})).json()["items"][0]
    assert r.json() == listed
    _assert_no_personal_data(r, data)
    r = await client.get(f"{PROJECTS}/{data['foreign']}")
    assert r.status_code == 200 and r.json()["region_name"] == "松林村"
    for bad in ("0", "abc", str(2**70)):
        assert (await client.get(f"{PROJECTS}/{bad}")).status_code == 422


@pytest.mark.parametrize(
    "params,status,field",
    [
        ({"region": "52990", "year": YEAR}, 422, "region"),
        ({"region": "5299x1", "year": YEAR}, 422, "region"),
        ({"region": "000000", "year": YEAR}, 422, "region"),
        ({"region": "5299010010011", "year": YEAR}, 422, "region"),
        ({"year": YEAR}, 422, "region"),
        ({"region": "529901"}, 422, "year"),
        ({"region": "529901", "year": 1800}, 422, "year"),
        ({"region": "529903", "year": YEAR}, 404, "region"),
        ({"region": "529901001999", "year": YEAR}, 404, "region"),
    ],
)
async def test_bad_regions_and_years(client, params, status, field):
    for path in (PROJECTS, FUNDS):
        r = await client.get(path, params=params)
        assert r.status_code == status, (path, r.text)
        assert r.json()["field"] == field
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_region_not_found_in_chinese(client):
    r = await client.get(FUNDS, params={"region": "529903", "year": YEAR}, headers={"Accept-Language": "zh"})
    assert r.status_code == 404 and r.json()["code"] == "region_not_found" and "区划" in r.json()["detail"]


async def test_pages(client, session, data):
    session.add_all([_project(VILLAGE, f"分页项目{i}", ProjectStatus.approved) for i in range(3)])
    await session.commit()
    seen, cursor = [], None
    while True:
        params = {"region": VILLAGE, "year": YEAR, "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get(PROJECTS, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= 2
        seen += [p["id"] for p in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 4 and seen == sorted(seen) and data["started"] in seen
    for bad in ("!!", "WyJhIl0", "WzEsMl0"):  # not base64 JSON, ["a"], [1, 2]
        r = await client.get(PROJECTS, params={"region": VILLAGE, "year": YEAR, "cursor": bad})
        assert r.status_code == 422 and r.json()["field"] == "cursor", bad


async def test_fund_summary(client, data):
    r = await client.get(FUNDS, params={"region": "529901", "year": YEAR})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "public, max-age=300"
    body = r.json()
    assert (body["region_code"], body["region_name"], body["year"]) == ("529901000000", "清溪县", YEAR)
    assert [
        (f["id"], f["level"], f["kind"], f["amount"], f["allocated"], f["unallocated"], f["region_name"])
        for f in body["funds"]
    ] == [
        (data["central"], "central", "transition", "1000000.00", "265000.00", "735000.00", "清溪县"),
        (data["county"], "county", "work_relief", "200000.00", "100000.50", "99999.50", "清溪县"),
    ]
    assert body["funds"][0]["name"] == "中央衔接资金" and body["funds"][0]["document_ref"] == "黔财农〔2026〕6号"
    assert body["total"] == {"amount": "1200000.00", "allocated": "365000.50", "unallocated": "834999.50"}
    assert body["by_level"] == [
        {"level": "central", "amount": "1000000.00", "allocated": "265000.00", "unallocated": "735000.00"},
        {"level": "county", "amount": "200000.00", "allocated": "100000.50", "unallocated": "99999.50"},
    ]
    assert [k["kind"] for k in body["by_kind"]] == ["transition", "work_relief"]
    assert body["by_category"] == [
        {"category": "industry", "allocated": "305000.50", "projects": 2},  # incl. the proposed one's 5000
        {"category": "work_relief", "allocated": "60000.00", "projects": 1},
    ]
    _assert_no_personal_data(r, data)


async def test_fund_summary_of_a_township_and_of_the_province(client, data):
    # A township: its county's funds, and what they gave to projects in the township.
    body = (await client.get(FUNDS, params={"region": OTHER_TOWNSHIP_VILLAGE[:9], "year": YEAR})).json()
    assert [f["id"] for f in body["funds"]] == [data["central"], data["county"]]
    assert body["by_category"] == [{"category": "work_relief", "allocated": "60000.00", "projects": 1}]
    body = (await client.get(FUNDS, params={"region": "52", "year": YEAR})).json()
    assert [f["id"] for f in body["funds"]] == [data["central"], data["county"], data["other_fund"]]
    assert body["total"]["amount"] == "1700000.00"
    assert body["by_level"][0] == {
        "level": "central",
        "amount": "1500000.00",
        "allocated": "365000.00",
        "unallocated": "1135000.00",
    }
    assert {c["category"]: c["projects"] for c in body["by_category"]} == {
        "industry": 2,
        "infrastructure": 1,
        "work_relief": 1,
    }
    # A year without funds: empty, not an error.
    body = (await client.get(FUNDS, params={"region": "529901", "year": 2001})).json()
    assert body["funds"] == [] and body["by_category"] == [] and body["total"]["amount"] == "0.00"


async def test_public_reads_are_rate_limited_per_address(settings, db):
    limited = settings.model_copy(update={"rate_limits": RateLimitSettings(public_reads_per_minute=3)})
    async with _client(create_app(limited, database=db)) as c:
        for _ in range(3):
            assert (await c.get(FUNDS, params={"region": "529901", "year": YEAR})).status_code == 200
        r = await c.get(PROJECTS, params={"region": "529901", "year": YEAR})
        assert r.status_code == 429, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
        # Invalid requests count too, and are refused before they are looked at.
        assert (await c.get(f"{PROJECTS}/0")).status_code == 429


def test_the_documented_answers_are_those_of_a_public_route():
    spec = create_app(Settings(env="test")).openapi()
    for path in (PROJECTS, f"{PROJECTS}/{{project_id}}", FUNDS):
        op = spec["paths"][path]["get"]
        assert op["security"] == [], path  # public, and saying so
        assert {"401", "403"}.isdisjoint(op["responses"]) and "429" in op["responses"], path
    assert json.dumps(spec["components"]["schemas"]["PublicStatus"]).count("proposed") == 0


async def test_cancelled_projects_stay_published(client, session, data):
    cancelled = _project(VILLAGE, "取消的项目", ProjectStatus.cancelled)
    cancelled.cancelled_on, cancelled.cancel_reason = date(YEAR, 4, 1), "村民张三反映选址不当"
    session.add(cancelled)
    await session.commit()
    r = await client.get(f"{PROJECTS}/{cancelled.id}")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["cancelled_on"]) == ("cancelled", f"{YEAR}-04-01")
    assert "张三" not in r.text  # the reason is free text, never published
    listed = await client.get(PROJECTS, params={"region": VILLAGE, "year": YEAR, "status": "cancelled"})
    assert [p["id"] for p in listed.json()["items"]] == [cancelled.id]
