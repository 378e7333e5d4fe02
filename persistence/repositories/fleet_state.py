"""What a fleet shard loads when it (re)builds its live state: the organizations of its slots,
their drivers, trucks and committed assignments (actors/fleet_state.py turns them into columns).

Read as SYSTEM across tenants by the shard (a cache of every org it hosts). Plain text queries
returning ids as text, since the shard keys everything by string: a rebuild reads thousands of
rows at once, without ORM objects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_ORGS = text("""
SELECT id::text, name, verified AND active AS verified, rating_avg::float8,
       ST_AsBinary(service_area::geometry) AS area, hourly_rate_cents, per_km_cents,
       minimum_charge_cents, currency
FROM organizations WHERE (CAST(:org AS uuid) IS NULL OR id = CAST(:org AS uuid))
""")
_DRIVERS = text("""
SELECT d.id::text, d.org_id::text, d.status = 'active' AND d.verified AS eligible,
       d.skills, ST_Y(d.home_base::geometry) AS lat, ST_X(d.home_base::geometry) AS lon,
       d.rating_avg::float8 AS rating
FROM drivers d WHERE d.org_id = ANY(CAST(:orgs AS uuid[])) ORDER BY d.id
""")
_TRUCKS = text("""
SELECT id::text, org_id::text, capacity_m3::float8, status = 'active' AS active
FROM trucks WHERE org_id = ANY(CAST(:orgs AS uuid[])) ORDER BY id
""")
_BUSY = text("""
SELECT a.org_id::text, a.driver_id::text, a.truck_id::text,
       extract(epoch FROM lower(a."window"))::float8 AS s,
       extract(epoch FROM upper(a."window"))::float8 AS e,
       ST_Y(b.dropoff_location::geometry) AS lat, ST_X(b.dropoff_location::geometry) AS lon
FROM booking_assignments a JOIN bookings b ON b.id = a.booking_id
WHERE a.active AND a.org_id = ANY(CAST(:orgs AS uuid[])) AND upper(a."window") > :since
""")


class FleetStateRepository:
    """The rows behind a shard's columns; every method but `organizations` takes org ids."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _rows(self, query: Any, **params: Any) -> list[Any]:
        return list((await self.session.execute(query, params)).all())

    async def organizations(self, org_id: str | None = None) -> list[Any]:
        """Every organization (or just one) with what a shard prices and filters offers by:
        verified and active, rating, service area (WKB), rates. The shard keeps its slots'."""
        return await self._rows(_ORGS, org=org_id)

    async def drivers_of(self, org_ids: list[str]) -> list[Any]:
        """These orgs' drivers by id: eligibility, skills, home base and rating to score."""
        return await self._rows(_DRIVERS, orgs=org_ids)

    async def trucks_of(self, org_ids: list[str]) -> list[Any]:
        """These orgs' trucks by id: capacity and whether they may be assigned."""
        return await self._rows(_TRUCKS, orgs=org_ids)

    async def busy_windows_of(self, org_ids: list[str], since: datetime) -> list[Any]:
        """Active assignments of these orgs ending after `since` (epoch seconds, and where the
        crew ends up): the windows a shard must not double-book."""
        return await self._rows(_BUSY, orgs=org_ids, since=since)
