"""The COPY text of a generated batch, table by table in load order: the format PostgreSQL
reads fastest, written exactly (money as decimal text from integer fen), with the ID
numbers and health details hashed and encrypted as ``services.core.households.sensitive``
stores them.

Rows go through COPY in text format: asyncpg's binary encoder spends about a microsecond
per ``numeric`` value in Python, which made ``copy_records_to_table`` about three times
slower than writing the exact decimal text ourselves (income rows have seven money
columns).
"""

from __future__ import annotations

from services.core.crypto import Keyring
from services.core.households.sensitive import HEALTH_AAD, ID_NUMBER_AAD, health_plaintext
from services.core.idnumber import keyed_hasher, mask
from services.demo.income import CENTS, fen_text
from services.demo.layout import LOADED_TABLES, MONITORING_TABLES
from services.demo.plan import Batch

# ---- COPY text format --------------------------------------------------------------------
# Every value the generator makes is free of tab, newline and backslash, so only NULL,
# booleans, arrays, bytea and money need a conversion.

N = "\\N"


def _t(v) -> str:
    return N if v is None else str(v)


def _arr(values) -> str:
    return "{" + ",".join(values) + "}"


def render_monitoring(batch: Batch) -> list[tuple[str, bytes, int]]:
    """(table, COPY text, rows) of a batch's monitoring rows, in ``MONITORING_TABLES`` order.
    Dates and ids are written with ``str``; the recorded-at timestamps of a demo import are
    the day's date at a fixed hour, China time."""
    t = _t
    out: list[tuple[str, bytes, int]] = []
    lines = [
        f"{cid}\t{hid}\t{region}\t{ctype}\t{_arr(risks)}\t{status}\t{first}\t{opened}\t{t(consent)}\t"
        f"{t(nstart)}\t{t(nend)}\t{t(identified)}\t{t(before)}\t{t(cadre)}\t{t(cadre_on)}\t{t(plan_on)}\t"
        f"{t(visit)}\t{t(proposed)}\t{t(eliminated)}\t{t(way)}\t{t(closed)}\t{t(reason)}\t{t(due)}\t{t(kind)}\t"
        f"{'t' if provisional else 'f'}\t{breaches}\t{t(reopened)}\t{version}\n"
        for (
            cid,
            hid,
            region,
            ctype,
            risks,
            status,
            first,
            opened,
            consent,
            nstart,
            nend,
            identified,
            before,
            cadre,
            cadre_on,
            plan_on,
            visit,
            proposed,
            eliminated,
            way,
            closed,
            reason,
            due,
            kind,
            provisional,
            breaches,
            reopened,
            version,
        ) in batch.monitoring_cases
    ]
    out.append(("monitoring_cases", "".join(lines).encode(), len(lines)))
    lines = [
        f"{cid}\t{hid}\t{region}\t{_arr(risks)}\t{_arr(channels)}\t{status}\t{first}\t{reports}\t{t(due)}\t"
        f"{t(kind)}\t{'t' if provisional else 'f'}\t{breaches}\t{t(case_id)}\t{t(reason)}\t{t(by)}\t"
        f"{N if at is None else f'{at} 16:00:00+08'}\t{version}\n"
        for (
            cid,
            hid,
            region,
            risks,
            channels,
            status,
            first,
            reports,
            due,
            kind,
            provisional,
            breaches,
            case_id,
            reason,
            by,
            at,
            version,
        ) in batch.risk_clues
    ]
    out.append(("risk_clues", "".join(lines).encode(), len(lines)))
    lines = [
        f"{rid}\t{clue}\t{region}\t{channel}\t{_arr(risks)}\t{evidence}\t{attachments}\t{day}\t{t(user)}\t"
        f"{t(client)}\t{t(name)}\t{t(phone)}\t{t(source)}\t{t(ref)}\t{created} 09:00:00+08\n"
        for (
            rid,
            clue,
            region,
            channel,
            risks,
            evidence,
            attachments,
            day,
            user,
            client,
            name,
            phone,
            source,
            ref,
            created,
        ) in batch.clue_reports
    ]
    out.append(("clue_reports", "".join(lines).encode(), len(lines)))
    lines = [
        f"{tid}\t{case_id}\t{region}\t{action}\t{t(frm)}\t{to}\t{t(comment)}\t{attachments}\t{details}\t"
        f"{day}\t{t(user)}\t{t(client)}\t{at} 10:00:00+08\n"
        for (
            tid,
            case_id,
            region,
            action,
            frm,
            to,
            comment,
            attachments,
            details,
            day,
            user,
            client,
            at,
        ) in batch.case_transitions
    ]
    out.append(("case_transitions", "".join(lines).encode(), len(lines)))
    lines = [
        f"{mid}\t{case_id}\t{hid}\t{region}\t{category}\t{content}\t{unit}\t{planned}\t{start}\t{t(end)}\t"
        f"{status}\t{t(result)}\t{N if amount is None else fen_text(amount)}\t{t(by)}\t{version}\n"
        for (
            mid,
            case_id,
            hid,
            region,
            category,
            content,
            unit,
            planned,
            start,
            end,
            status,
            result,
            amount,
            by,
            version,
        ) in batch.assistance_measures
    ]
    out.append(("assistance_measures", "".join(lines).encode(), len(lines)))
    lines = [
        f"{vid}\t{case_id}\t{hid}\t{region}\t{cadre}\t{day}\t{mode}\t{findings}\t{attachments}\t{t(by)}\t"
        f"{created} 18:00:00+08\n"
        for vid, case_id, hid, region, cadre, day, mode, findings, attachments, by, created in batch.case_visits
    ]
    out.append(("case_visits", "".join(lines).encode(), len(lines)))
    assert all(part[0] == table for part, table in zip(out, MONITORING_TABLES, strict=True))
    return out


_HEALTH_PLAIN: dict[tuple, bytes] = {}


def _health_plaintext(health: str, disability_grade: int | None, illness: str | None) -> bytes:
    """``health_plaintext``, kept for each of the few combinations the generator makes."""
    key = (health, disability_grade, illness)
    plain = _HEALTH_PLAIN.get(key)
    if plain is None:
        if len(_HEALTH_PLAIN) > 4096:  # the generator's lists are short; bound it anyway
            _HEALTH_PLAIN.clear()
        plain = _HEALTH_PLAIN[key] = health_plaintext(health, disability_grade, illness)
    return plain


def render(batch: Batch, id_hash_key: bytes, keyring: Keyring) -> list[tuple[str, bytes, int]]:
    """(table, COPY text, rows) for each table of a batch, in load order (``LOADED_TABLES``).

    Money is exact decimal text from integer fen (``fen_text``); amounts that cannot be
    negative are formatted inline, which is measurably faster than a call per value. ID
    numbers and health details are encrypted here (in the worker processes of a large
    load), as ``services.core.households.sensitive`` stores them."""
    digest = keyed_hasher(id_hash_key)
    ft = fen_text
    cents = CENTS
    seal_all = keyring.encrypt_all
    health_plain = _health_plaintext
    out: list[tuple[str, bytes, int]] = []

    lines = [
        f"{hid}\t{no}\t{region}\t{cat}\t{N if prev is None else prev}\t{{{','.join(flags)}}}\t"
        f"{N if site is None else site}\t{N if addr is None else addr}\t{N if phone is None else phone}\t"
        f"{status}\t{N if head is None else head}\t{members}\t{version}\n"
        for hid, no, region, cat, prev, flags, site, addr, phone, status, head, members, version in batch.households
    ]
    out.append(("households", "".join(lines).encode(), len(lines)))

    # The two blobs of every person are sealed a column at a time (``encrypt_all``: the
    # nonces drawn from the system in one call); the ID-number hash is ``keyed_hasher``'s
    # (HMAC's keyed states set up once, not per number); the few distinct health
    # plaintexts are made once each.
    persons = batch.persons
    id_blobs = seal_all([row[1].encode() for row in persons], ID_NUMBER_AAD)
    health_blobs = seal_all([health_plain(row[8], row[9], row[10]) for row in persons], HEALTH_AAD)
    lines = [
        f"{pid}\t\\\\x{id_blob.hex()}\t\\\\x{digest(idn).hex()}\t{mask(idn)}\t{name}\t{sex}\t"
        f"{born}\t{hid}\t{region}\t{N if rel is None else rel}\t\\\\x{health_blob.hex()}\t{labour}\t"
        f"{N if edu is None else edu}\t{schooling}\t"
        f"{N if school is None else school}\t{'t' if med else 'f'}\t{'t' if pension else 'f'}\t"
        f"{'t' if doctor else 'f'}\t{emp}\t{N if place is None else place}\t{N if months is None else months}\t"
        f"{N if income is None else ft(income)}\t{N if phone is None else phone}\t{status}\t{version}\n"
        for (
            (
                pid,
                idn,
                name,
                sex,
                born,
                hid,
                region,
                rel,
                _health,
                _grade,
                _illness,
                labour,
                edu,
                schooling,
                school,
                med,
                pension,
                doctor,
                emp,
                place,
                months,
                income,
                phone,
                status,
                version,
            ),
            id_blob,
            health_blob,
        ) in zip(persons, id_blobs, health_blobs, strict=True)
    ]
    out.append(("persons", "".join(lines).encode(), len(lines)))

    lines = [
        f"{mid}\t{pid}\t{hid}\t{region}\t{N if rel is None else rel}\t{reason}\n"
        for mid, pid, hid, region, rel, reason in batch.memberships
    ]
    out.append(("memberships", "".join(lines).encode(), len(lines)))

    lines = [
        f"{eid}\t{hid}\t{region}\t{kind}\t{{{','.join(map(str, pids))}}}\t{N if note is None else note}\n"
        for eid, hid, region, kind, pids, note in batch.events
    ]
    out.append(("household_events", "".join(lines).encode(), len(lines)))

    # The four parts, costs and spending are never negative (here and in the yearly totals); net
    # income can be.
    lines = [
        f"{rid}\t{hid}\t{region}\t{year}\t{quarter}\t{w // 100}.{cents[w % 100]}\t{b // 100}.{cents[b % 100]}\t"
        f"{p // 100}.{cents[p % 100]}\t{t // 100}.{cents[t % 100]}\t{details}\t{c // 100}.{cents[c % 100]}\t"
        f"{e // 100}.{cents[e % 100]}\t{n}\t{ft(net)}\t{ft(pc)}\t{version}\n"
        for rid, hid, region, year, quarter, w, b, p, t, details, c, e, n, net, pc, version in batch.income_records
    ]
    out.append(("income_records", "".join(lines).encode(), len(lines)))

    lines = [
        f"{hid}\t{year}\t{region}\t{quarters}\t{w // 100}.{cents[w % 100]}\t{b // 100}.{cents[b % 100]}\t"
        f"{p // 100}.{cents[p % 100]}\t{t // 100}.{cents[t % 100]}\t{c // 100}.{cents[c % 100]}\t"
        f"{e // 100}.{cents[e % 100]}\t"
        f"{n}\t{ft(net)}\t{ft(pc)}\n"
        for hid, year, region, quarters, w, b, p, t, c, e, n, net, pc in batch.income_years
    ]
    out.append(("income_years", "".join(lines).encode(), len(lines)))

    lines = [
        f"{hid}\t{region}\t{edu}\t{med}\t{housing}\t{water}\t{N if grade is None else grade}\t"
        f"{N if note is None else note}\t{version}\n"
        for hid, region, edu, med, housing, water, grade, note, version in batch.guarantees
    ]
    out.append(("household_guarantees", "".join(lines).encode(), len(lines)))
    out += render_monitoring(batch)
    assert [part[0] for part in out] == list(LOADED_TABLES)
    return out
