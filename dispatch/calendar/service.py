"""Use cases behind the calendar: schedules, free time, utilization and conflict checks.

All queries (persistence/repositories/calendar.py) run in the caller's tenant session, so RLS
limits them to the caller's org.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta

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
from persistence.repositories.calendar import CalendarRepository
from persistence.repositories.fleet import DriverRepository, TruckRepository

MAX_RANGE = timedelta(days=62)


def checked_range(start: datetime, end: datetime) -> Interval:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("start and end need a timezone offset", field="start")
    if end <= start:
        raise ValidationFailed("end must be after start", field="end")
    if end - start > MAX_RANGE:
        raise ValidationFailed(f"a calendar range spans at most {MAX_RANGE.days} days", field="end")
    return Interval(start, end)


async def _entries(
    session: AsyncSession,
    bounds: Interval,
    *,
    driver_id: uuid.UUID | None = None,
    truck_id: uuid.UUID | None = None,
    org_id: uuid.UUID | None = None,
) -> list[CalendarEntry]:
    rows = await CalendarRepository(session).entries(
        bounds.start, bounds.end, driver_id=driver_id, truck_id=truck_id, org_id=org_id
    )
    return [
        CalendarEntry(
            booking_id=b.id,
            status=b.status,
            start=b.window_start,
            end=b.window_end,
            pickup_address=b.pickup_address,
            dropoff_address=b.dropoff_address,
            driver_id=d,
            truck_id=t,
        )
        for b, d, t in rows
    ]


async def fleet_calendar(
    session: AsyncSession, start: datetime, end: datetime, org_id: uuid.UUID | None = None
) -> FleetCalendar:
    """The bookings the caller sees in the range (RLS), of one organization when given."""
    bounds = checked_range(start, end)
    entries = await _entries(session, bounds, org_id=org_id)
    return FleetCalendar(
        start=start, end=end, entries=entries, unassigned=sum(1 for e in entries if e.driver_id is None)
    )


async def resource_schedule(
    session: AsyncSession, resource_type: str, resource_id: uuid.UUID, start: datetime, end: datetime
) -> ResourceSchedule:
    bounds = checked_range(start, end)
    repository = DriverRepository(session) if resource_type == "driver" else TruckRepository(session)
    if await repository.get_by_id(resource_id) is None:
        raise NotFound(f"no such {resource_type}")
    key = "driver_id" if resource_type == "driver" else "truck_id"
    entries = await _entries(session, bounds, **{key: resource_id})
    busy = [Interval(e.start, e.end) for e in entries]
    return ResourceSchedule(
        resource_id=resource_id,
        resource_type=resource_type,
        entries=entries,
        free=[FreeGap(start=g.start, end=g.end) for g in free_gaps(busy, bounds)],
        utilization=round(utilization(busy, bounds), 4),
    )


async def utilization_report(
    session: AsyncSession, start: datetime, end: datetime, org_id: uuid.UUID | None = None
) -> UtilizationReport:
    bounds = checked_range(start, end)
    entries = await _entries(session, bounds, org_id=org_id)
    busy_by: dict[tuple[str, uuid.UUID], list[Interval]] = defaultdict(list)
    for e in entries:
        if e.driver_id:
            busy_by[("driver", e.driver_id)].append(Interval(e.start, e.end))
        if e.truck_id:
            busy_by[("truck", e.truck_id)].append(Interval(e.start, e.end))
    calendar = CalendarRepository(session)
    drivers, trucks = await calendar.active_drivers(org_id), await calendar.active_trucks(org_id)

    def rows(kind: str, resources: list[tuple[uuid.UUID, str]]) -> list[UtilizationRow]:
        out = []
        for resource_id, label in resources:
            busy = busy_by.get((kind, resource_id), [])
            share = utilization(busy, bounds)
            out.append(
                UtilizationRow(
                    resource_id=resource_id,
                    resource_type=kind,
                    label=label,
                    busy_hours=round(share * bounds.duration.total_seconds() / 3600, 2),
                    utilization=round(share, 4),
                )
            )
        return sorted(out, key=lambda r: -r.utilization)

    driver_rows = rows("driver", drivers)
    fleet = sum(r.utilization for r in driver_rows) / len(driver_rows) if driver_rows else 0.0
    return UtilizationReport(
        start=start,
        end=end,
        drivers=driver_rows,
        trucks=rows("truck", trucks),
        fleet_utilization=round(fleet, 4),
    )


async def check_availability(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    driver_id: uuid.UUID | None,
    truck_id: uuid.UUID | None,
) -> AvailabilityAnswer:
    """Would this driver and/or truck be free for [start, end)? Lists the bookings in the way."""
    window = checked_range(start, end)
    if driver_id is None and truck_id is None:
        raise ValidationFailed("give a driver_id, a truck_id or both", field="driver_id")
    clashing = await CalendarRepository(session).clashing_bookings(
        window.start, window.end, driver_id, truck_id
    )
    return AvailabilityAnswer(available=not clashing, conflicting_booking_ids=clashing)
