"""Use cases behind the calendar: schedules, free time, utilization and conflict checks.

All queries run in the caller's tenant session, so RLS limits them to the caller's org.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.calendar.rules import Interval, free_gaps, utilization
from dispatch.calendar.schemas import (
    AvailabilityAnswer,
    CalendarEntry,
    FleetCalendar,
    FreeGap,
    ResourceSchedule,
    UtilizationReport,
    UtilizationRow,
)
from dispatch.errors import NotFound, ValidationFailed
from persistence.models import Booking, BookingAssignment, Driver, Truck

MAX_RANGE = timedelta(days=62)
_ACTIVE_BOOKING = ("cancelled", "no_show")


def checked_range(start: datetime, end: datetime) -> Interval:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("start and end need a timezone offset", field="start")
    if end <= start:
        raise ValidationFailed("end must be after start", field="end")
    if end - start > MAX_RANGE:
        raise ValidationFailed(f"a calendar range spans at most {MAX_RANGE.days} days",
                               field="end")
    return Interval(start, end)


async def _entries(session: AsyncSession, bounds: Interval, *, driver_id: uuid.UUID | None = None,
                   truck_id: uuid.UUID | None = None) -> list[CalendarEntry]:
    statement = (
        select(Booking, BookingAssignment.driver_id, BookingAssignment.truck_id)
        .outerjoin(BookingAssignment, and_(BookingAssignment.booking_id == Booking.id,
                                           BookingAssignment.active))
        .where(Booking.window_start < bounds.end, Booking.window_end > bounds.start,
               Booking.status.not_in(_ACTIVE_BOOKING))
        .order_by(Booking.window_start)
    )
    if driver_id is not None:
        statement = statement.where(BookingAssignment.driver_id == driver_id)
    if truck_id is not None:
        statement = statement.where(BookingAssignment.truck_id == truck_id)
    rows = (await session.execute(statement)).all()
    return [
        CalendarEntry(booking_id=b.id, status=b.status, start=b.window_start, end=b.window_end,
                      pickup_address=b.pickup_address, dropoff_address=b.dropoff_address,
                      driver_id=d, truck_id=t)
        for b, d, t in rows
    ]


async def fleet_calendar(session: AsyncSession, start: datetime, end: datetime) -> FleetCalendar:
    bounds = checked_range(start, end)
    entries = await _entries(session, bounds)
    return FleetCalendar(start=start, end=end, entries=entries,
                         unassigned=sum(1 for e in entries if e.driver_id is None))


async def resource_schedule(session: AsyncSession, resource_type: str, resource_id: uuid.UUID,
                            start: datetime, end: datetime) -> ResourceSchedule:
    bounds = checked_range(start, end)
    model = Driver if resource_type == "driver" else Truck
    if await session.get(model, resource_id) is None:
        raise NotFound(f"no such {resource_type}")
    key = "driver_id" if resource_type == "driver" else "truck_id"
    entries = await _entries(session, bounds, **{key: resource_id})
    busy = [Interval(e.start, e.end) for e in entries]
    return ResourceSchedule(
        resource_id=resource_id, resource_type=resource_type, entries=entries,
        free=[FreeGap(start=g.start, end=g.end) for g in free_gaps(busy, bounds)],
        utilization=round(utilization(busy, bounds), 4),
    )


async def utilization_report(session: AsyncSession, start: datetime,
                             end: datetime) -> UtilizationReport:
    bounds = checked_range(start, end)
    entries = await _entries(session, bounds)
    busy_by: dict[tuple[str, uuid.UUID], list[Interval]] = defaultdict(list)
    for e in entries:
        if e.driver_id:
            busy_by[("driver", e.driver_id)].append(Interval(e.start, e.end))
        if e.truck_id:
            busy_by[("truck", e.truck_id)].append(Interval(e.start, e.end))
    drivers = (await session.execute(
        select(Driver.id, Driver.full_name).where(Driver.status == "active"))).all()
    trucks = (await session.execute(
        select(Truck.id, Truck.plate).where(Truck.status == "active"))).all()

    def rows(kind: str, resources: list[tuple[uuid.UUID, str]]) -> list[UtilizationRow]:
        out = []
        for resource_id, label in resources:
            busy = busy_by.get((kind, resource_id), [])
            share = utilization(busy, bounds)
            out.append(UtilizationRow(
                resource_id=resource_id, resource_type=kind, label=label,
                busy_hours=round(share * bounds.duration.total_seconds() / 3600, 2),
                utilization=round(share, 4)))
        return sorted(out, key=lambda r: -r.utilization)

    driver_rows = rows("driver", [(r[0], r[1]) for r in drivers])
    fleet = sum(r.utilization for r in driver_rows) / len(driver_rows) if driver_rows else 0.0
    return UtilizationReport(start=start, end=end, drivers=driver_rows,
                             trucks=rows("truck", [(r[0], r[1]) for r in trucks]),
                             fleet_utilization=round(fleet, 4))


async def check_availability(session: AsyncSession, start: datetime, end: datetime,
                             driver_id: uuid.UUID | None,
                             truck_id: uuid.UUID | None) -> AvailabilityAnswer:
    """Would this driver and/or truck be free for [start, end)? Lists the bookings in the way."""
    window = checked_range(start, end)
    if driver_id is None and truck_id is None:
        raise ValidationFailed("give a driver_id, a truck_id or both", field="driver_id")
    resource = []
    if driver_id is not None:
        resource.append(BookingAssignment.driver_id == driver_id)
    if truck_id is not None:
        resource.append(BookingAssignment.truck_id == truck_id)
    # The same test the exclusion constraints apply: active and overlapping ([) ranges).
    clashing = (await session.scalars(
        select(BookingAssignment.booking_id)
        .where(BookingAssignment.active, or_(*resource),
               BookingAssignment.window.overlaps(func.tstzrange(window.start, window.end)))
        .order_by(func.lower(BookingAssignment.window))
    )).all()
    return AvailabilityAnswer(available=not clashing, conflicting_booking_ids=list(clashing))
