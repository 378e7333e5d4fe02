"""Dashboard figures computed in SQL over the caller's tenant view (RLS scopes them).

Staff see their organization; platform admins see the whole platform with the same queries.
Read-only: the gateway runs them in an analytics session (persistence.session), which may be
a replica lagging the primary by a moment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.analytics.schemas import (
    BookingMetrics,
    Dashboard,
    DriverMetrics,
    DriverPerformance,
    TrendPoint,
)
from dispatch.calendar.service import checked_range, utilization_report
from persistence.repositories.analytics import AnalyticsRepository
from persistence.session import Caller
from persistence.statuses import BookingStatus

_ENDED = (BookingStatus.COMPLETED, BookingStatus.CANCELLED, BookingStatus.NO_SHOW)


async def booking_metrics(session: AsyncSession, start: datetime, end: datetime) -> BookingMetrics:
    checked_range(start, end)
    rows = await AnalyticsRepository(session).bookings_by_status_and_currency(start, end)
    by_status: dict[str, int] = {}
    currency_totals: dict[str, int] = {}
    for status, currency, count, price in rows:
        by_status[status] = by_status.get(status, 0) + count
        if status == BookingStatus.COMPLETED:
            currency_totals[currency] = currency_totals.get(currency, 0) + price
    total = sum(by_status.values())
    completed = by_status.get(BookingStatus.COMPLETED, 0)
    cancelled = by_status.get(BookingStatus.CANCELLED, 0)
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
    checked_range(start, end)
    analytics = AnalyticsRepository(session)
    active, verified = await analytics.driver_counts()
    leaders = await analytics.top_drivers(start, end, top)
    return DriverMetrics(
        active_drivers=active, verified_drivers=verified,
        top_performers=[DriverPerformance(driver_id=i, full_name=n, rating_avg=r,
                                          completed_jobs=c) for i, n, r, c in leaders],
    )


async def trend(session: AsyncSession, start: datetime, end: datetime) -> list[TrendPoint]:
    checked_range(start, end)
    rows = await AnalyticsRepository(session).daily_trend(start, end)
    return [TrendPoint(day=d, bookings=n, completed=c, revenue_cents=r) for d, n, c, r in rows]


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
