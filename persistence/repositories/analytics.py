"""Analytics queries: dashboard figures aggregated in SQL over the caller's tenant view.

Row-level security scopes every figure: staff get their organization's, platform admins the
whole platform's, from the same statements. Bookings count in a range by their window start.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ColumnElement, Date, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Booking, BookingAssignment, Driver
from persistence.statuses import BookingStatus


def _starting_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    return (Booking.window_start >= start) & (Booking.window_start < end)


class AnalyticsRepository:
    """Read-only aggregates; the session may be a replica's (persistence.session)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bookings_by_status_and_currency(self, start: datetime, end: datetime
                                              ) -> list[tuple[str, str, int, int]]:
        """(status, currency, bookings, price sum) in the range: every booking metric's source."""
        rows = await self.session.execute(
            select(Booking.status, Booking.currency, func.count(), func.sum(Booking.price_cents))
            .where(_starting_in(start, end)).group_by(Booking.status, Booking.currency))
        return [(status, currency, int(count), int(price or 0))
                for status, currency, count, price in rows]

    async def driver_counts(self) -> tuple[int, int]:
        """(active drivers, of which verified): the fleet's size today."""
        counts = (await self.session.execute(
            select(func.count().filter(Driver.status == "active"),
                   func.count().filter((Driver.status == "active") & Driver.verified))
        )).one()
        return int(counts[0]), int(counts[1])

    async def top_drivers(self, start: datetime, end: datetime, top: int
                          ) -> list[tuple[uuid.UUID, str, float, int]]:
        """(driver, name, rating, jobs) of the drivers completing most jobs in the range."""
        completed_jobs = func.count(Booking.id).label("completed_jobs")
        rows = await self.session.execute(
            select(Driver.id, Driver.full_name, Driver.rating_avg, completed_jobs)
            .join(BookingAssignment, BookingAssignment.driver_id == Driver.id)
            .join(Booking, Booking.id == BookingAssignment.booking_id)
            .where(BookingAssignment.active, Booking.status == BookingStatus.COMPLETED,
                   _starting_in(start, end))
            .group_by(Driver.id).order_by(completed_jobs.desc(), Driver.rating_avg.desc())
            .limit(top))
        return [(driver_id, name, float(rating), int(jobs))
                for driver_id, name, rating, jobs in rows]

    async def daily_trend(self, start: datetime, end: datetime
                          ) -> list[tuple[date, int, int, int]]:
        """(day, bookings, completed, completed revenue) per day of window start."""
        day = cast(func.date_trunc("day", Booking.window_start), Date).label("day")
        is_completed = Booking.status == BookingStatus.COMPLETED
        rows = await self.session.execute(
            select(day, func.count(), func.count().filter(is_completed),
                   func.coalesce(func.sum(case((is_completed, Booking.price_cents), else_=0)), 0))
            .where(_starting_in(start, end)).group_by(day).order_by(day))
        return [(d, int(n), int(c), int(r)) for d, n, c, r in rows]
