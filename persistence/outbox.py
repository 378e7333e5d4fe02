"""The transactional outbox: enqueue an after-commit effect in the caller's transaction, and the
one retry policy and queries the outbox worker (actors/outbox.py) delivers them with.

Every effect that must follow a commit (notifications, refund sends, invoice PDFs, fleet shard
updates, live-stream relays) is a row here: it exists exactly when the change does, and the
worker retries it with the same backoff, attempt cap and dead-letter state whatever its topic.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.config import Settings
from persistence.models.outbox import OutboxEvent
from persistence.telemetry import traceparent


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One claimed outbox row as the handlers see it."""

    id: int
    topic: str
    payload: dict[str, Any]
    org_id: uuid.UUID | None
    attempts: int
    traceparent: str | None = None  # the writer's trace, continued by the delivery


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
    await session.execute(
        outbox_row(topic, payload, idempotency_key=idempotency_key, org_id=org_id, aggregate_id=aggregate_id)
    )


def outbox_row(
    topic: str,
    payload: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    org_id: uuid.UUID | None = None,
    aggregate_id: str = "",
) -> Insert:
    """enqueue's INSERT, for a caller that sends it in one statement with its own write
    (as a CTE: `statement.add_cte(outbox_row(...).cte())`), saving a round trip."""
    return (
        insert(OutboxEvent)
        .values(
            topic=topic,
            payload=payload,
            idempotency_key=idempotency_key or f"{topic}:{uuid.uuid4()}",
            org_id=org_id,
            aggregate_id=aggregate_id,
            traceparent=traceparent(),  # the current span's (None: tracing off)
        )
        # No conflict target: naming one needs SELECT on the row, which RLS denies to tenants
        # (only admins read the outbox); idempotency_key is the one unique a new row can hit.
        .on_conflict_do_nothing()
        .inline()  # no implicit RETURNING of the id: reading the row back needs SELECT too
    )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a failed row is tried again and when it is dead: the same for every topic.

    Delay after n failed tries: base * 2^(n-1), capped, then "equal jitter" (a uniform draw in
    the upper half) so rows that failed together do not retry in lockstep.
    """

    base_s: float
    max_s: float
    max_attempts: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            base_s=settings.outbox_backoff_base_s,
            max_s=settings.outbox_backoff_max_s,
            max_attempts=settings.outbox_max_attempts,
        )

    def delay_s(self, attempts: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max_s, self.base_s * 2.0 ** max(attempts - 1, 0))
        draw: float = (rng or random.Random()).random()
        return ceiling / 2 + draw * ceiling / 2

    def gives_up(self, attempts: int, *, retryable: bool) -> bool:
        """A permanent failure is dead at once; a transient one after `max_attempts` tries."""
        return not retryable or attempts >= self.max_attempts


_CLAIM = text("""
UPDATE outbox SET attempts = attempts + 1, next_attempt_at = :lease_until
WHERE id IN (
  SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= :now
  ORDER BY next_attempt_at, id LIMIT :limit FOR UPDATE SKIP LOCKED)
RETURNING id, topic, payload, org_id, attempts, traceparent
""")


async def claim_due(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[OutboxItem]:
    """Take the rows due at `now` (as SYSTEM): count the attempt and lease each until
    `lease_until`, so other workers skip them and a worker that dies only delays them."""
    rows = (await session.execute(_CLAIM, {"now": now, "lease_until": lease_until, "limit": limit})).all()
    return sorted(
        (
            OutboxItem(
                id=row.id,
                topic=row.topic,
                payload=row.payload or {},
                org_id=row.org_id,
                attempts=row.attempts,
                traceparent=row.traceparent,
            )
            for row in rows
        ),
        key=lambda item: item.id,
    )


async def settle(session: AsyncSession, item: OutboxItem, values: dict[str, Any]) -> None:
    """Record how a claimed row's delivery ended: delivered, retried later, or dead."""
    await session.execute(update(OutboxEvent).where(OutboxEvent.id == item.id).values(**values))
