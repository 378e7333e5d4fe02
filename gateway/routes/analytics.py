"""Routes: analytics dashboards for mover staff (their organization) and platform admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from dispatch.analytics import service
from dispatch.analytics.schemas import BookingMetrics, Dashboard, DriverMetrics, TrendPoint
from gateway.deps import SessionDep, StaffCaller

router = APIRouter(prefix="/analytics", tags=["analytics"])
Start = Annotated[datetime, Query(description="range start, ISO 8601 with offset")]
End = Annotated[datetime, Query(description="range end (exclusive), at most 62 days later")]


@router.get("/dashboard", response_model=Dashboard)
async def dashboard(caller: StaffCaller, session: SessionDep, start: Start,
                    end: End) -> Dashboard:
    """Bookings, drivers, utilization and a daily trend for the range, in one answer."""
    return await service.dashboard(session, caller, start, end)


@router.get("/bookings", response_model=BookingMetrics)
async def bookings(_: StaffCaller, session: SessionDep, start: Start, end: End) -> BookingMetrics:
    return await service.booking_metrics(session, start, end)


@router.get("/drivers", response_model=DriverMetrics)
async def drivers(_: StaffCaller, session: SessionDep, start: Start, end: End) -> DriverMetrics:
    return await service.driver_metrics(session, start, end)


@router.get("/trend", response_model=list[TrendPoint])
async def trend(_: StaffCaller, session: SessionDep, start: Start, end: End) -> list[TrendPoint]:
    return await service.trend(session, start, end)
