"""Dashboard figures computed in SQL over the caller's tenant view (RLS scopes them).

Staff see their organization; platform admins see the whole platform with the same queries.
Read-only: the gateway runs them in an analytics session (persistence.session), which may be
a replica lagging the primary by a moment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Date, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.analytics.schemas import (
    BookingMetrics,
    Dashboard,
    DriverMetrics,
    DriverPerformance,
    TrendPoint,
)
from dispatch.calendar.service import checked_range, utilization_report
from persistence.models import Booking, BookingAssignment, Driver
from persistence.session import Caller

_ENDED = ("completed", "cancelled", "no_show")


def _in_range(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Bookings scheduled to start in [start, end); the range is validated first."""
    checked_range(start, end)
    return (Booking.window_start >= start) & (Booking.window_start < end)


async def booking_metrics(session: AsyncSession, start: datetime, end: datetime) -> BookingMetrics:
    rows = (await session.execute(
        select(Booking.status, Booking.currency, func.count(), func.sum(Booking.price_cents))
        .where(_in_range(start, end)).group_by(Booking.status, Booking.currency)
    )).all()
    by_status: dict[str, int] = {}
    currency_totals: dict[str, int] = {}
    for status, currency, count, price in rows:
        by_status[status] = by_status.get(status, 0) + count
        if status == "completed":
            currency_totals[currency] = currency_totals.get(currency, 0) + int(price or 0)
    total = sum(by_status.values())
    completed, cancelled = by_status.get("completed", 0), by_status.get("cancelled", 0)
    ended = sum(by_status.get(s, 0) for s in _ENDED)
    revenue = sum(currency_totals.values())
    return BookingMetrics(
        total=total, by_status=by_status, completed=completed, cancelled=cancelled,
        completion_rate=round(completed / ended, 4) if ended else 0.0,
        cancellation_rate=round(cancelled / total, 4) if total else 0.0,
        revenue_cents=revenue, average_price_cents=revenue // completed if completed else 0,
        currency_totals=currency_totals,
    )


async def driver_metrics(session: AsyncSession, start: datetime, end: datetime,
                         top: int = 5) -> DriverMetrics:
    counts = (await session.execute(
        select(func.count().filter(Driver.status == "active"),
               func.count().filter((Driver.status == "active") & Driver.verified))
    )).one()
    completed_jobs = func.count(Booking.id).label("completed_jobs")
    leaders = (await session.execute(
        select(Driver.id, Driver.full_name, Driver.rating_avg, completed_jobs)
        .join(BookingAssignment, BookingAssignment.driver_id == Driver.id)
        .join(Booking, Booking.id == BookingAssignment.booking_id)
        .where(BookingAssignment.active, Booking.status == "completed", _in_range(start, end))
        .group_by(Driver.id).order_by(completed_jobs.desc(), Driver.rating_avg.desc())
        .limit(top)
    )).all()
    return DriverMetrics(
        active_drivers=counts[0], verified_drivers=counts[1],
        top_performers=[DriverPerformance(driver_id=i, full_name=n, rating_avg=float(r),
                                          completed_jobs=c) for i, n, r, c in leaders],
    )


async def trend(session: AsyncSession, start: datetime, end: datetime) -> list[TrendPoint]:
    day = cast(func.date_trunc("day", Booking.window_start), Date).label("day")
    is_completed = Booking.status == "completed"
    rows = (await session.execute(
        select(day, func.count(), func.count().filter(is_completed),
               func.coalesce(func.sum(case((is_completed, Booking.price_cents), else_=0)), 0))
        .where(_in_range(start, end)).group_by(day).order_by(day)
    )).all()
    return [TrendPoint(day=d, bookings=n, completed=c, revenue_cents=int(r))
            for d, n, c, r in rows]


async def dashboard(session: AsyncSession, caller: Caller, start: datetime,
                    end: datetime) -> Dashboard:
    utilization = await utilization_report(session, start, end)
    return Dashboard(
        start=start, end=end, scope="platform" if caller.is_admin else "organization",
        bookings=await booking_metrics(session, start, end),
        drivers=await driver_metrics(session, start, end),
        fleet_utilization=utilization.fleet_utilization,
        trend=await trend(session, start, end),
    )
