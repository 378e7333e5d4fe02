"""Use cases for trucks: the yard, add, edit, and remove (retire when referenced)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import NotFound
from dispatch.fleet.common import apply_changes, owning_org, retire_or_delete
from dispatch.fleet.events import fleet_changed
from dispatch.fleet.schemas import FleetRemoval, TruckCreate, TruckOut, TruckSort, TruckUpdate
from dispatch.kit.geo import point_geography, point_of
from dispatch.kit.pagination import Page, PageParams
from persistence.models import Truck
from persistence.repositories.base import sorted_by
from persistence.repositories.fleet import TruckRepository
from persistence.session import Caller

SORT_COLUMNS: dict[str, Any] = {
    "plate": Truck.plate,
    "capacity_m3": Truck.capacity_m3,
    "created_at": Truck.created_at,
}


def truck_out(truck: Truck) -> TruckOut:
    return TruckOut(
        id=truck.id,
        org_id=truck.org_id,
        plate=truck.plate,
        capacity_m3=float(truck.capacity_m3),
        status=truck.status,
        home_base=point_of(truck.home_base) if truck.home_base is not None else None,
        created_at=truck.created_at,
    )


async def yard(
    session: AsyncSession,
    params: PageParams,
    sort: list[TruckSort],
    *,
    org_id: uuid.UUID | None = None,
    status: str | None = None,
    min_capacity_m3: float | None = None,
) -> Page[TruckOut]:
    """The caller's trucks (RLS limits staff to their org; admins may filter by org)."""
    repository = TruckRepository(session)
    statement = sorted_by(
        repository.yard(org_id=org_id, status=status, min_capacity_m3=min_capacity_m3),
        sort,
        SORT_COLUMNS,
        Truck.id,
    )
    rows, total = await repository.page(statement, limit=params.limit, offset=params.offset)
    return Page.of([truck_out(t) for t in rows], total, params)


async def visible_truck(session: AsyncSession, truck_id: uuid.UUID) -> Truck:
    truck = await TruckRepository(session).get_by_id(truck_id)
    if truck is None:
        raise NotFound("no such truck", truck_id=str(truck_id))
    return truck


async def add(session: AsyncSession, caller: Caller, payload: TruckCreate) -> Truck:
    org_id = await owning_org(session, caller, payload.org_id)
    truck = Truck(
        org_id=org_id,
        plate=payload.plate,
        capacity_m3=payload.capacity_m3,
        status=payload.status,
        home_base=point_geography(payload.home_base) if payload.home_base else None,
    )
    session.add(truck)
    await session.flush()
    await session.refresh(truck)
    await fleet_changed(session, org_id, "truck", truck.id, "created")
    return truck


async def edit(session: AsyncSession, truck_id: uuid.UUID, changes: TruckUpdate) -> Truck:
    truck = await visible_truck(session, truck_id)
    apply_changes(truck, changes.model_dump(exclude_unset=True), nullable=frozenset({"home_base"}))
    await session.flush()
    await session.refresh(truck)
    await fleet_changed(session, truck.org_id, "truck", truck.id, "updated")
    return truck


async def remove(session: AsyncSession, truck_id: uuid.UUID) -> FleetRemoval:
    return await retire_or_delete(session, await visible_truck(session, truck_id), "truck", "retired")
