"""Fleet events for the shards: `fleet.changed` (reload a driver, truck or crew's busy windows)
and `fleet.assignment_noted` (a committed assignment: mark its crew busy for the window)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.outbox import enqueue

# "assignment": a crew was released or finished early; the shards reload its busy windows.
FleetKind = Literal["driver", "truck", "assignment"]


async def fleet_changed(
    session: AsyncSession, org_id: uuid.UUID, kind: FleetKind, resource_id: uuid.UUID, action: str
) -> None:
    """Enqueue in the caller's transaction, so the event exists exactly when the change does."""
    await enqueue(
        session,
        "fleet.changed",
        {"org_id": str(org_id), "kind": kind, "id": str(resource_id), "action": action},
        org_id=org_id,
        aggregate_id=str(resource_id),
    )


async def assignment_noted(
    session: AsyncSession,
    org_id: uuid.UUID,
    assignment_id: uuid.UUID,
    driver_id: uuid.UUID,
    truck_id: uuid.UUID,
    spec: dict[str, Any],
) -> None:
    """Enqueue in the assigning transaction; after the commit the outbox tells the org's shard,
    which then stops offering the crew for the booking's window (`spec`: booking_spec)."""
    await enqueue(
        session,
        "fleet.assignment_noted",
        {
            "org_id": str(org_id),
            "driver_id": str(driver_id),
            "truck_id": str(truck_id),
            "start": spec["start"],
            "end": spec["end"],
            "end_lat": spec["dropoff_lat"],
            "end_lon": spec["dropoff_lon"],
        },
        idempotency_key=f"fleet.assignment_noted:{assignment_id}",
        org_id=org_id,
        aggregate_id=str(assignment_id),
    )
