"""Department records derived from registry persons: pure functions of (seed, kind, person).

Every random choice about a person comes from ``Draws`` keyed with a string of
the data seed, the department and the person id (households: the household id), so the
same person always yields the same records, whatever page or request asks for them.
Each stream draws a fixed number of values before any branch, so changing one share
(``Problems``) does not move the draws of another.

Money is counted in fen (integers) and written as a 2-place decimal string; dates are
``YYYY-MM-DD``; timestamps ISO 8601 in China time (+08:00).
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import ClassVar

from services.core.idnumber import check_character
from services.core.timeutil import CHINA
from services.simulators.config import Problems, SimConfig
from services.simulators.registry import Person

# Field names of the ID number and the name in each department's records.
ID_FIELD = {"civil-affairs": "sfzh", "medical-insurance": "id_no", "education": "sfzjh", "housing": "hzsfzh"}
NAME_FIELD = {"civil-affairs": "xm", "medical-insurance": "name", "education": "xsxm", "housing": "hzxm"}
KEY_FIELD = {"civil-affairs": "jzid", "medical-insurance": "key", "education": "xjh", "housing": "fwbh"}

JZLX = ("低保", "低保边缘", "特困", "临时救助", "孤儿")
XJZT = ("在读", "辍学", "休学", "毕业", "转学")
XD = ("小学", "初中", "高中", "中职", "高校")
ENROLMENT_STATUS = ("正常", "未参保", "死亡注销")
SCHEME = "城乡居民基本医疗保险"

# Address codes of other counties: "unknown people" are numbers of people who live here but
# were never registered (moved in); their numbers carry where they were born.
_FOREIGN_AREAS = ("530102", "510104", "500101", "450102", "430102", "522601", "522701", "360102")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
# Characters that replace one of a name's (a clerk's typo, a homophone, a changed name).
_OTHER_CHARS = "国建志春海云飞小德文"
_FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
_HOSPITALS = (
    "{county}人民医院",
    "{county}中医医院",
    "青山市第一人民医院",
    "贵州医科大学附属医院",
    "{county}妇幼保健院",
)


class Draws:
    """Uniform draws in [0, 1) from BLAKE2b of the parts and a block counter: the same
    parts give the same draws in every process and Python version (unlike ``hash``), and
    a person costs one hash per eight draws (seeding ``Draws`` cost several
    times more, and the simulator derives records for every person of every page)."""

    __slots__ = ("_block", "_key", "_next", "_values")

    def __init__(self, key: bytes):
        self._key = key
        self._block = 0
        self._values: tuple = ()
        self._next = 8

    def _refill(self) -> None:
        digest = hashlib.blake2b(self._key + b"#%d" % self._block, digest_size=64).digest()
        self._values = struct.unpack("<8Q", digest)
        self._block += 1
        self._next = 0

    def random(self) -> float:
        if self._next == 8:
            self._refill()
        value = self._values[self._next]
        self._next += 1
        return (value >> 11) * _TWO_TO_MINUS_53

    def take(self, n: int) -> list[float]:
        if self._next == 8 and n <= 8:  # the usual first call: one block, no per-draw calls
            self._refill()
            self._next = n
            return [(v >> 11) * _TWO_TO_MINUS_53 for v in self._values[:n]]
        return [self.random() for _ in range(n)]

    def choice(self, items):
        return items[int(self.random() * len(items))]


_TWO_TO_MINUS_53 = 1.0 / (1 << 53)


def rng(*parts) -> Draws:
    return Draws("|".join(map(str, parts)).encode())


# Civil affairs knows about one person in eight: who it may know is decided by draws that
# PostgreSQL computes too (the first 32 bits of MD5), so the registry query returns only
# those persons instead of every person of the county (``registry.civil_candidates``).
EDGE_SHARE = 0.02  # households 低保边缘
TEMPORARY_SHARE = 0.01  # persons given 临时救助
ORPHAN_SHARE = 0.005  # children (of those not head or spouse) who are 孤儿
_SCALE = 1 << 32


def selection_draw(key: str) -> float:
    return int.from_bytes(hashlib.md5(key.encode()).digest()[:4], "big") / _SCALE


def below(share: float) -> int:
    """The 32-bit draws n with n / 2**32 < share are those with n < this bound."""
    return math.ceil(share * _SCALE)


def fen(n: int) -> str:
    sign = "-" if n < 0 else ""
    n = abs(n)
    return f"{sign}{n // 100}.{n % 100:02d}"


def term_of(day: date) -> str:
    """School term: autumn from September to January, spring from February to August."""
    if day.month >= 9:
        return f"{day.year}秋"
    if day.month == 1:
        return f"{day.year - 1}秋"
    return f"{day.year}春"


def iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


class Stranger:
    """Someone the department knows and the registry does not (an "unknown person")."""

    def __init__(self, host: Person, r: Draws, today: date, *, student: bool):
        self.id = host.id
        if student:
            born = today - timedelta(days=int(365.25 * (7 + 10 * r.random())))
        else:
            born = date(1950, 1, 1) + timedelta(days=int(r.random() * 65 * 365))
        born = min(born, today - timedelta(days=1))
        male = r.random() < 0.5
        seq = 2 * int(r.random() * 499) + (1 if male else 2)
        first17 = f"{r.choice(_FOREIGN_AREAS)}{born:%Y%m%d}{seq:03d}"
        self.id_number = first17 + check_character(first17)
        self.name = r.choice(_SURNAMES) + "".join(r.choice(_GIVEN) for _ in range(1 + (r.random() < 0.6)))
        self.birth_date = born


class Deriver:
    """Records of one department for registry persons, with the configured problems."""

    def __init__(self, config: SimConfig, county_name: str = "清溪县"):
        self.config = config
        self.kind = config.kind
        self.seed = config.seed
        self.rates: Problems = config.problems
        assert config.today is not None  # SimConfig.__post_init__ gives today's date
        self.today: date = config.today
        self.year = self.today.year
        self.term = term_of(self.today)
        self.county_name = county_name
        # medical insurance: a person's records are all updated at base + id seconds, so
        # the (updated_at, key) order is the persons' id order.
        self.base_time = datetime(self.year, 1, 1, tzinfo=CHINA)
        self._build: Callable[[Person], list[dict]] = {
            "civil-affairs": self._civil,
            "medical-insurance": self._medical,
            "education": self._education,
            "housing": self._housing,
        }[self.kind]

    # ---- the entry point ----------------------------------------------------------------

    def records(self, p: Person) -> list[dict]:
        """The person's records in key order, then the unknown person attached to them."""
        records = self._build(p)
        if records:
            self._problems(p, records)
        return records

    def updated_at(self, person_id: int) -> datetime:
        return self.base_time + timedelta(seconds=person_id)

    # ---- dates --------------------------------------------------------------------------

    def _days_ago(self, u: float, low: int, high: int) -> date:
        return self.today - timedelta(days=low + int(u * (high - low)))

    def _stamp(self, day: date, person_id: int) -> str:
        """An office-hours timestamp on ``day`` (never after now-ish: days are in the past)."""
        at = datetime.combine(day, time(9, 0), tzinfo=CHINA) + timedelta(minutes=person_id % 480)
        return at.isoformat(timespec="seconds")

    # ---- civil affairs (民政) -------------------------------------------------------------

    def household_key(self, p: Person) -> str:
        return str(p.household_id) if p.household_id is not None else f"p{p.id}"

    def civil_selection(self) -> tuple[str, str, int, int, int, int]:
        """The parameters of ``registry.civil_candidates``: key prefixes of the household
        and person draws, and the bounds that select a household or person."""
        return (
            f"{self.seed}|{self.kind}|select-h|",
            f"{self.seed}|{self.kind}|select-p|",
            below(self.rates.unmonitored_dibao_rate),
            below(1 - EDGE_SHARE),
            below(TEMPORARY_SHARE),
            below(1 - ORPHAN_SHARE),
        )

    def _civil(self, p: Person) -> list[dict]:
        h = rng(self.seed, self.kind, "h", self.household_key(p))
        hu = h.take(8)
        uh = selection_draw(f"{self.seed}|{self.kind}|select-h|{self.household_key(p)}")
        up = selection_draw(f"{self.seed}|{self.kind}|select-p|{p.id}")
        r = rng(self.seed, self.kind, p.id)
        pu = r.take(8)
        flags, today = p.flags, self.today
        out: list[tuple[str, dict]] = []

        def record(
            code: str,
            jzlx: str,
            dbfl: str | None,
            start: date,
            end: date | None,
            amount_fen: int,
            stopped_for: str | None = None,
        ) -> None:
            start = max(start, p.birth_date)
            out.append(
                (
                    code,
                    {
                        "jzid": f"MZ{p.id:010d}{code}",
                        "sfzh": None,
                        "xm": None,
                        "jzlx": jzlx,
                        "dbfl": dbfl,
                        "ksrq": start,
                        "jsrq": end,
                        "yje": amount_fen,
                        "zt": "停保" if stopped_for else "在保",
                        "tbyy": stopped_for,
                        "swrq": None,
                        "jtrks": size,
                    },
                )
            )

        # 家庭人口数: the household's living members, one more or one less for a few
        # households (a birth, a death or a move the other side has not recorded yet).
        size = p.household_size if p.household_id is not None else 1
        if size and hu[7] < self.rates.household_size_rate:
            size = size + 1 if hu[3] < 0.5 or size == 1 else size - 1

        tekun = "tekun" in flags
        if tekun:
            record("02", "特困", None, self._days_ago(hu[1], 365, 8 * 365), None, 100 * (700 + int(hu[5] * 300)))
        new_grant = (
            not tekun and "dibao" not in flags and p.category != "monitored" and uh < self.rates.unmonitored_dibao_rate
        )
        if "dibao" in flags or new_grant:
            dbfl = "一类" if hu[0] < 0.2 else "二类" if hu[0] < 0.6 else "三类"
            monthly = {"一类": 620, "二类": 420, "三类": 220}[dbfl] + int(hu[5] * 100)
            if new_grant:  # granted in the last three months: the monitoring has not caught up
                record("01", "低保", dbfl, self._days_ago(hu[1], 5, 90), None, 100 * monthly)
            elif hu[4] < 0.03:
                end = self._days_ago(hu[6], 30, 300)
                record(
                    "01",
                    "低保",
                    dbfl,
                    end - timedelta(days=365 + int(hu[1] * 1500)),
                    end,
                    100 * monthly,
                    "收入超过标准",
                )
            else:
                record("01", "低保", dbfl, self._days_ago(hu[1], 365, 6 * 365), None, 100 * monthly)
        elif not tekun and uh >= 1 - EDGE_SHARE:
            record("03", "低保边缘", None, self._days_ago(hu[1], 60, 3 * 365), None, 0)
        if up < TEMPORARY_SHARE:
            day = self._days_ago(pu[3], 10, 365)
            record("04", "临时救助", None, day, day, 100 * (500 + 100 * int(pu[4] * 46)))
        if p.age_on(today) < 18 and p.relation not in ("head", "spouse") and p.alive and up >= 1 - ORPHAN_SHARE:
            record("05", "孤儿", None, self._days_ago(pu[5], 365, 5 * 365), None, 100 * (1200 + int(pu[6] * 300)))
        if not out:
            return []

        death = None
        if not p.alive:
            death = p.date_of_death or self._days_ago(pu[2], 30, 365)
        elif pu[2] < self.rates.death_rate:
            death = self._days_ago(pu[7], 1, 120)
        records = []
        for _code, rec in sorted(out, key=lambda c: c[0]):
            if death is not None:
                rec["ksrq"] = min(rec["ksrq"], death)
                rec["jsrq"] = death if rec["jsrq"] is None or rec["jsrq"] > death else rec["jsrq"]
                rec.update(zt="停保", tbyy="死亡", swrq=death)
            last = max(d for d in (rec["ksrq"], rec["jsrq"], rec["swrq"]) if d is not None)
            rec.update(
                ksrq=iso(rec["ksrq"]),
                jsrq=iso(rec["jsrq"]),
                swrq=iso(rec["swrq"]),
                yje=fen(rec["yje"]),
                gxsj=self._stamp(last, p.id),
            )
            records.append(rec)
        return records

    def _civil_stranger(self, s: Stranger, r: Draws) -> dict:
        day = self._days_ago(r.random(), 10, 365)
        temporary = r.random() < 0.5
        return {
            "jzid": f"MZ{s.id:010d}99",
            "sfzh": s.id_number,
            "xm": s.name,
            "jzlx": "临时救助" if temporary else "低保",
            "dbfl": None if temporary else "三类",
            "ksrq": iso(day),
            "jsrq": iso(day) if temporary else None,
            "yje": fen(100 * (800 if temporary else 260)),
            "zt": "在保",
            "tbyy": None,
            "swrq": None,
            "jtrks": 1,
            "gxsj": self._stamp(day, s.id),
        }

    # ---- medical insurance (医保) ---------------------------------------------------------

    def _medical(self, p: Person) -> list[dict]:
        r = rng(self.seed, self.kind, p.id)
        u = r.take(8)
        stamp = self.updated_at(p.id).isoformat(timespec="seconds")
        death = None
        if not p.alive:
            death = p.date_of_death or self._days_ago(u[5], 30, 365)
        elif u[0] < self.rates.death_rate:
            death = self._days_ago(u[5], 1, 120)
        alive = death is None and p.alive
        if alive and u[7] < self.rates.unenrolled_rate:
            return []  # left out of the enrolment roster altogether
        if death is not None:
            insured, status = False, "死亡注销"
        elif u[1] < self.rates.not_insured_rate:
            insured, status = False, "未参保"
        else:
            insured, status = True, "正常"
        # 家庭医生签约: the key groups are signed up, nearly all; others now and then.
        key_group = p.category in ("lifted_out", "monitored") or bool(p.flags & {"dibao", "tekun"})
        signed = u[6] >= self.rates.no_family_doctor_rate if key_group else u[6] < 0.3
        records = [
            {
                "key": f"CB{self.year}{p.id:010d}",
                "type": "enrolment",
                "id_no": None,
                "name": None,
                "year": self.year,
                "insured": insured,
                "scheme": SCHEME,
                "status": status,
                "death_date": iso(death),
                "family_doctor": "已签约" if signed else "未签约",
                "updated_at": stamp,
            }
        ]
        if death is not None:
            return records
        large = u[3] < self.rates.large_cost_rate
        share = self.rates.claims_rate * (4 if "serious_illness" in p.flags else 1)
        if not (large or u[2] < share):
            return records
        income_fen = int(p.net_income * 100) if p.net_income is not None else 0
        jan1 = date(self.year, 1, 1)
        span = (self.today - jan1).days
        for k in range(1 + int(u[4] * 3)):
            settled = jan1 + timedelta(days=int(r.random() * (span + 1)))
            if large and k == 0:
                # above 10,000 yuan and above the household's yearly income
                out_of_pocket = int(max(1_000_000, income_fen) * (1.1 + 0.5 * r.random()))
                total = int(out_of_pocket / (0.4 + 0.3 * r.random()))
            else:
                total = 30_000 + int(1_200_000 * r.random() ** 2)
                out_of_pocket = int(total * (0.25 + 0.3 * r.random()))
            records.append(
                {
                    "key": f"JS{self.year}{p.id:010d}{k + 1:02d}",
                    "type": "claim",
                    "id_no": None,
                    "name": None,
                    "year": self.year,
                    "settled_on": settled.isoformat(),
                    "hospital": r.choice(_HOSPITALS).format(county=self.county_name),
                    "total_cost": fen(total),
                    "out_of_pocket": fen(out_of_pocket),
                    "updated_at": stamp,
                }
            )
        return records

    def _medical_stranger(self, s: Stranger, r: Draws) -> dict:
        # The key sorts right after the host's enrolment (same updated_at, "CB…U" > "CB…").
        return {
            "key": f"CB{self.year}{s.id:010d}U",
            "type": "enrolment",
            "id_no": s.id_number,
            "name": s.name,
            "year": self.year,
            "insured": True,
            "scheme": SCHEME,
            "status": "正常",
            "death_date": None,
            "family_doctor": "未签约",
            "updated_at": self.updated_at(s.id).isoformat(timespec="seconds"),
        }

    # ---- education (教育) -----------------------------------------------------------------

    STUDYING: ClassVar[dict[str, str]] = {
        "primary": "小学",
        "junior_secondary": "初中",
        "senior_secondary": "高中",
        "vocational": "中职",
        "university": "高校",
    }

    def _stage(self, p: Person, age: int) -> str:
        stage = self.STUDYING.get(p.schooling)
        if stage == "中职" and (age >= 19 or "学院" in (p.school or "")):
            return "高校"  # 高职: vocational college
        if stage is None:  # dropped out or suspended: the stage of their age
            return "小学" if age <= 11 else "初中" if age <= 14 else "高中" if age <= 18 else "高校"
        return stage

    def _school(self, stage: str, r: Draws) -> str:
        return {
            "小学": f"{self.county_name}实验小学",
            "初中": f"{self.county_name}第二中学",
            "高中": f"{self.county_name}第一中学",
            "中职": f"{self.county_name}中等职业学校",
            "高校": "贵州大学",
        }[stage]

    def _education(self, p: Person) -> list[dict]:
        age = p.age_on(self.today)
        if not (6 <= age <= 22) or not p.alive or p.schooling in (None, "not_in_school", "preschool"):
            return []
        r = rng(self.seed, self.kind, p.id)
        u = r.take(6)
        if 6 <= age <= 15 and u[5] < self.rates.unlisted_pupil_rate:
            return []  # left out of the term's roster: nobody knows where the child is
        stage = self._stage(p, age)
        if p.schooling == "dropped_out":
            status = "辍学"
        elif p.schooling == "suspended":
            status = "休学"
        elif 6 <= age <= 15 and u[0] < self.rates.dropout_rate:
            status = "辍学"  # the school knows, the registry does not yet
        elif u[1] < 0.005:
            status = "转学"
        elif stage in ("高中", "中职") and age >= 18 and u[2] < 0.05:
            status = "毕业"
        else:
            status = "在读"
        aid, amount = None, None
        poor = p.category in ("lifted_out", "monitored") or bool(p.flags & {"dibao", "tekun"})
        if status == "在读":
            if poor and u[4] < self.rates.no_aid_rate:
                pass  # 教育资助 missed (seed 004 §9): a finding for monitored households
            elif stage in ("小学", "初中"):
                if poor:
                    aid, amount = "家庭经济困难寄宿生生活补助", 100_000 if stage == "小学" else 125_000
                elif u[3] < 0.6:
                    aid, amount = "营养改善计划", 80_000
            elif u[3] < (1.0 if poor else 0.08):
                aid, amount = "国家助学金", {"高中": 200_000, "中职": 200_000, "高校": 330_000}[stage]
        return [
            {
                "xjh": f"XJ{p.id:012d}",
                "sfzjh": None,
                "xsxm": None,
                "xq": self.term,
                "xxmc": p.school or self._school(stage, r),
                "xd": stage,
                "xjzt": status,
                "zzlx": aid,
                "zzje": fen(amount) if amount is not None else None,
            }
        ]

    def _education_stranger(self, s: Stranger, r: Draws) -> dict:
        age = self.today.year - s.birth_date.year
        stage = "小学" if age <= 12 else "初中" if age <= 15 else "高中"
        return {
            "xjh": f"XW{s.id:012d}",
            "sfzjh": s.id_number,
            "xsxm": s.name,
            "xq": self.term,
            "xxmc": self._school(stage, r),
            "xd": stage,
            "xjzt": "在读",
            "zzlx": None,
            "zzje": None,
        }

    # ---- housing (住建) -------------------------------------------------------------------

    def _housing(self, p: Person) -> list[dict]:
        """The appraisal of the household's house (农村住房安全性鉴定), keyed on its head."""
        if p.relation != "head" or not p.alive or p.household_id is None:
            return []
        r = rng(self.seed, self.kind, "h", p.household_id)
        u = r.take(5)
        appraised = self._days_ago(u[1], 30, 700)
        renovation, renovated = None, None
        if u[0] < self.rates.unsafe_house_rate:
            grade = "C级" if u[2] < 0.6 else "D级危房"
            if u[3] < 0.35:
                renovation, renovated = "已改造", iso(min(appraised + timedelta(days=90 + int(u[4] * 120)), self.today))
            else:
                renovation = "未改造"
        else:
            grade = "A级" if u[2] < 0.7 else "B级"
        return [
            {
                "fwbh": f"ZJ{p.id:010d}",
                "hzsfzh": None,
                "hzxm": None,
                "jddj": grade,
                "jdrq": iso(appraised),
                "fwdz": f"{self.county_name}{p.household_id % 97 + 1}组{p.household_id % 53 + 1}号",
                "gzzt": renovation,
                "jgrq": renovated,
                "gxsj": self._stamp(appraised, p.id),
            }
        ]

    def _housing_stranger(self, s: Stranger, r: Draws) -> dict:
        appraised = self._days_ago(r.random(), 30, 700)
        return {
            "fwbh": f"ZW{s.id:010d}",
            "hzsfzh": s.id_number,
            "hzxm": s.name,
            "jddj": "B级",
            "jdrq": iso(appraised),
            "fwdz": None,
            "gzzt": None,
            "jgrq": None,
            "gxsj": self._stamp(appraised, s.id),
        }

    # ---- problems -----------------------------------------------------------------------

    def _problems(self, p: Person, records: list[dict]) -> None:
        """Fill in the ID number and the name as the department holds them, with this
        person's defects; append an unknown person if one rides along."""
        rates = self.rates
        r = rng(self.seed, self.kind, p.id, "problems")
        u = r.take(8)
        number = p.id_number
        if u[0] < rates.bad_check_rate:
            wrong = [c for c in "0123456789X" if c != number[17]]
            number = number[:17] + wrong[int(u[6] * len(wrong))]
        elif 1900 <= p.birth_date.year <= 1999 and u[1] < rates.old_id_rate:
            number = number[:6] + number[8:17]  # the old 15-digit form: 2-digit year, no check
        if u[2] < rates.messy_id_rate:
            number = messy(number, u[7])
        name = p.name
        if u[4] < rates.name_mismatch_rate:
            name = other_name(name, u[6])
        id_field, name_field = ID_FIELD[self.kind], NAME_FIELD[self.kind]
        for rec in records:
            rec[id_field], rec[name_field] = number, name
        if u[5] < rates.malformed_record_rate:
            for rec in records:
                self._malform(rec, u[6])
        if u[3] < rates.unknown_rate:
            stranger = Stranger(
                p, rng(self.seed, self.kind, p.id, "stranger"), self.today, student=self.kind == "education"
            )
            build = {
                "civil-affairs": self._civil_stranger,
                "medical-insurance": self._medical_stranger,
                "education": self._education_stranger,
                "housing": self._housing_stranger,
            }[self.kind]
            extra = build(stranger, rng(self.seed, self.kind, p.id, "stranger-record"))
            # keep the key order: a medical stranger sorts right after the host's enrolment
            if self.kind == "medical-insurance":
                records.insert(1, extra)
            else:
                records.append(extra)

    def _malform(self, rec: dict, u: float) -> None:
        """One defect a worker must quarantine (the record's key stays intact)."""
        impossible = f"{self.year - 1}-02-30"
        if self.kind == "civil-affairs":
            choices = [("sfzh", None), ("ksrq", impossible), ("yje", "abc"), ("jzlx", "五保")]
        elif self.kind == "education":
            choices = [("sfzjh", None), ("xjzt", "在籍"), ("zzje", "abc"), ("xd", "幼儿园")]
        elif self.kind == "housing":
            choices = [("hzsfzh", None), ("jddj", "E级"), ("jdrq", impossible), ("jdrq", None)]
        elif rec["type"] == "enrolment":
            choices = [("id_no", None), ("status", "参保中断"), ("death_date", impossible)]
        else:
            choices = [("id_no", None), ("settled_on", impossible), ("out_of_pocket", "abc"), ("total_cost", "abc")]
        field, value = choices[int(u * len(choices))]
        rec[field] = value
        if field == "death_date":
            rec.update(status="死亡注销", insured=False)
        if field == "zzje" and rec["zzlx"] is None:
            rec["zzlx"] = "国家助学金"


def messy(number: str, u: float) -> str:
    """The number as a careless export writes it: full-width digits, a lower-case x, or
    stray spaces (a lower-case x needs an X: other numbers get spaces instead)."""
    if u < 0.4:
        return number.translate(_FULLWIDTH)
    if u < 0.6 and number.endswith("X"):
        return number[:-1] + "x"
    if u < 0.8:
        return f" {number[:6]} {number[6:]} "
    return number + "\u3000"


def other_name(name: str, u: float) -> str:
    i = len(name) - 1
    chars = [c for c in _OTHER_CHARS if c != name[i]]
    return name[:i] + chars[int(u * len(chars))]
