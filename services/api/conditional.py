"""Cache validation: ``If-None-Match`` on a GET whose answer carries an ETag (RFC 9110
section 13.1.2), and where the contract says so.

``not_modified`` runs in one place, ``GuardlineRoute``'s handler, after the endpoint has
answered (the read happens anyway: the ETag is the version of what was read). When the
answer is a 200 with an ETag that the header matches — weak comparison, ``*``, or one of a
list — the client gets 304 Not Modified instead: no body, the ETag and the caching headers
of the 200 (``security_headers`` adds its own to every response, a 304 too). Anything but a
200 is answered as it is: out of scope is still 404.

A sensitive read answered with 304 is still recorded in the audit trail: the caller asked
for the record and holds a copy that is now confirmed current, which is an access the
auditor must see, whatever the bytes on the wire.

``ETAGGED`` names the operations whose successful answer carries the ETag of the record
(its version, which ``If-Match`` must name to change it). ``document`` declares it on them:
the ``ETag`` response header, and on the GETs the ``If-None-Match`` parameter and the 304.
``tests/api/test_scope_matrix.py`` holds the list to what the routes answer.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

ETAGGED = frozenset(
    {
        # reads: If-None-Match and 304
        "getHousehold",
        "getPerson",
        "getIncomeRecord",
        "getGuarantees",
        "getIncomeLine",
        "getMonitoringPolicy",
        "getRiskClue",
        "getMonitoringCase",
        "getMeasure",
        "getFinding",
        "getUser",
        "getClient",
        "getFund",
        "getProject",
        "getAsset",
        "getFundFinding",
        "getFundPolicy",
        "getSyncPolicy",
        "getSubscription",
        "getRosterMember",
        "getAttendance",
        "getCampaign",
        "getCampaignVisit",
        "getClearingEntry",
        "getRectification",
        # writes and the lookup (a POST): the ETag of the record as it is now
        "lookupPerson",
        "createRosterMember",
        "updateRosterMember",
        "recordAttendance",
        "updateAttendance",
        "createCampaign",
        "updateCampaign",
        "recordCampaignVisit",
        "updateCampaignVisit",
        "openClearingEntry",
        "clearClearingEntry",
        "recordRectification",
        "addRectificationStep",
        "requestRectificationClosure",
        "decideRectificationClosure",
        "createHousehold",
        "updateHousehold",
        "addMember",
        "splitHousehold",
        "mergeHousehold",
        "updatePerson",
        "movePerson",
        "recordDeath",
        "createIncomeRecord",
        "updateIncomeRecord",
        "updateGuarantees",
        "putIncomeLine",
        "createMonitoringPolicy",
        "updateMonitoringPolicy",
        "reportRiskClue",
        "dismissRiskClue",
        "openCaseFromClue",
        "verifyCase",
        "villageReview",
        "noticeResult",
        "townshipReview",
        "countyDecision",
        "proposeElimination",
        "terminateCase",
        "assignCadre",
        "addMeasure",
        "updateMeasure",
        "updateFinding",
        "createUser",
        "updateUser",
        "unlockUser",
        "resetTotp",
        "createClient",
        "updateClient",
        "revokeClient",
        "rotateClientSecret",
        "createFund",
        "updateFund",
        "createProject",
        "updateProject",
        "advanceProject",
        "registerAsset",
        "updateAsset",
        "disposeAsset",
        "createFundPolicy",
        "updateFundPolicy",
        "createSyncPolicy",
        "updateSyncPolicy",
        "createSubscription",
        "updateSubscription",
    }
)

# Fields a 304 carries over from the 200 it stands for (RFC 9110 section 15.4.5).
_KEPT = ("etag", "cache-control", "pragma", "expires", "vary", "content-location")
_TAG = re.compile(r'[\s,]*(?:W/)?("[^"]*")\s*(?:,|$)')  # empty list elements are allowed

ETAG_HEADER = {
    "ETag": {
        "description": "The record's version, to send in `If-Match` (changes) or `If-None-Match` (reads) 版本标识",
        "schema": {"type": "string", "examples": ['"household-12-v3"']},
    }
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1},
    "description": "ETags you hold (`W/` and `*` accepted, comma-separated): 304 with no body when "
    "one is still current 已有版本未变时返回 304",
}


def matches(header: str, current: str) -> bool:
    """Weak comparison of ``If-None-Match`` with the current ETag: ``*``, or any tag of the
    list equal to it once ``W/`` is set aside. A malformed list matches nothing."""
    if header.strip() == "*":
        return True
    wanted = _opaque(current)
    position, tags = 0, []
    while position < len(header):
        found = _TAG.match(header, position)
        if found is None:
            return False
        tags.append(found.group(1))
        position = found.end()
    return wanted is not None and wanted in tags


def _opaque(tag: str) -> str | None:
    tag = tag.strip()
    tag = tag[2:] if tag.startswith("W/") else tag
    return tag if len(tag) >= 2 and tag[0] == tag[-1] == '"' else None


def not_modified(request: Request, response: Response) -> Response:
    """The 304 that stands for ``response`` when the request's If-None-Match matches it;
    else ``response`` itself. Only a GET's 200 with an ETag qualifies."""
    for name, _ in request.scope["headers"]:  # most requests have none: no Headers made for them
        if name == b"if-none-match":
            break
    else:
        return response
    header = request.headers.get("if-none-match")
    current = response.headers.get("etag")
    if header is None or current is None or request.method != "GET" or response.status_code != 200:
        return response
    if not matches(header, current):
        return response
    kept = {name: value for name, value in response.headers.items() if name in _KEPT}
    return Response(status_code=304, headers=kept)


def document(
    operation_id: str | None, method: str, status_code: int, responses: dict, extra: dict | None
) -> tuple[dict, dict | None]:
    """The route's ``responses`` and ``openapi_extra`` declaring its ETag (see the module)."""
    if operation_id not in ETAGGED:
        return responses, extra
    success = {**responses.get(status_code, {})}
    success["headers"] = {**success.get("headers", {}), **ETAG_HEADER}
    responses = {**responses, status_code: success}
    if method == "GET":
        responses[304] = {
            "description": "Not Modified: the ETag in `If-None-Match` is current (no body) 未修改",
            "headers": ETAG_HEADER,
        }
        extra = dict(extra or {})
        extra["parameters"] = [*extra.get("parameters", []), IF_NONE_MATCH]
    return responses, extra
