"""What the routes of the three policies (monitoring, funds, sync) share: a row as it is
answered (with its ETag, and Location when created) and a row taken for a change (within
the caller's regions, not a wider region's, If-Match met). The rows and their rules are
``services.core.policy.overrides``; each router keeps its own permissions and texts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from services.api.deps import check_if_match
from services.api.responses import JSON, etag
from services.core.accounts.security import Caller
from services.core.policy import overrides
from services.core.policy.schemas import PolicyRowOut

FIELDS = tuple(f for f in PolicyRowOut.model_fields if f != "deadlines_refreshed")


@dataclass(frozen=True)
class PolicyRoutes:
    table: overrides.PolicyTable
    etag_kind: str  # the ETag's kind ("policy", "fund_policy", "sync_policy")
    path: str  # the collection's path, for Location

    def out(self, row: Any, refreshed: int | None = None) -> dict:
        body = {f: getattr(row, f) for f in FIELDS}
        if refreshed is not None:
            body["deadlines_refreshed"] = refreshed
        return body

    def etag(self, row: Any) -> str:
        return etag(self.etag_kind, row.id, row.version)

    def response(self, row: Any, status: int = 200, refreshed: int | None = None) -> JSON:
        headers = {"ETag": self.etag(row)}
        if status == 201:
            headers["Location"] = f"{self.path}/{row.id}"
        return JSON(self.out(row, refreshed), status_code=status, headers=headers)

    async def changeable(self, request: Request, session, caller: Caller, row_id: int) -> Any:
        row = await overrides.get_row(session, caller.region_prefix, row_id, self.table, for_update=True)
        overrides.check_change(caller.region_prefix, row)
        check_if_match(request, self.etag(row))
        return row
