"""One department record, as received (an API item or a spreadsheet row), into canonical
form — or the reason it cannot be. Plain functions, no I/O: the HTTP pull and the
spreadsheet import both call ``Normaliser.normalise``.

Departments send full-width digits, stray spaces, old 15-digit ID numbers, dates as
2025-01-02, 2025/1/2, 20250102, 2025年1月2日 or Excel serial numbers, and amounts with
thousands separators or a yuan sign; all of that is accepted. What is not accepted becomes
a ``Rejected`` with a reason code (``missing.<field>``, ``invalid.<field>``,
``id_number.<defect>``) and the field at fault; the record goes to quarantine.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from services.core.idnumber import InvalidIdNumber, clean as clean_id, mask, normalise as normalise_id
from services.core.sync.config import SourceConfig
from services.core.sync.enums import RecordType
from services.core.sync.kinds import DEFAULT_TYPE, RECORD_TYPE_CHOICES, FieldSpec, fields_of
from services.core.timeutil import CHINA

EXCEL_EPOCH = date(1899, 12, 30)
_DATE_PARTS = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_SPACES = re.compile(r"\s+")
_MONEY_NOISE = str.maketrans("", "", ",，¥￥元 ")
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Normal:
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
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _excel_serial(value)
    text = clean_text(value) or ""
    if text.isdigit() and len(text) == 8:
        return _checked(int(text[:4]), int(text[4:6]), int(text[6:]))
    if re.fullmatch(r"\d{1,5}(\.\d+)?", text):
        return _excel_serial(float(text))
    m = _DATE_PARTS.match(text.split("T")[0].split(" ")[0])
    if not m:
        raise BadValue("not a date")
    return _checked(int(m[1]), int(m[2]), int(m[3]))


def _checked_iso(day: date) -> str:
    if not 1900 <= day.year <= 2100:
        raise BadValue("date out of range")
    return day.isoformat()


def _excel_serial(number: float) -> date:
    if not 1 <= number < 100_000:
        raise BadValue("not a date")
    return EXCEL_EPOCH + timedelta(days=int(number))


def _checked(y: int, m: int, d: int) -> date:
    try:
        day = date(y, m, d)
    except ValueError:
        raise BadValue("impossible date") from None
    if not 1900 <= y <= 2100:
        raise BadValue("date out of range")
    return day


def parse_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=CHINA)
    text = clean_text(value) or ""
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        return datetime.combine(parse_date(text), datetime.min.time(), CHINA)
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise BadValue("not an amount")
    if isinstance(value, float):
        value = repr(value)
    text = (clean_text(value) or "").translate(_MONEY_NOISE)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise BadValue("not an amount") from None
    if not amount.is_finite() or abs(amount) >= Decimal("1e12"):
        raise BadValue("not an amount")
    return amount.quantize(CENT)


def parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise BadValue("not a number")
    if isinstance(value, int):
        return value
    text = clean_text(value) or ""
    if re.fullmatch(r"[+-]?\d+(\.0+)?", text):
        return int(text.split(".")[0])
    raise BadValue("not a number")


class Normaliser:
    """Built once per source: header lookup and value maps are prepared, then each record
    costs a few dictionary lookups."""

    def __init__(self, source: SourceConfig):
        self.source = source
        self.specs: dict[str, FieldSpec] = fields_of(source.kind)
        self._aliases: dict[str, str] = {}
        for canonical, names in source.fields.items():
            for name in [canonical, *names]:
                self._aliases.setdefault(header_key(name), canonical)
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
        self._required = {t: [c for c, spec in self.specs.items() if t in spec.required_for] for t in RecordType}

    def canonical_of(self, header: Any) -> str | None:
        return self._aliases.get(header_key(header))

    def knows(self, headers) -> int:
        """How many of ``headers`` this source maps (to find a spreadsheet's header row)."""
        return sum(1 for h in headers if h is not None and self.canonical_of(h))

    def _layout(self, raw: dict) -> list[tuple[str, str]]:
        keys = tuple(raw)
        layout = self._layouts.get(keys)
        if layout is None:
            layout = []
            for k in keys:
                canonical = self.canonical_of(k)
                if canonical and all(c != canonical for _, c in layout):
                    layout.append((k, canonical))
            if len(self._layouts) < 64:
                self._layouts[keys] = layout
        return layout

    def normalise(self, raw: dict) -> Normal | Rejected:
        values: dict[str, Any] = {}
        for key, canonical in self._layout(raw):
            value = raw[key]
            if value is None:
                continue
            if type(value) is str:
                value = value.strip()
                if not value:
                    continue
            values[canonical] = value
        if self._single_key:
            part = values.get(self._single_key)
            external_key = clean_text(part) if part is not None else None
        else:
            parts = [clean_text(values.get(k)) for k in self.source.key]
            external_key = "|".join(parts) if all(parts) else None
        if external_key is None:
            missing = next(k for k in self.source.key if not clean_text(values.get(k)))
            return Rejected(f"missing.{missing}", missing, "the record has no key", None)

        record_type = self._default_type
        if "record_type" in values or record_type is None:
            given = values.get("record_type", "")
            choices = self._choices["record_type"]
            found = choices.get(given) if type(given) is str else None
            if found is None:
                found = choices.get(header_key(given))
            if found is None:
                return Rejected("invalid.record_type", "record_type",
                                f"unknown record type {_shape(values.get('record_type'))}", external_key)
            record_type = _RECORD_TYPES[found]

        raw_id = values.pop("id_number", None)
        if raw_id is None:
            return Rejected("missing.id_number", "id_number", "the record has no ID number", external_key)
        text_id = raw_id if type(raw_id) is str else (f"{raw_id:.0f}" if isinstance(raw_id, float) else str(raw_id))
        try:
            parsed = normalise_id(text_id, allow_15=True)
        except InvalidIdNumber as exc:
            return Rejected(f"id_number.{exc.code}", "id_number", f"{exc} ({_id_shape(text_id)})", external_key,
                            masked_id(text_id))
        note = "old_15" if len(text_id) != 18 and len(clean_id(text_id)) == 15 else None

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
        data.pop("record_id", None)
        return Normal(external_key, record_type.value, parsed.value, note, name, parsed.birth_date, data)

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
            return parse_int
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


def _date_text(value: Any) -> str:
    if type(value) is str and len(value) == 10 and value[4] == "-":
        try:  # the common, already-ISO case
            return _checked_iso(date.fromisoformat(value))
        except ValueError:
            pass
    return parse_date(value).isoformat()


def _timestamp_text(value: Any) -> str:
    if type(value) is str and len(value) == 25:
        try:
            return datetime.fromisoformat(value).isoformat()
        except ValueError:
            pass
    return parse_timestamp(value).isoformat()


_RECORD_TYPES = {t.value: t for t in RecordType}


def _shape(value: Any) -> str:
    """A value for a quarantine reason, with anything long enough to be an ID number masked."""
    from services.core.idnumber import redact

    text = str(value)
    return repr(redact(text[:60]))


def masked_id(value: str) -> str:
    """An ID number that failed its checks, cleaned and masked like a valid one (first 6 and
    last 4 characters); a longer value keeps 8 masked characters in between, so it fits
    the 18 characters of ``id_masked`` and never shows more than 10 of the value."""
    text = clean_id(value)
    if len(text) > 18:
        text = text[:6] + "*" * 8 + text[-4:]
    return mask(text)


def _id_shape(value: str) -> str:
    text = "".join(unicodedata.normalize("NFKC", value).split())
    return f"{len(text)} characters"
