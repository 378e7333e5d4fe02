"""The `fleet.changed` event: fleet shards reload a driver or truck when they see it."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from persistence.outbox import enqueue

# "assignment": a crew was released or finished early; the shards reload its busy windows.
FleetKind = Literal["driver", "truck", "assignment"]


async def fleet_changed(session: AsyncSession, org_id: uuid.UUID, kind: FleetKind,
                        resource_id: uuid.UUID, action: str) -> None:
    """Enqueue in the caller's transaction, so the event exists exactly when the change does."""
    await enqueue(session, "fleet.changed",
                  {"org_id": str(org_id), "kind": kind, "id": str(resource_id), "action": action},
                  org_id=org_id, aggregate_id=str(resource_id))
