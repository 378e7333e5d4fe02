"""Paying for a booking, and applying the payment provider's webhook events.

Webhook events are applied at most once (payment_events keeps every event id) and in any
order: a payment that succeeded never regresses, and an older event never overwrites what a
newer one said.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import Conflict, NotFound, Unavailable
from persistence.integrations.payments import PaymentProviderError, PaymentsPort
from persistence.models import Booking, Payment, PaymentEvent, Refund
from persistence.outbox import enqueue
from persistence.session import Caller

log = structlog.get_logger("movehub.payments")
PAYABLE = frozenset({"pending", "confirmed", "assigned"})


async def start_payment(session: AsyncSession, booking_id: uuid.UUID, caller: Caller,
                        port: PaymentsPort) -> Payment:
    """Use case: the customer pays the booking's price; one open attempt per booking."""
    booking = await session.scalar(select(Booking).where(Booking.id == booking_id)
                                   .with_for_update())
    if booking is None or booking.customer_id != caller.user_id:
        raise NotFound("no such booking")
    if booking.status not in PAYABLE:
        raise Conflict(f"a {booking.status} booking cannot be paid",
                       booking_status=booking.status)
    existing = await session.scalar(select(Payment).where(
        Payment.booking_id == booking.id,
        Payment.status.in_(("requires_payment", "processing", "succeeded"))))
    if existing is not None:
        if existing.status == "succeeded":
            raise Conflict("the booking is already paid", payment_id=str(existing.id))
        return existing
    payment = Payment(org_id=booking.org_id, booking_id=booking.id,
                      customer_id=booking.customer_id, amount_cents=booking.price_cents,
                      currency=booking.currency, provider=port.name)
    session.add(payment)
    await session.flush()
    try:
        intent = await port.create_intent(
            payment.amount_cents, payment.currency, f"movehub-payment-{payment.id}",
            {"booking_id": str(booking.id), "payment_id": str(payment.id)})
    except PaymentProviderError as exc:
        raise Unavailable("the payment provider did not answer; try again") from exc
    payment.provider_payment_id = intent.provider_payment_id
    payment.client_secret = intent.client_secret
    payment.status = intent.status
    if intent.status == "succeeded":
        await _paid(session, payment)
    return payment


async def _paid(session: AsyncSession, payment: Payment) -> None:
    await enqueue(session, "booking.paid",
                  {"booking_id": str(payment.booking_id), "payment_id": str(payment.id),
                   "amount_cents": payment.amount_cents, "currency": payment.currency},
                  idempotency_key=f"booking.paid:{payment.id}", org_id=payment.org_id,
                  aggregate_id=str(payment.booking_id))


async def _record_event(session: AsyncSession, event: dict[str, Any]) -> bool:
    """True if this event id is new (and now recorded); False for a duplicate delivery."""
    inserted = await session.execute(
        insert(PaymentEvent).values(
            id=event["id"], type=event["type"],
            object_id=str(event["data"]["object"].get("id", "")),
            created_at=datetime.fromtimestamp(int(event["created"]), UTC))
        .on_conflict_do_nothing().returning(PaymentEvent.id))
    return inserted.first() is not None


async def _apply_intent(session: AsyncSession, obj: dict[str, Any], succeeded: bool,
                        at: datetime) -> None:
    payment = await session.scalar(select(Payment).where(
        Payment.provider_payment_id == obj.get("id")).with_for_update())
    if payment is None:
        log.warning("webhook_unknown_payment", provider_payment_id=obj.get("id"))
        return
    if payment.status == "succeeded" or (payment.last_event_at and payment.last_event_at > at):
        return  # never regress a success; an older event says nothing new
    payment.last_event_at = at
    payment.status = "succeeded" if succeeded else "failed"
    if succeeded:
        await _paid(session, payment)


async def _apply_refund(session: AsyncSession, obj: dict[str, Any], at: datetime) -> None:
    refund = await session.scalar(select(Refund).where(
        Refund.provider_refund_id == obj.get("id")).with_for_update())
    if refund is None:
        return
    status = obj.get("status")
    if status == "succeeded" and refund.status in ("sending", "pending", "failed"):
        refund.status = "succeeded"
    elif status in ("failed", "canceled") and refund.status in ("sending", "succeeded"):
        # The provider gave up on a refund it had accepted: retry it, with a new key.
        refund.status, refund.provider_refund_id, refund.next_attempt_at = "failed", None, at
        refund.key_generation += 1
        refund.last_error = f"provider reported the refund {status}"
        await enqueue(session, "alert.refund_failed_later",
                      {"refund_id": str(refund.id), "booking_id": str(refund.booking_id)},
                      idempotency_key=f"alert.refund_failed_later:{refund.id}:{obj.get('id')}",
                      org_id=refund.org_id)


async def apply_webhook_event(session: AsyncSession, event: dict[str, Any]) -> bool:
    """Apply one verified provider event as SYSTEM; returns False for a duplicate."""
    if not await _record_event(session, event):
        return False
    obj: dict[str, Any] = event["data"]["object"]
    at = datetime.fromtimestamp(int(event["created"]), UTC)
    kind = event["type"]
    if kind == "payment_intent.succeeded":
        await _apply_intent(session, obj, True, at)
    elif kind == "payment_intent.payment_failed":
        await _apply_intent(session, obj, False, at)
    elif kind in ("refund.updated", "charge.refund.updated", "refund.failed"):
        await _apply_refund(session, obj, at)
    return True


async def get_payments(session: AsyncSession, booking_id: uuid.UUID) -> list[Payment]:
    if await session.get(Booking, booking_id) is None:
        raise NotFound("no such booking")
    return list(await session.scalars(select(Payment).where(Payment.booking_id == booking_id)
                                      .order_by(Payment.created_at)))
