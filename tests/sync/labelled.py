"""A labelled department dataset and its scorer: the judge of the reconciliation rules and
of the import.

A seeded county (households, persons, open monitoring cases, quarterly income and the
province's income lines) is loaded in bulk; the three departments' files are written as
they really come (CSV and XLSX, title rows, Chinese headers, full-width digits, lower-case
x, stray spaces, old 15-digit numbers, dates as 2025/1/2, 20250102, 2025年1月2日 or
2025年1月2号, amounts with ¥ and thousands separators, a dash for no amount or date, years
as 2026年度, √ and × for yes and no, 在籍 for enrolled) and imported through
``worker.import_file``, the code behind ``guardline sync import`` (with ``--roster`` for
the complete rosters, once their rules exist: ``ROSTERS``). The registry check
(``REGISTRY_CHECK``) then runs the registry-only rules. The files hold

* clean records, which must raise nothing, among them near misses (``CONTROLS``);
* injected risks (``INJECTORS``, keyed by rule id): each says which finding (rule, source,
  subject) it must produce;
* malformed rows (``MALFORMED``), each with the quarantine reason it must get (and, for a
  bad ID number, the ``id_number_invalid`` finding ``quarantine:<key>`` of its source), and
  messy-but-valid rows, which must not be quarantined.

``score`` compares the open findings and the quarantine with the labels: per rule true and
false positives and negatives, recall and precision over the rules that exist
(``services.core.sync.rules.BY_ID``); a label for a rule that does not exist yet is
reported as pending and not counted, so the judge grows stricter by itself as rules land.
A label may also wait on a capability of an existing rule (``Expect.requires``: a probe).
What is known to be wrong today is listed, reported and left out of the asserted figures
until it is mended (then the table says so): scenarios where a rule errs
(``KNOWN_DEFECTS``), valid spellings the import refuses (``GAPS``), and the hostile file
(``HOSTILE``: over-long text, control characters) that the import hardening will quarantine
row by row. Labels follow the rules' documented definitions (docs/department-rules.md,
docs/registry-rules.md, docs/rosters.md), not what the SQL happens to do.

Add an injector for a new rule: write ``def _my_rule(w: World, n: int) -> None`` that builds
a household (``w.household``), its department rows (``w.row``) and what must be found
(``w.expect(rule_id, source, subject)``), and register it with ``@injector("rule_id")``.
Subjects are the fingerprint's tail: ``person:<id>``, ``household:<id>``,
``record:<external key>``, ``id:<hex of the keyed ID hash>``, ``case:<id>`` (a household's
open case has the household's id), ``phone:household:<id>``, ``quarantine:<hash>``.

    python -m tests.sync.labelled --households 5000     # bigger, with the table
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from services.core.idnumber import check_character, keyed_hash, mask
from services.core.timeutil import today as china_today
from tests.factories import COUNTY, OTHER_TOWNSHIP_VILLAGE, VILLAGE, VILLAGE_2

if TYPE_CHECKING:
    from services.core.sync.rosters import Roster

CIVIL, MEDICAL, EDUCATION, REGISTRY = "civil-affairs", "medical-insurance", "education", "registry"
KINDS = (CIVIL, MEDICAL, EDUCATION)
VILLAGES = (VILLAGE, VILLAGE_2, OTHER_TOWNSHIP_VILLAGE)
PROVINCE = COUNTY[:2]
TODAY = china_today()
Y = TODAY.year
SCHOOL_YEAR = Y if TODAY.month >= 9 else Y - 1  # the school year the current term belongs to
TERM = f"{Y}秋" if TODAY.month >= 9 else f"{Y}春"
PREVIOUS_TERM = f"{Y}春" if TODAY.month >= 9 else f"{Y - 1}秋"
# Other spellings of the two terms that schools use (the key and the subject keep them).
if TODAY.month >= 9:
    TERM_SPELLINGS = (TERM, f"{SCHOOL_YEAR}-{SCHOOL_YEAR + 1}-1", f"{Y}秋季")
    PREVIOUS_TERM_SPELLINGS = (PREVIOUS_TERM, f"{SCHOOL_YEAR - 1}-{SCHOOL_YEAR}-2", f"{Y}春季")
else:
    TERM_SPELLINGS = (TERM, f"{SCHOOL_YEAR}-{SCHOOL_YEAR + 1}-2", f"{Y}春季")
    PREVIOUS_TERM_SPELLINGS = (PREVIOUS_TERM, f"{SCHOOL_YEAR}-{SCHOOL_YEAR + 1}-1", f"{Y - 1}秋季")
# The province's monitoring income lines (per capita, yearly).
LINES = {Y - 2: Decimal("7000.00"), Y - 1: Decimal("7300.00"), Y: Decimal("7600.00")}
TOP_LINE = max(LINES.values())
CENT = Decimal("0.01")
UNKNOWN_ID = "id-number:"  # an expected subject about an ID number the registry lacks

# Rule ids the injectors name (a rule missing from ``BY_ID`` has its labels reported as
# pending until it lands).
HOUSEHOLD_SIZE_DIFFERS = "household_size_differs"
GRANTED_NOT_MONITORED = "assistance_granted_not_monitored"
MISSING_FROM_INSURANCE_ROSTER = "missing_from_insurance_roster"
MISSING_FROM_SCHOOL_ROSTER = "missing_from_school_roster"
STUDENT_WITHOUT_AID = "student_without_aid"
NO_FAMILY_DOCTOR = "no_family_doctor"
HEAD_SPOUSE_SAME_SEX = "head_spouse_same_sex"
CHILD_EMPLOYED = "child_employed"
# Registry-only rules (head and spouse of the same sex, a child employed …) run under the
# source "registry", not in a department's import: ``REGISTRY_CHECK`` is a coroutine
# function taking the worker ``Session`` that runs the registry check for ``COUNTY``
# (``worker.check_registry``, set below ``run``); None reports labels of source "registry"
# as pending.
REGISTRY_CHECK: Callable[[Any], Awaitable[None]] | None = None
ID_REASONS = ("id_number.check_digit", "id_number.birth_date", "id_number.format")  # id_number_invalid's
# Complete rosters (docs/rosters.md): once the rules of presence exist, the CSV file of
# medical insurance is imported as the enrolment roster of the year (``--roster 2026``) and
# the XLSX file of education as the school roster of the term; each holds every valid
# record of its period (and no malformed row: a roster that refuses more than the policy's
# ``roster_refused_share`` of its rows is not trusted), the other file the rest.
ROSTERS = {MEDICAL: str(Y), EDUCATION: TERM}
ROSTER_RULES = {MEDICAL: MISSING_FROM_INSURANCE_ROSTER, EDUCATION: MISSING_FROM_SCHOOL_ROSTER}
ROSTER_FILE = {MEDICAL: 0, EDUCATION: 1}  # which of the kind's two files (0: CSV, 1: XLSX)
# Headers for a field a source might not map (the source's own Chinese alias is used
# whenever it maps the field, as the built-in sources now all do).
PENDING_HEADERS = {"household_size": "家庭人口数", "family_doctor": "家庭医生签约"}

# Scenarios where the current rules are known to be wrong (reported in the table, left out
# of the asserted figures; a scenario that scores clean again is reported as fixed).
KNOWN_DEFECTS: dict[str, str] = {}
# (Fixed and removed: assistance_not_monitored judging an incomplete or part year — now
# income_rolling and assistance_income_unknown; large_medical_cost taking half a year's
# income as the year's total — now only a complete previous year is a threshold.)


# ---------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Thresholds:
    fixed: Decimal | None = Decimal("10000")
    share: Decimal | None = Decimal("1.0")
    age_from: int = 6
    age_to: int = 15
    new_grant_months: int = 12
    child_age: int = 16

    @property
    def fixed_amount(self) -> Decimal:
        """``fixed``, which the large cost labels need (None: the policy has no fixed amount)."""
        if self.fixed is None:
            raise ValueError("the large cost labels need a fixed amount")
        return self.fixed

    @property
    def income_share(self) -> Decimal:
        """``share``, which the large cost labels need (None: the policy has no income share)."""
        if self.share is None:
            raise ValueError("the large cost labels need an income share")
        return self.share

    @classmethod
    def of(cls, settings=None) -> Thresholds:
        """The thresholds the rules will use: the sync policy in force for the county, which
        is the defaults (``SyncPolicy()``: the labelled database sets no override). The large
        cost labels assume one amount and one share for every category, as the defaults are."""
        from services.core.households.enums import Category
        from services.core.policy.sync import SyncPolicy

        p = SyncPolicy()
        fixed = {p.large_cost_fixed_yuan[c] for c in (Category.ordinary, Category.lifted_out, Category.monitored)}
        share = {p.large_cost_income_share[c] for c in (Category.ordinary, Category.lifted_out, Category.monitored)}
        assert len(fixed) == 1 and len(share) == 1, "the labels assume one threshold for every category"
        f, sh = fixed.pop(), share.pop()
        return cls(
            Decimal(str(f)) if f is not None else None,
            Decimal(str(sh)) if sh is not None else None,
            p.compulsory_age_from,
            p.compulsory_age_to,
            p.new_grant_months,
            p.child_employment_age,
        )


# ---------------------------------------------------------------- the world


@dataclass
class Person:
    id: int
    household_id: int
    id_number: str
    name: str
    sex: str
    born: date
    region: str
    relation: str
    labour: str
    schooling: str = "not_in_school"
    insured: bool = True
    family_doctor: bool = True
    employment: str = "none"
    status: str = "alive"
    died: date | None = None
    phone: str | None = None
    employment_months: int | None = None
    employment_income: Decimal | None = None

    @property
    def alive(self) -> bool:
        return self.status == "alive"


@dataclass
class Household:
    id: int
    no: str
    region: str
    category: str
    scenario: str
    members: list[Person] = field(default_factory=list)
    open_case: bool = False
    quarters: list[tuple[int, int, Decimal, int]] = field(default_factory=list)  # year, quarter, net, members
    phone: str | None = None
    risk_types: list[str] = field(default_factory=lambda: ["unstable_employment"])  # of the open case
    # Eligible out-of-pocket spending (合规自付支出) per (year, quarter); None: an illness
    # case spends 300 yuan every recorded quarter, any other household nothing.
    spending: dict[tuple[int, int], Decimal] | None = None
    measures: list[tuple[str, str]] = field(default_factory=list)  # (category, status) of the open case

    @property
    def target(self) -> bool:
        return self.open_case or self.category in ("lifted_out", "monitored")

    @property
    def alive(self) -> list[Person]:
        return [p for p in self.members if p.alive]


class Aid(TypedDict, total=False):
    """A student's aid in an education record (none: neither field)."""

    aid_kind: str | None
    aid_amount: Decimal | None


class Death(TypedDict, total=False):
    """A date of death a department records."""

    death_date: date


class Grant(Death, total=False):
    """A civil affairs record besides its benefit."""

    dibao_class: str | None
    start_date: date | None
    end_date: date | None
    amount: Decimal | None
    status: str | None
    stop_reason: str
    household_size: int | None


class Fields(Grant, Aid, total=False):
    """A department record's canonical fields besides its key, ID number and name (``COLUMNS``),
    as ``World.row`` takes them: None is a blank cell."""

    benefit: str
    # medical insurance
    record_type: str
    year: int
    insured: bool
    scheme: str
    settled_on: date
    hospital: str
    total_cost: Decimal
    out_of_pocket: Decimal
    family_doctor: bool | None
    # education
    term: str
    school: str
    stage: str | None


@dataclass
class Row:
    """One department record: canonical fields (Python values, rendered messily when the
    file is written) or, for a malformed row, raw cells that replace them."""

    kind: str
    fields: dict[str, Any]
    scenario: str
    raw: dict[str, Any] = field(default_factory=dict)  # canonical → cell as written
    reason: str | None = None  # the expected quarantine reason of a malformed row
    gap: str | None = None  # a valid spelling the import is known to refuse (``GAPS``)
    totals: bool = False  # a 合计 row at the end of a sheet

    @property
    def key(self) -> str:
        key = str(self.fields.get("record_id"))
        return f"{key}|{self.fields['term']}" if self.kind == EDUCATION else key


@dataclass(frozen=True)
class Expect:
    rule: str
    source: str
    subject: str
    scenario: str
    requires: str | None = None  # a probe (``PROBES``) the rule must pass for the label to count


_SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红梅林海燕春雪飞鹏宇浩然欣怡子涵梓萱"
_MINORITY = ("阿依古丽·买买提", "迪丽娜尔·艾力", "古丽米拉·吐尔逊", "买买提·艾则孜", "热依拉·阿不都")
_AREAS = ("529901", "522701", "520102", "522123", "530102", "522401")


class World:
    """The county and its department rows, built from a seed."""

    def __init__(
        self, seed: int = 2026, households: int = 200, reps: int | None = None, thresholds: Thresholds = Thresholds()
    ):
        self.rng = random.Random(seed)
        self.t = thresholds
        self.background = households
        self.reps = reps if reps is not None else max(1, households // 100)
        self.households: list[Household] = []
        self.expects: list[Expect] = []
        self.rows: dict[str, list[Row]] = {k: [] for k in KINDS}
        self.hostile: list[Row] = []  # rows of the hostile file (``HOSTILE``), medical insurance
        self.own: set[tuple[str, int]] = set()  # (kind, person id): rows written by a scenario
        self.memberships: list[tuple[int, int, bool]] = []  # (person, household, ended): besides their own
        self.scenarios: Counter[str] = Counter()
        self._ids: set[str] = set()
        self._hid = itertools.count(1)
        self._pid = itertools.count(1)
        self._keys = {k: itertools.count(1) for k in KINDS}

    # -- people
    def new_id(self, born: date, male: bool) -> str:
        while True:
            seq = self.rng.randrange(0, 500) * 2 + (1 if male else 0)
            first17 = f"{self.rng.choice(_AREAS)}{born:%Y%m%d}{seq:03d}"
            number = first17 + check_character(first17)
            if number not in self._ids:
                self._ids.add(number)
                return number

    def mobile(self) -> str:
        return f"1{self.rng.choice('3456789')}{self.rng.randrange(10**9):09d}"

    def name(self, exclude: str | None = None) -> str:
        while True:
            n = self.rng.choice(_SURNAMES) + "".join(self.rng.choice(_GIVEN) for _ in range(self.rng.choice((1, 2))))
            if n != exclude:
                return n

    def born_aged(self, age: int) -> date:
        """A birth date ``age`` years before today (at least 1900)."""
        start = date(TODAY.year - age - 1, TODAY.month, 1) + timedelta(days=31)
        day = start + timedelta(days=self.rng.randrange(0, 330))
        while _age(day, TODAY) != age:
            day += timedelta(days=1 if _age(day, TODAY) > age else -1)
        return day

    def born_school_age(self, age: int, edge: str | None = None) -> date:
        """A birth date that makes the age on 1 September of the current school year
        ``age`` (``edge``: "first" the youngest such, "last" the oldest such)."""
        youngest = date(SCHOOL_YEAR - age, 9, 1)  # turns ``age`` on the day
        oldest = date(SCHOOL_YEAR - age - 1, 9, 2)  # turns ``age`` + 1 the next day
        if edge == "first":
            return youngest
        if edge == "last":
            return oldest
        return oldest + timedelta(days=self.rng.randrange(0, (youngest - oldest).days + 1))

    def household(
        self, scenario: str, category: str = "lifted_out", *, open_case: bool | None = None, region: str | None = None
    ) -> Household:
        hid = next(self._hid)
        h = Household(
            hid,
            f"LB{COUNTY}{hid:07d}",
            region or self.rng.choice(VILLAGES),
            category,
            scenario,
            open_case=category == "monitored" if open_case is None else open_case,
            phone=self.mobile() if self.rng.random() < 0.85 else None,
            risk_types=self.rng.choice(
                (
                    ["illness"],
                    ["unstable_employment"],
                    ["lack_of_labour"],
                    ["illness", "disability"],
                    ["income_below_line"],
                )
            ),
        )
        self.households.append(h)
        self.scenarios[scenario] += 1
        return h

    def person(
        self,
        h: Household,
        relation: str = "head",
        *,
        age: int | None = None,
        born: date | None = None,
        male: bool | None = None,
        labour: str | None = None,
        schooling: str | None = None,
        name: str | None = None,
        **kw,
    ) -> Person:
        if born is None:
            born = self.born_aged(age if age is not None else self.rng.randint(25, 65))
        male = (relation == "head") if male is None else male
        adult = _age(born, TODAY) >= 18
        if labour is None:
            labour = (
                self.rng.choice(("ordinary", "ordinary", "skilled", "weak")) if 18 <= _age(born, TODAY) < 65 else "none"
            )
        kw.setdefault("phone", self.mobile() if adult and self.rng.random() < 0.3 else None)
        p = Person(
            next(self._pid),
            h.id,
            self.new_id(born, male),
            name or self.name(),
            "male" if male else "female",
            born,
            h.region,
            relation,
            labour,
            schooling or ("not_in_school" if adult else _schooling(born)),
            **kw,
        )
        h.members.append(p)
        return p

    def family(self, h: Household, size: int | None = None) -> list[Person]:
        """A head who can work and, by chance, a spouse, children and a parent."""
        head = self.person(h, "head", age=self.rng.randint(28, 60), labour=self.rng.choice(("ordinary", "skilled")))
        out = [head]
        size = size or self.rng.choice((1, 2, 3, 3, 4, 4, 5))
        if size >= 2:
            out.append(
                self.person(h, "spouse", age=min(64, _age(head.born, TODAY) + self.rng.randint(-4, 4)), male=False)
            )
        for _ in range(max(0, size - 3 if size >= 4 else size - 2)):
            out.append(
                self.person(
                    h, "child", born=self.born_school_age(self.rng.randint(2, 19)), male=self.rng.random() < 0.5
                )
            )
        if size >= 4:
            out.append(
                self.person(
                    h,
                    "parent",
                    age=self.rng.randint(66, 85),
                    male=self.rng.random() < 0.5,
                    labour=self.rng.choice(("none", "lost", "weak")),
                )
            )
        return out

    def income(
        self,
        h: Household,
        per_capita: Decimal,
        years=(Y - 2, Y - 1),
        current: int = 0,
        current_per_capita: Decimal | None = None,
    ) -> None:
        """Quarterly net income: whole ``years`` at ``per_capita`` a year and ``current``
        quarters of this year (at ``current_per_capita``, else the same rate). Quarters are
        rounded up to the fen, so a year is never below what was asked."""
        members = len(h.alive)
        for year in years:
            for q in range(1, 5):
                h.quarters.append((year, q, _up(per_capita * members / 4), members))
        rate = current_per_capita if current_per_capita is not None else per_capita
        for q in range(1, current + 1):
            h.quarters.append((Y, q, _up(rate * members / 4), members))

    # -- department rows and labels
    def row(
        self,
        kind: str,
        person: Person | None,
        scenario: str,
        *,
        id_number: str | None = None,
        name: str | None = None,
        own: bool = True,
        **fields: Unpack[Fields],
    ) -> Row:
        key = next(self._keys[kind])
        prefix = {CIVIL: "MZ", MEDICAL: "YB", EDUCATION: "XJ"}[kind]
        if not id_number:
            if person is None:
                raise ValueError("a row needs a person or an ID number")
            id_number = person.id_number
        data: dict[str, Any] = {
            "record_id": f"{prefix}{key:07d}",
            "id_number": id_number,
            "name": name if name is not None else (person.name if person else self.name()),
        }
        data.update(fields)
        if kind == EDUCATION:
            data.setdefault("term", TERM)
        r = Row(kind, data, scenario)
        self.rows[kind].append(r)
        if person is not None and own:
            self.own.add((kind, person.id))
        return r

    def expect(self, rule: str, source: str, subject: str, scenario: str, requires: str | None = None) -> None:
        self.expects.append(Expect(rule, source, subject, scenario, requires))

    # -- clean records of everyone a scenario has not written for
    def defaults(self) -> None:
        rng = self.rng
        # Households of a key group of the family doctor rule by a 低保/特困 grant.
        granted = {
            self.households[p.household_id - 1].id
            for r in self.rows[CIVIL]
            if r.fields.get("benefit") in ("dibao", "tekun") and (p := self._person(r.fields["id_number"])) is not None
        }
        for h in self.households:
            for p in h.alive:
                if (MEDICAL, p.id) not in self.own and (h.target or rng.random() < 0.6):
                    insured = h.target or rng.random() < 0.85
                    doctor = True if h.target or h.id in granted else rng.random() < 0.5
                    p.insured, p.family_doctor = insured, doctor  # the registry agrees
                    self.row(
                        MEDICAL,
                        p,
                        "background",
                        own=False,
                        record_type="enrolment",
                        year=Y,
                        insured=insured,
                        status="normal" if insured else "not_insured",
                        scheme="城乡居民基本医疗保险",
                        family_doctor=doctor,
                    )
                if (EDUCATION, p.id) not in self.own and p.schooling in _STAGE_OF:
                    aid: Aid = (
                        (
                            {"aid_kind": "国家助学金", "aid_amount": Decimal("2000.00")}
                            if p.schooling == "senior_secondary"
                            else {"aid_kind": "生活补助", "aid_amount": Decimal("625.00")}
                        )
                        if h.target
                        else {}
                    )
                    self.row(
                        EDUCATION,
                        p,
                        "background",
                        own=False,
                        school=_school(p),
                        stage=_STAGE_OF[p.schooling],
                        status="enrolled",
                        **aid,
                    )
                    if rng.random() < 0.3 and _age_on_school_start(p.born, SCHOOL_YEAR - 1) >= 6:
                        self.row(
                            EDUCATION,
                            p,
                            "background",
                            own=False,
                            term=PREVIOUS_TERM,
                            school=_school(p),
                            stage=_STAGE_OF[p.schooling],
                            status="enrolled",
                            **aid,
                        )
            if h.scenario != "background":
                continue
            head = h.members[0]
            if h.category == "monitored" and rng.random() < 0.5 and (CIVIL, head.id) not in self.own:
                self.row(
                    CIVIL,
                    head,
                    "background",
                    benefit=rng.choice(("dibao", "dibao", "tekun")),
                    dibao_class=None,
                    start_date=date(Y - 1, rng.randint(1, 12), 1),
                    amount=Decimal("580.00"),
                    status="active",
                    household_size=len(h.alive),
                )
            elif h.category == "lifted_out" and rng.random() < 0.15:
                start = date(Y - 3, rng.randint(1, 12), 1)
                self.row(
                    CIVIL,
                    head,
                    "background",
                    benefit="dibao",
                    dibao_class="2",
                    start_date=start,
                    end_date=date(Y - 1, rng.randint(1, 12), 28),
                    amount=Decimal("420.00"),
                    status="stopped",
                    stop_reason="家庭收入超过低保标准",
                    household_size=len(h.alive),
                )
            elif rng.random() < 0.08:
                self.row(
                    CIVIL,
                    head,
                    "background",
                    benefit=rng.choice(("temporary", "dibao_edge")),
                    start_date=date(Y, rng.randint(1, TODAY.month), 1),
                    amount=Decimal("1500.00"),
                    status="active",
                    household_size=len(h.alive),
                )
            if rng.random() < 0.1:
                member = rng.choice(h.alive)
                for _ in range(rng.randint(1, 2)):
                    total = Decimal(rng.randint(30000, 300000)) / 100
                    self.row(
                        MEDICAL,
                        member,
                        "background",
                        own=False,
                        record_type="claim",
                        year=Y,
                        settled_on=date(Y, rng.randint(1, TODAY.month), rng.randint(1, 28)),
                        hospital="清溪县人民医院",
                        total_cost=total,
                        out_of_pocket=_up(total * Decimal("0.3")),
                    )

    def _person(self, id_number: str) -> Person | None:
        if not hasattr(self, "_by_id"):
            self._by_id = {p.id_number: p for h in self.households for p in h.members}
        return self._by_id.get(id_number)

    def build(self) -> World:
        for _ in range(self.background):
            _background(self)
        for _rule, injectors in INJECTORS.items():
            for inj in injectors:
                for n in range(self.reps):
                    inj.fn(self, n)
        for control in CONTROLS:
            for n in range(self.reps):
                control.fn(self, n)
        for malformed in MALFORMED:
            malformed.fn(self)
        self.defaults()
        return self


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _age_on_school_start(born: date, school_year: int = SCHOOL_YEAR) -> int:
    return _age(born, date(school_year, 9, 1))


def _schooling(born: date) -> str:
    age = _age_on_school_start(born)
    if age < 3:
        return "not_in_school"
    if age < 6:
        return "preschool"
    if age <= 11:
        return "primary"
    if age <= 14:
        return "junior_secondary"
    if age <= 17:
        return "senior_secondary"
    return "not_in_school"


_STAGE_OF = {"primary": "primary", "junior_secondary": "junior_secondary", "senior_secondary": "senior_secondary"}


def _school(p: Person) -> str:
    return {
        "primary": "清溪县白岩小学",
        "junior_secondary": "清溪县第二中学",
        "senior_secondary": "清溪县第一中学",
    }.get(p.schooling, "清溪县第二中学")


def _up(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding="ROUND_CEILING")


def _background(w: World) -> None:
    category = w.rng.choices(("lifted_out", "monitored", "ordinary"), (40, 15, 45))[0]
    h = w.household("background", category, open_case=None if category != "lifted_out" else w.rng.random() < 0.05)
    w.family(h)
    if h.open_case and w.rng.random() < 0.6:
        h.measures.append(
            (
                w.rng.choice(("industry", "employment", "health", "social_protection")),
                w.rng.choice(("planned", "in_progress", "completed")),
            )
        )
    if h.target or w.rng.random() < 0.3:
        w.income(h, Decimal(w.rng.randint(12000, 30000)), current=min(3, (TODAY.month - 1) // 3))


# ---------------------------------------------------------------- the registries


@dataclass(frozen=True)
class Scenario:
    name: str
    fn: Callable[..., None]


INJECTORS: dict[str, list[Scenario]] = defaultdict(list)
CONTROLS: list[Scenario] = []
MALFORMED: list[Scenario] = []


def injector(rule: str):
    def register(fn):
        INJECTORS[rule].append(Scenario(fn.__name__.strip("_"), fn))
        return fn

    return register


def control(fn):
    CONTROLS.append(Scenario(fn.__name__.strip("_"), fn))
    return fn


def malformed(fn):
    MALFORMED.append(Scenario(fn.__name__.strip("_"), fn))
    return fn


def _person_subject(p: Person) -> str:
    return f"person:{p.id}"


def _household_subject(h: Household) -> str:
    return f"household:{h.id}"


def _months_ago(months: int, day: date = TODAY) -> date:
    """``day`` ``months`` calendar months earlier (the last day of a shorter month), as
    PostgreSQL's ``date - interval 'N months'``."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for d in range(day.day, 0, -1):
        try:
            return date(year, month + 1, d)
        except ValueError:
            continue
    raise AssertionError(day)


# A long-standing grant: older than any ``new_grant_months`` the policy allows (60), so
# only the household's income decides (assistance_not_monitored or _income_unknown).
LONG_STANDING = date(Y - 6, 3, 1)


def _active_dibao(w: World, p: Person, scenario: str, benefit: str = "dibao", **over: Unpack[Grant]) -> Row:
    fields: Fields = {
        "benefit": benefit,
        "dibao_class": "1" if benefit == "dibao" else None,
        "start_date": LONG_STANDING,
        "amount": Decimal("650.00"),
        "status": "active",
        "household_size": len(w.households[p.household_id - 1].alive),
    }
    fields.update(over)
    return w.row(CIVIL, p, scenario, **fields)


# -- name_mismatch
def _renamed(w: World, p: Person) -> str:
    return p.name[:-1] + w.name()[-1] if len(p.name) > 1 else w.name(exclude=p.name)


@injector("name_mismatch")
def _name_mismatch_civil(w: World, n: int) -> None:
    s = "name_mismatch_civil"
    h = w.household(s, "ordinary")
    head = w.family(h, 2)[0]
    other = head.name[:-1] + next(c for c in _GIVEN if c != head.name[-1])
    w.row(
        CIVIL,
        head,
        s,
        name=other,
        benefit="temporary",
        start_date=date(Y, 1, 5),
        amount=Decimal("800"),
        status="active",
        household_size=len(h.alive),
    )
    w.expect("name_mismatch", CIVIL, _person_subject(head), s)


@injector("name_mismatch")
def _name_mismatch_medical(w: World, n: int) -> None:
    s = "name_mismatch_medical"
    h = w.household(s, "lifted_out")
    people = w.family(h, 3)
    w.income(h, Decimal("15000"))
    p = people[-1]
    other = p.name[:-1] + next(c for c in _GIVEN if c != p.name[-1])
    w.row(MEDICAL, p, s, name=other, record_type="enrolment", year=Y, insured=True, status="normal", family_doctor=True)
    w.expect("name_mismatch", MEDICAL, _person_subject(p), s)


@injector("name_mismatch")
def _name_mismatch_education(w: World, n: int) -> None:
    s = "name_mismatch_education"
    h = w.household(s, "ordinary")
    w.family(h, 2)
    child = w.person(h, "child", born=w.born_school_age(9), male=True)
    other = child.name[:-1] + next(c for c in _GIVEN if c != child.name[-1])
    w.row(EDUCATION, child, s, name=other, school=_school(child), stage="primary", status="enrolled")
    w.expect("name_mismatch", EDUCATION, _person_subject(child), s)


# -- not_in_registry (civil affairs reports unmatched ID numbers; the others do not)
@injector("not_in_registry")
def _not_in_registry(w: World, n: int) -> None:
    s = "not_in_registry"
    born = w.born_aged(w.rng.randint(30, 80))
    number = w.new_id(born, True)
    row = w.row(
        CIVIL,
        None,
        s,
        id_number=number,
        benefit="dibao",
        dibao_class="2",
        start_date=date(Y - 1, 6, 1),
        amount=Decimal("580"),
        status="active",
        household_size=1,
    )
    row.raw["_old15"] = n % 2 == 1 and number[6:8] == "19"  # sent as an old 15-digit number
    w.expect("not_in_registry", CIVIL, UNKNOWN_ID + number, s)  # made ``id:<keyed hash>`` when scored


# -- dead_elsewhere
def _with_parent(w: World, s: str, category: str = "lifted_out") -> tuple[Household, Person]:
    h = w.household(s, category)
    w.family(h, 2)
    parent = w.person(h, "parent", age=w.rng.randint(70, 90), labour="none", male=True)
    if h.target:
        w.income(h, Decimal("16000"))
    return h, parent


@injector("dead_elsewhere")
def _dead_civil_with_date(w: World, n: int) -> None:
    s = "dead_civil_with_date"
    h, parent = _with_parent(w, s)
    w.row(
        CIVIL,
        parent,
        s,
        benefit="dibao",
        dibao_class="3",
        start_date=date(Y - 2, 1, 1),
        end_date=date(Y, 2, 28),
        amount=Decimal("300"),
        status="stopped",
        stop_reason="死亡",
        death_date=date(Y, 2, 11),
        household_size=len(h.alive),
    )
    w.expect("dead_elsewhere", CIVIL, _person_subject(parent), s)


@injector("dead_elsewhere")
def _dead_civil_by_word(w: World, n: int) -> None:
    s = "dead_civil_stop_reason_死亡"
    h, parent = _with_parent(w, s)
    w.row(
        CIVIL,
        parent,
        s,
        benefit="tekun",
        start_date=date(Y - 2, 1, 1),
        end_date=date(Y, 3, 31),
        amount=Decimal("900"),
        status="stopped",
        stop_reason="对象死亡，停发",
        household_size=len(h.alive),
    )
    w.expect("dead_elsewhere", CIVIL, _person_subject(parent), s)


@injector("dead_elsewhere")
def _dead_civil_other_words(w: World, n: int) -> None:
    """Deaths reach departments as 亡故, 去世, 身故 too, without a date (docs/department-rules.md)."""
    word = ("亡故", "去世", "身故")[n % 3]
    s = "dead_civil_stop_reason_other_words"
    h, parent = _with_parent(w, s)
    w.row(
        CIVIL,
        parent,
        s,
        benefit="dibao",
        dibao_class="3",
        start_date=date(Y - 2, 1, 1),
        end_date=date(Y, 4, 30),
        amount=Decimal("300"),
        status="stopped",
        stop_reason=word,
        household_size=len(h.alive),
    )
    w.expect("dead_elsewhere", CIVIL, _person_subject(parent), s, requires=f"death_word:{word}")


@injector("dead_elsewhere")
def _dead_medical(w: World, n: int) -> None:
    s = "dead_medical"
    _h, parent = _with_parent(w, s)
    extra: Death = {"death_date": date(Y, 5, 3)} if n % 2 == 0 else {}
    w.row(MEDICAL, parent, s, record_type="enrolment", year=Y, insured=False, status="deceased", **extra)
    w.expect("dead_elsewhere", MEDICAL, _person_subject(parent), s)


# -- not_insured
@injector("not_insured")
def _not_insured_lifted_out(w: World, n: int) -> None:
    s = "not_insured_lifted_out"
    h = w.household(s, "lifted_out")
    people = w.family(h, 3)
    w.income(h, Decimal("14000"))
    p = people[n % len(people)]
    w.row(MEDICAL, p, s, record_type="enrolment", year=Y, insured=False, status="not_insured", family_doctor=True)
    w.expect("not_insured", MEDICAL, f"person:{p.id}:{Y}", s)


@injector("not_insured")
def _not_insured_open_case(w: World, n: int) -> None:
    """An ordinary household under identification (an open case) is a target already."""
    s = "not_insured_open_case"
    h = w.household(s, "ordinary", open_case=True)
    head = w.family(h, 2)[0]
    w.income(h, Decimal("9000"))
    w.row(MEDICAL, head, s, record_type="enrolment", year=Y, status="not_insured", family_doctor=True)
    w.expect("not_insured", MEDICAL, f"person:{head.id}:{Y}", s)


@injector("not_insured")
def _not_insured_monitored_lapsed(w: World, n: int) -> None:
    s = "not_insured_monitored_lapsed"
    h = w.household(s, "monitored")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("9000"))
    w.row(MEDICAL, head, s, record_type="enrolment", year=Y, insured=False, status="not_insured", family_doctor=True)
    w.row(MEDICAL, head, s, record_type="enrolment", year=Y - 1, insured=True, status="normal", family_doctor=True)
    w.expect("not_insured", MEDICAL, f"person:{head.id}:{Y}", s)


# -- large_medical_cost
def _claims(w: World, p: Person, s: str, year: int, total_out_of_pocket: Decimal, parts: int = 2) -> None:
    share = (total_out_of_pocket / parts).quantize(CENT)
    amounts = [share] * (parts - 1) + [total_out_of_pocket - share * (parts - 1)]
    for i, oop in enumerate(amounts):
        w.row(
            MEDICAL,
            p,
            s,
            own=False,
            record_type="claim",
            year=year,
            settled_on=date(year, 2 + i, 10 + i),
            hospital="青山市第一人民医院",
            total_cost=(oop * Decimal("2.5")).quantize(CENT),
            out_of_pocket=oop,
        )


@injector("large_medical_cost")
def _large_cost_fixed(w: World, n: int) -> None:
    s = "large_cost_above_fixed"
    h = w.household(s, "ordinary")
    people = w.family(h, 3)
    w.income(h, Decimal("40000"))
    _claims(w, people[-1], s, Y, w.t.fixed_amount + CENT)
    w.expect("large_medical_cost", MEDICAL, f"household:{h.id}:{Y}", s)


@injector("large_medical_cost")
def _large_cost_last_year(w: World, n: int) -> None:
    s = "large_cost_last_year_claims"
    h = w.household(s, "lifted_out")
    people = w.family(h, 2)
    w.income(h, Decimal("30000"))
    _claims(w, people[0], s, Y - 1, w.t.fixed_amount + Decimal("2000"), parts=3)
    w.expect("large_medical_cost", MEDICAL, f"household:{h.id}:{Y - 1}", s)


@injector("large_medical_cost")
def _large_cost_income_share(w: World, n: int) -> None:
    s = "large_cost_above_income_share"
    h = w.household(s, "lifted_out")
    people = w.family(h, 1)
    w.income(h, Decimal("5000"), years=(Y - 1,))  # last year's total: 5,000
    _claims(w, people[0], s, Y, (Decimal("5000") * w.t.income_share + Decimal("1")).quantize(CENT))
    w.expect("large_medical_cost", MEDICAL, f"household:{h.id}:{Y}", s)


# -- out_of_school
def _child(w: World, s: str, category: str, born: date, schooling: str) -> tuple[Household, Person]:
    h = w.household(s, category)
    w.family(h, 2)
    child = w.person(h, "child", born=born, schooling=schooling, male=w.rng.random() < 0.5)
    if h.target:
        w.income(h, Decimal("13000"))
    return h, child


@injector("out_of_school")
def _out_of_school(w: World, n: int) -> None:
    s = "out_of_school"
    _h, child = _child(w, s, "lifted_out", w.born_school_age(w.rng.randint(7, 14)), "dropped_out")
    term = TERM_SPELLINGS[n % len(TERM_SPELLINGS)]
    w.row(
        EDUCATION,
        child,
        s,
        term=term,
        school=_school(child),
        stage="junior_secondary",
        status="dropped_out",
        aid_kind="生活补助",
        aid_amount=Decimal("625"),
    )
    w.expect("out_of_school", EDUCATION, f"person:{child.id}:{term}", s)


@injector("out_of_school")
def _out_of_school_at_the_edges(w: World, n: int) -> None:
    s = "out_of_school_age_edges"
    age, edge = ((w.t.age_to, "last"), (w.t.age_from, "first"))[n % 2]
    _h, child = _child(w, s, "ordinary", w.born_school_age(age, edge), "dropped_out")
    w.row(EDUCATION, child, s, school=_school(child), stage="primary", status="dropped_out")
    w.expect("out_of_school", EDUCATION, f"person:{child.id}:{TERM}", s)


@injector("out_of_school")
def _out_of_school_after_enrolled_term(w: World, n: int) -> None:
    s = "out_of_school_registry_in_school"
    _h, child = _child(w, s, "monitored", w.born_school_age(13), "junior_secondary")
    w.row(
        EDUCATION,
        child,
        s,
        term=PREVIOUS_TERM,
        school=_school(child),
        stage="junior_secondary",
        status="enrolled",
        aid_kind="生活补助",
        aid_amount=Decimal("625"),
    )
    w.row(
        EDUCATION,
        child,
        s,
        school=_school(child),
        stage="junior_secondary",
        status="dropped_out",
        aid_kind="生活补助",
        aid_amount=Decimal("625"),
    )
    w.expect("out_of_school", EDUCATION, f"person:{child.id}:{TERM}", s)
    w.expect("schooling_differs", EDUCATION, _person_subject(child), s)


# -- schooling_differs
@injector("schooling_differs")
def _schooling_differs_back_at_school(w: World, n: int) -> None:
    s = "schooling_differs_registry_dropped_out"
    _h, child = _child(w, s, "ordinary", w.born_school_age(11), "dropped_out")
    w.row(EDUCATION, child, s, school=_school(child), stage="primary", status="enrolled")
    w.expect("schooling_differs", EDUCATION, _person_subject(child), s)


@injector("schooling_differs")
def _schooling_differs_over_compulsory_age(w: World, n: int) -> None:
    s = "schooling_differs_senior_dropped_out"
    _h, child = _child(w, s, "ordinary", w.born_school_age(w.t.age_to + 2), "senior_secondary")
    w.row(EDUCATION, child, s, school="清溪县第一中学", stage="senior_secondary", status="dropped_out")
    w.expect("schooling_differs", EDUCATION, _person_subject(child), s)


# -- the three 低保/特困 rules: one finding per not-monitored household with an active grant
# to a living member — newly granted (within ``new_grant_months``: whatever the income),
# else its income over a complete twelve months below the line (应纳未纳), else incomplete
# twelve months (unknown: a finding without a clue).
CURRENT = min(3, (TODAY.month - 1) // 3)  # quarters of this year already over


@injector("assistance_not_monitored")
def _assisted_below_line(w: World, n: int) -> None:
    s = "assisted_long_standing_below_line_lifted_out"
    h = w.household(s, "lifted_out")
    head = w.family(h, 3)[0]
    w.income(h, Decimal("5200"), current=CURRENT)
    _active_dibao(w, head, s)
    w.expect("assistance_not_monitored", CIVIL, _household_subject(h), s)


@injector("assistance_not_monitored")
def _tekun_below_line_ordinary(w: World, n: int) -> None:
    s = "tekun_long_standing_below_line_ordinary"
    h = w.household(s, "ordinary")
    head = w.person(h, "head", age=w.rng.randint(50, 64), labour="weak")
    w.income(h, Decimal("4800"), current=CURRENT)
    _active_dibao(w, head, s, benefit="tekun", start_date=date(Y - 4, 1, 1), amount=Decimal("1050.00"))
    w.expect("assistance_not_monitored", CIVIL, _household_subject(h), s)


@injector("assistance_not_monitored")
def _grant_just_too_old_below_line(w: World, n: int) -> None:
    """A grant of ``new_grant_months`` + 1 months ago is no longer new: the income decides."""
    s = "grant_13_months_ago_below_line"
    h = w.household(s, "lifted_out")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("5000"), current=CURRENT)
    _active_dibao(w, head, s, start_date=_months_ago(w.t.new_grant_months + 1))
    w.expect("assistance_not_monitored", CIVIL, _household_subject(h), s)


@injector("assistance_income_unknown")
def _assisted_income_unknown(w: World, n: int) -> None:
    """Income recorded for three quarters only (a gap, or a household recorded lately)."""
    s = "assisted_long_standing_income_incomplete"
    h = w.household(s, ("lifted_out", "ordinary")[n % 2])
    head = w.family(h, 2)[0]
    for q in (1, 2, 4):  # last year's third quarter never collected
        h.quarters.append((Y - 1, q, Decimal("900.00"), len(h.alive)))
    _active_dibao(w, head, s, benefit=("dibao", "tekun")[n % 2])
    w.expect("assistance_income_unknown", CIVIL, _household_subject(h), s)


@injector("assistance_income_unknown")
def _assisted_no_income_at_all(w: World, n: int) -> None:
    s = "assisted_long_standing_no_income_recorded"
    h = w.household(s, "ordinary")
    head = w.family(h, 1)[0]
    _active_dibao(w, head, s, benefit="tekun")
    w.expect("assistance_income_unknown", CIVIL, _household_subject(h), s)


# -- no_labour_no_assistance (read from the registry, in the civil-affairs run)
@injector("no_labour_no_assistance")
def _no_labour_alone(w: World, n: int) -> None:
    s = "no_labour_alone"
    h = w.household(s, ("lifted_out", "monitored")[n % 2])
    w.person(h, "head", age=w.rng.randint(70, 88), labour="lost")
    w.income(h, Decimal("9000"))
    w.expect("no_labour_no_assistance", CIVIL, _household_subject(h), s)


@injector("no_labour_no_assistance")
def _no_labour_grandparent_and_child(w: World, n: int) -> None:
    s = "no_labour_grandparent_and_child_temporary_aid"
    h = w.household(s, "lifted_out")
    head = w.person(h, "head", age=w.rng.randint(68, 80), labour="none", male=False)
    w.person(h, "grandchild", born=w.born_school_age(9), labour="none")
    w.income(h, Decimal("9500"))
    w.row(
        CIVIL,
        head,
        s,
        benefit="temporary",
        start_date=date(Y, 2, 1),
        amount=Decimal("2000"),
        status="active",
        household_size=2,
    )
    w.expect("no_labour_no_assistance", CIVIL, _household_subject(h), s)


@injector("no_labour_no_assistance")
def _no_labour_grant_only_to_the_dead(w: World, n: int) -> None:
    """The only active 低保 is a stale record of a member who died (in the registry): the
    living receive nothing (a grant to the dead is no assistance; docs "Grants to members
    who are dead in the registry do not count")."""
    s = "no_labour_grant_only_to_member_dead_in_registry"
    h = w.household(s, "lifted_out")
    w.person(h, "head", age=w.rng.randint(70, 85), labour="lost", male=False)
    spouse = w.person(h, "spouse", age=w.rng.randint(70, 85), labour="none", male=True)
    w.income(h, Decimal("9000"))
    spouse.status, spouse.died = "deceased", date(Y - 1, 10, 1)
    _active_dibao(w, spouse, s, benefit="dibao", dibao_class="3", household_size=1)
    w.expect("no_labour_no_assistance", CIVIL, _household_subject(h), s)


# -- record_inconsistent
@injector("record_inconsistent")
def _civil_contradictions(w: World, n: int) -> None:
    s = "record_inconsistent_civil"
    h = w.household(s, "monitored")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("9000"))
    variant = n % 3
    if variant == 0:
        r = w.row(
            CIVIL,
            head,
            s,
            benefit="dibao",
            dibao_class="2",
            start_date=date(Y - 1, 5, 1),
            end_date=date(Y - 1, 4, 1),
            amount=Decimal("500"),
            status="stopped",
            stop_reason="迁出",
            household_size=len(h.alive),
        )
    elif variant == 1:
        r = w.row(
            CIVIL,
            head,
            s,
            benefit="temporary",
            dibao_class="1",
            start_date=date(Y, 1, 1),
            amount=Decimal("1000"),
            status="active",
            household_size=len(h.alive),
        )
    else:
        r = w.row(
            CIVIL,
            head,
            s,
            benefit="dibao",
            start_date=date(Y - 1, 1, 1),
            amount=Decimal("-300"),
            status="active",
            household_size=len(h.alive),
        )
    w.expect("record_inconsistent", CIVIL, f"record:{r.key}", s)


@injector("record_inconsistent")
def _civil_active_after_death(w: World, n: int) -> None:
    s = "record_inconsistent_active_after_death"
    h, parent = _with_parent(w, s, "monitored")
    r = w.row(
        CIVIL,
        parent,
        s,
        benefit="dibao",
        dibao_class="3",
        start_date=date(Y - 2, 1, 1),
        amount=Decimal("300"),
        status="active",
        death_date=date(Y, 6, 1),
        household_size=len(h.alive),
    )
    w.expect("record_inconsistent", CIVIL, f"record:{r.key}", s)
    w.expect("dead_elsewhere", CIVIL, _person_subject(parent), s)


@injector("record_inconsistent")
def _medical_contradictions(w: World, n: int) -> None:
    s = "record_inconsistent_medical"
    h = w.household(s, "ordinary")
    people = w.family(h, 2)
    w.income(h, Decimal("40000"))
    p = people[0]
    variant = n % 3
    if variant == 0:
        r = w.row(
            MEDICAL,
            p,
            s,
            own=False,
            record_type="claim",
            year=Y,
            settled_on=date(Y, 3, 3),
            hospital="清溪县中医院",
            total_cost=Decimal("800"),
            out_of_pocket=Decimal("1200"),
        )
    elif variant == 1:
        r = w.row(MEDICAL, p, s, record_type="enrolment", year=Y, insured=False, status="normal")
    else:
        r = w.row(
            MEDICAL,
            p,
            s,
            own=False,
            record_type="claim",
            year=Y,
            settled_on=date(Y, 4, 4),
            hospital="清溪县中医院",
            total_cost=Decimal("-150"),
            out_of_pocket=Decimal("-150"),
        )
    w.expect("record_inconsistent", MEDICAL, f"record:{r.key}", s)


@injector("record_inconsistent")
def _education_contradictions(w: World, n: int) -> None:
    s = "record_inconsistent_education"
    h = w.household(s, "ordinary")
    if n % 2 == 0:
        adult = w.person(h, "head", age=w.rng.randint(30, 45))
        r = w.row(EDUCATION, adult, s, school="清溪县白岩小学", stage="primary", status="enrolled")
    else:
        w.family(h, 2)
        child = w.person(h, "child", born=w.born_school_age(10))
        r = w.row(
            EDUCATION,
            child,
            s,
            school=_school(child),
            stage="primary",
            status="enrolled",
            aid_kind="营养餐补助",
            aid_amount=Decimal("-200"),
        )
    w.expect("record_inconsistent", EDUCATION, f"record:{r.key}", s)


# -- rules other branches are adding: labelled now, counted once they exist
@injector(HOUSEHOLD_SIZE_DIFFERS)
def _household_size_differs(w: World, n: int) -> None:
    s = "household_size_differs"
    h = w.household(s, "monitored")
    head = w.family(h, 3)[0]
    w.income(h, Decimal("9000"))
    _active_dibao(w, head, s, household_size=len(h.alive) + 2)
    w.expect(HOUSEHOLD_SIZE_DIFFERS, CIVIL, _household_subject(h), s)


@injector(GRANTED_NOT_MONITORED)
def _granted_above_line(w: World, n: int) -> None:
    """A grant is a signal whatever the income (docs/domain.md "Department cross-checking")."""
    s = "granted_last_month_above_line"
    h = w.household(s, "lifted_out")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("15000"), current=CURRENT)
    _active_dibao(w, head, s, start_date=_months_ago(1))
    w.expect(GRANTED_NOT_MONITORED, CIVIL, _household_subject(h), s)


@injector(GRANTED_NOT_MONITORED)
def _granted_within_the_window(w: World, n: int) -> None:
    """Started ``new_grant_months`` − 1 months ago: still new, so found as newly granted and
    by no income rule, whether the income is below the line or incomplete."""
    s = ("granted_11_months_ago_below_line", "granted_11_months_ago_income_incomplete")[n % 2]
    h = w.household(s, "ordinary")
    head = w.family(h, 2)[0]
    if n % 2 == 0:
        w.income(h, Decimal("4000"), current=CURRENT)
    else:
        h.quarters.append((Y - 1, 4, Decimal("700.00"), len(h.alive)))
    _active_dibao(w, head, s, benefit=("dibao", "tekun")[n % 2], start_date=_months_ago(w.t.new_grant_months - 1))
    w.expect(GRANTED_NOT_MONITORED, CIVIL, _household_subject(h), s)


@injector(GRANTED_NOT_MONITORED)
def _new_grant_beside_an_old_one(w: World, n: int) -> None:
    """The head's long-standing 低保 and the spouse's new 特困: newly granted, once."""
    s = "granted_new_beside_long_standing_below_line"
    h = w.household(s, "lifted_out")
    head, spouse = w.family(h, 2)[:2]
    w.income(h, Decimal("5000"), current=CURRENT)
    _active_dibao(w, head, s)
    _active_dibao(w, spouse, s, benefit="tekun", start_date=_months_ago(2))
    w.expect(GRANTED_NOT_MONITORED, CIVIL, _household_subject(h), s)


@injector(MISSING_FROM_INSURANCE_ROSTER)
def _absent_from_medical_roster(w: World, n: int) -> None:
    s = "missing_from_insurance_roster"
    h = w.household(s, ("lifted_out", "monitored")[n % 2])
    people = w.family(h, 3)
    w.income(h, Decimal("14000"))
    missing = people[-1]
    w.own.add((MEDICAL, missing.id))  # no enrolment record at all
    if n % 2:  # a claim of this year is no enrolment
        _claims(w, missing, s, Y, Decimal("800.00"), parts=1)
    w.expect(MISSING_FROM_INSURANCE_ROSTER, MEDICAL, f"person:{missing.id}:{ROSTERS[MEDICAL]}", s)


@control
def _enrolled_last_year_only_ordinary(w: World, n: int) -> None:
    """Not in this year's roster, but of an ordinary household: not a target."""
    s = "control_ordinary_missing_from_insurance_roster"
    h = w.household(s, "ordinary")
    head = w.family(h, 2)[0]
    w.row(MEDICAL, head, s, record_type="enrolment", year=Y - 1, insured=True, status="normal", family_doctor=True)


@injector(MISSING_FROM_SCHOOL_ROSTER)
def _absent_from_school_roster(w: World, n: int) -> None:
    """A child of compulsory age the term's roster leaves out (variant: listed last term)."""
    s = ("missing_from_school_roster", "missing_from_school_roster_listed_last_term")[n % 2]
    h = w.household(s, ("ordinary", "lifted_out")[n % 2])
    w.family(h, 2)
    if h.target:
        w.income(h, Decimal("14000"))
    child = w.person(h, "child", born=w.born_school_age(w.rng.randint(w.t.age_from, w.t.age_to)), male=n % 2 == 0)
    w.own.add((EDUCATION, child.id))
    if n % 2:
        aid: Aid = {"aid_kind": "生活补助", "aid_amount": Decimal("625")} if h.target else {}
        w.row(
            EDUCATION,
            child,
            s,
            term=PREVIOUS_TERM,
            school=_school(child),
            stage=_STAGE_OF.get(child.schooling),
            status="enrolled",
            **aid,
        )
    w.expect(MISSING_FROM_SCHOOL_ROSTER, EDUCATION, f"person:{child.id}:{ROSTERS[EDUCATION]}", s)


@control
def _absent_from_school_roster_but_not_of_age(w: World, n: int) -> None:
    s = "control_missing_from_school_roster_outside_compulsory_age"
    h = w.household(s, "ordinary")
    w.family(h, 2)
    age, edge = ((w.t.age_to + 1, "first"), (w.t.age_from - 1, "last"))[n % 2]
    child = w.person(h, "child", born=w.born_school_age(age, edge), schooling="not_in_school")
    w.own.add((EDUCATION, child.id))


@control
def _absent_from_school_roster_enrolled_next_term(w: World, n: int) -> None:
    """Not in this term's roster, but enrolled in a later term (another file)."""
    s = "control_missing_from_school_roster_enrolled_later_term"
    _h, child = _child(w, s, "ordinary", w.born_school_age(10), "primary")
    later = f"{SCHOOL_YEAR + 1}春" if TERM.endswith("秋") else f"{SCHOOL_YEAR + 1}秋"
    w.row(EDUCATION, child, s, term=later, school=_school(child), stage="primary", status="enrolled")


@injector(STUDENT_WITHOUT_AID)
def _student_without_aid(w: World, n: int) -> None:
    """An enrolled student of a monitored household without aid (variant: a named aid of 0)."""
    s = ("student_without_aid", "student_without_aid_zero_amount")[n % 2]
    h, child = _child(w, s, ("monitored", "ordinary")[n % 2], w.born_school_age(10), "primary")
    h.open_case = True
    aid: Aid = {"aid_kind": "生活补助", "aid_amount": Decimal("0.00")} if n % 2 else {}
    w.row(EDUCATION, child, s, school=_school(child), stage="primary", status="enrolled", **aid)
    w.expect(STUDENT_WITHOUT_AID, EDUCATION, f"person:{child.id}:{TERM}", s)


@control
def _student_aided_without_amount(w: World, n: int) -> None:
    """A named aid without an amount is aid; a formerly poor household is not monitored now."""
    s = "control_student_named_aid_or_lifted_out_without_aid"
    if n % 2 == 0:
        _h, child = _child(w, s, "monitored", w.born_school_age(11), "primary")
        w.row(EDUCATION, child, s, school=_school(child), stage="primary", status="enrolled", aid_kind="营养餐补助")
    else:
        _h, child = _child(w, s, "lifted_out", w.born_school_age(11), "primary")
        w.row(EDUCATION, child, s, school=_school(child), stage="primary", status="enrolled")


@injector(NO_FAMILY_DOCTOR)
def _no_family_doctor(w: World, n: int) -> None:
    s = "no_family_doctor_monitored"
    h = w.household(s, "monitored")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("9000"))
    w.row(MEDICAL, head, s, record_type="enrolment", year=Y, insured=True, status="normal", family_doctor=False)
    w.expect(NO_FAMILY_DOCTOR, MEDICAL, _person_subject(head), s)


@injector(NO_FAMILY_DOCTOR)
def _no_family_doctor_new_dibao(w: World, n: int) -> None:
    """An ordinary household is a key group by an active 低保 grant the civil-affairs office
    sent (before the registry catches up) — newly granted, so found as such too."""
    s = "no_family_doctor_ordinary_with_new_dibao"
    h = w.household(s, "ordinary")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("6000"), current=CURRENT)
    _active_dibao(w, head, s, start_date=_months_ago(2))
    w.row(MEDICAL, head, s, record_type="enrolment", year=Y, insured=True, status="normal", family_doctor=False)
    w.expect(NO_FAMILY_DOCTOR, MEDICAL, _person_subject(head), s)
    w.expect(GRANTED_NOT_MONITORED, CIVIL, _household_subject(h), s)


@control
def _family_doctor_latest_record_signed(w: World, n: int) -> None:
    """Not signed last year, signed this year; and an ordinary household not signed."""
    s = "control_family_doctor_signed_now_or_not_key_group"
    h = w.household(s, "monitored")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("9000"))
    w.row(MEDICAL, head, s, record_type="enrolment", year=Y - 1, insured=True, status="normal", family_doctor=False)
    w.row(MEDICAL, head, s, record_type="enrolment", year=Y, insured=True, status="normal", family_doctor=True)
    o = w.household(s, "ordinary")
    other = w.family(o, 1)[0]
    w.row(MEDICAL, other, s, record_type="enrolment", year=Y, insured=True, status="normal", family_doctor=False)


# -- registry-only rules (the registry check, source "registry"; docs/registry-rules.md)
@injector(HEAD_SPOUSE_SAME_SEX)
def _head_spouse_same_sex(w: World, n: int) -> None:
    s = "head_spouse_same_sex"
    h = w.household(s, "ordinary")
    male = n % 2 == 0
    w.person(h, "head", age=45, male=male)
    w.person(h, "spouse", age=43, male=male)
    w.expect(HEAD_SPOUSE_SAME_SEX, REGISTRY, _household_subject(h), s)


@injector(HEAD_SPOUSE_SAME_SEX)
def _two_heads_one_spouse(w: World, n: int) -> None:
    """Two heads (a wrong relation) and a spouse of one of their sex: one finding."""
    s = "head_spouse_same_sex_two_heads"
    h = w.household(s, "lifted_out")
    w.person(h, "head", age=50, male=True)
    w.person(h, "head", age=48, male=False)
    w.person(h, "spouse", age=47, male=False)
    w.income(h, Decimal("15000"))
    w.expect(HEAD_SPOUSE_SAME_SEX, REGISTRY, _household_subject(h), s)


@control
def _head_and_spouse_differ(w: World, n: int) -> None:
    s = "control_head_female_spouse_male"
    h = w.household(s, "ordinary")
    w.person(h, "head", age=52, male=False)
    w.person(h, "spouse", age=55, male=True)


@control
def _same_sex_spouse_dead(w: World, n: int) -> None:
    s = "control_head_spouse_same_sex_spouse_dead"
    h = w.household(s, "ordinary")
    w.person(h, "head", age=70, male=True)
    w.person(h, "spouse", age=71, male=True, status="deceased", died=date(Y - 1, 5, 5))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@injector(CHILD_EMPLOYED)
def _child_turning_sixteen_tomorrow(w: World, n: int) -> None:
    """Fifteen until tomorrow, with months of work recorded (no employment kind)."""
    s = "child_employed_sixteen_tomorrow_months_only"
    h = w.household(s, "ordinary")
    w.family(h, 2)
    child = w.person(
        h,
        "child",
        born=_years_before(TODAY + timedelta(days=1), w.t.child_age),
        male=True,
        labour="ordinary",
        employment_months=3,
    )
    w.expect(CHILD_EMPLOYED, REGISTRY, _person_subject(child), s)


@injector(CHILD_EMPLOYED)
def _child_with_employment_income(w: World, n: int) -> None:
    s = "child_employed_income_only"
    h = w.household(s, "monitored")
    w.family(h, 2)
    w.income(h, Decimal("9000"))
    child = w.person(h, "child", born=w.born_aged(13), male=False, employment_income=Decimal("1500.00"))
    w.expect(CHILD_EMPLOYED, REGISTRY, _person_subject(child), s)


@control
def _sixteen_today(w: World, n: int) -> None:
    """Sixteen on the day itself is no longer a child."""
    s = "control_employed_sixteen_today"
    h = w.household(s, "ordinary")
    w.family(h, 2)
    w.person(
        h,
        "child",
        born=_years_before(TODAY, w.t.child_age),
        employment="local",
        labour="ordinary",
        employment_months=6,
        employment_income=Decimal("12000.00"),
    )


@control
def _child_with_zero_employment(w: World, n: int) -> None:
    """No employment kind, zero months and zero income are no employment records."""
    s = "control_child_zero_employment"
    h = w.household(s, "ordinary")
    w.family(h, 2)
    w.person(
        h, "child", born=w.born_aged(12), employment="none", employment_months=0, employment_income=Decimal("0.00")
    )


@injector("monitored_twice")
def _monitored_twice(w: World, n: int) -> None:
    """Moved to another monitored household; the old membership was never ended."""
    s = "monitored_twice_membership_left_open"
    old = w.household(s, "monitored")
    w.family(old, 2)
    w.income(old, Decimal("9000"))
    new = w.household(s, ("monitored", "ordinary")[n % 2], open_case=True)
    w.family(new, 2)
    w.income(new, Decimal("9000"))
    mover = w.person(new, "child", age=20, male=True)
    w.memberships.append((mover.id, old.id, False))
    w.expect("monitored_twice", REGISTRY, _person_subject(mover), s)


@control
def _moved_and_membership_ended(w: World, n: int) -> None:
    s = "control_moved_membership_ended"
    old = w.household(s, "monitored")
    w.family(old, 2)
    w.income(old, Decimal("9000"))
    new = w.household(s, "monitored")
    w.family(new, 2)
    w.income(new, Decimal("9000"))
    mover = w.person(new, "child", age=21, male=False)
    w.memberships.append((mover.id, old.id, True))


@control
def _open_membership_in_a_household_without_a_case(w: World, n: int) -> None:
    s = "control_open_membership_household_without_case"
    old = w.household(s, "lifted_out")
    w.family(old, 2)
    w.income(old, Decimal("15000"))
    new = w.household(s, "monitored")
    w.family(new, 2)
    w.income(new, Decimal("9000"))
    mover = w.person(new, "child", age=22, male=True)
    w.memberships.append((mover.id, old.id, False))


@injector("illness_without_cost")
def _illness_without_spending(w: World, n: int) -> None:
    """An illness case whose ledger has no eligible out-of-pocket spending over the twelve
    months (variant: some, but only before them)."""
    s = ("illness_case_no_spending", "illness_case_spending_only_before_the_twelve_months")[n % 2]
    h = w.household(s, "monitored")
    h.risk_types = ["illness"] if n % 2 == 0 else ["disability", "illness"]
    w.family(h, 3)
    w.income(h, Decimal("9000"), current=CURRENT)
    h.spending = {} if n % 2 == 0 else {(Y - 2, 1): Decimal("800.00")}
    w.expect("illness_without_cost", REGISTRY, f"case:{h.id}", s)


@control
def _illness_with_spending(w: World, n: int) -> None:
    s = "control_illness_case_with_spending"
    h = w.household(s, "monitored")
    h.risk_types = ["illness"]
    w.family(h, 2)
    w.income(h, Decimal("9000"), current=CURRENT)
    latest = max((y, q) for y, q, _, _ in h.quarters)
    h.spending = {latest: Decimal("45.50")}


@control
def _illness_with_incomplete_income(w: World, n: int) -> None:
    """Three quarters of the twelve months recorded, none with spending: not judged."""
    s = "control_illness_case_income_incomplete"
    h = w.household(s, "lifted_out", open_case=True)
    h.risk_types = ["illness"]
    w.family(h, 2)
    for q in (2, 3, 4):
        h.quarters.append((Y - 1, q, Decimal("3000.00"), len(h.alive)))
    h.spending = {}


@control
def _other_risk_without_spending(w: World, n: int) -> None:
    s = "control_case_not_illness_no_spending"
    h = w.household(s, "monitored")
    h.risk_types = ["unstable_employment"]
    w.family(h, 2)
    w.income(h, Decimal("9000"), current=CURRENT)
    h.spending = {}


def _uninsured(w: World, h: Household, p: Person, s: str, with_record: bool) -> None:
    """``p`` uninsured in the registry; the department says so too, or sends nothing."""
    p.insured = False
    w.own.add((MEDICAL, p.id))
    if not with_record and h.target and p.alive:
        w.expect(MISSING_FROM_INSURANCE_ROSTER, MEDICAL, f"person:{p.id}:{ROSTERS[MEDICAL]}", s)
    if with_record:
        w.row(MEDICAL, p, s, record_type="enrolment", year=Y, insured=False, status="not_insured", family_doctor=True)
        if h.target:
            w.expect("not_insured", MEDICAL, f"person:{p.id}:{Y}", s)


@injector("uninsured_without_measure")
def _uninsured_without_measure(w: World, n: int) -> None:
    s = "uninsured_open_case_no_measure"
    h = w.household(s, "monitored")
    people = w.family(h, 3)
    w.income(h, Decimal("9000"))
    if n % 2:
        h.measures.append(("industry", "in_progress"))
    p = people[-1]
    _uninsured(w, h, p, s, with_record=n % 2 == 1)
    w.expect("uninsured_without_measure", REGISTRY, _person_subject(p), s)


@injector("uninsured_without_measure")
def _uninsured_monitored_without_case(w: World, n: int) -> None:
    """A 监测户 without an open case has no measures at all."""
    s = "uninsured_monitored_household_without_case"
    h = w.household(s, "monitored", open_case=False)
    head = w.family(h, 2)[0]
    w.income(h, Decimal("9000"))
    _uninsured(w, h, head, s, with_record=False)
    w.expect("uninsured_without_measure", REGISTRY, _person_subject(head), s)


@injector("uninsured_without_measure")
def _uninsured_health_measure_stopped(w: World, n: int) -> None:
    s = "uninsured_health_measure_stopped"
    h = w.household(s, "ordinary", open_case=True)
    head = w.family(h, 2)[0]
    w.income(h, Decimal("9000"))
    h.measures += [("health", "stopped"), ("employment", "completed")]
    _uninsured(w, h, head, s, with_record=False)
    w.expect("uninsured_without_measure", REGISTRY, _person_subject(head), s)


@control
def _uninsured_with_a_protecting_measure(w: World, n: int) -> None:
    s = "control_uninsured_with_health_or_social_measure"
    h = w.household(s, "monitored")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("9000"))
    h.measures.append(
        (("health", "social_protection", "social_assistance")[n % 3], ("planned", "in_progress", "completed")[n % 3])
    )
    _uninsured(w, h, head, s, with_record=False)


@control
def _uninsured_but_dead_or_not_monitored(w: World, n: int) -> None:
    s = "control_uninsured_dead_or_lifted_out_without_case"
    if n % 2 == 0:
        h, parent = _with_parent(w, s, "monitored")
        parent.status, parent.died, parent.insured = "deceased", date(Y - 1, 8, 8), False
    else:
        h = w.household(s, "lifted_out", open_case=False)
        head = w.family(h, 2)[0]
        w.income(h, Decimal("14000"))
        _uninsured(w, h, head, s, with_record=False)


_BAD_PHONES = ("0851-86221234", "+8613812345678", "138 1234 5678", "1381234567", "12812345678", "85221234")


@injector("phone_invalid")
def _household_phone_invalid(w: World, n: int) -> None:
    s = "phone_invalid_household"
    h = w.household(s, "ordinary")
    w.family(h, 2)
    h.phone = _BAD_PHONES[n % len(_BAD_PHONES)]
    w.expect("phone_invalid", REGISTRY, f"phone:household:{h.id}", s)


@injector("phone_invalid")
def _person_phone_invalid(w: World, n: int) -> None:
    s = "phone_invalid_person"
    h = w.household(s, "lifted_out")
    people = w.family(h, 2)
    w.income(h, Decimal("15000"))
    p = people[-1]
    p.phone = _BAD_PHONES[(n + 3) % len(_BAD_PHONES)]
    w.expect("phone_invalid", REGISTRY, f"phone:person:{p.id}", s)


@control
def _phones_valid_or_blank(w: World, n: int) -> None:
    s = "control_phone_valid_blank_or_dead"
    h = w.household(s, "ordinary")
    head = w.family(h, 2)[0]
    h.phone = ("", "   ", "13912345678")[n % 3] if n < 3 else "19988887777"
    head.phone = "15012345678"
    w.person(h, "parent", age=88, male=False, status="deceased", died=date(Y - 2, 1, 1), phone="0851-1234567")


@injector(CHILD_EMPLOYED)
def _child_employed(w: World, n: int) -> None:
    s = "child_employed"
    h = w.household(s, "lifted_out")
    w.family(h, 2)
    w.income(h, Decimal("14000"))
    child = w.person(h, "child", born=w.born_aged(14), schooling="dropped_out", employment="migrant")
    w.row(
        EDUCATION,
        child,
        s,
        school="清溪县第二中学",
        stage="junior_secondary",
        status="dropped_out",
        aid_kind="生活补助",
        aid_amount=Decimal("625"),
    )
    w.expect(CHILD_EMPLOYED, REGISTRY, _person_subject(child), s)
    if _age_on_school_start(child.born) <= w.t.age_to:
        w.expect("out_of_school", EDUCATION, f"person:{child.id}:{TERM}", s)


# ---------------------------------------------------------------- negative controls


@control
def _cost_at_and_under_the_fixed_amount(w: World, n: int) -> None:
    s = "control_cost_at_or_under_fixed"
    h = w.household(s, "ordinary")
    people = w.family(h, 3)
    w.income(h, Decimal("40000"))
    _claims(w, people[-1], s, Y, w.t.fixed_amount - (CENT if n % 2 else 0))


@control
def _costs_spread_over_two_years(w: World, n: int) -> None:
    s = "control_cost_under_fixed_in_each_of_two_years"
    h = w.household(s, "ordinary")
    people = w.family(h, 2)
    w.income(h, Decimal("40000"))
    _claims(w, people[0], s, Y - 1, w.t.fixed_amount - Decimal("1000"))
    _claims(w, people[1], s, Y, w.t.fixed_amount - Decimal("1000"))


@control
def _consistent_at_the_edges(w: World, n: int) -> None:
    """Records that only just agree with themselves: one-day grants, costs all paid by the
    patient, the oldest age a compulsory stage allows."""
    s = "control_record_consistent_at_the_edges"
    h = w.household(s, "ordinary")
    people = w.family(h, 2)
    day = date(Y, 2, 14)
    w.row(
        CIVIL,
        people[0],
        s,
        benefit="temporary",
        start_date=day,
        end_date=day,
        amount=Decimal("0"),
        status="stopped",
        household_size=len(h.alive),
    )
    w.row(
        MEDICAL,
        people[1],
        s,
        own=False,
        record_type="claim",
        year=Y,
        settled_on=day,
        hospital="清溪县中医院",
        total_cost=Decimal("456.70"),
        out_of_pocket=Decimal("456.70"),
    )
    adult = w.person(h, "child", born=w.born_school_age(25, "last"), labour="ordinary")
    w.row(EDUCATION, adult, s, school="清溪县第二中学", stage="junior_secondary", status="enrolled")


@control
def _not_insured_but_dead(w: World, n: int) -> None:
    s = "control_target_not_insured_but_dead"
    _h, parent = _with_parent(w, s)
    parent.status, parent.died = "deceased", date(Y - 1, 11, 2)
    w.row(MEDICAL, parent, s, record_type="enrolment", year=Y, insured=False, status="not_insured")


@control
def _cost_under_income_share(w: World, n: int) -> None:
    s = "control_cost_under_income_share"
    h = w.household(s, "lifted_out")
    people = w.family(h, 1)
    w.income(h, Decimal("8000"), years=(Y - 1,))
    _claims(w, people[0], s, Y, Decimal("8000") * w.t.income_share - CENT)


@control
def _cost_against_an_incomplete_year(w: World, n: int) -> None:
    """Two quarters of last year recorded: last year's total income is not known, so only
    the fixed amount can be judged (docs/domain.md "Income": never a part year)."""
    s = "control_cost_vs_incomplete_last_year"
    h = w.household(s, "lifted_out")
    people = w.family(h, 1)
    for q in (1, 2):
        h.quarters.append((Y - 1, q, Decimal("2500.00"), 1))
    _claims(w, people[0], s, Y, Decimal("6000"))


@control
def _child_outside_compulsory_age(w: World, n: int) -> None:
    s = "control_child_outside_compulsory_age"
    age, edge = ((w.t.age_to + 1, "first"), (w.t.age_from - 1, "last"))[n % 2]
    _h, child = _child(w, s, "lifted_out", w.born_school_age(age, edge), "dropped_out")
    w.row(
        EDUCATION,
        child,
        s,
        school=_school(child),
        stage="junior_secondary" if age > 10 else "primary",
        status="dropped_out",
    )


@control
def _back_at_school(w: World, n: int) -> None:
    s = "control_dropped_out_then_back"
    _h, child = _child(w, s, "monitored", w.born_school_age(12), "junior_secondary")
    aid: Aid = {"aid_kind": "生活补助", "aid_amount": Decimal("625")}
    spelling = n % len(TERM_SPELLINGS)  # the two terms spelled alike or not
    w.row(
        EDUCATION,
        child,
        s,
        term=PREVIOUS_TERM_SPELLINGS[spelling],
        school=_school(child),
        stage="primary",
        status="dropped_out",
        **aid,
    )
    w.row(
        EDUCATION,
        child,
        s,
        term=TERM_SPELLINGS[(spelling + n) % len(TERM_SPELLINGS)],
        school=_school(child),
        stage="junior_secondary",
        status="enrolled",
        **aid,
    )


@control
def _transferred_within_the_term(w: World, n: int) -> None:
    s = "control_transfer_within_term"
    _h, child = _child(w, s, "ordinary", w.born_school_age(10), "primary")
    w.row(EDUCATION, child, s, school="清溪县白岩小学", stage="primary", status="transferred")
    w.row(EDUCATION, child, s, school="清溪县石门小学", stage="primary", status="enrolled")


@control
def _names_with_spaces_and_dots(w: World, n: int) -> None:
    s = "control_name_spaces_and_middle_dot"
    h = w.household(s, "lifted_out")
    w.income(h, Decimal("15000"))
    minority = _MINORITY[n % len(_MINORITY)]
    head = w.person(h, "head", age=40, name=minority, labour="ordinary")
    plain = w.person(h, "spouse", age=38, male=False)
    spaced = plain.name[0] + " " + plain.name[1:] if n % 2 else plain.name[0] + "\u3000" + plain.name[1:] + " "
    dotted = minority.replace("·", ("", "•", "・", " · ")[n % 4])
    w.row(
        MEDICAL,
        head,
        s,
        name=dotted,
        record_type="enrolment",
        year=Y,
        insured=True,
        status="normal",
        family_doctor=True,
    )
    w.row(
        MEDICAL,
        plain,
        s,
        name=spaced,
        record_type="enrolment",
        year=Y,
        insured=True,
        status="normal",
        family_doctor=True,
    )


@control
def _dibao_stopped_or_ended(w: World, n: int) -> None:
    s = "control_dibao_stopped_or_ended"
    h = w.household(s, "lifted_out")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("5000"), current=min(3, (TODAY.month - 1) // 3))
    if n % 2 == 0:
        _active_dibao(w, head, s, status="stopped", end_date=date(Y - 1, 12, 31), stop_reason="家庭收入超过低保标准")
    else:  # no status, but it ended before today
        _active_dibao(w, head, s, status=None, end_date=TODAY - timedelta(days=1))


@control
def _not_dibao_or_tekun(w: World, n: int) -> None:
    s = "control_temporary_or_edge_assistance_below_line"
    h = w.household(s, "lifted_out")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("5000"), current=min(3, (TODAY.month - 1) // 3))
    _active_dibao(w, head, s, benefit=("temporary", "dibao_edge")[n % 2])


@control
def _assisted_but_monitored(w: World, n: int) -> None:
    s = "control_assisted_below_line_monitored"
    h = w.household(s, ("monitored", "lifted_out")[n % 2], open_case=True)
    head = w.family(h, 2)[0]
    w.income(h, Decimal("5000"), current=min(3, (TODAY.month - 1) // 3))
    _active_dibao(w, head, s)


@control
def _assisted_just_above_the_line(w: World, n: int) -> None:
    """A long-standing grant, above the line over a complete year (no quarter of this year
    recorded yet): nothing to find."""
    s = "control_assisted_just_above_line_complete_year"
    h = w.household(s, "lifted_out")
    head = w.family(h, 2)[0]
    w.income(h, TOP_LINE + CENT, years=(Y - 2, Y - 1))
    _active_dibao(w, head, s)


@control
def _assisted_incomplete_year_below(w: World, n: int) -> None:
    """A household recorded only since this year: two quarters, below the line — the
    income test is unknown, not below (docs/domain.md "Income"): an
    ``assistance_income_unknown`` finding, never 应纳未纳."""
    s = "control_assisted_incomplete_year_only"
    h = w.household(s, "lifted_out")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("3000"), years=(), current=2)
    _active_dibao(w, head, s)
    w.expect("assistance_income_unknown", CIVIL, _household_subject(h), s)


@control
def _assisted_part_of_this_year(w: World, n: int) -> None:
    """Last year complete and well above the line; this year's three quarters at the same
    rate are below a year's line only because they are three quarters: the twelve months
    (four quarters) are above it."""
    s = "control_assisted_part_year_after_complete_year"
    if TODAY.month <= 3:
        return
    h = w.household(s, "lifted_out")
    head = w.family(h, 2)[0]
    w.income(h, (TOP_LINE * Decimal("1.2")).quantize(CENT), current=CURRENT)
    _active_dibao(w, head, s)


@control
def _grant_just_too_old_above_line(w: World, n: int) -> None:
    s = "control_grant_13_months_ago_above_line"
    h = w.household(s, "ordinary")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("12000"), current=CURRENT)
    _active_dibao(w, head, s, start_date=_months_ago(w.t.new_grant_months + 1))


@control
def _new_grant_that_stopped(w: World, n: int) -> None:
    """Granted two months ago, stopped (or ended) since: not active, nothing to find."""
    s = "control_new_grant_stopped"
    h = w.household(s, "lifted_out")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("5000"), current=CURRENT)
    if n % 2 == 0:
        _active_dibao(
            w,
            head,
            s,
            start_date=_months_ago(3),
            status="stopped",
            end_date=_months_ago(1),
            stop_reason="家庭收入超过低保标准",
        )
    else:
        _active_dibao(w, head, s, start_date=_months_ago(3), status=None, end_date=TODAY - timedelta(days=2))


@control
def _new_grant_to_a_member_dead_in_the_registry(w: World, n: int) -> None:
    """A stale grant to someone the registry has dead is no sign of the household's poverty."""
    s = "control_new_grant_to_member_dead_in_registry"
    _h, parent = _with_parent(w, s, "ordinary")
    parent.status, parent.died = "deceased", _months_ago(1)
    _active_dibao(w, parent, s, benefit="tekun", start_date=_months_ago(4))


@control
def _no_labour_with_tekun(w: World, n: int) -> None:
    s = "control_no_labour_with_tekun"
    h = w.household(s, "monitored")
    head = w.person(h, "head", age=w.rng.randint(70, 88), labour="lost")
    w.income(h, Decimal("9000"))
    _active_dibao(w, head, s, benefit="tekun")


@control
def _no_labour_ordinary(w: World, n: int) -> None:
    s = "control_no_labour_ordinary_household"
    h = w.household(s, "ordinary")
    w.person(h, "head", age=w.rng.randint(70, 88), labour="none")


@control
def _dead_in_both(w: World, n: int) -> None:
    s = "control_dead_in_registry_and_department"
    h, parent = _with_parent(w, s)
    parent.status, parent.died = "deceased", date(Y, 1, 20)
    w.row(
        CIVIL,
        parent,
        s,
        benefit="tekun",
        start_date=date(Y - 3, 1, 1),
        end_date=date(Y, 1, 31),
        amount=Decimal("900"),
        status="stopped",
        stop_reason="死亡",
        death_date=date(Y, 1, 20),
        household_size=len(h.alive),
    )
    w.row(
        MEDICAL, parent, s, record_type="enrolment", year=Y, insured=False, status="deceased", death_date=date(Y, 1, 20)
    )


@control
def _not_insured_but_not_a_target(w: World, n: int) -> None:
    s = "control_not_insured_non_target"
    h = w.household(s, "ordinary")
    head = w.family(h, 2)[0]
    head.insured = False
    w.row(MEDICAL, head, s, record_type="enrolment", year=Y, insured=False, status="not_insured", family_doctor=False)


@control
def _insured_in_one_of_two_records(w: World, n: int) -> None:
    s = "control_target_insured_in_one_of_two_records"
    h = w.household(s, "lifted_out")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("14000"))
    w.row(
        MEDICAL,
        head,
        s,
        record_type="enrolment",
        year=Y,
        insured=False,
        status="not_insured",
        scheme="职工基本医疗保险",
        family_doctor=True,
    )
    w.row(
        MEDICAL,
        head,
        s,
        record_type="enrolment",
        year=Y,
        insured=True,
        status="normal",
        scheme="城乡居民基本医疗保险",
        family_doctor=True,
    )


@control
def _not_insured_last_year_only(w: World, n: int) -> None:
    s = "control_target_not_insured_last_year_only"
    h = w.household(s, "lifted_out")
    head = w.family(h, 2)[0]
    w.income(h, Decimal("14000"))
    w.row(
        MEDICAL, head, s, record_type="enrolment", year=Y - 1, insured=False, status="not_insured", family_doctor=True
    )
    w.row(MEDICAL, head, s, record_type="enrolment", year=Y, insured=True, status="normal", family_doctor=True)


@control
def _unknown_people_outside_civil_affairs(w: World, n: int) -> None:
    """Medical insurance and education do not report ID numbers the registry lacks."""
    s = "control_unknown_id_medical_education"
    born = w.born_aged(30)
    w.row(
        MEDICAL,
        None,
        s,
        id_number=w.new_id(born, n % 2 == 0),
        record_type="enrolment",
        year=Y,
        insured=True,
        status="normal",
        family_doctor=True,
    )
    child_born = w.born_school_age(9)
    w.row(
        EDUCATION,
        None,
        s,
        id_number=w.new_id(child_born, True),
        school="清溪县白岩小学",
        stage="primary",
        status="dropped_out",
    )


@control
def _employed_at_sixteen(w: World, n: int) -> None:
    s = "control_employed_at_sixteen"
    h = w.household(s, "ordinary")
    w.family(h, 2)
    w.person(
        h,
        "child",
        born=w.born_school_age(w.t.age_to + 1, "first"),
        schooling="not_in_school",
        employment="migrant",
        labour="ordinary",
    )


@control
def _student_of_ordinary_household_without_aid(w: World, n: int) -> None:
    s = "control_ordinary_student_without_aid"
    _h, child = _child(w, s, "ordinary", w.born_school_age(8), "primary")
    w.row(EDUCATION, child, s, school=_school(child), stage="primary", status="enrolled")


@control
def _messy_but_valid(w: World, n: int) -> None:
    """Every mess at once: each of these rows must be staged, none quarantined."""
    s = "control_messy_but_valid"
    h = w.household(s, "monitored")
    people = w.family(h, 4)
    w.income(h, Decimal("9000"))
    old = next((p for p in people if p.born.year < 2000), people[0])
    r = w.row(
        CIVIL,
        old,
        s,
        benefit="dibao",
        dibao_class="2",
        start_date=date(Y - 1, 1, 2),
        amount=Decimal("1234.50"),
        status="active",
        household_size=len(h.alive),
    )
    r.raw["_mess"] = "max"
    r = w.row(MEDICAL, old, s, record_type="enrolment", year=Y, insured=True, status="normal", family_doctor=True)
    r.raw["_mess"] = "max"
    r = w.row(
        MEDICAL,
        old,
        s,
        own=False,
        record_type="claim",
        year=Y,
        settled_on=date(Y, 1, 2),
        hospital=" 清溪县人民医院 ",
        total_cost=Decimal("1234.50"),
        out_of_pocket=Decimal("300.25"),
    )
    r.raw["_mess"] = "max"


# ---------------------------------------------------------------- malformed rows


def _bad(w: World, kind: str, reason: str, base: Fields, **raw: str) -> None:
    born = w.born_aged(w.rng.randint(20, 70))
    r = w.row(kind, None, "malformed:" + reason, id_number=w.new_id(born, True), **base)
    r.raw.update(raw)
    r.reason = reason


_CIVIL_BASE: Fields = {
    "benefit": "dibao",
    "dibao_class": "1",
    "start_date": date(Y - 1, 5, 1),
    "amount": Decimal("600"),
    "status": "active",
    "household_size": 2,
}
_ENROL_BASE: Fields = {
    "record_type": "enrolment",
    "year": Y,
    "insured": True,
    "status": "normal",
    "family_doctor": True,
}
_CLAIM_BASE: Fields = {
    "record_type": "claim",
    "year": Y,
    "settled_on": date(Y, 3, 1),
    "hospital": "清溪县人民医院",
    "total_cost": Decimal("900"),
    "out_of_pocket": Decimal("300"),
}
_STUDENT_BASE: Fields = {"school": "清溪县白岩小学", "stage": "primary", "status": "enrolled"}


def _wrong_check_digit(number: str) -> str:
    good = number[-1]
    return number[:-1] + next(c for c in "0123456789X" if c != good)


def _impossible_birth_date() -> str:
    first17 = f"529901{Y - 40}0231{123:03d}"
    return first17 + check_character(first17)


@malformed
def _malformed_rows(w: World) -> None:
    for kind, base in ((CIVIL, _CIVIL_BASE), (MEDICAL, _ENROL_BASE), (EDUCATION, _STUDENT_BASE)):
        for _ in range(2 * w.reps):  # about half in each file
            born = w.born_aged(35)
            good = w.new_id(born, True)
            _bad(w, kind, "id_number.check_digit", base, id_number=_wrong_check_digit(good))
            _bad(w, kind, "id_number.birth_date", base, id_number=_impossible_birth_date())
            _bad(w, kind, "id_number.format", base, id_number=good[:-1])
            _bad(w, kind, "missing.id_number", base, id_number="")
            _bad(w, kind, "missing.record_id", base, record_id="")
    for i in range(2 * w.reps):
        _bad(w, CIVIL, "invalid.start_date", _CIVIL_BASE, start_date=f"{Y - 1}/2/30")
        _bad(w, CIVIL, "missing.start_date", _CIVIL_BASE, start_date="")
        _bad(w, CIVIL, "missing.start_date", _CIVIL_BASE, start_date=("-", "—", "－")[i % 3])  # a dash: no value
        _bad(w, CIVIL, "invalid.amount", _CIVIL_BASE, amount="五百元")
        _bad(w, CIVIL, "invalid.benefit", _CIVIL_BASE, benefit="慰问金")
        _bad(w, CIVIL, "invalid.end_date", _CIVIL_BASE, end_date=f"{Y}0631")
        _bad(w, MEDICAL, "invalid.record_type", _ENROL_BASE, record_type="住院")
        _bad(w, MEDICAL, "missing.out_of_pocket", _CLAIM_BASE, out_of_pocket="")
        _bad(w, MEDICAL, "missing.out_of_pocket", _CLAIM_BASE, out_of_pocket=("—", "-")[i % 2])
        _bad(w, MEDICAL, "invalid.year", _ENROL_BASE, year="年度")
        _bad(w, MEDICAL, "invalid.total_cost", _CLAIM_BASE, total_cost="约3000元")
        _bad(w, MEDICAL, "invalid.settled_on", _CLAIM_BASE, settled_on=f"{Y}年13月1日")
        _bad(w, MEDICAL, "invalid.year", _ENROL_BASE, year="今年")
        _bad(w, MEDICAL, "invalid.insured", _ENROL_BASE, insured="不详")
        _bad(w, EDUCATION, "missing.term", _STUDENT_BASE, term="")
        _bad(w, EDUCATION, "invalid.status", _STUDENT_BASE, status="借读中")
        _bad(w, EDUCATION, "invalid.aid_amount", _STUDENT_BASE, aid_kind="生活补助", aid_amount="待定")
        _bad(w, EDUCATION, "invalid.stage", _STUDENT_BASE, stage="幼儿园")


# Values the import hardening (branch wt/ingest) quarantines row by row: over-long text,
# control characters, numbers out of range. They go to a file of their own, imported last:
# until the hardening lands some of them fail the whole import (a name longer than the
# column), and such a file is reported, not counted. A row counts once the normaliser
# gives it the labelled reason; until then it is pending.
HOSTILE = (
    ("control_character.name", dict(_ENROL_BASE), {"name": "张\x07三"}),
    ("too_long.name", dict(_ENROL_BASE), {"name": "张" * 300}),
    ("too_long.scheme", dict(_ENROL_BASE), {"scheme": "城乡居民基本医疗保险" * 500}),
    ("control_character.hospital", dict(_CLAIM_BASE), {"hospital": "清溪县\x1b人民医院"}),
    ("invalid.year", dict(_ENROL_BASE), {"year": "99999"}),
    ("invalid.total_cost", dict(_CLAIM_BASE), {"total_cost": "1e15"}),
    ("invalid.settled_on", dict(_CLAIM_BASE), {"settled_on": "0001-01-01"}),
)


@malformed
def _hostile_rows(w: World) -> None:
    for reason, base, raw in HOSTILE:
        born = w.born_aged(w.rng.randint(20, 70))
        key = next(w._keys[MEDICAL])
        r = Row(
            MEDICAL,
            {"record_id": f"YH{key:07d}", "id_number": w.new_id(born, True), "name": w.name(), **base},
            "hostile:" + reason,
            dict(raw),
            reason,
        )
        w.hostile.append(r)
    for _ in range(3):  # and valid rows beside them, which must be staged
        born = w.born_aged(w.rng.randint(20, 70))
        key = next(w._keys[MEDICAL])
        w.hostile.append(
            Row(
                MEDICAL,
                {"record_id": f"YH{key:07d}", "id_number": w.new_id(born, False), "name": w.name(), **_ENROL_BASE},
                "hostile:valid",
            )
        )


# Valid values departments write that the import refuses today: each row is reported (as a
# known gap while it is quarantined, as fixed once it is staged), not counted as a false
# quarantine. (kind, canonical, cell, why); none today.
GAPS: tuple[tuple[str, str, str, str], ...] = ()


@malformed
def _known_gaps(w: World) -> None:
    for kind, canonical, raw, gap in GAPS:
        h = w.household("gap:" + gap, "ordinary")
        head = w.family(h, 2)[0]
        if kind == CIVIL:
            r = w.row(
                CIVIL,
                head,
                h.scenario,
                benefit="temporary",
                start_date=date(Y, 1, 2),
                amount=Decimal("500"),
                status="stopped",
                end_date=date(Y, 1, 31),
                household_size=len(h.alive),
            )
        elif kind == MEDICAL:
            r = w.row(MEDICAL, head, h.scenario, **_ENROL_BASE)
        else:
            child = w.person(h, "child", born=w.born_school_age(9))
            r = w.row(EDUCATION, child, h.scenario, school=_school(child), stage="primary", status="enrolled")
        r.raw[canonical] = raw
        r.gap = gap


@control
def _government_spellings(w: World, n: int) -> None:
    """Valid spellings of government spreadsheets (once known import gaps), each in a row
    of its own and labelled with the value it means; they also occur at random in the mess."""
    s = "control_government_spellings"
    h = w.household(s, "ordinary")
    head, spouse = w.family(h, 2)[:2]
    child = w.person(h, "child", born=w.born_school_age(9))
    w.own.add((EDUCATION, child.id))
    r = w.row(
        CIVIL,
        head,
        s,
        benefit="temporary",
        start_date=date(Y, 1, 2),
        amount=None,
        status="stopped",
        end_date=date(Y, 1, 31),
        household_size=len(h.alive),
    )
    r.raw.update(start_date=f"{Y}年1月2号", amount=("-", "—", "－", "——")[n % 4])
    r = w.row(
        CIVIL,
        spouse,
        s,
        benefit="temporary",
        start_date=date(Y, 2, 3),
        amount=Decimal("300.00"),
        status="active",
        end_date=None,
        household_size=None,
    )
    r.raw.update(end_date=("—", "-")[n % 2], household_size="－")
    unknown_doctor: Fields = {**_ENROL_BASE, "family_doctor": None}
    r = w.row(MEDICAL, head, s, **unknown_doctor)
    r.raw.update(year=(f"{Y}年度", f"{Y}年")[n % 2], insured=("√", "✓")[n % 2])
    r = w.row(
        MEDICAL,
        spouse,
        s,
        record_type="enrolment",
        year=Y,
        insured=False,
        status="not_insured",
        scheme="城乡居民基本医疗保险",
    )
    r.raw.update(insured=("×", "✗")[n % 2], year=f"{Y}年度")
    r = w.row(
        EDUCATION, child, s, school=_school(child), stage="primary", status="enrolled", aid_kind=None, aid_amount=None
    )
    r.raw.update(status=("在籍", "正常")[n % 2], aid_amount="-")


# ---------------------------------------------------------------- capability probes


def _death_word(word: str) -> bool:
    """Whether the civil-affairs death test reads ``word`` in a stop reason."""
    try:
        from services.core.sync.rules.civil_affairs import DEATH_WORDS
    except ImportError:
        return False
    return any(w in word for w in DEATH_WORDS)


def probe(requirement: str | None) -> bool:
    if requirement is None:
        return True
    name, _, arg = requirement.partition(":")
    return {"death_word": _death_word}[name](arg)


def implemented_rules() -> set[str]:
    try:
        from services.core.sync.rules import BY_ID
    except ImportError:
        return set()
    return set(BY_ID)


# ---------------------------------------------------------------- writing the files

# Spellings departments use for the canonical values (all known to kinds.py).
_SPELLINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "benefit": {
        "dibao": ("低保", "农村低保", "城乡低保", "最低生活保障"),
        "tekun": ("特困", "特困供养", "特困人员", "五保"),
        "temporary": ("临时救助", "临救"),
        "dibao_edge": ("低保边缘", "低边"),
        "orphan": ("孤儿",),
    },
    "dibao_class": {"1": ("一类", "1", "A"), "2": ("二类", "2", "B"), "3": ("三类", "3", "C")},
    "civil_status": {"active": ("在保", "正常"), "stopped": ("停保", "已停保", "终止")},
    "medical_status": {
        "normal": ("正常", "参保", "正常参保"),
        "not_insured": ("未参保", "断保", "停保"),
        "deceased": ("死亡注销", "死亡"),
    },
    "record_type": {"enrolment": ("参保", "参保登记"), "claim": ("结算", "就医结算", "报销")},
    "stage": {"primary": ("小学",), "junior_secondary": ("初中",), "senior_secondary": ("高中", "普通高中")},
    "student_status": {
        "enrolled": ("在读", "在校", "在籍", "正常"),
        "dropped_out": ("辍学", "失学"),
        "transferred": ("转学", "转出"),
    },
}
COLUMNS = {
    CIVIL: (
        "record_id",
        "id_number",
        "name",
        "benefit",
        "dibao_class",
        "start_date",
        "end_date",
        "amount",
        "status",
        "stop_reason",
        "death_date",
        "household_size",
    ),
    MEDICAL: (
        "record_id",
        "record_type",
        "id_number",
        "name",
        "year",
        "insured",
        "status",
        "scheme",
        "death_date",
        "settled_on",
        "hospital",
        "total_cost",
        "out_of_pocket",
        "family_doctor",
    ),
    EDUCATION: ("record_id", "id_number", "name", "term", "school", "stage", "status", "aid_kind", "aid_amount"),
}
_DATES = ("start_date", "end_date", "death_date", "settled_on")
_AMOUNTS = ("amount", "total_cost", "out_of_pocket", "aid_amount")
# A 合计 row: no ID number (medical insurance first misses the record type, education the term).
_TOTALS_REASON = {CIVIL: "missing.id_number", MEDICAL: "invalid.record_type", EDUCATION: "missing.term"}
_DEPARTMENTS = {CIVIL: "清溪县民政局", MEDICAL: "清溪县医疗保障局", EDUCATION: "清溪县教育局"}
_TITLES = {
    CIVIL: "清溪县民政局社会救助对象名单",
    MEDICAL: "清溪县医疗保障局城乡居民参保及结算明细",
    EDUCATION: "清溪县教育局学生学籍及资助名单",
}


def headers(source, kind: str, variant: int) -> list[str]:
    """Chinese headers the source maps (the first alias in one file, the last in the other),
    some with stray spaces."""
    out = []
    for canonical in COLUMNS[kind]:
        names = [n for n in source.fields.get(canonical, []) if not n.isascii()]
        if not names:
            out.append(PENDING_HEADERS[canonical])
            continue
        name = names[0] if variant == 0 else names[-1]
        out.append(name + " " if variant == 1 and canonical in ("id_number", "name") else name)
    return out


_FULL = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


class Mess:
    def __init__(self, rng: random.Random, xlsx: bool):
        self.rng, self.xlsx = rng, xlsx

    def id_number(self, number: str, hard: bool, old15: bool) -> Any:
        r = self.rng
        if old15 or (number[6:8] == "19" and r.random() < 0.1):
            old = number[:6] + number[8:17]
            return int(old) if self.xlsx and r.random() < 0.5 else old
        choice = 4 if hard else r.randrange(8)
        if number.endswith("X") and (hard or choice in (0, 1)):
            number = number[:-1] + "x"
        if choice == 2 or hard:
            number = number.translate(_FULL)
        if choice == 3 or hard:
            number = number[:6] + " " + number[6:14] + " " + number[14:]
        if choice == 4 or hard:
            number = " " + number + "\u3000"
        return number

    def date(self, d: date, hard: bool) -> Any:
        r = self.rng.randrange(8) if not hard else 5
        if self.xlsx and r == 0:
            return datetime(d.year, d.month, d.day)
        if r == 7:
            return f"{d.year}年{d.month}月{d.day}号"
        if r == 6:  # an Excel serial number: a date cell that lost its format
            serial = (d - date(1899, 12, 30)).days
            return serial if self.xlsx else str(serial)
        return (
            d.isoformat(),
            f"{d.year}/{d.month}/{d.day}",
            f"{d:%Y%m%d}",
            f"{d.year}年{d.month}月{d.day}日",
            f"{d.year}.{d.month}.{d.day}",
            f" {d.year}年{d.month:02d}月{d.day:02d}日 ",
        )[r]

    def amount(self, a: Decimal, hard: bool) -> Any:
        r = self.rng.randrange(6) if not hard else 3
        if self.xlsx and r == 0:
            return float(a) if a != a.to_integral() else int(a)
        text = f"{a:,.2f}"
        return (str(a), f"¥{text}", f"{text}元", f"￥ {text}", str(a).translate(_FULL), f"{a:.2f}")[r]

    def name(self, name: str, hard: bool) -> str:
        r = self.rng.randrange(5) if not hard else 1
        return (name, f" {name} ", name + "\u3000", name, name)[r]

    def spelling(self, field: str, value: str) -> str:
        return self.rng.choice(_SPELLINGS[field][value])


def render(row: Row, mess: Mess) -> list[Any]:
    """The row's cells in ``COLUMNS`` order."""
    f, hard = row.fields, row.raw.get("_mess") == "max"
    cells = []
    for canonical in COLUMNS[row.kind]:
        if canonical in row.raw:
            cells.append(row.raw[canonical])
            continue
        v = f.get(canonical)
        if v is None:  # a blank cell, or a dash (no value) in an amount or a date
            dash = (canonical in _AMOUNTS or canonical in _DATES) and mess.rng.random() < 0.3
            cells.append(mess.rng.choice(("-", "—", "－")) if dash else "")
        elif canonical == "id_number":
            cells.append(mess.id_number(v, hard, bool(row.raw.get("_old15"))))
        elif canonical == "name":
            cells.append(mess.name(v, hard))
        elif canonical in _DATES:
            cells.append(mess.date(v, hard))
        elif canonical in _AMOUNTS:
            cells.append(mess.amount(v, hard))
        elif canonical in ("benefit", "dibao_class", "record_type", "stage"):
            cells.append(mess.spelling(canonical, v))
        elif canonical == "status":
            table = {CIVIL: "civil_status", MEDICAL: "medical_status", EDUCATION: "student_status"}[row.kind]
            cells.append(mess.spelling(table, v))
        elif isinstance(v, bool):
            cells.append(mess.rng.choice(("是", "1", "Y", "√") if v else ("否", "0", "N", "×")))
        elif canonical in ("year", "household_size"):
            if canonical == "year" and not hard and mess.rng.random() < 0.2:
                cells.append(f"{v}{mess.rng.choice(('年', '年度'))}")
            else:
                cells.append(v if mess.xlsx and mess.rng.random() < 0.5 else f" {v}" if hard else str(v))
        else:
            cells.append(str(v))
    return cells


@dataclass
class SheetFile:
    kind: str
    path: Path
    expected: dict[str, tuple[str, str]]  # location → (reason, scenario) of malformed rows
    valid: dict[str, Row]  # location → a row that must be staged
    pending: set[str] = field(default_factory=set)  # malformed rows the normaliser does not refuse yet
    hashes: dict[str, str] = field(default_factory=dict)  # location → quarantine key of a bad-ID-number row
    roster: str | None = None  # the period the file is declared the complete roster of
    hostile: bool = False
    run_id: int | None = None
    counts: dict = field(default_factory=dict)


def write_files(w: World, directory: Path, sources) -> list[SheetFile]:
    """Each kind's rows, shuffled, half to a CSV and half to an XLSX file, with title rows,
    blank rows here and there and a 合计 row at the end (itself a malformed row)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for kind in KINDS:
        rows = list(w.rows[kind])
        w.rng.shuffle(rows)
        halves = (rows[0::2], rows[1::2])
        period = roster_of(kind)
        if period:  # the second file the complete roster: every valid record of the period, no malformed row
            listed = [r for r in rows if r.reason is None and _of_period(r, kind)]
            listed_ids = {id(r) for r in listed}
            rest = [r for r in rows if id(r) not in listed_ids]
            valid_rest = [r for r in rest if r.reason is None]
            halves = ([r for r in rest if r.reason is not None] + valid_rest[0::2], listed + valid_rest[1::2])
            if ROSTER_FILE[kind] == 0:
                halves = halves[::-1]
            for part in halves:
                w.rng.shuffle(part)
        for variant, (suffix, part) in enumerate((("csv", halves[0]), ("xlsx", halves[1]))):
            roster = period if variant == ROSTER_FILE.get(kind) else None
            mess = Mess(random.Random(f"{kind}{suffix}{len(part)}"), xlsx=suffix == "xlsx")
            header = headers(sources.get(kind), kind, variant)
            title = f"{_TITLES[kind]}（{TODAY.year}年{TODAY.month}月）"
            sheet: list[list[Any]] = [[title]]
            if suffix == "xlsx":
                sheet.append(
                    [f"填报单位：{_DEPARTMENTS[kind]}    导出日期：{TODAY.year}年{TODAY.month}月{TODAY.day}日"]
                )
            sheet += [[], header]
            expected, valid = {}, {}
            for row in part:
                if mess.rng.random() < 0.03:
                    sheet.append([""] * len(header))
                sheet.append(render(row, mess))
                location = f"row {len(sheet)}"
                if row.reason:
                    expected[location] = (row.reason, row.scenario)
                else:
                    valid[location] = row
            # (worded differently in each file: the same payload twice is one quarantine row; a
            # roster export has none: at the default size one refused row of a hundred would be
            # more than the policy's share and the roster not trusted)
            if roster is None:
                sheet.append([("合计", "总计")[variant]] + [""] * (len(header) - 2) + [f"共{len(part)}条"])
                expected[f"row {len(sheet)}"] = (_TOTALS_REASON[kind], "malformed:totals_row")
            path = directory / f"{kind}-{variant + 1}.{suffix}"
            _save(path, sheet, kind)
            out.append(
                SheetFile(
                    kind,
                    path,
                    expected,
                    valid,
                    roster=roster,
                    hashes=_quarantine_keys(path, sources.get(kind), expected),
                )
            )
    if w.hostile:
        from services.core.sync.normalise import Normaliser, Rejected

        normaliser = Normaliser(sources.get(MEDICAL))
        mess = Mess(random.Random("hostile"), xlsx=False)
        header = headers(sources.get(MEDICAL), MEDICAL, 0)
        sheet = [[f"{_TITLES[MEDICAL]}（补充）"], [], header]
        expected, valid, pending = {}, {}, set()
        for row in w.hostile:
            cells = render(row, mess)
            sheet.append(cells)
            location = f"row {len(sheet)}"
            if row.reason is None:
                valid[location] = row
                continue
            expected[location] = (row.reason, row.scenario)
            got = normaliser.normalise({h: c for h, c in zip(header, cells, strict=False) if c != ""})
            if not (isinstance(got, Rejected) and got.reason == row.reason):
                pending.add(location)
        path = directory / f"{MEDICAL}-hostile.csv"
        _save(path, sheet)
        out.append(SheetFile(MEDICAL, path, expected, valid, pending, hostile=True))
    return out


def roster_of(kind: str) -> str | None:
    """The period a kind's second file is declared the roster of, once its rule exists."""
    return ROSTERS.get(kind) if ROSTER_RULES.get(kind) in implemented_rules() else None


def _of_period(row: Row, kind: str) -> bool:
    """Whether a row belongs to the roster of its kind's period: an enrolment record of the
    year, a student record of the term (however the term is spelt)."""
    f = row.fields
    if kind == MEDICAL:
        return f.get("record_type") == "enrolment" and f.get("year") == Y
    return kind == EDUCATION and f.get("term") in TERM_SPELLINGS


def _quarantine_keys(path: Path, source, expected: dict[str, tuple[str, str]]) -> dict[str, str]:
    """The quarantine key (SHA-256 of the record as read) of each row labelled with a bad ID
    number: ``id_number_invalid`` names its finding ``quarantine:<key>``."""
    import hashlib

    from services.core.sync.normalise import Normaliser
    from services.worker.preparing import payload_bytes
    from services.worker.sheets import records

    wanted = {location for location, (reason, _) in expected.items() if reason in ID_REASONS}
    return {
        location: hashlib.sha256(payload_bytes(raw)).hexdigest()
        for location, raw in records(path, Normaliser(source))
        if location in wanted
    }


# How each department's CSV comes: Excel's "CSV UTF-8" (with a BOM), Chinese Excel's plain
# CSV (GB18030), a tab-separated text export without a BOM.
_CSV_DIALECTS = {CIVIL: ("utf-8-sig", ","), MEDICAL: ("gb18030", ","), EDUCATION: ("utf-8", "\t")}


def _save(path: Path, sheet: list[list[Any]], kind: str = CIVIL) -> None:
    if path.suffix == ".csv":
        encoding, delimiter = _CSV_DIALECTS[kind]
        with path.open("w", encoding=encoding, newline="") as handle:
            csv.writer(handle, delimiter=delimiter).writerows(sheet)
        return
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    ws = book.create_sheet("Sheet1")
    for line in sheet:
        ws.append(line)
    book.save(path)


# ---------------------------------------------------------------- loading the registry


async def load_registry(conn, w: World, settings) -> None:
    """The county's registry with COPY (ids fixed here; sequences moved past them)."""
    from services.core.crypto import keyring
    from services.core.households.sensitive import seal_id_number

    ring = keyring(settings)
    key = settings.data_protection.id_hash_key.get_secret_value().encode()
    import uuid

    # (the COPY records of each table, in its columns' order below)
    households: list[tuple[int, str, str, str, list[str], str, str | None, int, str | None, int]] = []
    memberships: list[tuple[int, int, int, str, str, datetime, str, datetime | None, str | None]] = []
    measures: list[tuple[uuid.UUID, int, int, str, str, str, str, date, date, str, int]] = []
    persons, incomes, years, cases = [], [], [], []
    income_id = itertools.count(1)
    membership_id = itertools.count(1)
    started = datetime(Y - 3, 1, 1, tzinfo=UTC)
    opened = date(Y - 1, 6, 1)
    for h in w.households:
        alive = h.alive
        head = next((p for p in alive if p.relation == "head"), alive[0] if alive else None)
        households.append(
            (h.id, h.no, h.region, h.category, [], "active", head.name if head else None, len(alive), h.phone, 1)
        )
        for p in h.members:
            persons.append(
                (
                    p.id,
                    seal_id_number(ring, p.id_number),
                    keyed_hash(p.id_number, key),
                    mask(p.id_number),
                    p.name,
                    p.sex,
                    p.born,
                    h.id,
                    h.region,
                    p.relation,
                    p.labour,
                    p.schooling,
                    p.insured,
                    False,
                    p.family_doctor,
                    p.employment,
                    p.employment_months,
                    p.employment_income,
                    p.phone,
                    p.status,
                    p.died,
                    1,
                )
            )
            memberships.append(
                (next(membership_id), p.id, h.id, h.region, p.relation, started, "registered", None, None)
            )
        by_year: dict[int, list] = defaultdict(list)
        ill = h.open_case and "illness" in h.risk_types
        for year, q, net, members in h.quarters:
            spent = (
                h.spending.get((year, q), Decimal("0.00"))
                if h.spending is not None
                else Decimal("300.00")
                if ill
                else Decimal("0.00")
            )
            incomes.append(
                (
                    next(income_id),
                    h.id,
                    h.region,
                    year,
                    q,
                    net,
                    Decimal("0.00"),
                    Decimal("0.00"),
                    Decimal("0.00"),
                    "{}",
                    Decimal("0.00"),
                    spent,
                    members,
                    net,
                    _pc(net, members),
                    1,
                )
            )
            by_year[year].append((q, net, members, spent))
        for year, qs in by_year.items():
            qs.sort()
            net = sum((n for _, n, _, _ in qs), Decimal("0"))
            spent = sum((x for _, _, _, x in qs), Decimal("0"))
            members = qs[-1][2]
            z = Decimal("0.00")
            years.append((h.id, year, h.region, len(qs), net, z, z, z, z, spent, members, net, _pc(net, members)))
        if h.open_case:  # the case's id is the household's (labels name ``case:<household id>``)
            status = "assisting" if h.category == "monitored" else "verification"
            cases.append(
                (
                    h.id,
                    h.id,
                    h.region,
                    "marginal",
                    list(h.risk_types),
                    status,
                    opened,
                    opened,
                    opened + timedelta(days=20) if status == "assisting" else None,
                    "lifted_out" if h.category == "monitored" else None,
                    False,
                    "[]",
                    1,
                )
            )
            for category, state in h.measures:
                measures.append(
                    (
                        uuid.UUID(int=len(measures) + 1),
                        h.id,
                        h.id,
                        h.region,
                        category,
                        "帮扶措施",
                        "清溪县乡村振兴局",
                        opened,
                        opened,
                        state,
                        1,
                    )
                )
    region_of = {h.id: h.region for h in w.households}
    for person_id, household_id, ended in w.memberships:
        memberships.append(
            (
                next(membership_id),
                person_id,
                household_id,
                region_of[household_id],
                "child",
                started,
                "added",
                started + timedelta(days=400) if ended else None,
                "moved" if ended else None,
            )
        )
    await conn.copy_records_to_table(
        "households",
        records=households,
        columns=(
            "id",
            "household_no",
            "region_code",
            "category",
            "flags",
            "status",
            "head_name",
            "member_count",
            "phone",
            "version",
        ),
    )
    await conn.copy_records_to_table(
        "persons",
        records=persons,
        columns=(
            "id",
            "id_number_enc",
            "id_hash",
            "id_masked",
            "name",
            "sex",
            "birth_date",
            "household_id",
            "region_code",
            "relation",
            "labour_capacity",
            "schooling",
            "medical_insurance",
            "pension_insurance",
            "family_doctor",
            "employment",
            "employment_months",
            "employment_income",
            "phone",
            "status",
            "date_of_death",
            "version",
        ),
    )
    await conn.copy_records_to_table(
        "memberships",
        records=memberships,
        columns=(
            "id",
            "person_id",
            "household_id",
            "region_code",
            "relation",
            "started_at",
            "start_reason",
            "ended_at",
            "end_reason",
        ),
    )
    await conn.copy_records_to_table(
        "income_records",
        records=incomes,
        columns=(
            "id",
            "household_id",
            "region_code",
            "year",
            "quarter",
            "wages",
            "business",
            "property",
            "transfers",
            "details",
            "production_costs",
            "eligible_spending",
            "member_count",
            "net_income",
            "per_capita_net",
            "version",
        ),
    )
    await conn.copy_records_to_table(
        "income_years",
        records=years,
        columns=(
            "household_id",
            "year",
            "region_code",
            "quarters",
            "wages",
            "business",
            "property",
            "transfers",
            "production_costs",
            "eligible_spending",
            "member_count",
            "net_income",
            "per_capita_net",
        ),
    )
    await conn.copy_records_to_table(
        "monitoring_cases",
        records=cases,
        columns=(
            "id",
            "household_id",
            "region_code",
            "case_type",
            "risk_types",
            "status",
            "first_clue_on",
            "opened_on",
            "identified_on",
            "category_before",
            "deadline_provisional",
            "deadline_breaches",
            "version",
        ),
    )
    await conn.copy_records_to_table(
        "assistance_measures",
        records=measures,
        columns=(
            "id",
            "case_id",
            "household_id",
            "region_code",
            "category",
            "content",
            "responsible_unit",
            "planned_on",
            "start_on",
            "status",
            "version",
        ),
    )
    for year, amount in LINES.items():
        await conn.execute(
            "INSERT INTO income_lines (year, province_code, amount, version) VALUES ($1, $2, $3, 1) "
            "ON CONFLICT (year, province_code) DO UPDATE SET amount = EXCLUDED.amount",
            year,
            PROVINCE,
            amount,
        )
    for table in ("households", "persons", "income_records", "monitoring_cases", "memberships"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
    await conn.execute("ANALYZE households; ANALYZE persons; ANALYZE income_years; ANALYZE monitoring_cases")


def _pc(net: Decimal, members: int) -> Decimal:
    return (net / members).quantize(CENT, rounding=ROUND_HALF_UP) if members else Decimal("0.00")


# ---------------------------------------------------------------- running and scoring


async def run(url: str, settings, w: World, directory: Path, *, processes: int = 0) -> Score:
    """Load ``w`` into the (migrated, empty) database at ``url``, import its files the way
    ``guardline sync import`` does, and score what came out."""
    import time

    import asyncpg

    from services.core.db import Database, asyncpg_dsn, create_engine
    from services.core.sync.config import load_sources
    from services.worker import worker
    from services.worker.runner import Context

    settings = settings.model_copy(update={"sync": settings.sync.model_copy(update={"prepare_processes": processes})})
    dsn = asyncpg_dsn(url)
    sources = load_sources(settings)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    db = Database(create_engine(url, settings, "tests"))
    try:
        async with pool.acquire() as conn, conn.transaction():
            await load_registry(conn, w, settings)
        files = write_files(w, directory, sources)
        session = worker.Session(Context.build(settings, sources, pool, db), dsn)
        for f in sorted(files, key=lambda f: f.hostile):  # the hostile file last: it may fail
            started = time.perf_counter()
            roster: Roster | None = None
            if f.roster:  # as ``guardline sync import --roster PERIOD``
                from services.core.sync.rosters import declare

                roster = declare(sources.get(f.kind).kind, COUNTY, f.roster, None)
            try:
                counts = await worker.import_file(session, sources.get(f.kind), COUNTY, f.path, lambda _: None, roster)
            except Exception as exc:
                if not f.hostile:
                    raise
                counts = {"status": "crashed", "error": f"{exc.__class__.__name__}: {str(exc)[:200]}"}
            f.run_id, f.counts = counts.get("id"), {**counts, "seconds": time.perf_counter() - started}
        if REGISTRY_CHECK is not None:
            await REGISTRY_CHECK(session)
        findings = await pool.fetch(
            "SELECT rule_id, source, fingerprint, person_id, household_id, records FROM sync_findings "
            "WHERE county = $1 AND status <> 'resolved'",
            COUNTY,
        )
        quarantine = await pool.fetch("SELECT source, last_run_id, location, reason, external_key FROM sync_quarantine")
    finally:
        await pool.close()
        await db.dispose()
    return score(w, files, findings, quarantine, settings.data_protection.id_hash_key.get_secret_value().encode())


async def _check_registry(session) -> None:
    """The registry check of ``COUNTY``, as the worker's daily check and ``guardline sync
    check-registry`` run it."""
    from services.core.sync.enums import Trigger
    from services.worker import worker

    await worker.check_registry(session.ctx, COUNTY, Trigger.manual)


REGISTRY_CHECK = _check_registry


@dataclass
class RuleScore:
    rule: str
    implemented: bool
    tp: int = 0
    fp: int = 0
    fn: int = 0
    pending: int = 0  # labels not counted: the rule (or the capability) does not exist yet
    pending_found: int = 0
    misses: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None


@dataclass
class Score:
    rules: dict[str, RuleScore]
    quarantine_expected: int
    quarantine_right: int
    quarantine_wrong: list[str]  # expected rows quarantined for another reason or not at all
    false_quarantines: list[str]
    files: list[SheetFile]
    defects: dict[str, list[str]]  # known-defect scenario → what it still does wrong
    households: int = 0
    persons: int = 0
    rows: int = 0
    unstaged: list[str] = field(default_factory=list)  # files whose valid rows were not all staged
    quarantine_pending: list[str] = field(default_factory=list)  # malformed rows not counted yet
    gaps: dict[str, str] = field(default_factory=dict)  # ``GAPS``: still refused, or fixed

    def totals(self, exclude_known: bool = True) -> tuple[int, int, int]:
        tp = fp = fn = 0
        for r in self.rules.values():
            if r.implemented:
                tp += r.tp
                fp += r.fp
                fn += r.fn
        if exclude_known:
            for problems in self.defects.values():
                for p in problems:
                    if p.startswith("FP"):
                        fp -= 1
                    elif p.startswith("FN"):
                        fn -= 1
        return tp, fp, fn

    def recall(self, exclude_known: bool = True) -> float:
        tp, _, fn = self.totals(exclude_known)
        return tp / (tp + fn) if tp + fn else 1.0

    def precision(self, exclude_known: bool = True) -> float:
        tp, fp, _ = self.totals(exclude_known)
        return tp / (tp + fp) if tp + fp else 1.0

    @property
    def quarantine_accuracy(self) -> float:
        return self.quarantine_right / self.quarantine_expected if self.quarantine_expected else 1.0

    def table(self) -> str:
        def pct(v):
            return "   –  " if v is None else f"{v * 100:6.2f}"

        lines = [
            f"labelled run: {self.households} households, {self.persons} persons, {self.rows} department rows",
            f"{'rule':34} {'impl':>4} {'TP':>5} {'FP':>5} {'FN':>5} {'recall':>7} {'prec.':>7} {'pending':>8}",
        ]
        for r in sorted(self.rules.values(), key=lambda r: (not r.implemented, r.rule)):
            pending = f"{r.pending_found}/{r.pending}" if r.pending else ""
            lines.append(
                f"{r.rule:34} {'yes' if r.implemented else 'no':>4} {r.tp:5} {r.fp:5} {r.fn:5} "
                f"{pct(r.recall)} {pct(r.precision)} {pending:>8}"
            )
        tp, fp, fn = self.totals(False)
        lines.append(
            f"{'all implemented rules':34} {'':4} {tp:5} {fp:5} {fn:5} {pct(self.recall(False))} "
            f"{pct(self.precision(False))}"
        )
        if self.defects:
            tp, fp, fn = self.totals(True)
            lines.append(
                f"{'  without known defects':34} {'':4} {tp:5} {fp:5} {fn:5} {pct(self.recall())} "
                f"{pct(self.precision())}"
            )
        for f in self.files:
            c = f.counts
            name = f"{f.path.name} (roster {f.roster})" if f.roster else f.path.name
            lines.append(
                f"  {name:32} {c.get('status')}: {c.get('fetched')} rows, {c.get('staged')} staged, "
                f"{c.get('quarantined')} quarantined, {c.get('findings_open')} findings open, "
                f"{c.get('clues')} clues, {c.get('seconds', 0):.1f} s"
            )
        lines.append(
            f"quarantine: {self.quarantine_right}/{self.quarantine_expected} malformed rows with the right "
            f"reason ({pct(self.quarantine_accuracy).strip()} %), {len(self.false_quarantines)} valid rows "
            f"quarantined"
        )
        for r in self.rules.values():
            for m in r.misses[:10]:
                lines.append(f"  FN {r.rule}: {m}")
            for e in r.extras[:10]:
                lines.append(f"  FP {r.rule}: {e}")
        for m in self.unstaged:
            lines.append(f"  not staged: {m}")
        for m in self.quarantine_pending:
            lines.append(f"  quarantine pending: {m}")
        for gap, state in self.gaps.items():
            lines.append(f"  known import gap: {gap} — {state}")
        for kind, names in unmapped_export_headers().items():
            lines.append(
                f"  note: the simulators' {kind} export has headers the source does not map: {', '.join(names)}"
            )
        for m in self.quarantine_wrong[:20]:
            lines.append(f"  quarantine wrong: {m}")
        for m in self.false_quarantines[:20]:
            lines.append(f"  false quarantine: {m}")
        for scenario, problems in self.defects.items():
            state = "still" if problems else "FIXED (remove from KNOWN_DEFECTS)"
            lines.append(f"  known defect {scenario}: {state} {len(problems) or ''} — {KNOWN_DEFECTS[scenario]}")
        return "\n".join(lines)


def score(w: World, files: list[SheetFile], findings, quarantine, id_hash_key: bytes) -> Score:
    implemented = implemented_rules()
    rules: dict[str, RuleScore] = {}

    def of(rule: str) -> RuleScore:
        if rule not in rules:
            rules[rule] = RuleScore(rule, rule in implemented)
        return rules[rule]

    for rule in list(INJECTORS) + sorted(implemented):
        of(rule)
    scenario_of_household = {h.id: h.scenario for h in w.households}
    scenario_of_key = {(kind, r.key): r.scenario for kind, rows in w.rows.items() for r in rows}
    found: dict[tuple[str, str, str], Any] = {}
    for f in findings:
        prefix = f"{f['rule_id']}:{f['source']}:{COUNTY}:"
        found[(f["rule_id"], f["source"], f["fingerprint"][len(prefix) :])] = f
    wanted: dict[tuple[str, str, str], Expect] = {}
    for e in w.expects:
        if e.subject.startswith(UNKNOWN_ID):
            e = Expect(
                e.rule,
                e.source,
                "id:" + keyed_hash(e.subject[len(UNKNOWN_ID) :], id_hash_key).hex(),
                e.scenario,
                e.requires,
            )
        wanted[e_key(e)] = e
    # Every row quarantined for its ID number is an ``id_number_invalid`` finding of its source.
    for f in files:
        for location, (reason, scenario) in f.expected.items():
            if reason in ID_REASONS and location not in f.pending:
                digest = f.hashes.get(location)
                e = Expect(
                    "id_number_invalid",
                    f.kind,
                    f"quarantine:{digest}" if digest else f"quarantine:(row not read: {f.path.name} {location})",
                    scenario,
                )
                wanted[e_key(e)] = e
    defects: dict[str, list[str]] = {s: [] for s in KNOWN_DEFECTS}

    for k, e in wanted.items():
        r = of(e.rule)
        counted = r.implemented and probe(e.requires) and (e.source != REGISTRY or REGISTRY_CHECK is not None)
        if not counted:
            r.pending += 1
            r.pending_found += k in found
            continue
        if k in found:
            r.tp += 1
        else:
            r.fn += 1
            r.misses.append(f"{e.scenario}: {e.source} {e.subject}")
            if e.scenario in defects:
                defects[e.scenario].append(f"FN {e.rule} {e.subject}")
    for k, f in found.items():
        if k in wanted:
            continue
        r = of(k[0])
        r.fp += 1
        found_in = scenario_of_household.get(f["household_id"])
        if found_in is None:
            keys = [rec.get("external_key") for rec in _json(f["records"])]
            found_in = next((scenario_of_key[(k[1], x)] for x in keys if (k[1], x) in scenario_of_key), "unknown")
        r.extras.append(f"{found_in}: {k[1]} {k[2]}")
        if found_in in defects:
            defects[found_in].append(f"FP {k[0]} {k[2]}")

    # run id → location → (reason, external key) of the quarantine
    by_run: defaultdict[int | None, dict[str, tuple[str, str | None]]] = defaultdict(dict)
    for q in quarantine:
        by_run[q["last_run_id"]][q["location"]] = (q["reason"], q["external_key"])
    expected = right = 0
    wrong, false_q, pending_q = [], [], []
    gaps: dict[str, str] = {}
    gap_quarantined: Counter[str] = Counter()
    for f in files:
        got = by_run.get(f.run_id, {})
        if f.hostile and f.counts.get("status") != "succeeded":
            pending_q.append(
                f"{f.path.name}: the import {f.counts.get('status')} "
                f"({f.counts.get('error_code') or f.counts.get('error')}); its "
                f"{len(f.expected)} rows wait for the import hardening"
            )
            continue
        for location, (reason, scenario) in f.expected.items():
            if location in f.pending:
                actual = got.get(location)
                pending_q.append(
                    f"{f.path.name} {location} ({scenario}): {reason} expected once the normaliser "
                    f"refuses it; got {actual[0] if actual else 'staged'}"
                )
                continue
            expected += 1
            actual = got.get(location)
            if actual and actual[0] == reason:
                right += 1
            else:
                wrong.append(
                    f"{f.path.name} {location} ({scenario}): expected {reason}, got {actual[0] if actual else 'staged'}"
                )
        for location, (reason, _key) in got.items():
            if location in f.valid:
                row = f.valid[location]
                if row.gap:
                    gaps[row.gap] = f"still: {reason}"
                    gap_quarantined[f.path.name] += 1
                else:
                    false_q.append(f"{f.path.name} {location} ({row.scenario}, {row.key}): {reason}")
        for location, row in f.valid.items():
            if row.gap and location not in got:
                gaps.setdefault(row.gap, "FIXED: staged (remove from GAPS)")
    unstaged = [
        f"{f.path.name}: {f.counts.get('staged')} staged of {len(f.valid)} valid rows"
        for f in files
        if f.counts.get("staged") != len(f.valid) - gap_quarantined[f.path.name]
        and not (f.hostile and f.counts.get("status") != "succeeded")
    ]
    rows = sum(len(v) for v in w.rows.values())
    persons = sum(len(h.members) for h in w.households)
    return Score(
        rules,
        expected,
        right,
        wrong,
        false_q,
        files,
        defects,
        len(w.households),
        persons,
        rows,
        unstaged,
        pending_q,
        gaps,
    )


def unmapped_export_headers() -> dict[str, list[str]]:
    """Headers of the simulators' spreadsheet export (what a department sends) that the
    built-in sources do not map: such a column is silently dropped on import."""
    from services.core.settings import Settings
    from services.core.sync.config import load_sources
    from services.core.sync.normalise import Normaliser
    from services.simulators.export import HEADERS

    sources = load_sources(Settings(env="test", database_url=None))
    out = {}
    for kind, columns in HEADERS.items():
        normaliser = Normaliser(sources.get(kind))
        missing = [header for _, header in columns if normaliser.canonical_of(header) is None]
        if missing:
            out[kind] = missing
    return out


def e_key(e: Expect) -> tuple[str, str, str]:
    return (e.rule, e.source, e.subject)


def _json(value) -> list:
    import json

    return json.loads(value) if isinstance(value, str) else (value or [])


# ---------------------------------------------------------------- a bigger run from the shell


async def _main(households: int, seed: int, keep: bool, processes: int) -> int:
    import tempfile
    import time

    from sqlalchemy import text

    from services.core.db import create_engine, embedded_url
    from services.core.settings import Settings
    from tests.conftest import ROOT, _load_base_data, scratch_database

    settings = Settings(env="test", data_dir=ROOT / ".guardline", database_url=None)
    admin = create_engine(embedded_url(settings.data_dir, "postgres"), settings, "tests")
    started = time.perf_counter()
    try:
        async with scratch_database(admin, "guardline_labelled_cli") as url:
            eng = create_engine(url, settings, "tests")
            try:
                await _load_base_data(eng)
                async with eng.connect() as conn:
                    assert (await conn.execute(text("SELECT count(*) FROM persons"))).scalar_one() == 0
            finally:
                await eng.dispose()
            w = World(seed, households, thresholds=Thresholds.of(settings)).build()
            built = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="labelled-") as tmp:
                result = await run(url, settings, w, Path(tmp), processes=processes)
            print(result.table())
            print(
                f"built in {built - started:.1f} s, loaded, imported and scored in {time.perf_counter() - built:.1f} s"
            )
            if keep:
                input("database guardline_labelled_cli kept until you press Enter: ")  # noqa: ASYNC250 (meant to wait)
    finally:
        await admin.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.sync.labelled", description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=5000, help="background households (5000)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--processes", type=int, default=1, help="normalising processes per import (1)")
    parser.add_argument("--keep", action="store_true", help="keep the database until Enter is pressed")
    args = parser.parse_args(argv)
    return asyncio.run(_main(args.households, args.seed, args.keep, args.processes))


if __name__ == "__main__":
    raise SystemExit(main())
