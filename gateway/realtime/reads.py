"""What the sockets read from PostgreSQL, shaped as protocol frames: a driver's jobs, and the
org's drivers, trucks and bookings for a board snapshot. Each read is one short transaction as
the socket's caller (row-level security applies); the SQL is in
persistence/repositories/realtime.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from persistence.repositories.realtime import RealtimeRepository
from persistence.session import Caller, tenant_session
from persistence.statuses import IN_PROGRESS_STATUSES


def _place(row: Any, stop: str) -> dict[str, Any]:
    return {
        "lat": getattr(row, f"{stop}_lat"),
        "lon": getattr(row, f"{stop}_lon"),
        "address": getattr(row, f"{stop}_address"),
    }


def _iso(value: datetime) -> str:
    return value.isoformat()


def job_of(row: Any) -> dict[str, Any]:
    """`<job>` of the protocol."""
    return {
        "booking_id": str(row.id),
        "status": row.status,
        "window_start": _iso(row.window_start),
        "window_end": _iso(row.window_end),
        "pickup": _place(row, "pickup"),
        "dropoff": _place(row, "dropoff"),
        "volume_m3": row.volume_m3,
        "crew_size": row.crew_size,
        "truck": {"id": str(row.truck_id), "plate": row.truck_plate},
    }


async def driver_jobs(caller: Caller, booking_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """The driver's current and upcoming jobs (or just one of them)."""
    assert caller.driver_id is not None
    async with tenant_session(caller) as session:
        rows = await RealtimeRepository(session).active_jobs_of_driver(caller.driver_id, booking_id)
    return [job_of(row) for row in rows]


def shard_job(job: dict[str, Any]) -> dict[str, Any]:
    """What the fleet shard needs of a job to detect arrivals and lateness."""
    return {
        "booking_id": job["booking_id"],
        "status": job["status"],
        "pickup_lat": job["pickup"]["lat"],
        "pickup_lon": job["pickup"]["lon"],
        "dropoff_lat": job["dropoff"]["lat"],
        "dropoff_lon": job["dropoff"]["lon"],
        "window_start": datetime.fromisoformat(job["window_start"]).timestamp(),
    }


def current_job(jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The job in hand: one in progress, else the next assigned one."""
    for job in jobs:
        if job["status"] in IN_PROGRESS_STATUSES:
            return job
    return jobs[0] if jobs else None


async def board_rows(caller: Caller, org_id: uuid.UUID) -> dict[str, Any] | None:
    """The org, its drivers (last stored position), trucks and bookings; None if the caller
    cannot see the org."""
    async with tenant_session(caller) as session:
        reads = RealtimeRepository(session)
        org = await reads.board_org(org_id)
        if org is None:
            return None
        drivers = await reads.board_drivers(org_id)
        trucks = await reads.board_trucks(org_id)
        bookings = await reads.board_bookings(org_id)
    return {
        "org": {"id": str(org.id), "name": org.name, "service_area": org.area},
        "drivers": drivers,
        "trucks": [
            {"id": str(t.id), "plate": t.plate, "capacity_m3": t.capacity_m3, "status": t.status}
            for t in trucks
        ],
        "bookings": [
            {
                "id": str(b.id),
                "status": b.status,
                "window_start": _iso(b.window_start),
                "window_end": _iso(b.window_end),
                "volume_m3": b.volume_m3,
                "pickup": _place(b, "pickup"),
                "dropoff": _place(b, "dropoff"),
                "driver_id": str(b.driver_id) if b.driver_id else None,
                "truck_id": str(b.truck_id) if b.truck_id else None,
            }
            for b in bookings
        ],
    }
