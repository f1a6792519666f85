"""One department record, as received (an API item or a spreadsheet row), into canonical
form — or the reason it cannot be. Plain functions, no I/O: the HTTP pull and the
spreadsheet import both call ``Normaliser.normalise``.

Departments send full-width digits, stray spaces, old 15-digit ID numbers, dates as
2025-01-02, 2025/1/2, 20250102, 2025年1月2日 or Excel serial numbers, and amounts with
thousands separators or a yuan sign; all of that is accepted. What is not accepted becomes
a ``Rejected`` with a reason code (``missing.<field>``, ``invalid.<field>``,
``too_long.<field>``, ``control_character.<field>``, ``id_number.<defect>``) and the field
at fault; the record goes to quarantine.

Every value is bounded before it is converted (the ``MAX_*`` bounds below): what is staged must fit its
column (``dept_records.name`` is varchar(100), ``external_key`` varchar(200)), be storable
at all (PostgreSQL refuses NUL in text and jsonb) and be usable by the reconciliation's SQL
(``year`` is cast to int, amounts are summed as numeric(14,2)). A value outside the bounds
is the record's fault, never the run's: it is quarantined like any other bad value.
docs/sync-input-limits.md lists the limits and reason codes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from services.core.idnumber import InvalidIdNumber, mask
from services.core.idnumber import checked as checked_id
from services.core.idnumber import clean as clean_id
from services.core.sync.config import SourceConfig
from services.core.sync.enums import RecordType
from services.core.sync.headers import standard_headers
from services.core.sync.kinds import DEFAULT_TYPE, RECORD_TYPE_CHOICES, FieldSpec, fields_of
from services.core.timeutil import CHINA
from services.core.types import C1, INVISIBLE, SINGLE_LINE_FORBIDDEN

EXCEL_EPOCH = date(1899, 12, 30)
_DATE_PARTS = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")
# A dash alone (-, —, ——, －, –) is how a spreadsheet says "no value" in an amount, a date
# or a count: read as a blank cell (so a required field is still ``missing.<field>``).
_DASH = re.compile(r"^[-\u2010-\u2015\u2212\uff0d]{1,2}$")
DASH_BLANK_TYPES = ("decimal", "date", "int")
# A year written 2026年 or 2026年度 (参保年度).
_YEAR_SUFFIX = re.compile(r"\s*年度?$")
_SPACES = re.compile(r"\s+")
_MONEY_NOISE = str.maketrans("", "", ",，¥￥元 ")
CENT = Decimal("0.01")

# A record as a whole: no spreadsheet cell holds more than Excel's 32,767 characters, and
# no department record is anywhere near 256 KiB as JSON. Beyond these, quarantine keeps a
# shortened copy of the record (``evidence``) with the digest of the whole.
MAX_CELL_CHARS = 32_767
MAX_RECORD_BYTES = 256 * 1024
EVIDENCE = "_guardline_evidence"  # the marker key of such a shortened copy
EVIDENCE_CHARS = 1000  # of each value kept in it

# Bounds of values (characters after trimming). Keys and names are short by nature and
# land in varchar columns; free text (a hospital, a stop reason) gets more room; a date,
# number or code spelt in more than 64 characters is not one (and ``int()`` of a very long
# digit string raises instead of answering).
MAX_KEY_CHARS = 64  # each part of the external key; the whole key at most 200 (its column)
MAX_EXTERNAL_KEY_CHARS = 200
MAX_NAME_CHARS = 64
MAX_TEXT_CHARS = 500
MAX_VALUE_CHARS = 64  # dates, timestamps, amounts, numbers, enumerated codes
# Amounts below 10^10 yuan: one record's amount fits numeric(14,2) with room for the
# reconciliation to sum a household's records without overflowing it.
MAX_AMOUNT = Decimal("1e10")
INT_RANGE = (-(2**31), 2**31 - 1)  # PostgreSQL's int
INT_RANGES = {"year": (1900, 2100)}  # canonical fields with tighter bounds
YEARS = (1900, 2100)  # dates and timestamps
# C0 control characters but tab, line feed and carriage return, DEL and the C1 controls, and
# the invisible characters the API refuses too (bidirectional controls, zero-width
# characters: services.core.types.INVISIBLE): no department means them, NUL cannot be stored
# at all, and a name with a hidden override would display as another. Keys allow no line
# breaks or tabs either (the API's single-line rule).
_CONTROL = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f{C1}{INVISIBLE}]")
_KEY_CONTROL = SINGLE_LINE_FORBIDDEN
_LONG_INT = 10**MAX_VALUE_CHARS

# The quick path (``Normaliser._quick``): what a column's value reads as, kept per field for
# up to this many distinct values (a department repeats its codes, statuses and years).
_KEPT_READINGS = 4096
# A field whose kept readings fill up this many times holds values that hardly repeat (a
# name, a time of day, an amount): its values are read without looking them up first. An
# external key of one field and an ID number never repeat but in a duplicate: never kept.
_REFILLS = 3
_BLANK = object()  # no value (None, blank, a dash where a dash means none)
_ODD = object()  # some rule has something to say: the full path says it
_UNREAD = object()
_KEPT_ONLY = object()  # a value that passes but is not among the record's data
_FIELD, _KEY, _TYPE, _ID = range(4)
_SCALARS = frozenset((int, float, bool))


class Normal(NamedTuple):  # a tuple: made for each of a million records, as cheaply as can be
    external_key: str
    record_type: str
    id_number: str  # 18 characters, checked
    id_note: str | None  # "old_15" when converted from an old number
    name: str | None
    birth_date: date
    data: dict[str, Any]  # canonical fields, JSON-ready (dates ISO, amounts as strings)


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    field: str | None
    detail: str
    external_key: str | None = None
    id_masked: str | None = None  # an ID number that failed, masked (``masked_id``)


class BadValue(ValueError):
    pass


def header_key(name: Any) -> str:
    """How headers and field names are compared: NFKC (full-width to half-width), no
    spaces, case-folded; "身份证号码（必填）" keeps its words, so aliases list such forms."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", str(name))).casefold()


def clean_text(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str and value.isascii():
        return value.strip() or None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return text or None


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return _in_years(value.date())
    if isinstance(value, date):
        return _in_years(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _excel_serial(value)
    text = clean_text(value) or ""
    if len(text) > MAX_VALUE_CHARS:
        raise BadValue("too long for a date")
    if text.isdigit() and len(text) == 8:
        return _checked(int(text[:4]), int(text[4:6]), int(text[6:]))
    if re.fullmatch(r"\d{1,5}(\.\d+)?", text):
        return _excel_serial(float(text))
    m = _DATE_PARTS.match(text.split("T")[0].split(" ")[0])
    if not m:
        raise BadValue("not a date")
    return _checked(int(m[1]), int(m[2]), int(m[3]))


def _in_years(day: date) -> date:
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise BadValue("date out of range")
    return day


def _checked_iso(day: date) -> str:
    return _in_years(day).isoformat()


def _excel_serial(number: float) -> date:
    if not 1 <= number < 100_000:
        raise BadValue("not a date")
    return _in_years(EXCEL_EPOCH + timedelta(days=int(number)))


def _checked(y: int, m: int, d: int) -> date:
    try:
        day = date(y, m, d)
    except ValueError:
        raise BadValue("impossible date") from None
    return _in_years(day)


def parse_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        _in_years(value.date())
        return value if value.tzinfo else value.replace(tzinfo=CHINA)
    text = clean_text(value) or ""
    if len(text) > MAX_VALUE_CHARS:
        raise BadValue("too long for a time")
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        return datetime.combine(parse_date(text), datetime.min.time(), CHINA)
    _in_years(moment.date())
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise BadValue("not an amount")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, int) and abs(value) >= MAX_AMOUNT:  # before str(): it refuses huge ints
        raise BadValue("amount out of range")
    text = (clean_text(value) or "").translate(_MONEY_NOISE)
    if len(text) > MAX_VALUE_CHARS:
        raise BadValue("too long for an amount")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise BadValue("not an amount") from None
    if not amount.is_finite():
        raise BadValue("not an amount")
    if abs(amount) >= MAX_AMOUNT:
        raise BadValue("amount out of range")
    return amount.quantize(CENT)


def parse_int(value: Any, bounds: tuple[int, int] = INT_RANGE) -> int:
    if isinstance(value, bool):
        raise BadValue("not a number")
    if isinstance(value, int):
        number = value
    else:
        text = clean_text(value) or ""
        if len(text) > MAX_VALUE_CHARS or not re.fullmatch(r"[+-]?\d+(\.0+)?", text):
            raise BadValue("not a number")
        number = int(text.split(".")[0])
    if not bounds[0] <= number <= bounds[1]:
        raise BadValue("number out of range")
    return number


class Normaliser:
    """Built once per source: header lookup and value maps are prepared, then each record
    costs a few dictionary lookups."""

    def __init__(self, source: SourceConfig):
        self.source = source
        self.specs: dict[str, FieldSpec] = fields_of(source.kind)
        # Header → canonical field: the source's own names first, then the headers every
        # department writes (``headers.STANDARD_HEADERS``, also what Guardline's exports
        # write). A column under a configured name is preferred to one under a standard
        # header for the same field (``_rank``).
        self._aliases: dict[str, str] = {}
        self._rank: dict[str, int] = {}
        for canonical, names in source.fields.items():
            for name in [canonical, *names]:
                if self._aliases.setdefault(header_key(name), canonical) == canonical:
                    self._rank.setdefault(header_key(name), 0)
        for canonical in self.specs if source.kind.value != "generic" else source.fields:
            for name in standard_headers(source.kind, canonical):
                if self._aliases.setdefault(header_key(name), canonical) == canonical:
                    self._rank.setdefault(header_key(name), 1)
        self._choices: dict[str, dict[str, str]] = {}
        for canonical, spec in self.specs.items():
            merged = {header_key(k): v for k, v in spec.choices.items()}
            merged.update({header_key(k): v for k, v in source.values.get(canonical, {}).items()})
            self._choices[canonical] = merged
        if source.kind in RECORD_TYPE_CHOICES:
            self._choices["record_type"] = {header_key(k): v for k, v in RECORD_TYPE_CHOICES[source.kind].items()}
        self._default_type = DEFAULT_TYPE[source.kind]
        self._layouts: dict[tuple, list[tuple[str, str]]] = {}
        self._single_key = source.key[0] if len(source.key) == 1 else None
        self._generic = source.kind.value == "generic"
        # One converter per canonical field, chosen once (record_type is handled apart).
        self._converters = {c: self._converter(c, spec) for c, spec in self.specs.items() if c != "record_type"}
        self._limits = {c: MAX_TEXT_CHARS if spec.type == "text" else MAX_VALUE_CHARS for c, spec in self.specs.items()}
        self._limits["name"] = MAX_NAME_CHARS
        self._limits["id_number"] = MAX_VALUE_CHARS
        self._required = {t: [c for c, spec in self.specs.items() if t in spec.required_for] for t in RecordType}
        self._dash_blank = frozenset(c for c, spec in self.specs.items() if spec.type in DASH_BLANK_TYPES)
        self._required_sets = {t: frozenset(cs) for t, cs in self._required.items()}
        # The quick path (``_quick``): not for a generic source (its fields are free), nor
        # where the key is made of the ID number or the record type.
        self._quick_ok = not self._generic and not {"id_number", "record_type"} & set(source.key)
        self._plans: dict[tuple, tuple[list[tuple], frozenset[str]]] = {}
        self._readers: dict[str, tuple] = {}
        self._refills: dict[str, int] = {}  # field → how often its kept readings filled up

    def canonical_of(self, header: Any) -> str | None:
        return self._aliases.get(header_key(header))

    def headers_of(self, canonical: str) -> list[str]:
        """The names this source reads ``canonical`` under, configured ones first."""
        names = [*self.source.fields.get(canonical, ()), *standard_headers(self.source.kind, canonical)]
        return list(dict.fromkeys(names))

    def knows(self, headers) -> int:
        """How many of ``headers`` this source maps (to find a spreadsheet's header row)."""
        return sum(1 for h in headers if h is not None and self.canonical_of(h))

    def _layout(self, raw: dict) -> list[tuple[str, str]]:
        keys = tuple(raw)
        layout = self._layouts.get(keys)
        if layout is None:
            chosen: dict[str, tuple[int, Any]] = {}  # canonical → (rank, key): the best column
            for k in keys:
                hk = header_key(k)
                canonical = self._aliases.get(hk)
                if canonical and (canonical not in chosen or self._rank[hk] < chosen[canonical][0]):
                    chosen[canonical] = (self._rank[hk], k)
            layout = [(k, canonical) for canonical, (_, k) in chosen.items()]
            if len(self._layouts) < 64:
                self._layouts[keys] = layout
        return layout

    def normalise(self, raw: dict) -> Normal | Rejected:
        """The record in canonical form, or why it cannot be. Most records are plain: the
        quick path reads those (and only those) in one pass; any other goes through every
        rule in order (``_checked``), which names the first that fails."""
        if self._quick_ok:
            quick = self._quick(raw)
            if quick is not None:
                return quick
        return self._checked(raw)

    def _checked(self, raw: dict) -> Normal | Rejected:
        values: dict[str, Any] = {}
        for key, canonical in self._layout(raw):
            value = raw[key]
            if value is None:
                continue
            if type(value) is str:
                value = value.strip()
                if not value:
                    continue
                if len(value) <= 2 and canonical in self._dash_blank and _DASH.match(value):
                    continue  # a dash: no value
            values[canonical] = value
        keys = self.source.key
        for canonical in keys:
            problem = self._screen(values.get(canonical), _KEY_CONTROL, MAX_KEY_CHARS)
            if problem:
                return Rejected(f"{problem[0]}.{canonical}", canonical, problem[1], None)
        if self._single_key:
            part = values.get(self._single_key)
            external_key = clean_text(part) if part is not None else None
        else:
            parts = [clean_text(values.get(k)) for k in self.source.key]
            present = [p for p in parts if p]
            external_key = "|".join(present) if len(present) == len(parts) else None
        if external_key is None:
            missing = next(k for k in self.source.key if not clean_text(values.get(k)))
            return Rejected(f"missing.{missing}", missing, "the record has no key", None)
        if len(external_key) > MAX_EXTERNAL_KEY_CHARS:
            return Rejected(
                f"too_long.{keys[0]}",
                keys[0],
                f"the key has {len(external_key)} characters (at most {MAX_EXTERNAL_KEY_CHARS})",
                None,
            )
        for canonical, value in values.items():
            if canonical not in keys:
                problem = self._screen(value, _CONTROL, self._limits.get(canonical, MAX_TEXT_CHARS))
                if problem:
                    return Rejected(f"{problem[0]}.{canonical}", canonical, problem[1], external_key)

        record_type = self._default_type
        if "record_type" in values or record_type is None:
            given = values.get("record_type", "")
            choices = self._choices["record_type"]
            found = choices.get(given) if type(given) is str else None
            if found is None:
                found = choices.get(header_key(given))
            if found is None:
                return Rejected(
                    "invalid.record_type",
                    "record_type",
                    f"unknown record type {_shape(values.get('record_type'))}",
                    external_key,
                )
            record_type = _RECORD_TYPES[found]

        raw_id = values.pop("id_number", None)
        if raw_id is None:
            return Rejected("missing.id_number", "id_number", "the record has no ID number", external_key)
        text_id = _id_text(raw_id)
        try:
            id_number, born = checked_id(text_id, allow_15=True)
        except InvalidIdNumber as exc:
            return Rejected(
                f"id_number.{exc.code}", "id_number", f"{exc} ({_id_shape(text_id)})", external_key, masked_id(text_id)
            )
        note = _id_note(text_id)

        data: dict[str, Any] = {}
        for canonical in self._required.get(record_type, ()):
            if canonical not in values:
                return Rejected(f"missing.{canonical}", canonical, f"{canonical} is required", external_key)
        converters = self._converters
        for canonical, value in values.items():
            convert = converters.get(canonical)
            if convert is None:
                continue
            try:
                data[canonical] = convert(value)
            except BadValue as exc:
                return Rejected(f"invalid.{canonical}", canonical, f"{exc}: {_shape(value)}", external_key)
        if self._generic:
            for canonical, value in values.items():
                if canonical not in data and canonical not in ("id_number", "record_type"):
                    data[canonical] = clean_text(value)
        name = data.pop("name", None)
        if name is not None:
            name = "".join(name.split())
            if len(name) > MAX_NAME_CHARS:  # NFKC can lengthen: one character may become 18
                return Rejected(
                    "too_long.name",
                    "name",
                    f"{len(name)} characters once normalised (at most {MAX_NAME_CHARS})",
                    external_key,
                )
        data.pop("record_id", None)
        return Normal(external_key, record_type.value, id_number, note, name, born, data)

    def _quick(self, raw: dict) -> Normal | None:
        """A plain record in one pass, or None when any rule has something to say of it (a
        blank required field, a value too long or not of its type, a bad ID number …): the
        full path (``_checked``) then reads it and names the reason. What each column's value
        reads as depends on the value and the field alone, so it is kept per field
        (``_reader``); a plain record is mostly dictionary lookups."""
        plan = self._plans.get(tuple(raw))
        if plan is None:
            plan = self._plan(raw)
        steps, mapped = plan
        data: dict[str, Any] = {}
        parts: dict[str, str] = {}
        blank: list[str] = []
        record_type = self._default_type
        raw_id: Any = None
        got: Any
        for key, canonical, role, kept, keep, read in steps:
            value = raw[key]
            kind = type(value)
            if value is None:
                blank.append(canonical)
                continue
            if not keep or (kind is not str and kind not in _SCALARS):
                got = read(value)
            else:
                seen = value if kind is str else (kind, value)  # by type and value: 1 == True == 1.0
                got = kept.get(seen, _UNREAD)
                if got is _UNREAD:
                    got = read(value)
                    if len(kept) < keep:
                        kept[seen] = got
                    else:
                        self._refilled(canonical, kept)
            if got is _ODD:
                return None
            if got is _BLANK:
                blank.append(canonical)
            elif role == _FIELD:
                if got is not _KEPT_ONLY:
                    data[canonical] = got
            elif role == _KEY:
                parts[canonical] = got[0]
                if got[1] is not _KEPT_ONLY:
                    data[canonical] = got[1]
            elif role == _TYPE:
                record_type = got
            else:
                raw_id = got
        if record_type is None or raw_id is None:
            return None
        required = self._required_sets[record_type]
        if not required <= mapped or not required.isdisjoint(blank):
            return None
        if self._single_key:
            external_key = parts.get(self._single_key)
            if external_key is None:
                return None
        else:
            if len(parts) != len(self.source.key):
                return None
            external_key = "|".join([parts[k] for k in self.source.key])
        if len(external_key) > MAX_EXTERNAL_KEY_CHARS:
            return None
        text_id = _id_text(raw_id)
        try:
            id_number, born = checked_id(text_id, allow_15=True)
        except InvalidIdNumber:
            return None
        name = data.pop("name", None)
        if name is not None:
            name = "".join(name.split())
            if len(name) > MAX_NAME_CHARS:
                return None
        data.pop("record_id", None)
        note = None if len(text_id) == 18 else _id_note(text_id)
        return Normal(external_key, record_type.value, id_number, note, name, born, data)

    def _plan(self, raw: dict) -> tuple[list[tuple], frozenset[str]]:
        """The quick path's steps for records with ``raw``'s columns — for each mapped
        column (``_layout``): its field, role, kept readings and reader — and the fields
        they map."""
        steps = []
        for key, canonical in self._layout(raw):
            role, kept, read = self._reader(canonical)
            unique = (
                role == _ID
                or (role == _KEY and self._single_key is not None)
                or self._refills.get(canonical, 0) >= _REFILLS
            )
            steps.append((key, canonical, role, kept, 0 if unique else _KEPT_READINGS, read))
        plan = (steps, frozenset(canonical for _, canonical, *_ in steps))
        if len(self._plans) < 64:
            self._plans[tuple(raw)] = plan
        return plan

    def _refilled(self, canonical: str, kept: dict) -> None:
        """A field's kept readings are full and a value was not among them: they start again,
        and once they have filled ``_REFILLS`` times the field's values are no longer looked
        up (the plans are made again without it). Only what is looked up first changes:
        a value reads the same either way."""
        kept.clear()
        refills = self._refills[canonical] = self._refills.get(canonical, 0) + 1
        if refills >= _REFILLS:
            self._plans.clear()

    def _reader(self, canonical: str) -> tuple:
        """(role, kept readings, read) of a field for the quick path: ``read(value)`` is
        ``_BLANK`` for no value, ``_ODD`` when any rule of the full path has something to
        say of the value (too long, a control character, not of the field's type), else
        what the record takes from it — the converted value (``_KEPT_ONLY`` for a field
        without a converter), for a key also its part of the external key, for the record
        type the type, for the ID number the value to parse."""
        found = self._readers.get(canonical)
        if found is not None:
            return found
        is_key = canonical in self.source.key
        role = _TYPE if canonical == "record_type" else _ID if canonical == "id_number" else _KEY if is_key else _FIELD
        control, limit = (
            (_KEY_CONTROL, MAX_KEY_CHARS) if is_key else (_CONTROL, self._limits.get(canonical, MAX_TEXT_CHARS))
        )
        dash = canonical in self._dash_blank
        convert = self._converters.get(canonical)
        choices = self._choices.get("record_type", {})
        screen = self._screen

        def read(value: Any) -> Any:
            if type(value) is str:
                value = value.strip()
                if not value or (dash and len(value) <= 2 and _DASH.match(value)):
                    return _BLANK
                if len(value) > limit or not value.isprintable():  # ``_screen``'s str cases
                    return _ODD
            elif screen(value, control, limit):
                return _ODD
            try:
                if role == _ID:
                    return value
                if role == _TYPE:
                    found = choices.get(value) if type(value) is str else None
                    if found is None:
                        found = choices.get(header_key(value))
                    return _ODD if found is None else _RECORD_TYPES[found]
                converted = _KEPT_ONLY if convert is None else convert(value)
                if role == _KEY:
                    part = converted if convert is clean_text else clean_text(value)
                    return (part, converted) if part else _ODD
                return converted
            except Exception:  # whatever it is, the full path meets it the same way
                return _ODD

        found = self._readers[canonical] = (role, {}, read)
        return found

    @staticmethod
    def _screen(value: Any, control: re.Pattern, limit: int) -> tuple[str, str] | None:
        """(reason family, detail) when ``value`` is too long for its field or holds control
        characters; checked before any conversion, so no converter meets such a value."""
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) >= _LONG_INT:  # str() of a huge int raises; none is a real value
                return "too_long", f"a number of more than {MAX_VALUE_CHARS} digits"
            return None
        if type(value) is not str:
            return None
        if len(value) > limit:
            return "too_long", f"{len(value)} characters (at most {limit})"
        if value.isprintable():  # the usual case, in C: no control character
            return None
        found = control.search(value)
        if found:
            return "control_character", (
                f"control or invisible character U+{ord(found.group()):04X} at position {found.start()}"
            )
        return None

    def _converter(self, canonical: str, spec: FieldSpec):
        if spec.type == "text":
            return clean_text
        if spec.type == "date":
            return _date_text
        if spec.type == "timestamp":
            return _timestamp_text
        if spec.type == "decimal":
            return lambda value: str(parse_decimal(value))
        if spec.type == "int":
            bounds = INT_RANGES.get(canonical, INT_RANGE)
            if canonical == "year":
                return lambda value: parse_int(_year_text(value), bounds)
            return lambda value: parse_int(value, bounds)
        if spec.type in ("enum", "bool"):
            choices = self._choices[canonical]
            as_bool = spec.type == "bool"

            def choose(value: Any) -> Any:
                if isinstance(value, bool):
                    value = "true" if value else "false"
                found = choices.get(value) if type(value) is str else None
                if found is None:
                    found = choices.get(header_key(value))
                if found is None:
                    raise BadValue(f"unknown value for {canonical}")
                return found == "true" if as_bool else found

            return choose
        raise ValueError(f"unknown field type {spec.type}")  # kinds.py is fixed


def _id_text(raw_id: Any) -> str:
    """An ID number as text: a number from a spreadsheet cell without its ".0"."""
    if type(raw_id) is str:
        return raw_id
    return f"{raw_id:.0f}" if isinstance(raw_id, float) else str(raw_id)


def _id_note(text_id: str) -> str | None:
    return "old_15" if len(text_id) != 18 and len(clean_id(text_id)) == 15 else None


def _year_text(value: Any) -> Any:
    """2026年 and 2026年度 as 2026 (a year field only)."""
    if type(value) is str and "年" in value and len(value) <= MAX_VALUE_CHARS:
        return _YEAR_SUFFIX.sub("", clean_text(value) or "")
    return value


def _date_text(value: Any) -> str:
    if type(value) is str and len(value) == 10 and value[4] == "-":
        try:  # the common, already-ISO case
            return _checked_iso(date.fromisoformat(value))
        except ValueError:
            pass
    return parse_date(value).isoformat()


def _timestamp_text(value: Any) -> str:
    """An instant as ``isoformat`` writes it, with China's offset where it has none."""
    if type(value) is str and _is_iso_instant(value):
        try:  # the common case, written as isoformat writes it: the value itself, once checked
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            _in_years(moment.date())
            return value
    return parse_timestamp(value).isoformat()


def _is_iso_instant(text: str) -> bool:
    """Whether ``text`` has the shape ``isoformat`` gives an instant with an offset in whole
    minutes: ``YYYY-MM-DDTHH:MM:SS±HH:MM``. Once ``fromisoformat`` accepts such a text,
    writing it again gives it back unchanged — but for an offset's minutes past 59
    (``+08:60`` is read as ``+09:00``) and ``-00:00`` (written ``+00:00``), excluded here."""
    return (
        len(text) == 25
        and text[10] == "T"
        and text[19] in "+-"
        and text[22] == ":"
        and text[23] < "6"
        and text[4] == "-" == text[7]
        and text[13] == ":" == text[16]
        and text.isascii()
        and text[19:] != "-00:00"
    )


_RECORD_TYPES = {t.value: t for t in RecordType}


def _shape(value: Any) -> str:
    """A value for a quarantine reason, with anything long enough to be an ID number masked."""
    from services.core.idnumber import redact

    if isinstance(value, int) and abs(value) >= _LONG_INT:
        return "a number of more than 64 digits"
    text = value[:60] if type(value) is str else str(value)[:60]
    return repr(redact(text))


def masked_id(value: str) -> str:
    """An ID number that failed its checks, cleaned and masked like a valid one (only the
    first 6 characters); a longer value is cut to 18 characters, so it fits ``id_masked``."""
    return mask(clean_id(value)[:18])


def _id_shape(value: str) -> str:
    text = "".join(unicodedata.normalize("NFKC", value).split())
    return f"{len(text)} characters"


def evidence(reason: str, field: str | None, detail: str, digest: bytes, size: int, values: Any = None) -> dict:
    """What quarantine keeps of a record too large to keep whole: the reason, the SHA-256
    of the record as received (so the same record received again is the same quarantine
    row) and its values cut to ``EVIDENCE_CHARS`` each. Re-processing recognises the marker
    and leaves it in quarantine: a shortened record must never pass for the real one."""
    return {
        EVIDENCE: {"reason": reason, "field": field, "detail": detail, "sha256": digest.hex(), "size": size},
        "values": _shortened(values, 0),
    }


def _shortened(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        value = value.replace("\x00", "")
        return value if len(value) <= EVIDENCE_CHARS else value[:EVIDENCE_CHARS] + f"…[{len(value)} characters]"
    if isinstance(value, dict):
        if depth > 3:
            return "…"
        items = list(value.items())
        kept = {_shortened(str(k), depth + 1): _shortened(v, depth + 1) for k, v in items[:200]}
        if len(items) > 200:
            kept["…"] = f"{len(items) - 200} more"
        return kept
    if isinstance(value, (list, tuple)):
        return "…" if depth > 3 else [_shortened(v, depth + 1) for v in value[:200]]
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else _shape(value)
    return _shortened(str(value), depth)


def oversized(raw: dict, normaliser: Normaliser) -> tuple[str, str | None, str] | None:
    """(reason, field, detail) when a value of ``raw`` exceeds ``MAX_CELL_CHARS``: the
    record is kept as ``evidence`` only. The column is named (headers are not personal)."""
    for key, value in raw.items():
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            canonical = normaliser.canonical_of(key)
            column = _shape(key)
            detail = f"column {column}: {len(value)} characters (at most {MAX_CELL_CHARS})"
            return (f"too_long.{canonical}" if canonical else "too_long.record"), canonical, detail
    return None


def control_character_column(raw: Any) -> str | None:
    """The first top-level column of ``raw`` whose value (or name) holds NUL."""
    if not isinstance(raw, dict):
        return None
    for key, value in raw.items():
        if "\x00" in str(key) or _holds_nul(value, 0):
            return _shape(str(key).replace("\x00", ""))
    return None


def _holds_nul(value: Any, depth: int) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 8:
        return False
    if isinstance(value, dict):
        return any("\x00" in str(k) or _holds_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_nul(v, depth + 1) for v in value)
    return False
