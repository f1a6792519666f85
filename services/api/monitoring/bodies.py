"""The bodies of clues and cases as the API shows them, from an ORM object (the routes) or
from a list's row (the lists' direct handlers, ``services.api.monitoring.listing``): one
shape for both, field by field and in the same order, so that both render the same bytes."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from services.core.accounts.roles import Permission
from services.core.accounts.security import Caller
from services.core.errors import Forbidden
from services.core.monitoring.deadlines import Deadline
from services.core.monitoring.enums import HEALTH_RISKS, CaseStatus, RiskType
from services.core.monitoring.machine import allowed
from services.core.monitoring.models import MonitoringCase, RiskClue
from services.core.monitoring.schemas import CaseOut, ClueOut, ClueReportOut

# A field of the item by its name: the attribute of an ORM object or the column of a row.
Get = Callable[[str], Any]


def _plain(schema, *computed: str) -> tuple[str, ...]:
    """The fields of ``schema`` taken as they are, in its order (``computed``: worked out
    here per caller instead)."""
    return tuple(f for f in schema.model_fields if f not in computed)


_CLUE_FIELDS = _plain(ClueOut, "risk_types", "next_deadline", "deadlines", "reports", "outcome")
_CASE_FIELDS = _plain(CaseOut, "risk_types", "next_deadline", "deadlines", "allowed_actions")
_REPORT_FIELDS = _plain(ClueReportOut, "risk_types")


def shows_health(caller: Caller) -> bool:
    return Permission.registry_health in caller.permissions


def risks_shown(risks: list[str], caller: Caller) -> list[str]:
    """Risk types that tell health (illness, disability) only for roles that may see health."""
    return risks if shows_health(caller) else [r for r in risks if r not in HEALTH_RISKS]


def no_health_filter(risk_type: RiskType | None, caller: Caller) -> None:
    if risk_type in HEALTH_RISKS and not shows_health(caller):
        raise Forbidden("health_risk_forbidden", field="risk_type")


def deadline_body(d: Deadline) -> dict:
    return {"kind": d.kind, "due": d.due, "provisional": d.provisional}


def _stored_next(get: Get) -> dict | None:
    due = get("next_deadline")
    if due is None:
        return None
    return {"kind": get("next_deadline_kind"), "due": due, "provisional": get("deadline_provisional")}


def _common(fields: tuple[str, ...], get: Get, caller: Caller, deadlines: list[Deadline] | None) -> dict[str, Any]:
    body = {f: get(f) for f in fields}
    body["risk_types"] = risks_shown(get("risk_types"), caller)
    body["next_deadline"] = _stored_next(get)
    body["deadlines"] = [deadline_body(d) for d in deadlines] if deadlines is not None else None
    return body


def _of_row(row: Any) -> Get:
    """The fields of a list's row (a driver record). A JSON column comes as its text from the
    read pool's plain connections, decoded from a connection of the engine's (its codec)."""
    values = dict(row.items())
    breaches = values["deadline_breaches"]
    if isinstance(breaches, str):
        values["deadline_breaches"] = orjson.loads(breaches)
    return values.__getitem__


def clue_body(
    clue: RiskClue,
    caller: Caller,
    deadlines: list[Deadline] | None = None,
    reports: list | None = None,
    outcome: str | None = None,
) -> dict[str, Any]:
    body = _common(_CLUE_FIELDS, partial(getattr, clue), caller, deadlines)
    if reports is not None:
        body["reports"] = [
            {**{f: getattr(r, f) for f in _REPORT_FIELDS}, "risk_types": risks_shown(r.risk_types, caller)}
            for r in reports
        ]
    body["outcome"] = outcome
    return body


def clue_item(row: Any, caller: Caller) -> dict[str, Any]:
    """A clue of the list from its row, as ``clue_body(clue, caller)``."""
    body = _common(_CLUE_FIELDS, _of_row(row), caller, None)
    body["outcome"] = None
    return body


def _case(get: Get, caller: Caller, deadlines: list[Deadline] | None) -> dict[str, Any]:
    body = _common(_CASE_FIELDS, get, caller, deadlines)
    body["allowed_actions"] = allowed(CaseStatus(get("status")))
    return body


def case_body(case: MonitoringCase, caller: Caller, deadlines: list[Deadline] | None = None) -> dict[str, Any]:
    return _case(partial(getattr, case), caller, deadlines)


def case_item(row: Any, caller: Caller) -> dict[str, Any]:
    """A case of the list from its row, as ``case_body(case, caller)``."""
    return _case(_of_row(row), caller, None)
