"""Routes: the nine analytics views for mover staff (their organization) and platform admins
(platform-wide, or one organization with `?org_id=`).

They read through the analytics engine (MOVEHUB_ANALYTICS_DATABASE_URL: a replica, else the
primary) in read-only transactions, under the same row-level security caller. Each answers
JSON, or CSV when the client sends `Accept: text/csv` (shapes: dispatch/analytics/csv.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.analytics import csv, service
from dispatch.analytics.schemas import (
    BookingMetrics,
    Bucket,
    Dashboard,
    DriverMetrics,
    InvoiceMetrics,
    RatingMetrics,
    SupportMetrics,
    Trend,
    TrendMetric,
    TruckMetrics,
    VerificationMetrics,
)
from gateway.deps import StaffCaller
from persistence.repositories.analytics import Window
from persistence.session import analytics_session

router = APIRouter(prefix="/analytics", tags=["analytics"])


async def analytics_db(caller: StaffCaller) -> AsyncIterator[AsyncSession]:
    async with analytics_session(caller) as session:
        yield session


AnalyticsSessionDep = Annotated[AsyncSession, Depends(analytics_db, scope="function")]


async def scoped_window(
    caller: StaffCaller,
    session: AnalyticsSessionDep,
    org_id: Annotated[
        uuid.UUID | None, Query(description="platform admins: one organization (staff: only their own)")
    ] = None,
    date_from: Annotated[
        date | None, Query(alias="from", description="first day, inclusive (default: 29 days before `to`)")
    ] = None,
    date_to: Annotated[
        date | None,
        Query(
            alias="to",
            description="last day, inclusive (default: today in the scope's time "
            "zone); at most 366 days after `from`",
        ),
    ] = None,
) -> Window:
    return await service.resolve_window(session, caller, org_id, date_from, date_to)


WindowDep = Annotated[Window, Depends(scoped_window)]
Limit = Annotated[int, Query(ge=0, le=1000, description="rows in the list at most")]

CSV_NOTE = "JSON, or CSV with `Accept: text/csv` (shape: dispatch/analytics/csv.py)"


def _answers(csv_shape: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": csv_shape}}},
        404: {"description": "`org_id` is unknown, or another tenant's"},
    }


FIGURES = "metric,key,value\r\nscope,,organization\r\n…"


def _answer(request: Request, view: BaseModel) -> Any:
    """The view as JSON, or as CSV when the client asks for it."""
    if "text/csv" in request.headers.get("accept", ""):
        return Response(csv.render(view), media_type="text/csv; charset=utf-8")
    return view


@router.get(
    "/dashboard",
    response_model=Dashboard,
    responses=_answers(FIGURES),
    description=f"Headline figures of every view. {CSV_NOTE}",
)
async def dashboard(request: Request, session: AnalyticsSessionDep, window: WindowDep) -> Any:
    return _answer(request, await service.dashboard(session, window))


@router.get(
    "/bookings",
    response_model=BookingMetrics,
    responses=_answers(FIGURES),
    description=f"Counts by status, revenue, cancellation and no-show rates. {CSV_NOTE}",
)
async def bookings(request: Request, session: AnalyticsSessionDep, window: WindowDep) -> Any:
    return _answer(request, await service.booking_metrics(session, window))


@router.get(
    "/drivers",
    response_model=DriverMetrics,
    responses=_answers(",".join(csv.DRIVER_COLUMNS)),
    description=f"Jobs, on-time rate, rating, top performers. {CSV_NOTE}",
)
async def drivers(
    request: Request, session: AnalyticsSessionDep, window: WindowDep, limit: Limit = 10
) -> Any:
    return _answer(request, await service.driver_metrics(session, window, limit))


@router.get(
    "/trucks",
    response_model=TruckMetrics,
    responses=_answers(",".join(csv.TRUCK_COLUMNS)),
    description=f"Utilization per truck and idle days. {CSV_NOTE}",
)
async def trucks(
    request: Request, session: AnalyticsSessionDep, window: WindowDep, limit: Limit = 100
) -> Any:
    return _answer(request, await service.truck_metrics(session, window, limit))


@router.get(
    "/ratings",
    response_model=RatingMetrics,
    responses=_answers(FIGURES),
    description=f"Distribution, averages and their trend. {CSV_NOTE}",
)
async def ratings(
    request: Request, session: AnalyticsSessionDep, window: WindowDep, bucket: Bucket = Bucket.WEEK
) -> Any:
    return _answer(request, await service.rating_metrics(session, window, bucket))


@router.get(
    "/support",
    response_model=SupportMetrics,
    responses=_answers(FIGURES),
    description=f"Open tickets by priority, first-response and resolution times, SLA breaches. {CSV_NOTE}",
)
async def support(request: Request, session: AnalyticsSessionDep, window: WindowDep) -> Any:
    return _answer(request, await service.support_metrics(session, window))


@router.get(
    "/invoices",
    response_model=InvoiceMetrics,
    responses=_answers(FIGURES),
    description="Issued, paid, overdue, days to pay, revenue collected. " + CSV_NOTE,
)
async def invoices(request: Request, session: AnalyticsSessionDep, window: WindowDep) -> Any:
    return _answer(request, await service.invoice_metrics(session, window))


@router.get(
    "/verification",
    response_model=VerificationMetrics,
    responses=_answers(FIGURES),
    description="Pending, approved, rejected, expiring in 30 days. " + CSV_NOTE,
)
async def verification(request: Request, session: AnalyticsSessionDep, window: WindowDep) -> Any:
    return _answer(request, await service.verification_metrics(session, window))


@router.get(
    "/trends",
    response_model=Trend,
    responses=_answers(",".join(csv.TREND_COLUMNS)),
    description="One metric per day, week or month in the scope's time zone, every "
    f"bucket of the range (zeros included). {CSV_NOTE}",
)
async def trends(
    request: Request,
    session: AnalyticsSessionDep,
    window: WindowDep,
    metric: TrendMetric = TrendMetric.BOOKINGS,
    bucket: Bucket = Bucket.DAY,
    currency: Annotated[
        str | None,
        Query(
            pattern="^[A-Za-z]{3}$",
            description="money metrics: the currency counted (default: the "
            "organization's; USD platform-wide)",
        ),
    ] = None,
) -> Any:
    return _answer(request, await service.trend(session, window, metric, bucket, currency))
