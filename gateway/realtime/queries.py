"""What the sockets read from PostgreSQL, as the socket's caller (row-level security applies):
a driver's jobs, and the org's drivers, trucks and bookings for a board snapshot."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.lifecycle.rules import ACTIVE_JOB_STATUSES
from persistence.session import Caller, tenant_session

ACTIVE = sorted(ACTIVE_JOB_STATUSES)
IN_PROGRESS = ("en_route", "arrived", "loading", "in_transit", "unloading")

_DRIVER_JOBS = text("""
SELECT b.id, b.status, b.window_start, b.window_end, b.volume_m3::float8 AS volume_m3,
  b.pickup_address, ST_Y(b.pickup_location::geometry) AS pickup_lat,
  ST_X(b.pickup_location::geometry) AS pickup_lon, b.dropoff_address,
  ST_Y(b.dropoff_location::geometry) AS dropoff_lat, ST_X(b.dropoff_location::geometry) AS dropoff_lon
FROM bookings b JOIN booking_assignments a ON a.booking_id = b.id AND a.active
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


def _place(row: Any, stop: str) -> dict[str, Any]:
    return {"lat": getattr(row, f"{stop}_lat"), "lon": getattr(row, f"{stop}_lon"),
            "address": getattr(row, f"{stop}_address")}


def _iso(value: datetime) -> str:
    return value.isoformat()


def job_of(row: Any) -> dict[str, Any]:
    """`<job>` of the protocol."""
    return {"booking_id": str(row.id), "status": row.status,
            "window_start": _iso(row.window_start), "window_end": _iso(row.window_end),
            "pickup": _place(row, "pickup"), "dropoff": _place(row, "dropoff"),
            "volume_m3": row.volume_m3}


async def driver_jobs(caller: Caller, booking_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """The driver's current and upcoming jobs (or just one of them)."""
    async with tenant_session(caller) as session:
        rows = (await session.execute(_DRIVER_JOBS, {
            "driver": caller.driver_id, "statuses": ACTIVE,
            "booking": str(booking_id) if booking_id else None})).all()
    return [job_of(row) for row in rows]


def shard_job(job: dict[str, Any]) -> dict[str, Any]:
    """What the fleet shard needs of a job to detect arrivals and lateness."""
    return {"booking_id": job["booking_id"], "status": job["status"],
            "pickup_lat": job["pickup"]["lat"], "pickup_lon": job["pickup"]["lon"],
            "dropoff_lat": job["dropoff"]["lat"], "dropoff_lon": job["dropoff"]["lon"],
            "window_start": datetime.fromisoformat(job["window_start"]).timestamp()}


def current_job(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The job in hand: one in progress, else the next assigned one."""
    for job in jobs:
        if job["status"] in IN_PROGRESS:
            return job
    return jobs[0] if jobs else None


async def _rows(session: AsyncSession, query: Any, **params: Any) -> list[Any]:
    return list((await session.execute(query, params)).all())


async def board_rows(caller: Caller, org_id: uuid.UUID) -> dict[str, Any] | None:
    """The org, its drivers (last stored position), trucks and bookings; None if the caller
    cannot see the org."""
    async with tenant_session(caller) as session:
        org = (await session.execute(_ORG, {"org": org_id})).first()
        if org is None:
            return None
        drivers = await _rows(session, _DRIVERS, org=org_id)
        trucks = await _rows(session, _TRUCKS, org=org_id)
        bookings = await _rows(session, _BOOKINGS, org=org_id, active=ACTIVE)
    return {
        "org": {"id": str(org.id), "name": org.name, "service_area": org.area},
        "drivers": drivers,
        "trucks": [{"id": str(t.id), "plate": t.plate, "capacity_m3": t.capacity_m3,
                    "status": t.status} for t in trucks],
        "bookings": [{"id": str(b.id), "status": b.status, "window_start": _iso(b.window_start),
                      "window_end": _iso(b.window_end), "volume_m3": b.volume_m3,
                      "pickup": _place(b, "pickup"), "dropoff": _place(b, "dropoff"),
                      "driver_id": str(b.driver_id) if b.driver_id else None,
                      "truck_id": str(b.truck_id) if b.truck_id else None} for b in bookings],
    }
