"""Synthetic households of the fictional demo county 清溪县 (529901): pure and seeded.

``DemoGenerator(villages, seed=…, today=…).batches(persons)`` yields ``Batch`` objects:
lists of row tuples for households, persons, memberships, household events, quarterly
income records, yearly income totals and guarantee statuses, in the column orders given
by the ``*_COLUMNS`` constants. The same seed, villages and ``today`` give the same rows.

Conventions of the rows:
- money is an ``int`` number of fen (0.01 yuan); ``fen_text`` / ``fen_decimal`` turn it
  into the 2-place decimal that is written (never a float). ``details`` is the JSON text
  written to ``income_records.details``, with amounts as strings ("300.00").
- ``birth_date`` is a ``datetime.date``; ``flags`` and ``person_ids`` are lists.
- persons rows carry no ``id_hash``: the loader adds it (it needs the secret key).

What is realistic here (DOMAIN.md "Households and people"): common surnames weighted by
frequency (with a few dominant lineages per village), 1–2 character given names, valid ID
numbers of the county (address code, birth date, odd sequence for men, even for women,
check character), households of 1–7 people with consistent relations and ages, health,
labour, schooling and insurance shares by age, categories (~25 % 脱贫户, ~3 % 监测户) with
flags, and income whose four parts, details, costs, net and per-capita figures add up.
Some lifted-out households (~4 %) are below 7,100 yuan per capita last year and are *not*
monitored: the case the seeds criticise (应纳未纳), left in on purpose for the rules to find.
"""
from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import accumulate
from typing import Iterator, Sequence

from services.core.households.enums import (
    Category,
    EducationLevel,
    Employment,
    Flag,
    Health,
    HouseholdEventKind,
    HouseholdStatus,
    LabourCapacity,
    MembershipChange,
    PersonStatus,
    Relation,
    Schooling,
)
from services.core.guarantees.models import Status
from services.core.idnumber import CHECK_MAP, WEIGHTS

# ---- row layouts -----------------------------------------------------------------------

HOUSEHOLD_COLUMNS = (
    "id", "household_no", "region_code", "category", "previous_category", "flags", "resettlement_site",
    "address", "phone", "status", "head_name", "member_count", "version",
)
PERSON_COLUMNS = (
    "id", "id_number", "name", "sex", "birth_date", "household_id", "region_code", "relation", "health",
    "disability_grade", "illness", "labour_capacity", "education_level", "schooling", "school",
    "medical_insurance", "pension_insurance", "family_doctor", "employment", "employment_place",
    "employment_months", "employment_income", "phone", "status", "version",
)
MEMBERSHIP_COLUMNS = ("id", "person_id", "household_id", "region_code", "relation", "start_reason")
EVENT_COLUMNS = ("id", "household_id", "region_code", "kind", "person_ids", "note")
INCOME_RECORD_COLUMNS = (
    "id", "household_id", "region_code", "year", "quarter", "wages", "business", "property", "transfers",
    "details", "production_costs", "eligible_spending", "member_count", "net_income", "per_capita_net",
    "version",
)
INCOME_YEAR_COLUMNS = (
    "household_id", "year", "region_code", "quarters", "wages", "business", "property", "transfers",
    "production_costs", "eligible_spending", "member_count", "net_income", "per_capita_net",
)
GUARANTEE_COLUMNS = (
    "household_id", "region_code", "education", "medical", "housing", "water", "housing_grade", "note", "version",
)

# Columns holding money (fen ints in the rows).
MONEY_COLUMNS = frozenset({
    "employment_income", "wages", "business", "property", "transfers", "production_costs",
    "eligible_spending", "net_income", "per_capita_net",
})

PARTS = ("wages", "business", "property", "transfers")
# Detail items, in part order (services.core.income.rules.DETAIL_ITEMS).
ITEMS = (
    "local_wages", "migrant_wages", "public_welfare_post_pay",
    "planting", "breeding", "other_business",
    "asset_dividends", "land_rent", "other_property",
    "pensions", "dibao", "tekun", "eco_compensation", "awards", "other_transfers",
)
(LOCAL_WAGES, MIGRANT_WAGES, PWP_PAY, PLANTING, BREEDING, OTHER_BUSINESS, DIVIDENDS, LAND_RENT,
 OTHER_PROPERTY, PENSIONS, DIBAO, TEKUN, ECO, AWARDS, OTHER_TRANSFERS) = range(len(ITEMS))
PART_OF_ITEM = (0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3)
# Share of the year's amount paid in each quarter (per mille): migrant workers come home for
# the Spring Festival, harvests come in Q3/Q4, pigs are sold before the festival, land rent
# is paid once a year, dividends at the end of the year.
QUARTER_SHARES = (
    (250, 250, 250, 250), (200, 260, 270, 270), (250, 250, 250, 250),
    (100, 200, 350, 350), (350, 150, 150, 350), (250, 250, 250, 250),
    (0, 0, 400, 600), (1000, 0, 0, 0), (250, 250, 250, 250),
    (250, 250, 250, 250), (250, 250, 250, 250), (250, 250, 250, 250), (0, 500, 0, 500), (0, 300, 700, 0),
    (250, 250, 250, 250),
)
_ITEM_KEYS = tuple(f'"{name}": "' for name in ITEMS)
_PART_KEYS = tuple(f'"{name}": {{' for name in PARTS)

CRITICISED_LINE = 710_000  # fen: households below 7,100 yuan last year "should have been monitored" [003]

# ---- money -----------------------------------------------------------------------------


def fen_text(fen: int) -> str:
    """12345 -> "123.45" (exact; the text COPY and the JSON details use it)."""
    if fen < 0:
        return "-" + fen_text(-fen)
    return f"{fen // 100}.{fen % 100:02d}"


def fen_decimal(fen: int) -> Decimal:
    return Decimal(fen_text(fen))


def per_capita_fen(net: int, members: int) -> int:
    """net ÷ members, rounded half-up (away from zero) to the fen, as income.rules does."""
    if members <= 0:
        raise ValueError("per-capita income needs at least one member")
    if net >= 0:
        return (2 * net + members) // (2 * members)
    return -((2 * -net + members) // (2 * members))


# ---- vocabularies of the synthetic data ------------------------------------------------

# Surnames by frequency (per mille of the population, 2020 census order), with the
# lineages common in Guizhou (杨, 吴, 龙, 石, 潘, 罗, 王) weighted up.
_SURNAMES = (
    ("王", 75), ("李", 72), ("张", 68), ("刘", 54), ("陈", 45), ("杨", 55), ("黄", 22), ("赵", 23),
    ("吴", 38), ("周", 20), ("徐", 16), ("孙", 15), ("马", 14), ("朱", 14), ("胡", 13), ("郭", 12),
    ("何", 12), ("高", 11), ("林", 10), ("罗", 22), ("郑", 9), ("梁", 9), ("谢", 8), ("宋", 7),
    ("唐", 7), ("许", 7), ("韩", 6), ("冯", 6), ("邓", 6), ("曹", 6), ("彭", 6), ("曾", 6),
    ("肖", 6), ("田", 8), ("董", 6), ("袁", 6), ("潘", 12), ("于", 5), ("蒋", 5), ("蔡", 5),
    ("余", 5), ("杜", 5), ("叶", 5), ("程", 5), ("苏", 5), ("魏", 5), ("吕", 4), ("丁", 4),
    ("任", 4), ("沈", 4), ("姚", 4), ("卢", 4), ("姜", 4), ("崔", 4), ("钟", 4), ("谭", 4),
    ("陆", 4), ("汪", 4), ("范", 4), ("金", 4), ("石", 12), ("廖", 3), ("贾", 3), ("夏", 3),
    ("韦", 6), ("付", 3), ("方", 3), ("白", 3), ("邹", 3), ("孟", 3), ("熊", 4), ("秦", 3),
    ("邱", 3), ("江", 3), ("尹", 3), ("薛", 3), ("闫", 3), ("段", 3), ("雷", 3), ("侯", 3),
    ("龙", 10), ("史", 2), ("陶", 2), ("黎", 2), ("贺", 2), ("顾", 2), ("毛", 2), ("郝", 2),
    ("龚", 2), ("邵", 2), ("万", 2), ("钱", 2), ("严", 2), ("覃", 2), ("武", 2), ("戴", 2),
    ("莫", 2), ("孔", 2), ("向", 2), ("汤", 2), ("安", 2), ("班", 1), ("卯", 1), ("蒙", 1),
)
# Characters of given names by sex and generation (born before / from 2000).
_MALE_OLD = "国华建明军平志伟强勇福贵荣顺发德永昌兴旺生宝云江山松林海成文光学忠祥富才金银春光正万有"
_FEMALE_OLD = "秀英兰梅玲燕红萍琴云凤桂花芬莉霞丽芳娟敏静艳香翠珍菊月蓉仙群玉"
_MALE_NEW = "浩宇轩子涵睿泽博文俊杰思源梓豪晨阳鸣天佑奕辰宏毅嘉铭一航明哲锦程"
_FEMALE_NEW = "欣怡梓萱雨涵诗琪佳可馨紫思梦瑶语嫣若曦晓彤雅婷心妍静怡一诺悦"

_ILLNESS_CHRONIC = ("高血压", "糖尿病", "慢性阻塞性肺病", "类风湿性关节炎", "慢性胃炎", "冠心病", "慢性肾炎", "腰椎间盘突出")
_ILLNESS_SERIOUS = ("恶性肿瘤", "尿毒症", "脑梗死后遗症", "重性精神病", "白血病", "重症肝炎", "先天性心脏病", "耐多药肺结核")
_MIGRANT_PLACES = (
    ("浙江省宁波市", 14), ("浙江省温州市", 9), ("广东省东莞市", 14), ("广东省深圳市", 10), ("广东省广州市", 7),
    ("福建省泉州市", 9), ("江苏省苏州市", 7), ("上海市", 5), ("贵州省贵阳市", 16), ("贵州省遵义市", 6),
    ("云南省昆明市", 3),
)
_UNIVERSITIES = ("贵州大学", "贵州师范大学", "贵州民族大学", "遵义医科大学", "贵州财经大学", "凯里学院", "铜仁学院")
_PHONE_SECOND = "3333355558888777999" + "6" + "4"


@dataclass(frozen=True, slots=True)
class Village:
    code: str
    name: str
    township_name: str


@dataclass
class Batch:
    """Rows of a run of whole households (column orders: the ``*_COLUMNS`` constants)."""

    households: list[tuple] = field(default_factory=list)
    persons: list[tuple] = field(default_factory=list)
    memberships: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    income_records: list[tuple] = field(default_factory=list)
    income_years: list[tuple] = field(default_factory=list)
    guarantees: list[tuple] = field(default_factory=list)


def _cum(pairs):
    values = tuple(v for v, _ in pairs)
    cum = tuple(accumulate(w for _, w in pairs))
    return values, cum


def villages_from_regions(rows: Sequence[tuple[str, str]]) -> list[Village]:
    """Villages (level 5) of (code, name) region rows, each with its township's name."""
    names = dict(rows)
    out = []
    for code, name in rows:
        if len(code) == 12 and code.isdigit() and code[9:] != "000":
            out.append(Village(code, name, names.get(code[:9] + "000", "")))
    return sorted(out, key=lambda v: v.code)


class DemoGenerator:
    """Stateful only to keep ids and ID-number sequences unique across batches."""

    def __init__(self, villages: Sequence[Village], *, seed: int = 2026, today: date,
                 address_code: str = "529901", county_name: str = "清溪县",
                 deduct_eligible_spending: bool = False):
        if not villages:
            raise ValueError("the demo county needs at least one village")
        self.rng = random.Random(seed)
        self.today = today
        self.today_ord = today.toordinal()
        self.address_code = address_code
        self.county_name = county_name
        self.deduct_eligible_spending = deduct_eligible_spending
        self.last_year = today.year - 1
        self.this_year = today.year
        # Quarters of this year that have ended before today.
        self.quarters_this_year = (today.month - 1) // 3
        self.next_household_id = 1
        self.next_person_id = 1
        self.next_income_id = 1

        rng = self.rng
        self.villages = list(villages)
        self._village_cum = tuple(accumulate(0.6 + 0.8 * rng.random() for _ in self.villages))
        # Every village has a few dominant lineages (杨家寨, 吴家湾 …).
        base = list(_SURNAMES)
        self._surnames = []
        for _ in self.villages:
            boosted = set(rng.sample(range(len(base)), 3))
            pairs = [(s, w * (12 if i in boosted else 1)) for i, (s, w) in enumerate(base)]
            self._surnames.append(_cum(pairs))
        self._places = _cum(_MIGRANT_PLACES)
        self._sites = (
            f"{county_name}城东易地扶贫搬迁安置区", f"{county_name}城南易地扶贫搬迁安置区",
            *sorted({f"{v.township_name}集镇安置点" for v in self.villages if v.township_name}),
        )
        # ID numbers: weighted sum of the address code, and of each sequence number.
        self._addr_sum = sum(int(c) * w for c, w in zip(address_code, WEIGHTS[:6]))
        self._seq_sum = tuple(sum(int(c) * w for c, w in zip(f"{s:03d}", WEIGHTS[14:17])) for s in range(1000))
        self._birth_cache: dict[int, tuple[date, str, int]] = {}
        self._seq_used: dict[int, int] = {}

    # ---- public ------------------------------------------------------------------------

    def batches(self, persons: int, chunk_persons: int = 50_000) -> Iterator[Batch]:
        """Households until ``persons`` people exist, in batches of about ``chunk_persons``."""
        if persons < 0:
            raise ValueError("persons must not be negative")
        left = persons
        while left > 0:
            batch = Batch()
            target = min(left, chunk_persons)
            made = 0
            while made < target:
                made += self.household(batch, limit=left - made)
            left -= made
            yield batch

    def household(self, batch: Batch, limit: int = 7) -> int:
        """Append one household (at most ``limit`` people) to ``batch``; returns its size."""
        rng = self.rng
        r = rng.random
        size = min(limit, _SIZE_VALUES[bisect(_SIZE_CUM, r() * _SIZE_CUM[-1])])
        v_index = bisect(self._village_cum, r() * self._village_cum[-1])
        village = self.villages[v_index]
        hid = self.next_household_id
        self.next_household_id += 1

        x = r()
        if x < 0.25:
            category, previous = _LIFTED, None
        elif x < 0.28:
            category = _MONITORED
            previous = _LIFTED if r() < 0.65 else _ORDINARY
        else:
            category, previous = _ORDINARY, None
        poor = category != _ORDINARY
        # How much more often illness and disability occur than in ordinary households.
        frailty = 1.0 if not poor else (1.7 if category == _LIFTED else 3.0)

        members = self._composition(size, v_index)
        people = [self._person(m, village, poor, frailty) for m in members]
        self._employment(people, poor, village)

        # ---- flags --------------------------------------------------------------------
        flags = []
        site = None
        if (category == _LIFTED or previous == _LIFTED) and r() < 0.05:
            flags.append(_F_RELOCATED)
            site = self._sites[int(r() * len(self._sites))]
        nobody_works = all(p.labour in _NO_LABOUR for p in people)
        ill = any(p.health == _SERIOUS for p in people)
        disabled = any(p.health == _DISABLED for p in people)
        head = people[0]
        tekun = False
        if size == 1 and head.age >= 60 and head.labour in _NO_LABOUR_OR_WEAK:
            tekun = r() < 0.16
        elif size == 1 and head.health == _DISABLED:
            tekun = r() < 0.25
        elif size == 2 and nobody_works:
            tekun = r() < 0.04
        if tekun:
            flags.append(_F_TEKUN)
        else:
            p_dibao = 0.15 if category == _LIFTED else (0.35 if poor else 0.022)
            if nobody_works:
                p_dibao *= 2.2
            if ill or disabled:
                p_dibao *= 1.5
            if r() < p_dibao:
                flags.append(_F_DIBAO)
        if disabled:
            flags.append(_F_DISABLED)
        if ill:
            flags.append(_F_SERIOUS)
        able = any(p.able for p in people)
        employed = any(p.employment != _NONE_EMPLOYMENT for p in people)
        if able and not employed:
            flags.append(_F_ZERO)

        # ---- income -------------------------------------------------------------------
        self._income(batch, hid, village.code, category, people, flags)

        # ---- rows ---------------------------------------------------------------------
        if site is not None:
            address = f"{site}{1 + int(r() * 30)}栋{1 + int(r() * 4)}单元{1 + int(r() * 6)}0{1 + int(r() * 4)}"
        else:
            address = (f"贵州省青山市{self.county_name}{village.township_name}{village.name}"
                       f"{1 + int(r() * 12)}组{1 + int(r() * 80)}号")
        phone = head.phone
        person_ids = []
        region = village.code
        for p in people:
            pid = self.next_person_id
            self.next_person_id += 1
            person_ids.append(pid)
            batch.persons.append((
                pid, p.id_number, p.name, p.sex, p.birth_date, hid, region, p.relation, p.health,
                p.disability_grade, p.illness, p.labour, p.education_level, p.schooling, p.school,
                p.medical_insurance, p.pension_insurance, p.family_doctor, p.employment, p.employment_place,
                p.employment_months, p.employment_income, p.phone, _ALIVE, 1,
            ))
            batch.memberships.append((pid, pid, hid, region, p.relation, _REGISTERED))
        batch.households.append((
            hid, f"{region}{hid:07d}", region, category, previous, flags, site, address, phone, _ACTIVE,
            head.name, size, 1,
        ))
        batch.events.append((hid, hid, region, _CREATED, person_ids, "演示数据：建档登记"))
        batch.guarantees.append(self._guarantees(hid, region, category, people))
        return size

    # ---- people ------------------------------------------------------------------------

    def _composition(self, n: int, v_index: int) -> list[tuple[str, bool, int, str]]:
        """(relation, male, age, surname) of each member, head first."""
        r = self.rng.random
        surnames, cum = self._surnames[v_index]
        total = cum[-1]

        def surname() -> str:
            return surnames[bisect(cum, r() * total)]

        def between(lo: int, hi: int) -> int:
            return lo + int(r() * (hi - lo + 1)) if hi >= lo else lo

        fam = surname()
        if n == 1:
            x = r()
            age = between(22, 39) if x < 0.15 else (between(40, 59) if x < 0.45 else between(60, 92))
            return [(_HEAD, r() < 0.58, age, fam)]

        head_male = r() < 0.83
        out: list[tuple[str, bool, int, str]] = []

        def spouse_age(head_age: int) -> int:
            gap = between(-1, 5)  # the husband is usually a few years older
            return max(19, head_age - gap if head_male else head_age + gap)

        def children(k: int, youngest_parent: int, mother: int, family: str, cap: int = 34) -> None:
            hi = min(youngest_parent - 20, cap)
            lo = max(0, mother - 42)
            for _ in range(k):
                out.append((_CHILD, r() < 0.52, between(lo, max(lo, hi)) if hi >= 0 else 0, family))

        if n == 2:
            x = r()
            if x < 0.72:  # a couple
                age = between(50, 86) if r() < 0.7 else between(22, 49)
                s_age = spouse_age(age)
                out.append((_HEAD, head_male, age, fam))
                out.append((_SPOUSE, not head_male, s_age, surname()))
            elif x < 0.94:  # a widowed or single parent with a child
                age = between(40, 85)
                out.append((_HEAD, head_male, age, fam))
                children(1, age, age if not head_male else age - 2, fam, cap=45)
            else:  # an unmarried son or daughter with a widowed parent
                age = between(22, 50)
                out.append((_HEAD, head_male, age, fam))
                out.append((_PARENT, r() < 0.35, min(96, age + between(20, 36)), fam))
            return out

        has_spouse = r() < 0.9
        slots = n - 1 - has_spouse
        x = r()
        if slots >= 3 and x < (0.6 if n >= 6 else 0.3):
            kind = "down"  # head, spouse, a married child, the child's spouse, grandchildren
        elif slots >= 2 and x < (0.9 if n >= 6 else 0.5):
            kind = "up"  # head, spouse, the head's parent(s), children
        else:
            kind = "nuclear"

        if kind == "down":
            age = between(48, 76)
            s_age = spouse_age(age) if has_spouse else age
            youngest = min(age, s_age)
            out.append((_HEAD, head_male, age, fam))
            if has_spouse:
                out.append((_SPOUSE, not head_male, s_age, surname()))
            kids_family = fam if head_male or not has_spouse else out[1][3]
            c_age = between(23, min(45, youngest - 20))
            son = r() < 0.8
            in_law_age = max(21, c_age + (between(-5, 1) if son else between(-1, 5)))
            in_law_surname = surname()
            out.append((_CHILD, son, c_age, kids_family))
            out.append((_CHILD_IN_LAW, not son, in_law_age, in_law_surname))
            rest = slots - 2
            extra = 1 if rest >= 2 and r() < 0.25 else 0
            if extra:
                out.append((_CHILD, r() < 0.5, between(15, max(15, min(c_age, youngest - 20))), kids_family))
            g_family = kids_family if son else (in_law_surname if r() < 0.7 else kids_family)
            g_hi = min(18, min(c_age, in_law_age) - 20)
            for _ in range(rest - extra):
                out.append((_GRANDCHILD, r() < 0.52, between(0, max(0, g_hi)), g_family))
        elif kind == "up":
            age = between(24, 52)
            s_age = spouse_age(age) if has_spouse else age
            out.append((_HEAD, head_male, age, fam))
            if has_spouse:
                out.append((_SPOUSE, not head_male, s_age, surname()))
            kids_family = fam if head_male or not has_spouse else out[1][3]
            k_parents = 2 if slots >= 3 and r() < 0.45 else 1
            father_age = min(95, age + between(22, 36))
            if k_parents == 2:
                out.append((_PARENT, True, father_age, fam))
                out.append((_PARENT, False, max(age + 20, father_age - between(0, 5)), surname()))
            else:
                male = r() < 0.35
                out.append((_PARENT, male, father_age if male else min(95, age + between(20, 34)), fam if male else surname()))
            mother = s_age if head_male else age
            children(slots - k_parents, min(age, s_age), mother, kids_family, cap=30)
        else:
            age = between(24, 62)
            s_age = spouse_age(age) if has_spouse else age
            out.append((_HEAD, head_male, age, fam))
            if has_spouse:
                out.append((_SPOUSE, not head_male, s_age, surname()))
            kids_family = fam if head_male or not has_spouse else out[1][3]
            mother = s_age if head_male else age
            if not has_spouse and head_male:
                mother = age - 2
            children(slots, min(age, s_age), mother, kids_family)
        return out

    def _birth_info(self, o: int) -> tuple[date, str, int]:
        info = self._birth_cache.get(o)
        if info is None:
            d = date.fromordinal(o)
            ymd = f"{d.year:04d}{d.month:02d}{d.day:02d}"
            info = (d, ymd, self._addr_sum + sum(int(c) * w for c, w in zip(ymd, WEIGHTS[6:14])))
            self._birth_cache[o] = info
        return info

    def _id_number(self, o: int, male: bool) -> tuple[str, date]:
        """A unique valid ID number: 499 sequence numbers per birth date and sex, taken in a
        scrambled order; when a date is full the next day is used."""
        while True:
            key = o * 2 + male
            used = self._seq_used.get(key, 0)
            if used < 499:
                break
            o += 1
        self._seq_used[key] = used + 1
        idx = ((o * 7919 + male * 131) + used * 97) % 499
        seq = 2 * idx + 1 if male else 2 * idx + 2
        d, ymd, s = self._birth_info(o)
        return f"{self.address_code}{ymd}{seq:03d}{CHECK_MAP[(s + self._seq_sum[seq]) % 11]}", d

    def _name(self, surname: str, male: bool, born_year: int) -> str:
        r = self.rng.random
        if born_year >= 2000:
            pool = _MALE_NEW if male else _FEMALE_NEW
        else:
            pool = _MALE_OLD if male else _FEMALE_OLD
        n = len(pool)
        first = pool[int(r() * n)]
        if r() < (0.3 if born_year < 1970 else 0.15):
            return surname + first
        return surname + first + pool[int(r() * n)]

    def _person(self, m: tuple[str, bool, int, str], village: Village, poor: bool, frailty: float) -> "_P":
        relation, male, age, surname = m
        r = self.rng.random
        o = self.today_ord - int((age + r()) * 365.2425) - 1
        id_number, born = self._id_number(o, male)
        p = _P()
        p.relation = relation
        p.male = male
        p.sex = "male" if male else "female"
        today = self.today
        p.age = age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        p.birth_date = born
        p.id_number = id_number
        p.name = self._name(surname, male, born.year)

        # health
        if age < 18:
            pd, ps, pc = 0.008, 0.003, 0.01
        elif age < 45:
            pd, ps, pc = 0.025, 0.006, 0.04
        elif age < 60:
            pd, ps, pc = 0.04, 0.012, 0.12
        elif age < 75:
            pd, ps, pc = 0.06, 0.025, 0.28
        else:
            pd, ps, pc = 0.08, 0.03, 0.40
        x = r()
        p.disability_grade = None
        p.illness = None
        if x < pd * frailty:
            p.health = _DISABLED
            p.disability_grade = 1 + bisect(_GRADE_CUM, r())
        elif x < (pd + ps) * frailty:
            p.health = _SERIOUS
            p.illness = _ILLNESS_SERIOUS[int(r() * len(_ILLNESS_SERIOUS))]
        elif x < (pd + ps) * frailty + pc * (1.2 if poor else 1.0):
            p.health = _CHRONIC
            p.illness = _ILLNESS_CHRONIC[int(r() * len(_ILLNESS_CHRONIC))]
        else:
            p.health = _HEALTHY

        # schooling (and the highest level reached)
        p.school = None
        if age <= 2:
            p.schooling, p.education_level = _NOT_IN_SCHOOL, _PRESCHOOL_AGE
        elif age <= 5:
            p.education_level = _PRESCHOOL_AGE
            if r() < 0.88:
                p.schooling = _PRESCHOOL
                p.school = f"{village.township_name}中心幼儿园"
            else:
                p.schooling = _NOT_IN_SCHOOL
        elif age <= 15:
            x = r()
            if x < 0.003 and age >= 10:
                p.schooling = _DROPPED_OUT
                p.education_level = _EDU_PRIMARY if age <= 13 else _EDU_JUNIOR
            elif x < 0.004:
                p.schooling = _SUSPENDED
                p.education_level = _EDU_PRIMARY if age <= 12 else _EDU_JUNIOR
            elif age <= 11:
                p.schooling, p.education_level = _PRIMARY, _EDU_PRIMARY
                p.school = (f"{village.township_name}中心小学" if r() < 0.6 else f"{village.name}小学")
            elif age <= 14 or x < 0.75:
                p.schooling, p.education_level = _JUNIOR, _EDU_JUNIOR
                p.school = f"{village.township_name}中学"
            else:
                p.schooling, p.education_level = _SENIOR, _EDU_SENIOR
                p.school = f"{self.county_name}第一中学"
        elif age <= 18:
            x = r()
            if x < 0.52:
                p.schooling, p.education_level = _SENIOR, _EDU_SENIOR
                p.school = f"{self.county_name}第{'一二'[int(r() * 2)]}中学"
            elif x < 0.86:
                p.schooling, p.education_level = _VOCATIONAL, _EDU_SENIOR
                p.school = f"{self.county_name}中等职业学校"
            else:
                p.schooling, p.education_level = _NOT_IN_SCHOOL, _EDU_JUNIOR
        elif age <= 22 and r() < 0.42:
            if r() < 0.7:
                p.schooling, p.education_level = _UNIVERSITY, _EDU_COLLEGE
                p.school = _UNIVERSITIES[int(r() * len(_UNIVERSITIES))]
            else:
                p.schooling, p.education_level = _VOCATIONAL, _EDU_COLLEGE
                p.school = "青山职业技术学院"
        else:
            p.schooling = _NOT_IN_SCHOOL
            x = r()
            if age >= 70:
                p.education_level = _EDU_NONE if x < 0.38 else (_EDU_PRIMARY if x < 0.88 else _EDU_JUNIOR)
            elif age >= 50:
                p.education_level = (_EDU_NONE if x < 0.1 else _EDU_PRIMARY if x < 0.55 else
                                     _EDU_JUNIOR if x < 0.93 else _EDU_SENIOR)
            elif age >= 30:
                p.education_level = (_EDU_PRIMARY if x < 0.2 else _EDU_JUNIOR if x < 0.72 else
                                     _EDU_SENIOR if x < 0.9 else _EDU_COLLEGE)
            else:
                p.education_level = (_EDU_PRIMARY if x < 0.05 else _EDU_JUNIOR if x < 0.5 else
                                     _EDU_SENIOR if x < 0.8 else _EDU_COLLEGE)
        student = p.schooling in _STUDYING

        # labour capacity
        h = p.health
        if age < 16 or student:
            labour = _L_NONE
        elif h == _DISABLED:
            labour = _L_LOST if p.disability_grade <= 2 else _L_WEAK
        elif h == _SERIOUS:
            labour = _L_LOST if r() < 0.6 else _L_WEAK
        elif age >= 75:
            labour = _L_NONE if r() < 0.7 else _L_LOST
        elif age >= 65:
            labour = _L_WEAK if r() < 0.65 else _L_LOST
        elif age >= 60:
            labour = _L_ORDINARY if (h == _HEALTHY and r() < 0.45) else _L_WEAK
        elif h == _CHRONIC:
            labour = _L_WEAK if r() < 0.7 else _L_ORDINARY
        else:
            labour = _L_SKILLED if r() < 0.18 else _L_ORDINARY
        p.labour = labour
        p.able = 16 <= age <= 64 and not student and labour in _CAN_WORK

        # insurance, family doctor, phone
        p.medical_insurance = r() < (0.993 if poor else 0.962)
        p.pension_insurance = age >= 16 and not student and r() < (0.93 if poor else 0.82)
        p.family_doctor = r() < (0.95 if poor else (0.75 if age >= 60 else 0.45))
        if relation == _HEAD:
            has_phone = r() < 0.93
        else:
            has_phone = 16 <= age <= 70 and not student and r() < 0.45
        p.phone = f"1{_PHONE_SECOND[int(r() * len(_PHONE_SECOND))]}{int(r() * 1e9):09d}" if has_phone else None
        p.employment = _NONE_EMPLOYMENT
        p.employment_place = None
        p.employment_months = None
        p.employment_income = None
        return p

    def _employment(self, people: list["_P"], poor: bool, village: Village) -> None:
        r = self.rng.random
        able = [p for p in people if p.able]
        for p in able:
            x = r()
            if p.labour == _L_WEAK or p.age >= 60:
                pwp = 0.2 if poor else 0.05
                kind = _PWP if x < pwp else (_LOCAL if x < pwp + 0.25 else _NONE_EMPLOYMENT)
            else:
                pwp = 0.04 if poor else 0.01
                if x < 0.5:
                    kind = _MIGRANT
                elif x < 0.72:
                    kind = _LOCAL
                elif x < 0.78:
                    kind = _SELF
                elif x < 0.78 + pwp:
                    kind = _PWP
                else:
                    kind = _NONE_EMPLOYMENT
            p.employment = kind
        if able and all(p.employment == _NONE_EMPLOYMENT for p in able) and r() < 0.8:
            p = able[int(r() * len(able))]
            p.employment = _LOCAL if (p.labour == _L_WEAK or r() < 0.4) else _MIGRANT
        for p in able:
            kind = p.employment
            if kind == _MIGRANT:
                p.employment_place = self._places[0][bisect(self._places[1], r() * self._places[1][-1])]
                p.employment_months = 6 + int(r() * 7)
            elif kind == _LOCAL:
                p.employment_place = (f"{self.county_name}县城" if r() < 0.5 else village.township_name)
                p.employment_months = 3 + int(r() * 10)
            elif kind == _PWP:
                p.employment_place = f"{village.name}（{_PWP_POSTS[int(r() * len(_PWP_POSTS))]}）"
                p.employment_months = 12
            elif kind == _SELF:
                p.employment_place = village.name if r() < 0.7 else village.township_name
                p.employment_months = 12

    # ---- income ------------------------------------------------------------------------

    def _income(self, batch: Batch, hid: int, region: str, category: str, people: list["_P"], flags: list[str]) -> None:
        rng = self.rng
        r = rng.random
        n = len(people)

        def amount(lo: int, hi: int) -> int:
            """Whole yuan in [lo, hi], in fen."""
            return (lo + int(r() * (hi - lo + 1))) * 100

        # Last year's per-capita net income the household is drawn towards (yuan).
        if category == _LIFTED:
            if r() < 0.045:
                target = 5300 + r() * 1750  # below 7,100 and not monitored: the criticised case
            else:
                target = min(26000.0, max(7200.0, rng.lognormvariate(9.29, 0.22)))  # median ≈ 10,800
        elif category == _MONITORED:
            target = 5000 + r() * 4000 if r() < 0.85 else 9000 + r() * 3500
        else:
            target = min(36000.0, max(8200.0, rng.lognormvariate(9.53, 0.24)))  # median ≈ 13,800
        target_net = int(target * 100) * n
        poor = category != _ORDINARY

        y = [0] * len(ITEMS)
        # transfers that do not depend on the household's effort
        for p in people:
            if p.age >= 60 and (p.pension_insurance or p.age >= 65):
                y[PENSIONS] += amount(1560, 2400)  # 城乡居民基础养老金, ~130–200 yuan a month
            if p.health == _DISABLED:
                y[OTHER_TRANSFERS] += amount(600, 1320)  # 残疾人两项补贴
        if _F_DIBAO in flags:
            y[DIBAO] = amount(2400, 4300) * n
        if _F_TEKUN in flags:
            y[TEKUN] = amount(7200, 9800) * n
        fixed = y[PENSIONS] + y[OTHER_TRANSFERS] + y[DIBAO] + y[TEKUN]
        # discretionary parts: scaled down when the target is low
        disc = [0] * len(ITEMS)
        if r() < 0.45:
            disc[ECO] = amount(80, 900)  # 退耕还林, 公益林补偿
        if poor and r() < 0.15:
            disc[AWARDS] = amount(300, 2000)  # 产业 / 就业奖补
        if r() < 0.06:
            disc[OTHER_TRANSFERS] = amount(100, 600)
        if r() < (0.7 if poor else 0.08):
            disc[DIVIDENDS] = amount(150, 900)  # 扶贫项目资产收益分红
        if r() < 0.22:
            disc[LAND_RENT] = amount(300, 2500)
        if r() < 0.03:
            disc[OTHER_PROPERTY] = amount(200, 1500)
        can_farm = any(p.labour in _CAN_WORK and p.age >= 16 for p in people)
        if can_farm:
            if r() < 0.78:
                disc[PLANTING] = amount(800, 6000) + int(r() * 100)
            if r() < 0.38:
                disc[BREEDING] = amount(1000, 9000)
        for p in people:
            if p.employment == _SELF:
                share = amount(6000, 30000)
                disc[OTHER_BUSINESS] += share
                p.employment_income = share
        cost_ratio = 280 + int(r() * 170)  # production costs, per mille of business income

        def net_of(items: list[int]) -> int:
            business = items[PLANTING] + items[BREEDING] + items[OTHER_BUSINESS]
            return sum(items) - business * cost_ratio // 1000

        # wages: public-welfare posts are paid a fixed amount; the rest fills the gap
        wage_earners = []
        for p in people:
            if p.employment == _PWP:
                pay = amount(500, 800) * 12
                y[PWP_PAY] += pay
                p.employment_income = pay
            elif p.employment in (_MIGRANT, _LOCAL):
                wage_earners.append(p)
        minimum = sum(200_000 * p.employment_months // 12 for p in wage_earners)
        gap = target_net - fixed - y[PWP_PAY] - net_of(disc)
        if gap < minimum:
            room = target_net - fixed - y[PWP_PAY] - minimum
            current = net_of(disc)
            if current > 0:
                scale = max(0, room) / current
                if scale < 1:
                    disc = [int(v * scale) for v in disc]
                    for p in people:
                        if p.employment == _SELF:
                            p.employment_income = int(p.employment_income * scale)
            gap = max(minimum, target_net - fixed - y[PWP_PAY] - net_of(disc))
        if wage_earners:
            weights = [(3.0 if p.employment == _MIGRANT else 1.8) * p.employment_months for p in wage_earners]
            total_w = sum(weights)
            left = gap
            for i, (p, w) in enumerate(zip(wage_earners, weights)):
                share = left if i == len(wage_earners) - 1 else int(gap * w / total_w)
                left -= share
                p.employment_income = share
                y[MIGRANT_WAGES if p.employment == _MIGRANT else LOCAL_WAGES] += share
        elif gap > 0:
            # Nobody has wages: farming (when someone can work) and support from children
            # living elsewhere (赡养费, a transfer) make up the rest.
            farm = int(gap * 0.6) if can_farm else 0
            disc[PLANTING] += farm * 1000 // (1000 - cost_ratio)
            disc[OTHER_TRANSFERS] += gap - farm
        for i, v in enumerate(disc):
            y[i] += v

        # out-of-pocket medical spending (合规自付支出)
        spending = amount(0, 600) if r() < 0.7 else 0
        for p in people:
            if p.health == _SERIOUS:
                spending += amount(3000, 26000)
            elif p.health == _CHRONIC:
                spending += amount(200, 1800)
            elif p.health == _DISABLED:
                spending += amount(0, 1500)

        growth = 960 + int(r() * 140) if not poor else 980 + int(r() * 160)  # this year vs last, per mille
        nz = [i for i, v in enumerate(y) if v]
        deduct = self.deduct_eligible_spending
        records = batch.income_records
        next_id = self.next_income_id
        half = 2 * n
        for year, quarters in ((self.last_year, 4), (self.this_year, self.quarters_this_year)):
            if quarters == 0:
                continue
            factor = growth if year == self.this_year else 1000
            # (part, [(key, amount of each quarter)]) of the items this household has
            groups: list[tuple[int, list]] = []
            last_part = -1
            for i in nz:
                total = y[i] * factor // 1000
                shares = QUARTER_SHARES[i]
                if quarters == 4:  # the quarters add up to the year's amount exactly
                    a = total * shares[0] // 1000
                    b = total * shares[1] // 1000
                    c = total * shares[2] // 1000
                    vals = (a, b, c, total - a - b - c)
                else:
                    vals = [total * shares[q] // 1000 for q in range(quarters)]
                part = PART_OF_ITEM[i]
                if part != last_part:
                    groups.append((part, []))
                    last_part = part
                groups[-1][1].append((_ITEM_KEYS[i], vals))
            spend_total = spending * factor // 1000
            spends = [spend_total // 4] * quarters
            if quarters == 4:
                spends[3] = spend_total - 3 * spends[0]
            sums = [0, 0, 0, 0]
            cost_sum = net_sum = 0
            for q in range(quarters):
                parts = [0, 0, 0, 0]
                chunks = []
                for part, items in groups:
                    inner = []
                    subtotal = 0
                    for key, vals in items:
                        v = vals[q]
                        if v:
                            subtotal += v
                            inner.append(f'{key}{v // 100}.{v % 100:02d}"')
                    if inner:
                        parts[part] = subtotal
                        sums[part] += subtotal
                        chunks.append(_PART_KEYS[part] + ", ".join(inner) + "}")
                costs = parts[1] * cost_ratio // 1000
                net = parts[0] + parts[1] + parts[2] + parts[3] - costs
                if deduct:
                    net -= spends[q]
                # per-capita, rounded half-up (away from zero) like income.rules.per_capita
                pc = (2 * net + n) // half if net >= 0 else -((n - 2 * net) // half)
                records.append((
                    next_id, hid, region, year, q + 1, parts[0], parts[1], parts[2], parts[3],
                    "{" + ", ".join(chunks) + "}", costs, spends[q], n, net, pc, 1,
                ))
                next_id += 1
                cost_sum += costs
                net_sum += net
            batch.income_years.append((
                hid, year, region, quarters, sums[0], sums[1], sums[2], sums[3], cost_sum, sum(spends), n,
                net_sum, per_capita_fen(net_sum, n),
            ))
        self.next_income_id = next_id

    # ---- guarantees --------------------------------------------------------------------

    def _guarantees(self, hid: int, region: str, category: str, people: list["_P"]) -> tuple:
        r = self.rng.random
        poor = category != _ORDINARY
        monitored = category == _MONITORED
        compulsory = [p for p in people if 6 <= p.age <= 15]
        if not compulsory:
            education = _NA
        elif any(p.schooling == _DROPPED_OUT for p in compulsory):
            education = _AT_RISK
        else:
            education = _AT_RISK if r() < 0.002 else _SECURE
        uninsured = any(not p.medical_insurance for p in people)
        if (poor and uninsured) or r() < (0.03 if monitored else 0.003):
            medical = _AT_RISK
        else:
            medical = _SECURE
        grade = None
        if r() < (0.06 if monitored else 0.008):
            housing = _AT_RISK
            grade = "C" if r() < 0.7 else "D"
        else:
            housing = _SECURE
        water = _AT_RISK if r() < (0.04 if monitored else 0.005) else _SECURE
        return (hid, region, education, medical, housing, water, grade, None, 1)


class _P:
    """One person while a household is being built."""

    __slots__ = (
        "relation", "male", "sex", "age", "birth_date", "id_number", "name", "health", "disability_grade",
        "illness", "labour", "able", "education_level", "schooling", "school", "medical_insurance",
        "pension_insurance", "family_doctor", "employment", "employment_place", "employment_months",
        "employment_income", "phone",
    )


# Household sizes 1–7 (rural registered households average ≈ 3.4 people).
_SIZE_VALUES, _SIZE_CUM = _cum(((1, 12), (2, 22), (3, 22), (4, 20), (5, 14), (6, 7), (7, 3)))
_GRADE_CUM = (0.12, 0.35, 0.65)  # disability grade 1: 12 %, 2: 23 %, 3: 30 %, 4: 35 %
_PWP_POSTS = ("护林员", "保洁员", "护路员", "水管员", "村级信息员")

_HEAD, _SPOUSE, _CHILD, _CHILD_IN_LAW, _GRANDCHILD, _PARENT = (
    Relation.head.value, Relation.spouse.value, Relation.child.value, Relation.child_in_law.value,
    Relation.grandchild.value, Relation.parent.value,
)
_HEALTHY, _CHRONIC, _SERIOUS, _DISABLED = (
    Health.healthy.value, Health.chronic_illness.value, Health.serious_illness.value, Health.disabled.value,
)
_L_SKILLED, _L_ORDINARY, _L_WEAK, _L_LOST, _L_NONE = (
    LabourCapacity.skilled.value, LabourCapacity.ordinary.value, LabourCapacity.weak.value,
    LabourCapacity.lost.value, LabourCapacity.none.value,
)
_CAN_WORK = frozenset({_L_SKILLED, _L_ORDINARY, _L_WEAK})
_NO_LABOUR = frozenset({_L_LOST, _L_NONE})
_NO_LABOUR_OR_WEAK = frozenset({_L_LOST, _L_NONE, _L_WEAK})
_EDU_NONE, _EDU_PRIMARY, _EDU_JUNIOR, _EDU_SENIOR, _EDU_COLLEGE, _PRESCHOOL_AGE = (
    EducationLevel.none.value, EducationLevel.primary.value, EducationLevel.junior_secondary.value,
    EducationLevel.senior_secondary.value, EducationLevel.college.value, EducationLevel.preschool_age.value,
)
(_NOT_IN_SCHOOL, _PRESCHOOL, _PRIMARY, _JUNIOR, _SENIOR, _VOCATIONAL, _UNIVERSITY, _DROPPED_OUT,
 _SUSPENDED) = (s.value for s in (
    Schooling.not_in_school, Schooling.preschool, Schooling.primary, Schooling.junior_secondary,
    Schooling.senior_secondary, Schooling.vocational, Schooling.university, Schooling.dropped_out,
    Schooling.suspended,
))
_STUDYING = frozenset({_PRESCHOOL, _PRIMARY, _JUNIOR, _SENIOR, _VOCATIONAL, _UNIVERSITY, _SUSPENDED})
_NONE_EMPLOYMENT, _LOCAL, _MIGRANT, _PWP, _SELF = (
    Employment.none.value, Employment.local.value, Employment.migrant.value,
    Employment.public_welfare_post.value, Employment.self_employed.value,
)
_LIFTED, _MONITORED, _ORDINARY = Category.lifted_out.value, Category.monitored.value, Category.ordinary.value
_F_RELOCATED, _F_DIBAO, _F_TEKUN, _F_DISABLED, _F_SERIOUS, _F_ZERO = (f.value for f in (
    Flag.relocated, Flag.dibao, Flag.tekun, Flag.disabled, Flag.serious_illness, Flag.zero_employment,
))
_ALIVE = PersonStatus.alive.value
_ACTIVE = HouseholdStatus.active.value
_REGISTERED = MembershipChange.registered.value
_CREATED = HouseholdEventKind.created.value
_SECURE, _AT_RISK, _NA = Status.secure.value, Status.at_risk.value, Status.not_applicable.value

__all__ = [
    "Batch", "DemoGenerator", "Village", "villages_from_regions", "fen_text", "fen_decimal", "per_capita_fen",
    "HOUSEHOLD_COLUMNS", "PERSON_COLUMNS", "MEMBERSHIP_COLUMNS", "EVENT_COLUMNS", "INCOME_RECORD_COLUMNS",
    "INCOME_YEAR_COLUMNS", "GUARANTEE_COLUMNS", "MONEY_COLUMNS", "ITEMS", "PARTS", "CRITICISED_LINE",
]
