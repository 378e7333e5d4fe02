"""What the sockets read, as the socket's caller (row-level security decides what is seen): a
driver's jobs for its hello and pushes, and an organization's rows for a board snapshot.

Hot paths (every driver hello, every board snapshot not served from the cache): the SQL is
hand-written text, one round trip per question, no ORM objects built.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.statuses import ACTIVE_JOB_STATUSES

# Plain strings, so asyncpg binds a text[] (the enum members would not adapt).
ACTIVE = [status.value for status in ACTIVE_JOB_STATUSES]

_DRIVER_JOBS = text("""
SELECT b.id, b.status, b.window_start, b.window_end, b.volume_m3::float8 AS volume_m3,
  b.crew_size, a.truck_id, t.plate AS truck_plate,
  b.pickup_address, ST_Y(b.pickup_location::geometry) AS pickup_lat,
  ST_X(b.pickup_location::geometry) AS pickup_lon, b.dropoff_address,
  ST_Y(b.dropoff_location::geometry) AS dropoff_lat, ST_X(b.dropoff_location::geometry) AS dropoff_lon
FROM bookings b JOIN booking_assignments a ON a.booking_id = b.id AND a.active
LEFT JOIN trucks t ON t.id = a.truck_id
WHERE a.driver_id = :driver AND b.status = ANY(:statuses)
  AND (CAST(:booking AS uuid) IS NULL OR b.id = CAST(:booking AS uuid))
ORDER BY b.window_start LIMIT 50
""")
_ORG = text("""
SELECT id, name, ST_AsGeoJSON(service_area::geometry, 6)::json AS area
FROM organizations WHERE id = :org
""")
_DRIVERS = text("""
SELECT d.id, d.full_name, d.status, ST_Y(coalesce(p.location, d.home_base)::geometry) AS lat,
       ST_X(coalesce(p.location, d.home_base)::geometry) AS lon, p.heading, p.speed,
       extract(epoch FROM p.recorded_at)::float8 AS last_seen
FROM drivers d LEFT JOIN driver_positions p ON p.driver_id = d.id
WHERE d.org_id = :org ORDER BY d.full_name, d.id
""")
_TRUCKS = text("""
SELECT id, plate, capacity_m3::float8 AS capacity_m3, status FROM trucks
WHERE org_id = :org ORDER BY plate
""")
_BOOKINGS = text("""
SELECT b.id, b.status, b.window_start, b.window_end, b.volume_m3::float8 AS volume_m3,
       a.driver_id, a.truck_id, b.pickup_address, ST_Y(b.pickup_location::geometry) AS pickup_lat,
  ST_X(b.pickup_location::geometry) AS pickup_lon, b.dropoff_address,
  ST_Y(b.dropoff_location::geometry) AS dropoff_lat, ST_X(b.dropoff_location::geometry) AS dropoff_lon
FROM bookings b LEFT JOIN booking_assignments a ON a.booking_id = b.id AND a.active
WHERE b.org_id = :org AND (b.status = ANY(:active) OR (b.window_end > now() - interval '12 hours'
      AND b.window_start < now() + interval '14 days'))
ORDER BY b.window_start LIMIT 500
""")


class RealtimeRepository:
    """Rows for the driver and board sockets, read in the socket's own short transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _rows(self, query: Any, **params: Any) -> list[Any]:
        return list((await self.session.execute(query, params)).all())

    async def active_jobs_of_driver(
        self, driver_id: uuid.UUID, booking_id: uuid.UUID | None = None
    ) -> list[Any]:
        """The driver's assigned and in-progress jobs (or just one), soonest first: what its
        hello lists and what a `job.assigned` push carries."""
        return await self._rows(
            _DRIVER_JOBS, driver=driver_id, statuses=ACTIVE, booking=str(booking_id) if booking_id else None
        )

    async def board_org(self, org_id: uuid.UUID) -> Any | None:
        """The org's name and service area (GeoJSON); None when the caller cannot see it."""
        return (await self.session.execute(_ORG, {"org": org_id})).first()

    async def board_drivers(self, org_id: uuid.UUID) -> list[Any]:
        """Every driver of the org at its last stored position (its home base before any)."""
        return await self._rows(_DRIVERS, org=org_id)

    async def board_trucks(self, org_id: uuid.UUID) -> list[Any]:
        """The org's trucks by plate, for the board's fleet panel."""
        return await self._rows(_TRUCKS, org=org_id)

    async def board_bookings(self, org_id: uuid.UUID) -> list[Any]:
        """The bookings a board shows: every active one, and any other from 12 hours back to
        14 days ahead, with the crew and truck assigned."""
        return await self._rows(_BOOKINGS, org=org_id, active=ACTIVE)
