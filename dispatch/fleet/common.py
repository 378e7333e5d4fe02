"""What drivers and trucks share: whose fleet a write lands in, and retire-or-delete."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import NotFound, ValidationFailed
from dispatch.fleet.events import FleetKind, fleet_changed
from dispatch.fleet.schemas import FleetRemoval
from dispatch.kit.geo import GeoPoint, point_geography
from persistence.repositories.organizations import OrganizationRepository
from persistence.session import Caller


async def owning_org(session: AsyncSession, caller: Caller, requested: uuid.UUID | None) -> uuid.UUID:
    """Staff write into their own org; platform admins must name one."""
    if not caller.is_admin:
        if caller.org_id is None or (requested is not None and requested != caller.org_id):
            raise NotFound("no such organization", org_id=str(requested))
        return caller.org_id
    if requested is None:
        raise ValidationFailed("platform admins name the organization in org_id", field="org_id")
    if await OrganizationRepository(session).get_by_id(requested) is None:
        raise NotFound("no such organization", org_id=str(requested))
    return requested


def apply_changes(row: Any, changes: dict[str, Any], *, nullable: frozenset[str]) -> None:
    """Copy the fields the caller sent onto the row, converting points to geography."""
    for field, value in changes.items():
        if value is None and field not in nullable:
            raise ValidationFailed(f"{field} cannot be null", field=field)
        if field == "home_base" and value is not None:
            value = point_geography(GeoPoint.model_validate(value))
        setattr(row, field, value)


async def retire_or_delete(
    session: AsyncSession, row: Any, kind: FleetKind, retired_status: str
) -> FleetRemoval:
    """Delete the row; when history still references it (assignments, ratings), retire it."""
    try:
        async with session.begin_nested():
            await session.delete(row)
            await session.flush()
        outcome: Literal["deleted", "deactivated", "retired"] = "deleted"
    except IntegrityError:
        await session.refresh(row)
        row.status = retired_status
        await session.flush()
        outcome = "retired" if retired_status == "retired" else "deactivated"
    await fleet_changed(session, row.org_id, kind, row.id, outcome)
    return FleetRemoval(id=row.id, outcome=outcome)
