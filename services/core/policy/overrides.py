"""The policy mechanism: overrides of a policy's figures for a region prefix ("" =
everywhere) from a year on, one table per policy (``PolicyTable``), and how they combine.

For a region R and year Y, the overrides of every prefix of R with a year ≤ Y apply, the
wider region first and the older year first, so a village's or county's own rule wins over
the province's, and a later year over an earlier one of the same region; the policy's
defaults fill in the rest (``resolve``).

Who sees and who changes the rows:

* a caller sees the rows of its own regions and of the wider regions it lies in (the rules
  it works under: a county sees its province's row and the nation-wide one);
* a caller changes only rows within its own regions. A wider region's row is visible, so
  changing it is refused with 403; a row or region elsewhere answers 404 as if missing.

What else a change sets off (the monitoring policy recomputes stored deadlines) is the
declaring domain's: see ``services.core.policy.monitoring.refresh_after_change``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from services.core.paging import KeyPage, keyset_page
from services.core.regions.rules import InvalidRegionCode, code_of_prefix, prefix_of
from services.core.regions.service import get_region
from services.core.scope import under


@dataclass(frozen=True)
class PolicyTable:
    """Where a policy is overridden and what its figures are."""

    row: Any  # the ORM class of the table (a ``services.core.base.PolicyOverrideRow``)
    model: Any  # the pydantic model of the policy's figures, defaults included
    # Figures renamed: an override naming the old name is refused, pointing at the new one.
    renamed: Mapping[str, str] = field(default_factory=dict)


class PolicyOverride(BaseModel):
    """One row of an override table as the resolver sees it."""

    region_prefix: str
    year: int
    values: dict[str, Any]


def resolve(overrides: Iterable[PolicyOverride], region_code: str, year: int, model: type[BaseModel]) -> Any:
    """The policy (a ``model``) in force for ``region_code`` in ``year``."""
    applicable = sorted(
        (o for o in overrides if region_code.startswith(o.region_prefix) and o.year <= year),
        key=lambda o: (len(o.region_prefix), o.year),
    )
    values: dict[str, Any] = {}
    for override in applicable:
        values.update(override.values)
    return model.model_validate(values)


def check_values(values: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Validate an override (only the named fields) and return it normalised."""
    full = model.model_validate(values)
    return {name: full.model_dump(mode="json")[name] for name in values}


def visible_to(prefix: str, table: PolicyTable):
    """Rows within ``prefix`` or whose prefix ``prefix`` lies in (for ``path_object``)."""
    row = table.row.region_prefix
    return or_(under(row, prefix), func.left(literal(prefix), func.length(row)) == row)


def may_change(prefix: str, row_prefix: str) -> bool:
    return row_prefix.startswith(prefix)


async def list_rows(
    session: AsyncSession,
    prefix: str,
    year: int | None,
    cursor: str | None,
    limit: int,
    table: PolicyTable,
) -> KeyPage:
    Row = table.row
    stmt = select(Row).where(visible_to(prefix, table))
    if year is not None:
        stmt = stmt.where(Row.year == year)
    return await keyset_page(session, stmt, [(Row.id, False)], cursor, limit)


async def get_row(session: AsyncSession, prefix: str, row_id: int, table: PolicyTable, *, for_update: bool = False):
    stmt = select(table.row).where(table.row.id == row_id, visible_to(prefix, table))
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("policy_not_found", field="policy_id", id=row_id)
    return row


def check_change(prefix: str, row) -> None:
    if not may_change(prefix, row.region_prefix):
        raise Forbidden("policy_region_too_wide", field="region_prefix")


async def effective(session: AsyncSession, region: str, year: int, table: PolicyTable) -> tuple[Any, list]:
    """The policy in force in ``region`` in ``year`` and the rows that made it, in the
    order they apply (wider region first, older year first)."""
    row = table.row.region_prefix
    stmt = select(table.row).where(func.left(literal(region), func.length(row)) == row, table.row.year <= year)
    rows = sorted((await session.execute(stmt)).scalars(), key=lambda r: (len(r.region_prefix), r.year))
    overrides = [PolicyOverride(region_prefix=r.region_prefix, year=r.year, values=r.values) for r in rows]
    return resolve(overrides, region, year, table.model), rows


def checked_values(values: dict[str, Any], table: PolicyTable) -> dict[str, Any]:
    """The override validated field by field (422 naming ``values.<field>``), normalised."""
    if not values:
        raise Unprocessable("policy_values_empty", field="values")
    renamed = [name for name in values if name in table.renamed and name not in table.model.model_fields]
    if renamed:
        errors = [
            FieldError(f"values.{name}", "policy_value_renamed", {"name": name, "new": table.renamed[name]})
            for name in renamed
        ]
        raise Unprocessable("policy_value_renamed", field=errors[0].field, errors=errors, **errors[0].params)
    try:
        return check_values(values, table.model)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = ".".join(str(part) for part in err.get("loc", ()))
            code = "policy_value_unknown" if err.get("type") == "extra_forbidden" else "policy_value_invalid"
            errors.append(FieldError(f"values.{loc}" if loc else "values", code, {"reason": err.get("msg", "")}))
        first = errors[0]
        raise Unprocessable(first.code, field=first.field, errors=errors, **first.params) from None


async def check_region_prefix(session: AsyncSession, prefix: str, region_prefix: str) -> None:
    """``region_prefix`` must name a region within the caller's: a wider one it lies in is
    refused (403), one elsewhere is not found (404, like a missing one)."""
    if region_prefix:
        try:
            canonical = prefix_of(code_of_prefix(region_prefix))
        except InvalidRegionCode:
            raise Unprocessable("region_prefix_malformed", field="region_prefix") from None
        if canonical != region_prefix:
            raise Unprocessable("region_prefix_malformed", field="region_prefix")
    if not region_prefix.startswith(prefix) and prefix.startswith(region_prefix):
        raise Forbidden("policy_region_too_wide", field="region_prefix")
    if region_prefix:
        await get_region(session, code_of_prefix(region_prefix), field="region_prefix")


async def create_row(
    session: AsyncSession,
    prefix: str,
    region_prefix: str,
    year: int,
    values: dict[str, Any],
    note: str | None,
    user_id: int | None,
    table: PolicyTable,
):
    await check_region_prefix(session, prefix, region_prefix)
    values = checked_values(values, table)
    taken = await session.execute(
        select(table.row.id).where(table.row.region_prefix == region_prefix, table.row.year == year)
    )
    if taken.first() is not None:
        raise Conflict("policy_exists", field="year", year=year)
    row = table.row(region_prefix=region_prefix, year=year, values=values, note=note, updated_by=user_id)
    session.add(row)
    await session.flush()
    return row


async def update_row(
    session: AsyncSession,
    row,
    values: dict[str, Any],
    note: str | None,
    user_id: int | None,
    table: PolicyTable,
):
    row.values, row.note, row.updated_by = checked_values(values, table), note, user_id
    await session.flush()
    return row


async def delete_row(session: AsyncSession, row) -> None:
    await session.delete(row)
    await session.flush()
