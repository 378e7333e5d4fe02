"""Routes: the fleet calendar — schedules, free time, utilization, conflict checks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from dispatch.calendar import service
from dispatch.calendar.schemas import (
    AvailabilityAnswer,
    FleetCalendar,
    ResourceSchedule,
    UtilizationReport,
)
from gateway.deps import SessionDep, StaffCaller

router = APIRouter(prefix="/calendar", tags=["calendar"])
Start = Annotated[datetime, Query(description="range start, ISO 8601 with offset")]
End = Annotated[datetime, Query(description="range end (exclusive), at most 62 days later")]
OrgFilter = Annotated[
    uuid.UUID | None,
    Query(
        description="one organization's calendar (for platform admins, who see every organization; "
        "another organization's id gives an empty answer to mover staff)"
    ),
]


@router.get("", response_model=FleetCalendar)
async def fleet_calendar(
    _: StaffCaller, session: SessionDep, start: Start, end: End, org_id: OrgFilter = None
) -> FleetCalendar:
    """Every booking of the caller's organization in the range, with its driver and truck."""
    return await service.fleet_calendar(session, start, end, org_id)


@router.get("/{resource_type}s/{resource_id}", response_model=ResourceSchedule)
async def resource_schedule(
    _: StaffCaller,
    session: SessionDep,
    resource_type: Literal["driver", "truck"],
    resource_id: uuid.UUID,
    start: Start,
    end: End,
) -> ResourceSchedule:
    """One driver's or truck's jobs in the range, its free gaps and utilization."""
    return await service.resource_schedule(session, resource_type, resource_id, start, end)


@router.get("/utilization", response_model=UtilizationReport)
async def utilization(
    _: StaffCaller, session: SessionDep, start: Start, end: End, org_id: OrgFilter = None
) -> UtilizationReport:
    """Busy share of every active driver and truck over the range."""
    return await service.utilization_report(session, start, end, org_id)


@router.get("/availability", response_model=AvailabilityAnswer)
async def availability(
    _: StaffCaller,
    session: SessionDep,
    start: Start,
    end: End,
    driver_id: uuid.UUID | None = None,
    truck_id: uuid.UUID | None = None,
) -> AvailabilityAnswer:
    """Is this driver and/or truck free for the window? Names the bookings in the way."""
    return await service.check_availability(session, start, end, driver_id, truck_id)
