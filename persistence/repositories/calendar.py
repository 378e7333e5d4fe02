"""Calendar queries: the bookings in a range with their crews, the fleet to report on, and the
assignments that would clash with a window. All in the caller's session: RLS keeps them to
the caller's org."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Booking, BookingAssignment, Driver, Truck
from persistence.statuses import BookingStatus

# Bookings that never hold a crew's time on the calendar.
OFF_CALENDAR = (BookingStatus.CANCELLED, BookingStatus.NO_SHOW)


class CalendarRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def entries(
        self,
        start: datetime,
        end: datetime,
        *,
        driver_id: uuid.UUID | None = None,
        truck_id: uuid.UUID | None = None,
        org_id: uuid.UUID | None = None,
    ) -> list[tuple[Booking, uuid.UUID | None, uuid.UUID | None]]:
        """Bookings overlapping [start, end) that are on the calendar, earliest first, each with
        its active assignment's driver and truck (None when unassigned); narrowed to one driver,
        truck or organization when given."""
        statement = (
            select(Booking, BookingAssignment.driver_id, BookingAssignment.truck_id)
            .outerjoin(
                BookingAssignment, and_(BookingAssignment.booking_id == Booking.id, BookingAssignment.active)
            )
            .where(
                Booking.window_start < end, Booking.window_end > start, Booking.status.not_in(OFF_CALENDAR)
            )
            .order_by(Booking.window_start)
        )
        if driver_id is not None:
            statement = statement.where(BookingAssignment.driver_id == driver_id)
        if truck_id is not None:
            statement = statement.where(BookingAssignment.truck_id == truck_id)
        if org_id is not None:
            statement = statement.where(Booking.org_id == org_id)
        return [
            (booking, driver, truck)
            for booking, driver, truck in (await self.session.execute(statement)).all()
        ]

    async def active_drivers(self, org_id: uuid.UUID | None = None) -> list[tuple[uuid.UUID, str]]:
        """(id, name) of every active driver (of one organization when given): the rows of a
        utilization report."""
        statement = select(Driver.id, Driver.full_name).where(Driver.status == "active")
        if org_id is not None:
            statement = statement.where(Driver.org_id == org_id)
        rows = await self.session.execute(statement)
        return [(driver_id, name) for driver_id, name in rows.all()]

    async def active_trucks(self, org_id: uuid.UUID | None = None) -> list[tuple[uuid.UUID, str]]:
        """(id, plate) of every active truck (of one organization when given): the rows of a
        utilization report."""
        statement = select(Truck.id, Truck.plate).where(Truck.status == "active")
        if org_id is not None:
            statement = statement.where(Truck.org_id == org_id)
        rows = await self.session.execute(statement)
        return [(truck_id, plate) for truck_id, plate in rows.all()]

    async def clashing_bookings(
        self, start: datetime, end: datetime, driver_id: uuid.UUID | None, truck_id: uuid.UUID | None
    ) -> list[uuid.UUID]:
        """Bookings whose active assignment holds the driver or the truck during [start, end),
        by the start of that hold: the same test the exclusion constraints apply."""
        resource = []
        if driver_id is not None:
            resource.append(BookingAssignment.driver_id == driver_id)
        if truck_id is not None:
            resource.append(BookingAssignment.truck_id == truck_id)
        return list(
            (
                await self.session.scalars(
                    select(BookingAssignment.booking_id)
                    .where(
                        BookingAssignment.active,
                        or_(*resource),
                        BookingAssignment.window.overlaps(func.tstzrange(start, end)),
                    )
                    .order_by(func.lower(BookingAssignment.window))
                )
            ).all()
        )
