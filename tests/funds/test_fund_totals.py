"""The running totals of the projects' money (``fund_project_totals``, kept by triggers) always
equal the totals computed afresh from the allocations and payments — after inserts,
corrections, moves between funds, deletes, a fund's kind changed, TRUNCATE and COPY loads,
and after the migrations' backfill and conversion to whole fen — and the compliance
indicators as of today computed from them equal the full computation at every level, to the
last written digit (``0`` against ``0.00``, the fen of odd amounts), while a past day (or a
row dated after the day) takes the full computation."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import delete, event, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import tuning
from services.core.funds import indicators, queries
from services.core.funds.models import Allocation, Disbursement, Fund, Project
from services.core.funds.totals import EXPECTED_SQL, KEY, SUMS
from services.core.scope import UNRESTRICTED, bind_scope
from tests.factories import OTHER_COUNTY_VILLAGE, OTHER_TOWNSHIP_VILLAGE, VILLAGE, VILLAGE_2

DAY = date(2026, 7, 1)  # "today" for these tests
YEAR = DAY.year
PREFIXES = ("52", "5299", "529901", "529901001", "529901001001", "529901002001", "529902", "529902001001")


def day(month: int, dd: int, year: int = YEAR) -> date:
    return date(year, month, dd)


async def _totals(session: AsyncSession) -> tuple[dict, dict]:
    """The totals kept and the totals computed afresh, by key: ({sum: value}, last_on)."""
    columns = ", ".join(SUMS)
    out = []
    for source in ("fund_project_totals", f"({EXPECTED_SQL}) e"):
        rows = (await session.execute(text(f"SELECT {KEY}, {columns}, last_on FROM {source}"))).all()
        out.append({tuple(r[:3]): (dict(zip(SUMS, r[3:-1], strict=True)), r[-1]) for r in rows})
    return out[0], out[1]


async def assert_totals_exact(session: AsyncSession) -> None:
    await session.flush()
    kept, expected = await _totals(session)
    assert {k: v[0] for k, v in kept.items()} == {k: v[0] for k, v in expected.items()}
    # The latest day counted is never lowered by a delete: at least the latest still counted.
    assert all(kept[k][1] >= v[1] for k, v in expected.items())


class Spy:
    """Which indicator statements ``compute`` ran."""

    def __init__(self, session: AsyncSession):
        self.seen: list[str] = []
        self._execute = session.execute

        async def spying(statement, *args, **kwargs):
            if statement is queries.INDICATORS:
                self.seen.append("rows")
            elif "fund_project_totals" in getattr(statement, "text", ""):
                self.seen.append("totals")
            return await self._execute(statement, *args, **kwargs)

        session.execute = spying  # type: ignore[method-assign]


async def compute_on(session, monkeypatch, prefix: str, year: int, as_of: date, on_today: date) -> tuple[dict, list]:
    monkeypatch.setattr(indicators, "today", lambda: on_today)
    spy = Spy(session)
    try:
        result = await indicators.compute(session, prefix, year, as_of)
    finally:
        session.execute = spy._execute  # type: ignore[method-assign]
    return result, spy.seen


def written(value):
    """``value`` as it is written out: a number by its type and digits (``Decimal("0")`` and
    ``Decimal("0.00")`` are equal, but written differently)."""
    if isinstance(value, dict):
        return {k: written(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [written(v) for v in value]
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return (type(value).__name__, str(value))
    return value


async def assert_indicators_exact(session, monkeypatch, years=(YEAR, YEAR - 1)) -> None:
    """For every prefix and year: as of today from the totals == the full computation, as
    written out."""
    await session.flush()
    for prefix in PREFIXES:
        for year in years:
            fast, seen = await compute_on(session, monkeypatch, prefix, year, DAY, DAY)
            assert seen == ["totals"], (prefix, year)
            # The same day asked for the next day: a past day, computed from the rows.
            full, seen = await compute_on(session, monkeypatch, prefix, year, DAY, DAY + timedelta(days=1))
            assert seen == ["rows"], (prefix, year)
            assert written(fast) == written(full), (prefix, year)


async def _fund(session, county: str, level: str, kind: str, amount: str, year: int = YEAR) -> Fund:
    fund = Fund(
        year=year,
        level=level,
        kind=kind,
        name=f"{year}{level}{kind}",
        region_code=county + "000000",
        amount=Decimal(amount),
        received_on=day(1, 10, year),
    )
    session.add(fund)
    await session.flush()
    return fund


async def _project(session, village: str, category: str, status: str, year: int = YEAR, **dates) -> Project:
    project = Project(
        year=year,
        name=f"{category}-{village}",
        category=category,
        region_code=village,
        implementing_unit="县农业农村局",
        budget=Decimal("900000.00"),
        planned_start=day(3, 1, year),
        planned_end=day(10, 31, year),
        status=status,
        proposed_on=day(1, 20, year),
        reviewed_on=day(2, 1, year),
        approved_on=day(2, 10, year),
        **dates,
    )
    session.add(project)
    await session.flush()
    return project


def _allocation(fund: Fund, project: Project, amount: str, on: date) -> Allocation:
    return Allocation(
        fund_id=fund.id, project_id=project.id, region_code=project.region_code, amount=Decimal(amount), allocated_on=on
    )


def _payment(fund: Fund, project: Project, amount: str, on: date, item: str = "construction") -> Disbursement:
    return Disbursement(
        fund_id=fund.id,
        project_id=project.id,
        region_code=project.region_code,
        amount=Decimal(amount),
        paid_on=on,
        voucher_ref="记-1",
        item=item,
    )


async def _year_of_money(session) -> dict:
    """Funds in two counties and two years, projects in three villages of two townships and
    in the other county at several steps, allocations and payments of every item."""
    central = await _fund(session, "529901", "central", "transition", "2000000.00")
    provincial = await _fund(session, "529901", "provincial", "transition", "800000.00")
    relief = await _fund(session, "529901", "central", "work_relief", "400000.00")
    county = await _fund(session, "529901", "county", "transition", "300000.00")
    other = await _fund(session, "529902", "central", "transition", "600000.00")
    last_year = await _fund(session, "529901", "central", "transition", "500000.00", year=YEAR - 1)

    tea = await _project(session, VILLAGE, "industry", "started", started_on=day(3, 20))
    road = await _project(
        session, VILLAGE_2, "infrastructure", "completed", started_on=day(3, 5), completed_on=day(6, 1)
    )
    canal = await _project(session, OTHER_TOWNSHIP_VILLAGE, "work_relief", "started", started_on=day(4, 1))
    training = await _project(session, VILLAGE, "employment", "approved")
    far = await _project(session, OTHER_COUNTY_VILLAGE, "industry", "started", started_on=day(4, 15))
    old = await _project(
        session, VILLAGE_2, "industry", "completed", year=YEAR - 1, started_on=day(4, 1, YEAR - 1),
        completed_on=day(9, 1, YEAR - 1),
    )  # fmt: skip

    session.add_all(
        [
            _allocation(central, tea, "600000.00", day(3, 1)),
            _allocation(provincial, tea, "100000.00", day(3, 2)),
            _allocation(central, road, "300000.00", day(3, 1)),
            _allocation(county, road, "50000.00", day(3, 3)),
            _allocation(relief, canal, "200000.00", day(3, 3)),
            _allocation(provincial, canal, "100000.00", day(3, 4)),
            _allocation(central, training, "80000.00", day(3, 5)),
            _allocation(other, far, "250000.00", day(3, 6)),
            _allocation(last_year, old, "400000.00", day(3, 1, YEAR - 1)),
        ]
    )
    await session.flush()
    session.add_all(
        [
            _payment(central, tea, "200000.00", day(4, 1)),
            _payment(central, tea, "5000.00", day(4, 2), "management_fee"),
            _payment(provincial, tea, "40000.00", day(5, 1), "materials"),
            _payment(central, road, "250000.00", day(4, 10)),
            _payment(county, road, "12000.00", day(5, 10), "management_fee"),
            _payment(relief, canal, "20000.00", day(5, 1), "labour_pay"),
            _payment(relief, canal, "90000.00", day(5, 2)),
            _payment(provincial, canal, "3000.00", day(5, 3), "labour_pay"),
            _payment(other, far, "100000.00", day(5, 20)),
            _payment(last_year, old, "380000.00", day(6, 1, YEAR - 1)),
        ]
    )
    await session.flush()
    return {
        "funds": (central, provincial, relief, county, other, last_year),
        "projects": (tea, road, canal, training, far, old),
    }


async def test_totals_and_indicators_follow_every_write(session, monkeypatch):
    made = await _year_of_money(session)
    central, provincial, relief, county, _other, _last_year = made["funds"]
    tea, road, canal, training, far, _old = made["projects"]
    await assert_totals_exact(session)
    kept, _ = await _totals(session)
    figures, _last_on = kept[(VILLAGE, tea.id, YEAR)]
    assert {k: v for k, v in figures.items() if v} == {  # in whole fen
        "allocated": 70000000,
        "alloc_central_transition": 60000000,
        "alloc_provincial_transition": 10000000,
        "paid_transition": 24500000,
        "management_fee": 500000,
        "entries": 5,
    }
    assert figures["labour_pay"] == 0
    await assert_indicators_exact(session, monkeypatch)

    # Corrections: an amount, a payment moved to another fund and item, an allocation moved
    # to another project (and village), several rows in one statement.
    await session.execute(
        update(Allocation)
        .where(Allocation.project_id == tea.id, Allocation.fund_id == central.id)
        .values(amount=Decimal("550000.00"))
    )
    await session.execute(
        update(Disbursement)
        .where(Disbursement.project_id == canal.id, Disbursement.item == "construction")
        .values(fund_id=provincial.id, item="labour_pay", amount=Decimal("60000.00"))
    )
    await session.execute(
        update(Allocation)
        .where(Allocation.project_id == training.id)
        .values(project_id=road.id, region_code=road.region_code)
    )
    await session.execute(
        update(Disbursement).where(Disbursement.region_code.startswith("529901")).values(paid_on=Disbursement.paid_on)
    )
    await assert_totals_exact(session)
    await assert_indicators_exact(session, monkeypatch)

    # Project steps (the totals do not change; the indicators read the projects live).
    await session.execute(
        update(Project).where(Project.id == training.id).values(status="cancelled", cancelled_on=day(6, 1))
    )
    await session.execute(
        update(Project).where(Project.id == canal.id).values(status="completed", completed_on=day(6, 20))
    )
    await session.execute(update(Project).where(Project.id == far.id).values(started_on=None, status="tendering"))
    await assert_indicators_exact(session, monkeypatch)

    # Deletes: a payment; then all of a project's payments and allocations (its totals go).
    await session.execute(
        delete(Disbursement).where(Disbursement.project_id == tea.id, Disbursement.item == "materials")
    )
    await assert_totals_exact(session)
    await session.execute(delete(Disbursement).where(Disbursement.project_id == road.id))
    await session.execute(delete(Allocation).where(Allocation.project_id == road.id))
    await assert_totals_exact(session)
    kept, _ = await _totals(session)
    assert not any(k[1] == road.id for k in kept)
    await assert_indicators_exact(session, monkeypatch)

    # A fund's kind and level changed (not possible through the API; raw SQL may): its money
    # moves between keys.
    await session.execute(update(Fund).where(Fund.id == relief.id).values(kind="transition", level="provincial"))
    await session.execute(update(Fund).where(Fund.id == county.id).values(name="改名"))  # no key change
    await assert_totals_exact(session)
    await assert_indicators_exact(session, monkeypatch)

    # The events of this transaction's rows are written first: PostgreSQL refuses to empty a
    # table with deferred trigger events pending (docs/events.md).
    await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    await session.execute(text("TRUNCATE fund_findings, fund_disbursements"))
    await assert_totals_exact(session)
    await session.execute(text("TRUNCATE fund_allocations"))  # alone: its own trigger
    kept, expected = await _totals(session)
    assert kept == expected == {}


async def test_a_past_day_and_a_row_dated_after_the_day_take_the_full_computation(session, monkeypatch):
    made = await _year_of_money(session)
    central, *_ = made["funds"]
    tea, *_ = made["projects"]
    before, seen = await compute_on(session, monkeypatch, "529901", YEAR, DAY, DAY)
    assert seen == ["totals"]

    past, seen = await compute_on(session, monkeypatch, "529901", YEAR, day(4, 5), DAY)
    assert seen == ["rows"]
    assert past != before  # the payments of May and later are not in it

    # A payment dated after today (loaded, not entered): the totals count it, the day must not.
    session.add(_payment(central, tea, "70000.00", DAY + timedelta(days=3)))
    await session.flush()
    await assert_totals_exact(session)
    result, seen = await compute_on(session, monkeypatch, "529901", YEAR, DAY, DAY)
    assert seen == ["totals", "rows"]
    assert written(result) == written(before)
    # On that day or later, the totals count it rightly.
    later, seen = await compute_on(session, monkeypatch, "529901", YEAR, DAY + timedelta(days=3), DAY)
    assert seen == ["totals"]
    full, _ = await compute_on(session, monkeypatch, "529901", YEAR, DAY + timedelta(days=3), DAY + timedelta(days=9))
    assert written(later) == written(full) != written(before)


async def test_a_project_with_rows_under_two_regions_takes_the_full_computation(session, monkeypatch):
    made = await _year_of_money(session)
    central, *_ = made["funds"]
    tea, *_ = made["projects"]
    # A project's allocation written (raw) under another village: two totals rows of one
    # project in the county, which the full computation sums as one.
    session.add(
        Allocation(fund_id=central.id, project_id=tea.id, region_code=VILLAGE_2, amount=Decimal("1000.00"),
                   allocated_on=day(3, 9))
    )  # fmt: skip
    await assert_totals_exact(session)
    result, seen = await compute_on(session, monkeypatch, "529901", YEAR, DAY, DAY)
    assert seen == ["totals", "rows"]
    full, _ = await compute_on(session, monkeypatch, "529901", YEAR, DAY, DAY + timedelta(days=1))
    assert written(result) == written(full)
    # The other village: the project is not one of its own, its stray row counts nowhere.
    village, seen = await compute_on(session, monkeypatch, VILLAGE_2, YEAR, DAY, DAY)
    assert seen == ["totals"]
    full, _ = await compute_on(session, monkeypatch, VILLAGE_2, YEAR, DAY, DAY + timedelta(days=1))
    assert written(village) == written(full)


async def test_odd_amounts_are_written_as_the_rows_sums(session, monkeypatch):
    """The totals keep whole fen and the read gives yuan back: single fen, amounts with a
    zero last digit, large ones, projects without payments or without any money, a project
    with nothing spendable, and figures rounded half away from zero (a labour requirement of
    exactly half a fen, a spending gap of half a fen) are written as the full computation
    writes them."""
    central = await _fund(session, "529901", "central", "transition", "3000000.00")
    provincial = await _fund(session, "529901", "provincial", "transition", "50000.00")
    east_west = await _fund(session, "529901", "central", "east_west", "5000.00")
    city_relief = await _fund(session, "529901", "city", "work_relief", "1000.00")
    county = await _fund(session, "529901", "county", "transition", "1000.00")

    penny = await _project(session, VILLAGE, "industry", "started", started_on=day(3, 20))
    odd = await _project(session, VILLAGE, "infrastructure", "started", started_on=day(3, 2))
    fee = await _project(session, VILLAGE_2, "employment", "approved")
    unspendable = await _project(session, VILLAGE_2, "work_relief", "started", started_on=day(4, 1))
    half = await _project(session, OTHER_TOWNSHIP_VILLAGE, "work_relief", "approved")
    gap = await _project(session, OTHER_TOWNSHIP_VILLAGE, "village_construction", "started", started_on=day(4, 2))
    await _project(session, OTHER_TOWNSHIP_VILLAGE, "industry", "approved")  # no money at all

    session.add_all(
        [
            _allocation(central, penny, "0.01", day(3, 1)),
            _allocation(central, odd, "1234567.89", day(3, 1)),
            _allocation(provincial, odd, "12.50", day(3, 2)),
            _allocation(county, fee, "100.01", day(3, 3)),
            # Nothing spendable (east-west and work-relief funds): required 333.33 × 0.10 +
            # 0.07 × 0.15 = 33.3435, written 33.34.
            _allocation(east_west, unspendable, "333.33", day(3, 3)),
            _allocation(city_relief, unspendable, "0.07", day(3, 4)),
            _allocation(east_west, half, "0.05", day(3, 4)),  # required 0.005: 0.01
            _allocation(central, gap, "50.00", day(3, 5)),  # × 0.5027 expected − 0.01 paid = 25.125: 25.13
        ]
    )
    await session.flush()
    session.add_all(
        [
            _payment(central, odd, "12.35", day(4, 1)),
            _payment(central, odd, "0.03", day(4, 2), "management_fee"),
            _payment(provincial, odd, "0.10", day(4, 3), "labour_pay"),
            _payment(county, fee, "1.99", day(4, 4), "management_fee"),
            _payment(east_west, unspendable, "0.20", day(5, 1), "labour_pay"),
            _payment(central, gap, "0.01", day(5, 2)),
        ]
    )
    await session.flush()
    await assert_totals_exact(session)
    kept, _ = await _totals(session)
    assert kept[(VILLAGE, odd.id, YEAR)][0]["allocated"] == 123458039
    await assert_indicators_exact(session, monkeypatch, years=(YEAR,))

    result, seen = await compute_on(session, monkeypatch, "529901", YEAR, DAY, DAY)
    assert seen == ["totals"]
    by_id = {i["id"]: i for i in result["indicators"]}
    labour = {p["id"]: p["figures"] for p in by_id["labour_pay_share"]["projects"]}
    assert labour[unspendable.id] == {
        "higher_level_funds": "333.40",
        "dedicated_funds": "0.07",
        "required": "33.34",
        "labour_pay": "0.20",
        "completed": False,
    }
    assert labour[half.id] == {
        "higher_level_funds": "0.05",
        "dedicated_funds": "0",
        "required": "0.01",
        "labour_pay": "0",
        "completed": False,
    }
    spending = {p["id"]: p["figures"] for p in by_id["spending_progress"]["projects"]}
    assert spending[gap.id] == {"allocated": "50.00", "disbursed": "0.01", "progress": "0.0002", "gap": "25.13"}
    assert spending[penny.id] == {"allocated": "0.01", "disbursed": "0", "progress": "0.0000", "gap": "0.01"}
    fees = {p["id"]: p["figures"] for p in by_id["management_fee_share"]["projects"]}
    assert fees == {fee.id: {"allocated": "100.01", "management_fee": "1.99", "share": "0.0199"}}
    assert str(by_id["management_fee_share"]["numerator"]) == "2.02"


async def test_a_copy_load_is_counted(session, monkeypatch):
    """As the demo loader and the benchmark write: TRUNCATE, then COPY (statement triggers,
    one grouped upsert per COPY)."""
    made = await _year_of_money(session)
    central, provincial, relief, *_ = made["funds"]
    tea, road, canal, *_ = made["projects"]
    # The events of this transaction's rows are written first: PostgreSQL refuses to empty a
    # table with deferred trigger events pending (docs/events.md).
    await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    await session.execute(text("TRUNCATE fund_findings, fund_disbursements, fund_allocations"))
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    allocations = [
        (central.id, tea.id, tea.region_code, Decimal("300000.00"), day(3, 1)),
        (provincial.id, tea.id, tea.region_code, Decimal("100000.00"), day(3, 1)),
        (central.id, road.id, road.region_code, Decimal("200000.00"), day(3, 2)),
        (relief.id, canal.id, canal.region_code, Decimal("150000.00"), day(3, 2)),
    ]
    await driver.copy_records_to_table(
        "fund_allocations",
        records=allocations,
        columns=("fund_id", "project_id", "region_code", "amount", "allocated_on"),
    )
    items = ("construction", "labour_pay", "management_fee", "materials")
    payments = [
        (
            fund_id,
            project_id,
            region,
            Decimal("1000.00") + i,
            day(4, 1) + timedelta(days=i % 60),
            f"记-{i}",
            items[i % 4],
            False,
        )
        for i, (fund_id, project_id, region, _amount, _on) in enumerate(allocations * 50)
    ]
    await driver.copy_records_to_table(
        "fund_disbursements",
        records=payments,
        columns=("fund_id", "project_id", "region_code", "amount", "paid_on", "voucher_ref", "item", "imported"),
    )
    await assert_totals_exact(session)
    kept, _ = await _totals(session)
    assert kept[(canal.region_code, canal.id, YEAR)][0]["entries"] == 51
    await assert_indicators_exact(session, monkeypatch, years=(YEAR,))


FEN_REVISION = "3b188b9db128"  # the totals in whole fen, the latest revision to write their functions


async def test_the_migrations_backfill_the_totals_and_turn_them_to_fen(engine, settings, monkeypatch):
    """Rows written before the totals existed (the migration before them), then the
    migrations: the totals are those computed afresh, and the indicators as of today agree.
    Down to numeric yuan (a zero as ``0``, as that revision's functions kept it) and up to
    whole fen again, exactly."""
    import asyncio

    from alembic import command

    from services.core.db import create_engine
    from services.core.migrate import alembic_config, upgrade
    from services.core.regions.models import Region
    from services.core.regions.rules import level_of, parent_of
    from tests.conftest import scratch_database
    from tests.factories import REGIONS

    async with scratch_database(engine, "guardline_fund_totals", migrated=False) as url:
        await asyncio.to_thread(upgrade, url, "1ff503e77e70")  # the migration before the totals
        eng = create_engine(url, settings, "tests")
        try:
            async with AsyncSession(eng) as session:
                bind_scope(session, UNRESTRICTED)
                for code, name in sorted(REGIONS.items(), key=lambda kv: level_of(kv[0])):
                    session.add(Region(code=code, name=name, level=int(level_of(code)), parent_code=parent_of(code)))
                    await session.flush()
                await _year_of_money(session)
                await session.commit()
            await asyncio.to_thread(upgrade, url, "14c57a6a5273")  # the totals, in yuan
            async with AsyncSession(eng) as session:
                yuan = (await session.execute(text(f"SELECT {KEY}, {', '.join(SUMS)} FROM fund_project_totals"))).all()
            assert len(yuan) == 6
            await asyncio.to_thread(upgrade, url, FEN_REVISION)
            async with AsyncSession(eng) as session:
                bind_scope(session, UNRESTRICTED)
                kept, expected = await _totals(session)
                assert kept == expected and len(kept) == 6
                assert {k: v[0] for k, v in kept.items()} == {
                    tuple(r[:3]): {s: v if s == "entries" else int(v * 100) for s, v in zip(SUMS, r[3:], strict=True)}
                    for r in yuan
                }
                await assert_indicators_exact(session, monkeypatch)

            await asyncio.to_thread(command.downgrade, alembic_config(url), "14c57a6a5273")
            async with AsyncSession(eng) as session:
                back = (await session.execute(text(f"SELECT {KEY}, {', '.join(SUMS)} FROM fund_project_totals"))).all()
            assert sorted(map(written, back)) == sorted(map(written, yuan))  # "0" and "12.50" alike
            await asyncio.to_thread(upgrade, url, FEN_REVISION)
            async with AsyncSession(eng) as session:
                bind_scope(session, UNRESTRICTED)
                again, expected = await _totals(session)
                assert again == expected == kept
                # The triggers made anew count in fen.
                await session.execute(update(Disbursement).values(amount=Disbursement.amount + Decimal("0.01")))
                await assert_totals_exact(session)
                await assert_indicators_exact(session, monkeypatch)
        finally:
            await eng.dispose()


def test_the_migration_writes_out_the_functions_of_the_code():
    """The fen revision's SQL, written out as literals, is what ``totals`` generates now: a
    change to the functions needs a migration of its own."""
    import importlib.util

    from services.core.funds import totals
    from tests.conftest import ROOT

    (path,) = (ROOT / "migrations" / "versions").glob(f"*-{FEN_REVISION}_*.py")
    spec = importlib.util.spec_from_file_location("fen_revision", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.CREATE_SQL == totals.CREATE_SQL
    assert module.DROP_SQL == totals.DROP_SQL


async def test_a_parallel_plan_gives_the_same_indicators(session, monkeypatch):
    """The indicators' statements may run with a parallel worker (``indicators._SETTINGS``: from
    1 MB of table on). Forced onto these small tables, the worker is really used (EXPLAIN
    ANALYZE shows it launched) and every figure is the one computed without a worker, both
    from the totals and from the rows."""
    await _year_of_money(session)
    await session.flush()
    tuned = indicators._SETTINGS
    answers: dict[str, list] = {}
    statements: list[tuple[str, object]] = []
    connection = await session.connection()

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "WITH a AS" in statement:
            statements.append((statement, parameters))

    for mode, workers, smallest in (("alone", "0", "1MB"), ("parallel", "1", "0")):
        monkeypatch.setattr(
            indicators,
            "_SETTINGS",
            {**tuned, "max_parallel_workers_per_gather": workers, "min_parallel_table_scan_size": smallest},
        )
        event.listen(connection.sync_connection, "before_cursor_execute", capture)
        try:
            answers[mode] = [
                written((await compute_on(session, monkeypatch, prefix, YEAR, DAY, on_today))[0])
                for prefix in ("52", "529901", "529901001001")
                for on_today in (DAY, DAY + timedelta(days=1))  # from the totals, from the rows
            ]
        finally:
            event.remove(connection.sync_connection, "before_cursor_execute", capture)
    assert answers["parallel"] == answers["alone"]
    assert len(statements) == 2 * len(answers["alone"]) and answers["alone"][0]["indicators"]

    # The statements the parallel pass ran (totals and rows), explained under its settings.
    ran = statements[len(statements) // 2 :]
    assert {"fund_project_totals" in s for s, _ in ran} == {True, False}
    for statement, parameters in ran:
        async with tuning.tuned(session, **indicators._SETTINGS):
            plan = (await connection.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters)).all()
        text_plan = "\n".join(row[0] for row in plan)
        assert "Workers Launched: 1" in text_plan, text_plan
