"""Routes: analytics dashboards for mover staff (their organization) and platform admins.

They read through the analytics engine (MOVEHUB_ANALYTICS_DATABASE_URL: a replica, else the
primary) in read-only transactions, under the same row-level security caller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.analytics import service
from dispatch.analytics.schemas import BookingMetrics, Dashboard, DriverMetrics, TrendPoint
from gateway.deps import StaffCaller
from persistence.session import analytics_session

router = APIRouter(prefix="/analytics", tags=["analytics"])


async def analytics_db(caller: StaffCaller) -> AsyncIterator[AsyncSession]:
    async with analytics_session(caller) as session:
        yield session


AnalyticsSessionDep = Annotated[AsyncSession, Depends(analytics_db, scope="function")]
Start = Annotated[datetime, Query(description="range start, ISO 8601 with offset")]
End = Annotated[datetime, Query(description="range end (exclusive), at most 62 days later")]


@router.get("/dashboard", response_model=Dashboard)
async def dashboard(caller: StaffCaller, session: AnalyticsSessionDep, start: Start,
                    end: End) -> Dashboard:
    """Bookings, drivers, utilization and a daily trend for the range, in one answer."""
    return await service.dashboard(session, caller, start, end)


@router.get("/bookings", response_model=BookingMetrics)
async def bookings(_: StaffCaller, session: AnalyticsSessionDep, start: Start,
                   end: End) -> BookingMetrics:
    return await service.booking_metrics(session, start, end)


@router.get("/drivers", response_model=DriverMetrics)
async def drivers(_: StaffCaller, session: AnalyticsSessionDep, start: Start,
                  end: End) -> DriverMetrics:
    return await service.driver_metrics(session, start, end)


@router.get("/trend", response_model=list[TrendPoint])
async def trend(_: StaffCaller, session: AnalyticsSessionDep, start: Start,
                end: End) -> list[TrendPoint]:
    return await service.trend(session, start, end)
