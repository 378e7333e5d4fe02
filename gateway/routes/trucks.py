"""Routes: trucks of the caller's fleet — list, read, add, edit, remove."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from dispatch.fleet import trucks
from dispatch.fleet.schemas import (
    FleetRemoval,
    TruckCreate,
    TruckOut,
    TruckSort,
    TruckStatus,
    TruckUpdate,
)
from dispatch.kit.pagination import Page, PageParams
from gateway.deps import SessionDep, StaffCaller

router = APIRouter(prefix="/trucks", tags=["fleet"])
Paging = Annotated[PageParams, Query()]


@router.get("", response_model=Page[TruckOut])
async def yard(
    _: StaffCaller,
    session: SessionDep,
    paging: Paging,
    sort: Annotated[list[TruckSort], Query()] = [TruckSort.plate],  # noqa: B006
    truck_status: Annotated[TruckStatus | None, Query(alias="status")] = None,
    min_capacity_m3: Annotated[float | None, Query(gt=0, le=200)] = None,
    org_id: Annotated[uuid.UUID | None, Query(description="platform admins: one organization")] = None,
) -> Page[TruckOut]:
    return await trucks.yard(
        session, paging, sort, org_id=org_id, status=truck_status, min_capacity_m3=min_capacity_m3
    )


@router.get("/{truck_id}", response_model=TruckOut)
async def truck(_: StaffCaller, session: SessionDep, truck_id: uuid.UUID) -> TruckOut:
    return trucks.truck_out(await trucks.visible_truck(session, truck_id))


@router.post("", response_model=TruckOut, status_code=status.HTTP_201_CREATED)
async def add(caller: StaffCaller, session: SessionDep, payload: TruckCreate) -> TruckOut:
    return trucks.truck_out(await trucks.add(session, caller, payload))


@router.patch("/{truck_id}", response_model=TruckOut)
async def edit(_: StaffCaller, session: SessionDep, truck_id: uuid.UUID, changes: TruckUpdate) -> TruckOut:
    return trucks.truck_out(await trucks.edit(session, truck_id, changes))


@router.delete("/{truck_id}", response_model=FleetRemoval)
async def remove(_: StaffCaller, session: SessionDep, truck_id: uuid.UUID) -> FleetRemoval:
    """Delete the truck, or retire it when assignments still name it."""
    return await trucks.remove(session, truck_id)
