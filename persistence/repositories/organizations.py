"""Organization queries: the public directory, service-area coverage and free capacity."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import BookingAssignment, Driver, Organization, Truck
from persistence.repositories.base import (
    LonLat,
    Repository,
    geography_point,
    like_pattern,
    sorted_by,
)


class OrganizationRepository(Repository[Organization]):
    model = Organization

    def directory(
        self, *, name: str | None = None, verified: bool | None = None, covering: LonLat | None = None
    ) -> Select[Any]:
        """Active organizations a signed-in caller may browse, optionally near a point."""
        statement = select(Organization).where(Organization.active)
        if name:
            pattern = like_pattern(name)
            statement = statement.where(
                or_(Organization.name.ilike(pattern), Organization.code.ilike(pattern))
            )
        if verified is not None:
            statement = statement.where(Organization.verified == verified)
        if covering is not None:
            statement = statement.where(func.ST_Covers(Organization.service_area, geography_point(covering)))
        return statement

    async def code_taken(self, code: str) -> bool:
        """Whether another organization already uses this short code."""
        return bool(await self.session.scalar(select(exists().where(Organization.code == code))))

    async def is_verified(self, org_id: uuid.UUID) -> bool:
        """Whether the organization is verified (every required document approved and
        unexpired): only then does dispatch assign its bookings automatically."""
        return bool(await self.session.scalar(select(Organization.verified).where(Organization.id == org_id)))

    async def covers(self, org_id: uuid.UUID, position: LonLat) -> bool:
        """Whether the organization's service area contains the position (edges included)."""
        return bool(
            await self.session.scalar(
                select(func.ST_Covers(Organization.service_area, geography_point(position))).where(
                    Organization.id == org_id
                )
            )
        )

    async def available_for(
        self,
        position: LonLat,
        start: datetime,
        end: datetime,
        volume_m3: float,
        *,
        sort: Sequence[StrEnum],
        limit: int,
        offset: int,
    ) -> tuple[list[tuple[Organization, float]], int]:
        """Organizations serving the position with a free active driver and a big-enough free
        active truck for the whole window: one sorted page of (organization, distance in
        metres) and the total, in one query (the caller must be able to read every tenant's
        fleet, see acting_as_system). Sort keys: distance_km, rating_avg, hourly_rate_cents.
        """
        window = func.tstzrange(start, end, literal("[)"))
        pickup = geography_point(position)
        busy_driver = exists().where(
            BookingAssignment.driver_id == Driver.id,
            BookingAssignment.active,
            BookingAssignment.window.op("&&")(window),
        )
        busy_truck = exists().where(
            BookingAssignment.truck_id == Truck.id,
            BookingAssignment.active,
            BookingAssignment.window.op("&&")(window),
        )
        free_driver = exists().where(
            Driver.org_id == Organization.id, Driver.status == "active", ~busy_driver
        )
        free_truck = exists().where(
            Truck.org_id == Organization.id,
            Truck.status == "active",
            Truck.capacity_m3 >= volume_m3,
            ~busy_truck,
        )
        distance_m = func.ST_Distance(Organization.base_location, pickup).label("distance_m")
        statement = select(Organization, distance_m, func.count().over().label("total")).where(
            and_(
                Organization.active,
                Organization.verified,
                func.ST_Covers(Organization.service_area, pickup),
                free_driver,
                free_truck,
            )
        )
        columns = {
            "distance_km": distance_m,
            "rating_avg": Organization.rating_avg,
            "hourly_rate_cents": Organization.hourly_rate_cents,
        }
        statement = sorted_by(statement, sort, columns, Organization.id)
        rows = (await self.session.execute(statement.limit(limit).offset(offset))).all()
        total = int(rows[0].total) if rows else 0
        return [(row[0], float(row.distance_m)) for row in rows], total


async def distance_km(session: AsyncSession, origin: LonLat, destination: LonLat) -> float:
    """Distance between two points on the WGS84 spheroid (PostGIS geography), in km."""
    metres = await session.scalar(
        select(func.ST_Distance(geography_point(origin), geography_point(destination)))
    )
    return float(metres or 0) / 1000.0
