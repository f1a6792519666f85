"""The bulk intake of risk clues (``monitoring.intake.report_many``) against ``clues.report``
made one after the other on the same input, in the same transaction (each run inside a
savepoint that is rolled back before the other): the same outcomes, clue rows, report rows,
stored deadlines and versions, statistics and audit entries. Ids are compared by their
place: the sequences are not rolled back with the savepoint."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import text

from services.api.auditing import merged_changes
from services.core.audit.service import CHANGES_KEY
from services.core.errors import Conflict, NotFound
from services.core.households.models import Household
from services.core.monitoring import clues as clue_service
from services.core.monitoring.context import load_policy_context
from services.core.monitoring.enums import ClueStatus
from services.core.monitoring.intake import report_many
from services.core.monitoring.models import ClueReport, RiskClue
from services.core.monitoring.reports import STAT_LEVELS, statistics
from services.core.monitoring.schemas import ClueIn, Reporter
from services.core.scope import bind_scope
from services.core.timeutil import today
from tests.factories import COUNTY, OTHER_COUNTY_VILLAGE, OTHER_TOWNSHIP_VILLAGE, VILLAGE, VILLAGE_2, id_number

DAY = today()
REPORTER = Reporter(user_id=None, client_id=7)
_CLUE_COLUMNS = [c.name for c in RiskClue.__table__.columns]
_REPORT_COLUMNS = [c.name for c in ClueReport.__table__.columns]


_numbers = itertools.count(1)


async def _households(session, *specs: tuple[str, str]) -> list[int]:
    made = []
    for region, status in specs:
        h = Household(
            household_no=f"INTAKE{next(_numbers):06d}",
            region_code=region,
            category="lifted_out",
            status=status,
            flags=[],
            member_count=1,
        )
        session.add(h)
        made.append(h)
    await session.flush()
    return [h.id for h in made]


def item(
    household_id: int, risks, channel="department_screening", ago: int | None = None, ref=None, source="dept", **kw
) -> ClueIn:
    return ClueIn(
        household_id=household_id,
        channel=channel,
        risk_types=list(risks),
        evidence=kw.pop("evidence", f"{channel} {'/'.join(risks)}"),
        reported_on=DAY - timedelta(days=ago) if ago is not None else None,
        source=source if ref is not None else kw.pop("source_", None),
        external_ref=ref,
        **kw,
    )


@pytest.fixture
async def world(session):
    """H1: two open clues (illness; disaster) and a known report; H2: nothing yet; H3:
    dissolved; H4: an open clue from a self-declaration; H5: another village, a dismissed
    clue of illness (not open: it takes nothing)."""
    h1, h2, h3, h4, h5 = await _households(
        session,
        (VILLAGE, "active"),
        (VILLAGE, "active"),
        (VILLAGE, "dissolved"),
        (VILLAGE_2, "active"),
        (OTHER_TOWNSHIP_VILLAGE, "active"),
    )
    rules = await load_policy_context(session)
    seed = Reporter(user_id=None, client_id=None)
    first, _ = await clue_service.report(session, rules, item(h1, ["illness"], "visit", ago=10, ref="known-1"), seed)
    await clue_service.report(session, rules, item(h1, ["disaster"], "visit", ago=3), seed)
    await clue_service.report(
        session, rules, item(h4, ["illness"], "self_declaration", ago=4, declarant_name="周五"), seed
    )
    dismissed, _ = await clue_service.report(session, rules, item(h5, ["illness"], ago=20), seed)
    await clue_service.close(session, rules, dismissed, ClueStatus.dismissed, None, reason="核实不属实")
    await session.flush()
    session.expunge_all()
    return {"h1": h1, "h2": h2, "h3": h3, "h4": h4, "h5": h5, "first_clue": first.id}


def batch(w) -> list[ClueIn]:
    h1, h2, h3, h4, h5 = (w[k] for k in ("h1", "h2", "h3", "h4", "h5"))
    return [
        item(h1, ["illness"], ref="a"),  # merged into H1's illness clue
        item(h1, ["unsafe_water"], ref="b", ago=1),  # created
        item(h1, ["unsafe_water", "disaster"], "visit"),  # the disaster clue is older than the new one
        item(h2, ["out_of_school"], ref="c", ago=5),  # created
        item(h2, ["out_of_school"], ago=8),  # merged, first report earlier: the deadline moves
        item(h2, ["out_of_school"], ref="c"),  # re-sent within the batch
        item(h3, ["illness"], ref="known-1"),  # known: no household check
        item(h4, ["illness"], "self_declaration", ago=6, declarant_name="周五"),  # earlier self-declaration
        item(h2, ["other"], "self_declaration", ago=2, declarant_name="陈二", declarant_phone="13800000000"),
        item(h2, ["other", "illness"], "visit", attachments=[{"name": "照片", "ref": "s3://x/1"}]),
        item(h5, ["illness"], ref="d"),  # the dismissed clue takes nothing
        item(h5, ["illness"], "visit", ago=30),  # merged into the clue just created, much earlier
    ]


async def _snapshot(session, w) -> dict:
    ids = [w[k] for k in ("h1", "h2", "h3", "h4", "h5")]
    clues = (
        (
            await session.execute(
                text(f"SELECT {', '.join(_CLUE_COLUMNS)} FROM risk_clues WHERE household_id = ANY(:ids) ORDER BY id"),
                {"ids": ids},
            )
        )
        .mappings()
        .all()
    )
    reports = (
        (
            await session.execute(
                text(
                    f"SELECT {', '.join('r.' + c for c in _REPORT_COLUMNS)} FROM clue_reports r JOIN risk_clues c "
                    "ON c.id = r.clue_id WHERE c.household_id = ANY(:ids) ORDER BY r.id"
                ),
                {"ids": ids},
            )
        )
        .mappings()
        .all()
    )
    stats = await statistics(session, COUNTY, STAT_LEVELS["village"], DAY.year, DAY)
    counts = (
        await session.execute(
            text("SELECT region_code, dimension, value, year, n, days FROM monitoring_case_counts ORDER BY 1, 2, 3, 4")
        )
    ).all()
    return {"clues": [dict(c) for c in clues], "reports": [dict(r) for r in reports], "stats": stats, "counts": counts}


class Renumber:
    """Ids written by a run, replaced by their place among the run's new ids."""

    def __init__(self, before: dict, after: dict):
        old_clues = {c["id"] for c in before["clues"]}
        old_reports = {r["id"] for r in before["reports"]}
        self.clues = {
            i: f"clue#{n}" for n, i in enumerate(sorted(c["id"] for c in after["clues"] if c["id"] not in old_clues))
        }
        self.reports = {
            i: f"report#{n}"
            for n, i in enumerate(sorted(r["id"] for r in after["reports"] if r["id"] not in old_reports))
        }

    def clue(self, i):
        return self.clues.get(i, i)

    def snapshot(self, snap: dict) -> dict:
        return {
            **snap,
            "clues": [{**c, "id": self.clue(c["id"])} for c in snap["clues"]],
            "reports": [
                {**r, "id": self.reports.get(r["id"], r["id"]), "clue_id": self.clue(r["clue_id"])}
                for r in snap["reports"]
            ],
        }

    def changes(self, changes: list[dict]) -> list[dict]:
        """The request's audit entries. The version is left out: the ORM's entries show the
        version a row was inserted with and none for its updates (it is not an attribute
        change but the mapper's counter); the bulk entries show the real ones. Nor is the
        "before" of a created row compared: the ORM's is the empty deadline its insert had
        before the second flush set it."""
        out = []
        for c in merged_changes(changes):
            table_ids = self.clues if c["table"] == "risk_clues" else self.reports
            after = {k: v for k, v in (c["after"] or {}).items() if k != "version"}
            c["before"] = {k: v for k, v in (c["before"] or {}).items() if k != "version"} or None
            if c["kind"] == "create":
                c["before"] = None
            if "id" in after:
                after["id"] = table_ids.get(after["id"], after["id"])
            if "clue_id" in after:
                after["clue_id"] = self.clue(after["clue_id"])
            out.append({**c, "id": table_ids.get(int(c["id"]), c["id"]), "after": after})
        return sorted(out, key=lambda c: (c["table"], str(c["id"])))


async def _run_both(session, w, items, sequential_items=None):
    """(outcomes, snapshot, audit changes) of ``report`` one by one and of ``report_many``,
    each from the same state, ids renumbered."""
    rules = await load_policy_context(session)
    before = await _snapshot(session, w)
    info = session.sync_session.info
    runs = {}
    for name in ("sequential", "bulk"):
        savepoint = await session.begin_nested()
        info[CHANGES_KEY] = []
        if name == "sequential":
            outcomes = []
            for data in sequential_items or items:
                clue, outcome = await clue_service.report(session, rules, data, REPORTER)
                outcomes.append((clue.id, outcome))
        else:
            outcomes = await report_many(session, rules, items, REPORTER, strict=sequential_items is None)
        await session.flush()
        after = await _snapshot(session, w)
        changes = info.pop(CHANGES_KEY)
        # The stored next deadline is what ``pending`` says now.
        for c in after["clues"]:
            clue = await session.get(RiskClue, c["id"])
            pending = await clue_service.pending(session, rules, clue)
            assert (c["next_deadline"], c["next_deadline_kind"]) == (
                (pending[0].due, pending[0].kind) if pending else (None, None)
            ), c
        renumber = Renumber(before, after)
        runs[name] = ([(renumber.clue(i), o) for i, o in outcomes], renumber.snapshot(after), renumber.changes(changes))
        await savepoint.rollback()
        session.expunge_all()
    return runs["sequential"], runs["bulk"]


async def test_bulk_equals_sequential(session, world):
    sequential, bulk = await _run_both(session, world, batch(world))
    outcomes = [o for _, o in bulk[0]]
    assert outcomes == [
        "merged",
        "created",
        "merged",
        "created",
        "merged",
        "duplicate",
        "duplicate",
        "merged",
        "created",
        "merged",
        "created",
        "merged",
    ]
    assert bulk[0] == sequential[0]
    assert bulk[1]["clues"] == sequential[1]["clues"]
    assert bulk[1]["reports"] == sequential[1]["reports"]
    assert bulk[1]["stats"] == sequential[1]["stats"] and bulk[1]["counts"] == sequential[1]["counts"]
    assert bulk[2] == sequential[2]

    clues = {c["id"]: c for c in bulk[1]["clues"]}
    h1_ids = [c["id"] for c in bulk[1]["clues"] if c["household_id"] == world["h1"]]
    assert bulk[0][0][0] == world["first_clue"]
    assert bulk[0][2][0] == h1_ids[1]  # the disaster clue, not the new unsafe_water one
    assert clues[h1_ids[1]]["risk_types"] == ["disaster", "unsafe_water"]
    assert clues[h1_ids[1]]["channels"] == ["visit"] and clues[h1_ids[1]]["report_count"] == 2
    # H2's out-of-school clue: two reports, the first day of the earlier one, re-sent ref one clue.
    school = clues[bulk[0][3][0]]
    assert school["report_count"] == 2 and school["first_reported_on"] == DAY - timedelta(days=8)
    assert bulk[0][5][0] == bulk[0][3][0]
    # The self-declared clue has the acceptance deadline; a visit joined it.
    other = clues[bulk[0][8][0]]
    assert other["channels"] == ["self_declaration", "visit"] and other["risk_types"] == ["other", "illness"]
    assert other["next_deadline_kind"] == "clue_acceptance"
    # H5: a new clue beside the dismissed one, its first report the earlier one.
    h5 = clues[bulk[0][10][0]]
    assert h5["status"] == "open" and h5["first_reported_on"] == DAY - timedelta(days=30)
    assert bulk[0][11][0] == bulk[0][10][0]
    # Versions as the ORM's flushes leave them: a new clue 2 (insert, deadline), +1 per report,
    # +1 more when the deadline moved.
    assert school["version"] == 4 and h5["version"] == 4 and other["version"] == 3


async def test_bulk_refuses_a_dissolved_household_as_report_does(session, world):
    rules = await load_policy_context(session)
    items = [item(world["h2"], ["illness"], ref="x"), item(world["h3"], ["illness"], ref="y")]
    with pytest.raises(Conflict) as err:
        await report_many(session, rules, items, REPORTER)
    assert err.value.code == "household_dissolved" and err.value.params == {"id": world["h3"]}
    with pytest.raises(Conflict):
        await clue_service.report(session, rules, items[1], REPORTER)
    # Nothing of the batch was written.
    assert (
        await session.execute(text("SELECT count(*) FROM clue_reports WHERE external_ref IN ('x', 'y')"))
    ).scalar_one() == 0

    with pytest.raises(NotFound) as err:
        await report_many(session, rules, [item(10**12, ["illness"])], REPORTER)
    assert err.value.code == "household_not_found"


async def test_refused_items_are_skipped_and_the_rest_is_as_sequential(session, world):
    items = batch(world)
    refused_at = {2, 7}
    items.insert(2, item(world["h3"], ["disaster"], ref="dissolved"))
    items.insert(7, item(10**12, ["illness"], ref="nobody"))
    sequential, bulk = await _run_both(
        session, world, items, sequential_items=[i for n, i in enumerate(items) if n not in refused_at]
    )
    assert [bulk[0][n] for n in sorted(refused_at)] == [(None, "refused")] * 2
    assert [o for n, o in enumerate(bulk[0]) if n not in refused_at] == sequential[0]
    assert bulk[1] == sequential[1] and bulk[2] == sequential[2]


async def test_bulk_keeps_to_the_session_region(session, world):
    """A household outside the caller's regions is not found (404), as by ``report``; a
    reference known only outside them is no duplicate."""
    rules = await load_policy_context(session)
    other = (await _households(session, (OTHER_COUNTY_VILLAGE, "active")))[0]
    bind_scope(session, VILLAGE)
    with pytest.raises(NotFound):
        await report_many(session, rules, [item(other, ["illness"])], REPORTER)
    with pytest.raises(NotFound):
        await report_many(session, rules, [item(world["h4"], ["illness"])], REPORTER)  # VILLAGE_2
    outcomes = await report_many(
        session, rules, [item(other, ["illness"]), item(world["h2"], ["illness"])], REPORTER, strict=False
    )
    assert outcomes[0] == (None, "refused") and outcomes[1][1] == "created"


async def test_empty_batch_and_missing_household(session, world):
    rules = await load_policy_context(session)
    assert await report_many(session, rules, [], REPORTER) == []
    by_number = ClueIn(id_number=id_number(), channel="visit", risk_types=["illness"], evidence="x")
    with pytest.raises(ValueError):
        await report_many(session, rules, [by_number], REPORTER)
