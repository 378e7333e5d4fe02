"""Tracking queries: a booking in progress with its crew and the crew's newest stored position
(asked as the system caller: the tracking service decides who may see it)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_BOOKING_WITH_CREW = text("""
SELECT b.id, b.org_id, b.customer_id, b.status,
       ST_Y(b.pickup_location::geometry) AS pickup_lat,
       ST_X(b.pickup_location::geometry) AS pickup_lon,
       ST_Y(b.dropoff_location::geometry) AS dropoff_lat,
       ST_X(b.dropoff_location::geometry) AS dropoff_lon,
       a.driver_id, d.full_name AS driver_name, t.plate AS truck_plate,
       ST_Y(p.location::geometry) AS lat, ST_X(p.location::geometry) AS lon,
       p.heading, p.speed, p.recorded_at
FROM bookings b
LEFT JOIN booking_assignments a ON a.booking_id = b.id AND a.active
LEFT JOIN drivers d ON d.id = a.driver_id
LEFT JOIN trucks t ON t.id = a.truck_id
LEFT JOIN driver_positions p ON p.driver_id = a.driver_id
WHERE b.id = :booking
""")


class TrackingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def booking_with_crew(self, booking_id: uuid.UUID) -> Any | None:
        """The booking's stops, status and customer, its active crew and that driver's newest
        stored position (None columns where there is no crew or no position yet)."""
        return (await self.session.execute(_BOOKING_WITH_CREW, {"booking": booking_id})).first()
