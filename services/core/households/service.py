"""The household registry: households, their members, moves, splits and merges.

Services flush but never commit (the request or job owns the transaction). Every query
goes through the scoped session, so a household outside the caller's regions is simply
not found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    LargeBinary,
    String,
    and_,
    bindparam,
    case,
    cast,
    event,
    func,
    inspect,
    literal,
    null,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.core import idnumber
from services.core.base import Base, RegionScoped, table_of
from services.core.crypto import Keyring
from services.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.core.guarantees.models import HouseholdGuarantees
from services.core.households import sensitive
from services.core.households.enums import (
    Category,
    Flag,
    HouseholdEventKind,
    HouseholdStatus,
    MembershipChange,
    PersonStatus,
    Relation,
)
from services.core.households.models import Household, HouseholdEvent, Membership, Person
from services.core.households.schemas import (
    HouseholdCreate,
    HouseholdUpdate,
    MergeRequest,
    PersonCreate,
    PersonUpdate,
    SplitRequest,
)
from services.core.paging import KeyPage, ListReads, after_key, keyset_page
from services.core.regions.service import get_village
from services.core.repository import by_id
from services.core.scope import ScopedRead, scope_of
from services.core.timeutil import now

# ---- reads ----------------------------------------------------------------------------


def _person_json(p=Person, birth_date: bool = False):
    """JSON of one person, built by PostgreSQL so a read needs no per-row Python work.

    Without the health details: they are encrypted, and only some roles may see them
    (``sensitive.household_with_health``). The ID number is the stored masked form. The
    birth date is given only with ``birth_date`` (roles that may reveal the number,
    ``sensitive.sees_birth_date``); everyone sees the birth year: a full date beside the
    masked number would narrow it down to a few candidates (docs/personal-data.md)."""
    return func.json_build_object(
        "id",
        p.id,
        "id_number",
        p.id_masked,
        "name",
        p.name,
        "sex",
        p.sex,
        "birth_date",
        p.birth_date if birth_date else null(),
        "birth_year",
        cast(func.date_part("year", p.birth_date), Integer),
        "household_id",
        p.household_id,
        "region_code",
        p.region_code,
        "relation",
        p.relation,
        "labour_capacity",
        p.labour_capacity,
        "education_level",
        p.education_level,
        "schooling",
        p.schooling,
        "school",
        p.school,
        "medical_insurance",
        p.medical_insurance,
        "pension_insurance",
        p.pension_insurance,
        "family_doctor",
        p.family_doctor,
        "employment",
        p.employment,
        "employment_place",
        p.employment_place,
        "employment_months",
        p.employment_months,
        "employment_income",
        cast(p.employment_income, String),
        "phone",
        p.phone,
        "status",
        p.status,
        "date_of_death",
        p.date_of_death,
        "version",
        p.version,
    )


# Members in a stable order: the head first, then the spouse, then by age.
_MEMBER_ORDER = (
    case((Person.relation == "head", 0), (Person.relation == "spouse", 1), else_=2),
    Person.birth_date,
    Person.id,
)


# Flags that tell a member's health (残疾, 重病): shown and searchable only by callers who
# may see health details, like the details themselves.
HEALTH_FLAGS = (Flag.disabled, Flag.serious_illness)


def flags_shown(column, health: bool):
    """The flags column as a caller sees it."""
    if health:
        return column
    for flag in HEALTH_FLAGS:
        column = func.array_remove(column, literal(flag.value, String))
    return column


def household_detail_statement(household_id, *, health_flags: bool = True, birth_date: bool = True):
    """One round trip: the household's version, the household with its members as a JSON
    document, and the members' encrypted health details in the same order as the members.

    ``household_id`` may be a value or a bind parameter; the benchmark's bare endpoint
    runs the same SQL compiled from here. Without ``health_flags`` the flags that tell health are
    left out (the encrypted details are returned either way; only a keyring opens them);
    without ``birth_date`` the members' birth dates are null (their birth years remain).
    ``household_id`` None: (id, document) of each household of the bind parameter ``ids``
    (the change feed, ``services.core.events.changes``)."""

    def of_members(aggregate):
        return select(aggregate).where(Person.household_id == Household.id).correlate(Household).scalar_subquery()

    members = of_members(
        func.coalesce(
            func.json_agg(aggregate_order_by(_person_json(birth_date=birth_date), *_MEMBER_ORDER)), text("'[]'::json")
        )
    )
    health = of_members(func.array_agg(aggregate_order_by(Person.health_enc, *_MEMBER_ORDER)))
    h = Household
    doc = func.json_build_object(
        "id",
        h.id,
        "household_no",
        h.household_no,
        "region_code",
        h.region_code,
        "category",
        h.category,
        "previous_category",
        h.previous_category,
        "flags",
        flags_shown(h.flags, health_flags),
        "resettlement_site",
        h.resettlement_site,
        "address",
        h.address,
        "phone",
        h.phone,
        "status",
        h.status,
        "head_name",
        h.head_name,
        "member_count",
        h.member_count,
        "version",
        h.version,
        "created_at",
        h.created_at,
        "updated_at",
        h.updated_at,
        "members",
        members,
    )
    if household_id is None:  # the documents of several households (``household_documents``)
        return select(h.id, cast(doc, String)).where(h.id.in_(bindparam("ids", expanding=True)))
    return select(h.version, cast(doc, String), health).where(h.id == household_id)


# The hot reads are built once: constructing a statement of this size costs more than
# running it. Only the bound values change per request.
# One per (health flags shown, birth dates shown).
_HOUSEHOLD_READS = {
    (health, born): ScopedRead(
        household_detail_statement(bindparam("household_id", type_=BigInteger), health_flags=health, birth_date=born),
        "household_id",
    )
    for health in (True, False)
    for born in (True, False)
}
HOUSEHOLD_DETAIL = _HOUSEHOLD_READS[True, True]
HOUSEHOLD_DETAIL_MASKED = _HOUSEHOLD_READS[False, False]


async def household_detail(
    source, household_id: int, health: Keyring | None = None, *, birth_date: bool = False
) -> tuple[int, str | bytes]:
    """(version, JSON document) of a household and its members. The health details are
    decrypted and included only when ``health`` (the keyring) is given, the birth dates
    only with ``birth_date``: the caller's role decides that, not this function."""
    read = _HOUSEHOLD_READS[health is not None, birth_date]
    row = await read.first(source, household_id=household_id)
    if row is None:
        raise NotFound("household_not_found", field="household_id", id=household_id)
    if health is None:
        return row[0], row[1]
    return row[0], sensitive.household_with_health(row[1], row[2], health)


def person_lookup_statement(id_hash, birth_date: bool = True):
    return select(
        Person.version, Person.id, cast(_person_json(birth_date=birth_date), String), Person.health_enc
    ).where(Person.id_hash == id_hash)


_PERSON_LOOKUPS = {
    born: ScopedRead(person_lookup_statement(bindparam("id_hash", type_=LargeBinary), born), "id_hash")
    for born in (True, False)
}
PERSON_LOOKUP = _PERSON_LOOKUPS[True]
_PERSON_BY_ID = {
    born: select(Person.version, cast(_person_json(birth_date=born), String), Person.health_enc).where(
        Person.id == bindparam("person_id", type_=BigInteger)
    )
    for born in (True, False)
}


async def person_by_id_number(
    source, number: str, key: bytes, health: Keyring | None = None, *, birth_date: bool = False
) -> tuple[int, int, str | bytes]:
    """(version, person id, JSON document) of the person with this ID number; health
    details and birth date as in ``household_detail``."""
    row = await _PERSON_LOOKUPS[birth_date].first(source, id_hash=idnumber.keyed_hash(number, key))
    if row is None:
        raise NotFound("person_id_number_not_found", field="id_number")
    if health is None:
        return row[0], row[1], row[2]
    return row[0], row[1], sensitive.person_with_health(row[2], row[3], health)


async def person_json(
    session: AsyncSession, person_id: int, health: Keyring | None = None, *, birth_date: bool = False
) -> tuple[int, str | bytes]:
    row = (await session.execute(_PERSON_BY_ID[birth_date], {"person_id": person_id})).first()
    if row is None:
        raise NotFound("person_not_found", field="person_id", id=person_id)
    if health is None:
        return row[0], row[1]
    return row[0], sensitive.person_with_health(row[1], row[2], health)


def summary_columns(health: bool) -> tuple:
    return (
        Household.id,
        Household.household_no,
        Household.region_code,
        Household.category,
        flags_shown(Household.flags, health).label("flags"),
        Household.head_name,
        Household.member_count,
        Household.status,
        Household.version,
    )


HOUSEHOLD_ORDER = [(Household.id, False)]


def check_flags_visible(flags: Iterable[Any] | None, health: bool) -> None:
    """Without ``health`` the health flags are not searchable either (403)."""
    if not health and flags and set(flags) & set(HEALTH_FLAGS):
        raise Forbidden("health_flags_forbidden", field="flags")


def starts_with(text: str) -> str:
    """The LIKE pattern of a prefix (``/`` escapes ``%``, ``_`` and itself), as
    ``startswith(…, autoescape=True)`` makes it, but usable as a bound value."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def household_list_statement(
    *,
    health: bool,
    region: tuple[Any, Any] | None = None,
    category: Any = None,
    flags: Any = None,
    status: Any = None,
    income: tuple[Any, Any] | None = None,
    name_like: Any = None,
) -> Any:
    """The households of a list, before its page (``keyset``): the columns of
    ``summary_columns`` and the filters given, each a value or a bind parameter (None: no
    such filter). ``region`` is the (low, high) bounds of a prefix (``region_bounds``),
    ``income`` is (below, year), ``name_like`` a member's name pattern (``starts_with``).
    The service runs it with values, the direct list handler compiles it once per shape
    with bind parameters (``household_list_read``): one statement for both."""
    from services.core.income.models import IncomeYear

    stmt = select(*summary_columns(health))
    if region is not None:
        stmt = stmt.where(Household.region_code >= region[0], Household.region_code < region[1])
    if category is not None:
        stmt = stmt.where(Household.category == category)
    if flags is not None:
        stmt = stmt.where(Household.flags.contains(flags))
    if status is not None:
        stmt = stmt.where(Household.status == status)
    if income is not None:
        below, year = income
        stmt = stmt.join(IncomeYear, and_(IncomeYear.household_id == Household.id, IncomeYear.year == year)).where(
            IncomeYear.per_capita_net < below
        )
    if name_like is not None:
        stmt = stmt.where(Household.id.in_(select(Person.household_id).where(Person.name.like(name_like, escape="/"))))
    return stmt


def region_bounds(prefix: str) -> tuple[str, str]:
    """The bounds of the households under a region prefix (as ``scope.under``)."""
    return prefix, prefix + ":"


async def list_households(
    session: AsyncSession,
    *,
    region: str | None = None,
    category: Any = None,
    flags: list[Any] | None = None,
    income_below: Any = None,
    income_year: int | None = None,
    name: str | None = None,
    status: HouseholdStatus | None = HouseholdStatus.active,
    cursor: str | None = None,
    limit: int = 50,
    health: bool = True,
) -> KeyPage[dict[str, Any]]:
    """A page of households ordered by id, each a dict of ``summary_columns``.
    Without ``health`` the health flags are neither shown nor searchable (403)."""
    after = after_key(cursor, HOUSEHOLD_ORDER)  # a bad cursor is refused first
    check_flags_visible(flags, health)
    stmt = household_list_statement(
        health=health,
        region=region_bounds(region) if region else None,
        category=category,
        flags=[f.value if hasattr(f, "value") else f for f in flags] if flags else None,
        status=status,
        income=(income_below, income_year) if income_below is not None else None,
        name_like=starts_with(name) if name else None,
    )
    return await keyset_page(session, stmt, HOUSEHOLD_ORDER, after, limit, rows="rows", row=lambda r: r._asdict())


# The list's direct handler (``services.api.households.listing``) runs the same statement,
# compiled once per shape — which filters are given, whether health flags are shown, whether
# a cursor is — and region prefix; only the values are bound per request.
HOUSEHOLD_LISTS = ListReads(
    HOUSEHOLD_ORDER,
    household_list_statement,
    region=(bindparam("filter_lo", type_=String), bindparam("filter_hi", type_=String)),
    category=bindparam("category"),
    flags=bindparam("flags", type_=Household.flags.type),
    status=bindparam("status"),
    income=(bindparam("income_below"), bindparam("income_year")),
    name_like=bindparam("name_like", type_=String),
)


def household_list_read(filters: Iterable[str], *, health: bool, after: bool) -> ScopedRead:
    """The ``ScopedRead`` of one shape of the household list (``HOUSEHOLD_LISTS``): the
    filters given, by the names of ``household_list_statement``'s arguments."""
    read: ScopedRead = HOUSEHOLD_LISTS.read(filters, after=after, health=health)
    return read


async def get_household(
    session: AsyncSession, household_id: int, *, for_update: bool = False, field: str = "household_id"
) -> Household:
    return await by_id(session, Household, household_id, "household_not_found", field, for_update=for_update)


_HOUSEHOLD_SEEN = ScopedRead(
    select(Household.id).where(Household.id == bindparam("household_id", type_=BigInteger)), "household_id"
)


async def check_household_visible(source: Any, household_id: int, field: str = "household_id") -> None:
    """A list's household filter: 404 for a household missing or outside the caller's
    regions, as ``get_household`` answers (``source``: a session or a list's ``Reader``)."""
    if await _HOUSEHOLD_SEEN.first(source, household_id=household_id) is None:
        raise NotFound("household_not_found", field=field, id=household_id)


async def get_active_household(session: AsyncSession, household_id: int, field: str = "household_id") -> Household:
    household = await get_household(session, household_id, for_update=True, field=field)
    if household.status != HouseholdStatus.active:
        raise Conflict("household_dissolved", field=field, id=household_id)
    return household


async def get_person(
    session: AsyncSession, person_id: int, *, for_update: bool = False, field: str = "person_id"
) -> Person:
    return await by_id(session, Person, person_id, "person_not_found", field, for_update=for_update)


async def current_members(session: AsyncSession, household_id: int) -> list[Person]:
    rows = await session.execute(
        select(Person).where(Person.household_id == household_id).order_by(Person.id).with_for_update()
    )
    return list(rows.scalars())


async def history(session: AsyncSession, household_id: int) -> dict[str, Any]:
    await get_household(session, household_id)
    memberships = await session.execute(
        select(Membership, Person.name)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.household_id == household_id)
        .order_by(Membership.started_at, Membership.id)
    )
    events = await session.execute(
        select(HouseholdEvent).where(HouseholdEvent.household_id == household_id).order_by(HouseholdEvent.id)
    )
    return {
        "household_id": household_id,
        "memberships": [
            {
                "person_id": m.person_id,
                "person_name": name,
                "relation": m.relation,
                "started_at": m.started_at,
                "start_reason": m.start_reason,
                "ended_at": m.ended_at,
                "end_reason": m.end_reason,
            }
            for m, name in memberships
        ],
        "events": [
            {
                "kind": e.kind,
                "other_household_id": e.other_household_id,
                "person_ids": e.person_ids,
                "note": e.note,
                "actor_id": e.actor_id,
                "at": e.at,
            }
            for e in events.scalars()
        ],
    }


# ---- writes ---------------------------------------------------------------------------


async def _check_new_id_numbers(session: AsyncSession, numbers: Iterable[str], key: bytes, field: str) -> None:
    """One living person is in one household: a known ID number is a conflict. The
    existing household is named only when the caller may see it."""
    hashes = {idnumber.keyed_hash(n, key): i for i, n in enumerate(numbers)}
    persons = Person.__table__
    # Deliberately unscoped (Core table, not the ORM entity): the duplicate must be found
    # wherever it lives. Only its existence is used unless the scoped check below sees it.
    found = (
        await session.execute(
            select(persons.c.id_hash, persons.c.household_id, persons.c.region_code).where(
                persons.c.id_hash.in_(list(hashes))
            )
        )
    ).first()
    if found is None:
        return
    position = hashes[found.id_hash]
    where = field if field == "id_number" else f"{field}[{position}].id_number"
    prefix = scope_of(session)
    if found.household_id is not None and found.region_code.startswith(prefix):
        household = await get_household(session, found.household_id)
        raise Conflict(
            "id_number_duplicate_in", field=where, household_no=household.household_no, household_id=household.id
        )
    raise Conflict("id_number_duplicate", field=where)


def _new_person(data: PersonCreate, household: Household, key: bytes, keyring: Keyring) -> Person:
    parsed = idnumber.normalise(data.id_number)
    fields = data.model_dump(exclude={"id_number", *sensitive.HEALTH_FIELDS})
    return Person(
        **sensitive.protected_id_fields(keyring, key, parsed.value),
        health_enc=sensitive.seal_health(
            keyring, sensitive.HealthDetails(data.health, data.disability_grade, data.illness)
        ),
        sex=parsed.sex,
        birth_date=parsed.birth_date,
        household_id=household.id,
        region_code=household.region_code,
        status=PersonStatus.alive,
        **fields,
    )


@event.listens_for(Household, "load")
@event.listens_for(Household, "refresh")
def _remember_version(household: Household, *_: Any) -> None:
    """The version a household had when read: a change of this transaction raises it once."""
    inspect(household).info["read_version"] = household.version


async def _refresh_summary(session: AsyncSession, household: Household) -> None:
    """Keep head_name and member_count in step with the members (lists read them), and
    raise the household's version once for the change: a household changed itself is
    written (its version raised) by the flush that makes its members countable, and its
    summary then follows without a second raise; one whose members alone changed is
    written here."""
    state = inspect(household)
    written = (
        state.pending
        or session.is_modified(household)
        or household.version != state.info.get("read_version", household.version)
    )
    await session.flush()
    count, head_name = (
        await session.execute(
            select(
                func.count(Person.id),
                func.max(Person.name).filter(Person.relation == Relation.head),
            ).where(Person.household_id == household.id)
        )
    ).one()
    if not written:
        household.member_count = count
        household.head_name = head_name
        household.updated_at = now()
    elif (count, head_name) != (household.member_count, household.head_name):
        table = table_of(Household)
        await session.execute(
            update(table).where(table.c.id == household.id).values(member_count=count, head_name=head_name)
        )
        set_committed_value(household, "member_count", count)
        set_committed_value(household, "head_name", head_name)


def _event(household: Household, kind: HouseholdEventKind, actor_id: int | None, **kw: Any) -> HouseholdEvent:
    return HouseholdEvent(
        household_id=household.id, region_code=household.region_code, kind=kind, actor_id=actor_id, **kw
    )


def _join(person: Person, household: Household, reason: MembershipChange, actor_id: int | None) -> Membership:
    return Membership(
        person_id=person.id,
        household_id=household.id,
        region_code=household.region_code,
        relation=person.relation,
        start_reason=reason,
        actor_id=actor_id,
    )


async def _leave(session: AsyncSession, person: Person, reason: MembershipChange) -> None:
    await session.execute(
        update(Membership)
        .where(Membership.person_id == person.id, Membership.ended_at.is_(None))
        .values(ended_at=now(), end_reason=reason)
    )


async def _next_household_no(session: AsyncSession, region_code: str) -> tuple[int, str]:
    new_id = (await session.execute(select(func.nextval(func.pg_get_serial_sequence("households", "id"))))).scalar_one()
    return new_id, f"{region_code}{new_id:07d}"


async def _check_household_no(session: AsyncSession, household_no: str, field: str = "household_no") -> None:
    table = Household.__table__
    # Unscoped on purpose: numbers are unique across the whole registry.
    taken = (await session.execute(select(table.c.id).where(table.c.household_no == household_no))).first()
    if taken is not None:
        raise Conflict("household_no_taken", field=field, household_no=household_no)


async def _numbered(session: AsyncSession, household_no: str | None, village: str) -> Household:
    """A new household under the number the caller gives (refused when taken) or else the
    next number of the village, with the id that number was made from."""
    if household_no:
        await _check_household_no(session, household_no)
        return Household(household_no=household_no)
    new_id, number = await _next_household_no(session, village)
    return Household(id=new_id, household_no=number)


async def create_household(
    session: AsyncSession, data: HouseholdCreate, *, key: bytes, keyring: Keyring, actor_id: int | None
) -> Household:
    village = await get_village(session, data.region_code)
    await _check_new_id_numbers(session, [m.id_number for m in data.members], key, "members")
    household = await _numbered(session, data.household_no, village.code)
    household.region_code = village.code
    household.category = data.category
    household.flags = [f.value for f in data.flags]
    household.resettlement_site = data.resettlement_site
    household.address = data.address
    household.phone = data.phone
    household.status = HouseholdStatus.active
    session.add(household)
    await session.flush()
    persons = [_new_person(m, household, key, keyring) for m in data.members]
    session.add_all(persons)
    await session.flush()
    session.add_all([_join(p, household, MembershipChange.registered, actor_id) for p in persons])
    session.add(_event(household, HouseholdEventKind.created, actor_id, person_ids=[p.id for p in persons]))
    session.add(HouseholdGuarantees(household_id=household.id, region_code=household.region_code))
    await _refresh_summary(session, household)
    await session.flush()
    return household


async def _set_region(session: AsyncSession, household: Household, region_code: str) -> None:
    """Relocation: every row that carries the household's region moves with it — rows with
    a ``household_id``, and rows that belong to one of those (a case's steps, a clue's
    reports)."""
    tables = [
        table_of(m)
        for m in RegionScoped.__subclasses__()
        if issubclass(m, Base) and getattr(m, "__table__", None) is not None and m is not Household
    ]
    for table in tables:
        if "household_id" in table.c:
            await session.execute(
                update(table).where(table.c.household_id == household.id).values(region_code=region_code)
            )
            continue
        for fk in table.foreign_keys:
            parent = fk.column.table
            if parent in tables and "household_id" in parent.c:
                owners = select(fk.column).where(parent.c.household_id == household.id)
                await session.execute(update(table).where(fk.parent.in_(owners)).values(region_code=region_code))
    household.region_code = region_code


async def update_household(
    session: AsyncSession, household: Household, data: HouseholdUpdate, actor_id: int | None
) -> Household:
    if household.status != HouseholdStatus.active:
        raise Conflict("household_dissolved", field="household_id", id=household.id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("category") not in (None, household.category) and household.category == Category.monitored:
        # A 监测户 leaves monitoring only through risk elimination, never by an edit.
        raise Conflict("category_monitored_reserved", field="category")
    if "region_code" in changes and data.region_code and data.region_code != household.region_code:
        village = await get_village(session, data.region_code)
        await _set_region(session, household, village.code)
    for name in ("category", "resettlement_site", "address", "phone"):
        if name in changes:
            setattr(household, name, changes[name])
    if "flags" in changes and data.flags is not None:
        household.flags = [f.value for f in data.flags]
    if "relocated" in household.flags and not household.resettlement_site:
        raise Unprocessable("flags_resettlement", field="resettlement_site")
    if data.head_person_id is not None:
        members = {p.id: p for p in await current_members(session, household.id)}
        new_head = members.get(data.head_person_id)
        if new_head is None:
            raise Unprocessable(
                "person_not_member", field="head_person_id", id=data.head_person_id, household_id=household.id
            )
        for person in members.values():
            if person.relation == Relation.head and person.id != new_head.id:
                person.relation = data.former_head_relation
        new_head.relation = Relation.head
    session.add(_event(household, HouseholdEventKind.updated, actor_id, note=",".join(sorted(changes))))
    await _refresh_summary(session, household)
    await session.flush()
    return household


async def add_member(
    session: AsyncSession,
    household: Household,
    data: PersonCreate,
    *,
    key: bytes,
    keyring: Keyring,
    actor_id: int | None,
) -> Person:
    if data.relation == Relation.head:
        raise Unprocessable("one_head", field="relation")
    await _check_new_id_numbers(session, [data.id_number], key, "id_number")
    person = _new_person(data, household, key, keyring)
    session.add(person)
    await session.flush()
    session.add(_join(person, household, MembershipChange.added, actor_id))
    await _refresh_summary(session, household)
    await session.flush()
    return person


async def update_person(session: AsyncSession, person: Person, data: PersonUpdate, *, keyring: Keyring) -> Person:
    """A partial change; the health fields are merged into the person's encrypted details."""
    changes = data.model_dump(exclude_unset=True)
    if changes.get("relation") == Relation.head or ("relation" in changes and person.relation == Relation.head):
        raise Unprocessable("one_head", field="relation")
    if "health" in changes and changes["health"] is None:
        raise Unprocessable("missing", field="health")  # it can be changed, not cleared
    sensitive.update_health(person, keyring, changes)
    for name, value in changes.items():
        if name not in sensitive.HEALTH_FIELDS:
            setattr(person, name, value)
    if person.household_id is not None and "name" in changes:
        household = await get_household(session, person.household_id, for_update=True)
        await _refresh_summary(session, household)
    await session.flush()
    return person


def full_id_number(person: Person, keyring: Keyring) -> str:
    """The person's complete ID number (the unmask endpoint: only for roles that may, and
    every call is audited there)."""
    return sensitive.id_number_of(person, keyring)


def _require_alive(person: Person, field: str = "person_id") -> None:
    if person.status != PersonStatus.alive:
        raise Conflict("person_deceased", field=field, id=person.id)


async def _dissolve_if_empty(session: AsyncSession, household: Household) -> None:
    await _refresh_summary(session, household)
    if household.member_count == 0:
        household.status = HouseholdStatus.dissolved


async def move_person(
    session: AsyncSession, person: Person, target: Household, relation: Relation, actor_id: int | None
) -> Person:
    _require_alive(person)
    if person.household_id == target.id:
        raise Conflict("same_household", field="household_id")
    source = None
    if person.household_id is not None:
        source = await get_active_household(session, person.household_id)
        if person.relation == Relation.head and source.member_count > 1:
            raise Conflict("head_cannot_leave", field="person_id")
    await _leave(session, person, MembershipChange.moved)
    person.household_id = target.id
    person.region_code = target.region_code
    person.relation = relation
    await session.flush()
    session.add(_join(person, target, MembershipChange.moved, actor_id))
    if source is not None:
        await _dissolve_if_empty(session, source)
    await _refresh_summary(session, target)
    await session.flush()
    return person


async def record_death(session: AsyncSession, person: Person, date_of_death, actor_id: int | None) -> Person:
    _require_alive(person)
    person.status = PersonStatus.deceased
    person.date_of_death = date_of_death
    household_id = person.household_id
    await _leave(session, person, MembershipChange.deceased)
    person.household_id = None
    if household_id is not None:
        household = await get_household(session, household_id, for_update=True)
        await _refresh_summary(session, household)
    await session.flush()
    return person


async def _move(
    session: AsyncSession,
    people: list[Person],
    source: Household,
    target: Household,
    change: MembershipChange,
    kinds: tuple[HouseholdEventKind, HouseholdEventKind],
    relation_of: Callable[[Person], Relation],
    actor_id: int | None,
) -> None:
    """Move ``people`` from ``source`` to ``target`` (a split or a merge): their memberships
    end and start with ``change``, each gets the relation ``relation_of`` says, and each
    household records one event (``kinds``: the source's, the target's) naming the other."""
    for person in people:
        await _leave(session, person, change)
        person.household_id = target.id
        person.region_code = target.region_code
        person.relation = relation_of(person)
    await session.flush()
    session.add_all([_join(p, target, change, actor_id) for p in people])
    ids = [p.id for p in people]
    from_kind, to_kind = kinds
    session.add(_event(target, to_kind, actor_id, other_household_id=source.id, person_ids=ids))
    session.add(_event(source, from_kind, actor_id, other_household_id=target.id, person_ids=ids))


async def split_household(
    session: AsyncSession, source: Household, data: SplitRequest, *, actor_id: int | None
) -> Household:
    members = {p.id: p for p in await current_members(session, source.id)}
    for i, pid in enumerate(data.person_ids):
        if pid not in members:
            # Someone the caller cannot see is answered like someone who does not exist (404);
            # a visible person of another household is a mistake in the request (422).
            await get_person(session, pid, field=f"person_ids[{i}]")
            raise Unprocessable("person_not_member", field=f"person_ids[{i}]", id=pid, household_id=source.id)
    leaving = [members[pid] for pid in data.person_ids]
    staying = [p for pid, p in members.items() if pid not in set(data.person_ids)]
    if not staying:
        raise Conflict("split_needs_remaining", field="person_ids")
    old_head_leaves = any(p.relation == Relation.head for p in leaving)
    if old_head_leaves:
        new_source_head = next((p for p in staying if p.id == data.remaining_head_person_id), None)
        if new_source_head is None:
            raise Conflict("head_cannot_leave", field="remaining_head_person_id")
        new_source_head.relation = Relation.head
    village = await get_village(session, data.region_code or source.region_code)
    new = await _numbered(session, data.household_no, village.code)
    new.region_code = village.code
    new.category = data.category or source.category
    new.flags = []
    new.address = data.address or source.address
    new.status = HouseholdStatus.active
    session.add(new)
    await session.flush()

    def new_relation(person: Person) -> Relation:
        return Relation.head if person.id == data.head_person_id else data.relations.get(person.id, Relation.other)

    await _move(
        session,
        leaving,
        source,
        new,
        MembershipChange.split,
        (HouseholdEventKind.split_from, HouseholdEventKind.split_off),
        new_relation,
        actor_id,
    )
    session.add(HouseholdGuarantees(household_id=new.id, region_code=new.region_code))
    await _refresh_summary(session, source)
    await _refresh_summary(session, new)
    await session.flush()
    return new


async def merge_households(
    session: AsyncSession, target: Household, data: MergeRequest, *, actor_id: int | None
) -> Household:
    if data.household_id == target.id:
        raise Conflict("merge_same_household", field="household_id")
    source = await get_active_household(session, data.household_id)
    incoming = await current_members(session, source.id)

    def new_relation(person: Person) -> Relation:
        relation = data.relations.get(person.id, Relation.other)
        return Relation.other if relation == Relation.head else relation  # the target keeps its head

    await _move(
        session,
        incoming,
        source,
        target,
        MembershipChange.merged,
        (HouseholdEventKind.merged_into, HouseholdEventKind.merged_in),
        new_relation,
        actor_id,
    )
    source.status = HouseholdStatus.dissolved
    await _refresh_summary(session, source)
    await _refresh_summary(session, target)
    await session.flush()
    return target
