"""Stand-in data for when ``services.core.demo.loader`` is not available: one county
(529901) with ``persons`` persons in households of four, loaded with COPY. Only the
columns the two benchmarked reads touch are varied."""
from __future__ import annotations

import random
from datetime import date, timedelta

import asyncpg

from services.core.idnumber import check_character, keyed_hash

COUNTY = "529901"


async def load_synthetic(url: str, settings, *, persons: int, seed: int = 2026, progress=print) -> dict:
    rng = random.Random(seed)
    key = settings.id_hash_key
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        regions = [("520000000000", "贵州省", 1, None), ("529900000000", "青山市", 2, "520000000000"),
                   (f"{COUNTY}000000", "清溪县", 3, "529900000000")]
        villages = []
        for t in range(1, 11):
            township = f"{COUNTY}{t:03d}000"
            regions.append((township, f"镇{t}", 4, f"{COUNTY}000000"))
            for v in range(1, 21):
                code = f"{COUNTY}{t:03d}{v:03d}"
                regions.append((code, f"村{t}-{v}", 5, township))
                villages.append(code)
        await conn.execute("INSERT INTO regions (code, name, level, parent_code) SELECT * FROM unnest("
                           "$1::varchar[], $2::varchar[], $3::smallint[], $4::varchar[]) ON CONFLICT DO NOTHING",
                           *map(list, zip(*regions)))
        households = (persons + 3) // 4
        first = await conn.fetchval("SELECT coalesce(max(id), 0) + 1 FROM households")
        hh_rows, person_rows = [], []
        born0 = date(1940, 1, 1)
        n = await conn.fetchval("SELECT count(*) FROM persons")
        for h in range(households):
            hid = first + h
            village = villages[h % len(villages)]
            size = min(4, persons - h * 4)
            members = []
            for m in range(size):
                day, sequence = divmod(n, 1000)
                n += 1
                born = born0 + timedelta(days=day % 25000)
                first17 = f"{COUNTY}{born:%Y%m%d}{sequence:03d}"
                number = first17 + check_character(first17)
                relation = ("head", "spouse", "child", "child")[m]
                members.append(relation)
                person_rows.append((
                    number, keyed_hash(number, key), f"张{rng.randrange(1000)}",
                    "male" if sequence % 2 else "female", born, hid, village, relation, "healthy",
                    "ordinary", "not_in_school", False, False, False, "none", "alive", 1,
                ))
            hh_rows.append((hid, f"{village}{hid:07d}", village, "ordinary", "active", "张", size, 1))
        progress(f"  synthetic: {len(hh_rows):,} households, {len(person_rows):,} persons")
        await conn.copy_records_to_table(
            "households", records=hh_rows,
            columns=["id", "household_no", "region_code", "category", "status", "head_name", "member_count",
                     "version"],
        )
        await conn.copy_records_to_table(
            "persons", records=person_rows,
            columns=["id_number", "id_hash", "name", "sex", "birth_date", "household_id", "region_code",
                     "relation", "health", "labour_capacity", "schooling", "medical_insurance",
                     "pension_insurance", "family_doctor", "employment", "status", "version"],
        )
        await conn.execute("SELECT setval(pg_get_serial_sequence('households', 'id'), $1)", first + households)
        await conn.execute("ANALYZE households; ANALYZE persons")
        return {"households": len(hh_rows), "persons": len(person_rows)}
    finally:
        await conn.close()
