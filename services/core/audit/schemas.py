"""What a caller hands to ``record`` (``AuditRecord``) and what auditors read (``AuditEventOut``)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from services.core import idnumber
from services.core.audit.models import AuditResult

REDACTED = "[redacted]"

# Values under these keys (at any depth, any letter case) are replaced by ``REDACTED``:
# health text (read only with registry:health, never on a notice: docs/domain.md) and secrets.
DEFAULT_SENSITIVE_KEYS = frozenset(
    {"illness", "password", "password_hash", "secret", "token", "access_token", "id_hash"}
)

# A person's birth date: kept to its year ("1949-**-**"). Beside the masked ID number the full
# date would narrow the number down to a few hundred (docs/personal-data.md), and auditors
# may not reveal numbers; the date only ever changes with the ID number, whose change is
# recorded anyway.
BIRTH_DATE_KEYS = frozenset({"birth_date", "date_of_birth", "birthday"})

# An 18-character ID number (or an old 15-digit one) standing alone in any text.
_ID_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")


def _mask_text(text: str) -> str:
    return _ID_NUMBER_IN_TEXT.sub(lambda m: idnumber.mask(m.group(1)), text)


def redact(
    data: Mapping[str, Any] | None, sensitive_keys: Iterable[str] = DEFAULT_SENSITIVE_KEYS
) -> dict[str, Any] | None:
    """A copy of ``data`` fit for the audit trail: values under ``sensitive_keys`` replaced by
    ``"[redacted]"``, values under keys naming an ID number (``id_number``,
    ``head_id_number`` …) masked as the API shows them (``110105************``), birth dates
    kept to their year (``1949-**-**``), and any ID number found inside other text masked
    too. Nested dicts and lists are followed.

    ``AuditRecord`` applies it with the default keys to ``before``, ``after`` and
    ``detail``; pass more keys for a domain's own sensitive fields."""
    if data is None:
        return None
    keys = frozenset(k.lower() for k in sensitive_keys)
    return _redact_mapping(data, keys)


def _redact_mapping(data: Mapping[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).lower()
        if name in keys:
            out[key] = None if value is None else REDACTED
        elif "id_number" in name and isinstance(value, str):
            out[key] = idnumber.mask(idnumber.clean(value))
        elif name in BIRTH_DATE_KEYS and value is not None:
            out[key] = str(value)[:4] + "-**-**"
        else:
            out[key] = _redact_value(value, keys)
    return out


def _redact_value(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, Mapping):
        return _redact_mapping(value, keys)
    if isinstance(value, (list, tuple)):
        return [_redact_value(v, keys) for v in value]
    return value


def _cut(limit: int):
    """Free text is cut to the column's length rather than refused: an over-long user name
    in a failed login must still be recorded."""

    def cut(value: Any) -> Any:
        if value is None:
            return None
        text = str(value).strip()
        return _mask_text(text)[:limit] or None

    return BeforeValidator(cut)


Action = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
        max_length=64,
        description="What was done, `<domain>.<verb>` 动作",
        examples=["household.update"],
    ),
]


class AuditRecord(BaseModel):
    """One event for the audit trail. ``id``, ``at``, ``prev_hash`` and ``hash`` are set by the
    database. ``before``, ``after`` and ``detail`` go through ``redact`` on the way in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    result: AuditResult = AuditResult.success
    actor: str | None = Field(
        None,
        pattern=r"^[a-z]+:[A-Za-z0-9_.@-]{1,56}$",
        max_length=64,
        description='"user:12", "client:3"; null when unknown',
    )
    actor_name: Annotated[str | None, _cut(100)] = None
    client: Annotated[str | None, _cut(100)] = None
    role: str | None = Field(None, max_length=32)
    object_type: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    object_id: Annotated[str | None, _cut(100)] = None
    region_code: str | None = Field(None, pattern=r"^\d{2,12}$")
    status: int | None = Field(None, ge=100, le=599)
    request_id: Annotated[str | None, _cut(64)] = None
    ip: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    detail: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in ("before", "after", "detail"):
            if isinstance(data.get(name), Mapping):
                data[name] = redact(data[name])
        if data.get("region_code") == "":
            data["region_code"] = None
        if isinstance(data.get("object_id"), int):
            data["object_id"] = str(data["object_id"])
        raw_ip = data.get("ip")
        if raw_ip is not None:
            # A malformed address (a proxy header, say) must not lose the event: it is kept,
            # cut short, in ``detail`` instead of the typed column.
            try:
                data["ip"] = str(ipaddress.ip_address(str(raw_ip).strip()))
            except ValueError:
                data["ip"] = None
                data["detail"] = {**(data.get("detail") or {}), "ip_unparsed": _mask_text(str(raw_ip))[:100]}
        return data

    def row(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class AuditEventOut(BaseModel):
    """An event of the audit trail as auditors read it."""

    id: int = Field(description="Position in the chain (no gaps) 序号")
    at: datetime = Field(description="When, China time 时间")
    actor: str | None = Field(description='Who: "user:12", "client:3"; null when unknown 操作者')
    actor_name: str | None = Field(description="The actor's user name at the time 用户名")
    client: str | None = Field(description="The system client, if any 接入系统")
    role: str | None = Field(description="The actor's role 角色")
    action: str = Field(description="What was done 动作", examples=["household.update"])
    object_type: str | None = Field(description="Kind of object 对象类型", examples=["household"])
    object_id: str | None = Field(description="The object's id 对象标识")
    region_code: str | None = Field(description="Region of the object or of the actor 区划")
    result: AuditResult = Field(description="success / failure / denied 结果")
    status: int | None = Field(description="HTTP status 状态码")
    request_id: str | None = Field(description="X-Request-ID of the request 请求标识")
    ip: str | None = Field(description="Client address 来源地址")
    before: dict[str, Any] | None = Field(description="The object before a write (redacted) 修改前")
    after: dict[str, Any] | None = Field(description="The object after a write (redacted) 修改后")
    detail: dict[str, Any] | None = Field(description="Anything else worth keeping 详情")
    prev_hash: str = Field(description="Hash of the previous event, hex 前一条哈希")
    hash: str = Field(description="sha256(prev_hash || canonical text), hex 本条哈希")


class RevealCount(BaseModel):
    """How many complete ID numbers one user revealed in the period asked for."""

    actor: str = Field(description='Who: "user:12" 操作者')
    actor_name: str | None = Field(description="Username 用户名")
    role: str | None = Field(description="Role at the time 角色")
    reveals: int = Field(description="Complete ID numbers revealed 查看完整身份证号次数")
    refused: int = Field(description="Reveals refused by the rate limit (429) 因频率限制被拒次数")
    first_at: datetime = Field(description="First reveal or refusal in the period 首次")
    last_at: datetime = Field(description="Last reveal or refusal in the period 最近一次")


class RevealReport(BaseModel):
    since: datetime = Field(description="Start of the period counted (China time) 起始时间")
    until: datetime | None = Field(description="End of the period; null: up to now 截止时间")
    items: list[RevealCount] = Field(description="Most reveals first 按次数从多到少")
