"""Enqueue side effects in the caller's transaction; the outbox worker delivers them later."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models.outbox import OutboxEvent


async def enqueue(
    session: AsyncSession,
    topic: str,
    payload: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    org_id: uuid.UUID | None = None,
    aggregate_id: str = "",
) -> None:
    """Record one event; a repeated idempotency key is a no-op, so retries never double-send.

    Topics are dotted names: `booking.*` and `assignment.*` events are also relayed to the
    organization's live event stream by the outbox worker; `notify.*` become email/SMS.
    """
    statement = (
        insert(OutboxEvent)
        .values(
            topic=topic,
            payload=payload,
            idempotency_key=idempotency_key or f"{topic}:{uuid.uuid4()}",
            org_id=org_id,
            aggregate_id=aggregate_id,
        )
        # No conflict target: naming one needs SELECT on the row, which RLS denies to tenants
        # (only admins read the outbox); idempotency_key is the one unique a new row can hit.
        .on_conflict_do_nothing()
        .inline()  # no implicit RETURNING of the id: reading the row back needs SELECT too
    )
    await session.execute(statement)
