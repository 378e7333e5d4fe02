"""Sending a refund to the payment provider: the outbox's `refund.send` topic.

A refund is a row first, written together with its `refund.send` outbox row (the cancellation's
or the support resolution's one transaction). The outbox worker delivers that row like any
other: it claims it with a lease, retries it with the shared backoff, and dead-letters it after
the shared attempt cap. This module is one attempt, and what a dead letter means for a refund.

Exactly once: the provider idempotency key derives from the refund row (id and key generation),
so every attempt asks the provider the same thing. A worker that dies after the provider
answered but before our commit leaves the outbox row leased; after the lease the row is sent
again with the same key, the provider answers with the same refund, and we record it once
(provider_refund_id is unique).
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.integrations.email import DeliveryFailed
from persistence.integrations.payments import PaymentProviderError, PaymentsPort
from persistence.models import Refund
from persistence.outbox import OutboxItem, enqueue
from persistence.repositories.refunds import RefundRepository
from persistence.session import SYSTEM, tenant_session
from persistence.statuses import RefundStatus

log = structlog.get_logger("movehub.refunds")
REFUND_SEND = "refund.send"
# Nothing left to send: the provider has (or had) it, or a human must look at it.
SETTLED = frozenset({RefundStatus.SUCCEEDED, RefundStatus.SENDING, RefundStatus.DEAD})


async def enqueue_send(session: AsyncSession, refund: Refund) -> None:
    """Queue the send in the transaction that wrote (or reopened) the refund; one row per key
    generation, so a refund the provider failed later is asked for again, once."""
    await enqueue(
        session,
        REFUND_SEND,
        {"refund_id": str(refund.id), "key_generation": refund.key_generation},
        idempotency_key=f"{REFUND_SEND}:{refund.id}:{refund.key_generation}",
        org_id=refund.org_id,
        aggregate_id=str(refund.booking_id),
    )


def _refund_id(item: OutboxItem) -> uuid.UUID:
    try:
        return uuid.UUID(str(item.payload["refund_id"]))
    except (KeyError, ValueError) as exc:
        raise DeliveryFailed(f"refund.send without a refund id: {item.payload!r}", retryable=False) from exc


async def _count_attempt(refund_id: uuid.UUID, generation: int | None) -> tuple[Refund, str] | None:
    """Count the attempt (committed before the provider call); None when nothing is to send."""
    async with tenant_session(SYSTEM) as session:
        found = await RefundRepository(session).lock_with_provider_payment(refund_id)
        if found is None:
            raise DeliveryFailed(f"refund {refund_id} or its provider payment is gone", retryable=False)
        refund, provider_payment_id = found
        if refund.status in SETTLED or generation not in (None, refund.key_generation):
            return None  # sent already, or an older generation's row: the newer one sends
        refund.attempts += 1
        return refund, provider_payment_id


async def send_refund(port: PaymentsPort, item: OutboxItem) -> None:
    """The `refund.send` handler: one attempt. A provider failure is recorded on the refund and
    raised as retryable, so the outbox schedules the next attempt (same key)."""
    counted = await _count_attempt(_refund_id(item), item.payload.get("key_generation"))
    if counted is None:
        return
    refund, provider_payment_id = counted
    try:
        answer = await port.refund(provider_payment_id, refund.amount_cents, refund.idempotency_key)
    except PaymentProviderError as exc:
        await _record_failure(refund.id, str(exc))
        raise DeliveryFailed(f"refund {refund.id}: {exc}", retryable=True) from exc
    async with tenant_session(SYSTEM) as session:
        stored = await RefundRepository(session).lock_by_id(refund.id)
        assert stored is not None
        if stored.provider_refund_id == answer.provider_refund_id or stored.status == RefundStatus.SUCCEEDED:
            return  # already recorded by a webhook or an earlier attempt
        stored.provider_refund_id = answer.provider_refund_id
        stored.status = RefundStatus.SUCCEEDED if answer.status == "succeeded" else RefundStatus.SENDING
        stored.last_error = None


async def _record_failure(refund_id: uuid.UUID, error: str) -> None:
    async with tenant_session(SYSTEM) as session:
        refund = await RefundRepository(session).lock_by_id(refund_id)
        if refund is not None and refund.status not in SETTLED:
            refund.status, refund.last_error = RefundStatus.FAILED, error[:2000]
    log.warning("refund_retry_scheduled", refund_id=str(refund_id), error=error)


async def refund_dead(session: AsyncSession, item: OutboxItem, error: str) -> None:
    """The outbox gave up on a send (in the transaction marking its row dead): the refund is
    dead too and needs a human, and the alert is raised once."""
    refund = await RefundRepository(session).lock_by_id(_refund_id(item))
    if refund is None or refund.status in SETTLED:
        return
    refund.status, refund.last_error = RefundStatus.DEAD, error[:2000]
    await enqueue(
        session,
        "alert.refund_dead",
        {
            "refund_id": str(refund.id),
            "booking_id": str(refund.booking_id),
            "amount_cents": refund.amount_cents,
            "error": error[:500],
        },
        idempotency_key=f"alert.refund_dead:{refund.id}:{refund.key_generation}",
        org_id=refund.org_id,
    )
    log.error("refund_dead", refund_id=str(refund.id), attempts=refund.attempts, error=error)
