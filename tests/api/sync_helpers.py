"""Helpers of the sync API tests: a sources file with sources in both test counties, and
rows seeded straight into the database (runs, quarantined records with an encrypted
payload, findings), as the worker would leave them."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson

from services.core.crypto import keyring
from services.core.settings import Settings
from services.core.sync.models import Finding, QuarantinedRecord, SourceState, SyncRun
from services.core.sync.sealing import QUARANTINE_AAD


def civil_affairs_pull(base_url: str) -> str:
    """A sources file of one civil-affairs source pulled with cursor pages and no sign-in
    (the sync tests' stand-in department at ``base_url``)."""
    return f"""
[[sources]]
name = "civil-affairs"
kind = "civil-affairs"
base_url = "{base_url}"
counties = ["529901"]
[sources.auth]
style = "none"
[sources.paging]
style = "cursor"
path = "/api/assistance"
items = "records"
next_cursor = "next"
[sources.fields]
record_id = ["jzid"]
id_number = ["sfzh"]
name = ["xm"]
benefit = ["jzlx"]
start_date = ["ksrq"]
amount = ["yje"]
"""


# civil-affairs: pulled, county 529901; medical-insurance: pulled, both counties;
# housing: spreadsheets only, county 529902.
SOURCES_TOML = """
[[sources]]
name = "civil-affairs"
kind = "civil-affairs"
title = "县民政局：低保、特困"
base_url = "http://127.0.0.1:9"
counties = ["529901"]
every_hours = 720
[sources.auth]
client_id = "guardline"
client_secret = "never-shown-secret"
[sources.paging]
style = "cursor"
path = "/api/assistance"
items = "data.records"
next_cursor = "data.next_cursor"
[sources.fields]
record_id = ["jzid", "救助编号"]
id_number = ["sfzh", "公民身份号码"]
name = ["xm", "姓名"]
benefit = ["jzlx"]
start_date = ["ksrq"]

[[sources]]
name = "medical-insurance"
kind = "medical-insurance"
title = "县医疗保障局"
base_url = "http://127.0.0.1:9"
counties = ["529901", "529902"]
every_hours = 240
[sources.paging]
style = "updated_since"
path = "/api/v2/records"
items = "items"
has_more = "has_more"
[sources.fields]
record_id = ["key"]
record_type = ["type"]
id_number = ["id_no"]
name = ["name"]
year = ["year"]

[[sources]]
name = "housing"
kind = "generic"
title = "县住建局：危房"
counties = ["529902"]
[sources.fields]
record_id = ["fwbh"]
id_number = ["sfzh"]
"""

# The source of each test county that serves that county only.
SOURCE_OF_COUNTY = {"529901": "civil-affairs", "529902": "housing"}


def settings_with_sources(settings: Settings, directory: Path) -> Settings:
    path = directory / "sources.toml"
    path.write_text(SOURCES_TOML, encoding="utf-8")
    return settings.model_copy(update={"sync": settings.sync.model_copy(update={"sources_file": path})})


_fingerprints = itertools.count(1)


async def add_run(session, source: str, county: str, status: str = "succeeded", **fields) -> SyncRun:
    defaults = {
        "phase": "done" if status in ("succeeded", "failed") else "fetching",
        "trigger": "schedule",
        "attempts": 1,
        "pages": 3,
        "fetched": 250,
        "staged": 40,
        "unchanged": 200,
        "quarantined": 10,
        "retries": 1,
        "matched": 230,
        "unmatched": 10,
        "findings_opened": 5,
        "findings_resolved": 1,
        "findings_open": 12,
        "clues": 2,
    }
    run = SyncRun(source=source, county=county, status=status, **{**defaults, **fields})
    session.add(run)
    await session.flush()
    return run


async def add_quarantined(
    session,
    settings: Settings,
    source: str,
    county: str,
    run_id: int,
    raw,
    reason: str = "id_number.check_digit",
    **fields,
) -> QuarantinedRecord:
    plain = raw if isinstance(raw, bytes) else orjson.dumps(raw)
    record = QuarantinedRecord(
        source=source,
        county=county,
        first_run_id=run_id,
        last_run_id=run_id,
        reason=reason,
        raw_enc=keyring(settings).encrypt(plain, QUARANTINE_AAD),
        raw_hash=next(_fingerprints).to_bytes(32, "big"),
        **{
            "status": "open",
            "field": "id_number",
            "detail": "18 characters, check digit wrong",
            "location": "page 2",
            "external_key": "JZ-0001",
            **fields,
        },
    )
    session.add(record)
    await session.flush()
    return record


async def add_finding(
    session,
    *,
    region_code: str,
    run_id: int,
    rule_id: str = "not_insured",
    source: str = "medical-insurance",
    health: bool = False,
    person_id: int | None = None,
    household_id: int | None = None,
    **fields,
) -> Finding:
    finding = Finding(
        fingerprint=f"test:{rule_id}:{next(_fingerprints)}",
        rule_id=rule_id,
        severity=fields.pop("severity", "high"),
        source=source,
        county=region_code[:6],
        region_code=region_code,
        person_id=person_id,
        household_id=household_id,
        records=fields.pop("records", [{"source": source, "external_key": "MI-2026-0001"}]),
        values=fields.pop("values", {"year": 2026, "insured": False}),
        health=health,
        first_run_id=run_id,
        last_run_id=run_id,
        **fields,
    )
    session.add(finding)
    await session.flush()
    return finding


async def open_breaker(session, source: str, until, failures: int = 3) -> SourceState:
    state = SourceState(source=source, consecutive_failures=failures, open_until=until, last_error="HTTP 503")
    session.add(state)
    await session.flush()
    return state


async def sync_objects(db, settings: Settings, village: str, household: dict) -> dict:
    """Objects to aim sync requests at, in ``village``'s county: a finished run
    (``run_id``), a quarantined record (``quarantine_id``) and an open finding about the
    household's head (``finding_id``)."""
    from services.core.scope import UNRESTRICTED, bind_scope

    county = village[:6]
    source = SOURCE_OF_COUNTY.get(county, "civil-affairs")
    session = db.session()
    bind_scope(session, UNRESTRICTED)
    try:
        run = await add_run(session, source, county)
        record = await add_quarantined(session, settings, source, county, run.id, {"sfzh": "52990119800101001X"})
        finding = await add_finding(
            session,
            region_code=village,
            run_id=run.id,
            source=source,
            person_id=household["members"][0]["id"],
            household_id=household["id"],
        )
        await session.commit()
        return {
            "run_id": run.id,
            "quarantine_id": record.id,
            "finding_id": finding.id,
            "source": source,
            "county": county,
        }
    finally:
        await session.close()
