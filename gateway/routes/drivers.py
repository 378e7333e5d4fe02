"""Routes: drivers of the caller's fleet — list, read, hire, edit, remove."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from dispatch.fleet import drivers
from dispatch.fleet.schemas import (
    DriverCreate,
    DriverOut,
    DriverSort,
    DriverStatus,
    DriverUpdate,
    FleetRemoval,
    Skill,
)
from dispatch.kit.pagination import Page, PageParams
from gateway.deps import SessionDep, StaffCaller

router = APIRouter(prefix="/drivers", tags=["fleet"])
Paging = Annotated[PageParams, Query()]


@router.get("", response_model=Page[DriverOut])
async def roster(
    _: StaffCaller,
    session: SessionDep,
    paging: Paging,
    sort: Annotated[list[DriverSort], Query()] = [DriverSort.full_name],  # noqa: B006
    driver_status: Annotated[DriverStatus | None, Query(alias="status")] = None,
    skill: Skill | None = None,
    name: Annotated[str | None, Query(max_length=100)] = None,
    org_id: Annotated[uuid.UUID | None, Query(description="platform admins: one organization")] = None,
) -> Page[DriverOut]:
    return await drivers.roster(
        session, paging, sort, org_id=org_id, status=driver_status, skill=skill, name=name
    )


@router.get("/{driver_id}", response_model=DriverOut)
async def driver(_: StaffCaller, session: SessionDep, driver_id: uuid.UUID) -> DriverOut:
    return drivers.driver_out(await drivers.visible_driver(session, driver_id))


@router.post("", response_model=DriverOut, status_code=status.HTTP_201_CREATED)
async def hire(caller: StaffCaller, session: SessionDep, payload: DriverCreate) -> DriverOut:
    return drivers.driver_out(await drivers.hire(session, caller, payload))


@router.patch("/{driver_id}", response_model=DriverOut)
async def edit(_: StaffCaller, session: SessionDep, driver_id: uuid.UUID, changes: DriverUpdate) -> DriverOut:
    return drivers.driver_out(await drivers.edit(session, driver_id, changes))


@router.delete("/{driver_id}", response_model=FleetRemoval)
async def remove(_: StaffCaller, session: SessionDep, driver_id: uuid.UUID) -> FleetRemoval:
    """Delete the driver, or set them inactive when assignments or ratings still name them."""
    return await drivers.remove(session, driver_id)
