"""Paying for a booking, and applying the payment provider's webhook events.

Starting a payment must answer the caller with the provider's client secret, so the provider
is called during the request, but never while we hold a row lock: the booking is checked
without a lock, the PaymentIntent is created, and only then is the booking locked, checked
again and the payment recorded (a short critical section). The idempotency key names the
booking and its attempt number (how many payments it had), and the payment id derives from
the same pair, so two concurrent requests, or a retry after a crash between the provider's
answer and our commit, ask for the same intent and record it once. Work that follows a state
change (refund sends, notifications) goes through the outbox.

Webhook events are applied at most once (payment_events keeps every event id) and in any
order: a payment that succeeded never regresses, and an older event never overwrites what a
newer one said.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import Conflict, NotFound, Unavailable
from dispatch.invoices import online as online_invoice_payments
from dispatch.refunds.flows import enqueue_send
from persistence.integrations.payments import IntentResult, PaymentProviderError, PaymentsPort
from persistence.models import Booking, Payment
from persistence.outbox import enqueue
from persistence.repositories.bookings import BookingRepository
from persistence.repositories.payments import PaymentRepository
from persistence.repositories.refunds import RefundRepository
from persistence.session import Caller
from persistence.statuses import BookingStatus, RefundStatus

log = structlog.get_logger("movehub.payments")
PAYABLE = frozenset({BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.ASSIGNED})
# Payment ids derive from (booking, attempt), so a replayed intent maps to the same row.
PAYMENT_ID_NAMESPACE = uuid.UUID("6f1d3c52-5a0e-4f43-9a3e-2f7d0c7b9e11")


async def _payable(session: AsyncSession, booking_id: uuid.UUID, caller: Caller, *,
                   lock: bool) -> tuple[Booking, Payment | None]:
    """The caller's payable booking and its open payment (returned as is; paid: 409); with
    `lock`, the booking is read again under a row lock held to the commit."""
    booking = await BookingRepository(session).get_by_id(booking_id)
    if booking is not None and lock:
        await session.refresh(booking, with_for_update=True)
    if booking is None or booking.customer_id != caller.user_id:
        raise NotFound("no such booking")
    if booking.status not in PAYABLE:
        raise Conflict(f"a {booking.status} booking cannot be paid",
                       booking_status=booking.status)
    existing = await PaymentRepository(session).open_for_booking(booking.id)
    if existing is not None and existing.status == "succeeded":
        raise Conflict("the booking is already paid", payment_id=str(existing.id))
    return booking, existing


async def _create_intent(port: PaymentsPort, booking: Booking, payment_id: uuid.UUID,
                         attempt: int) -> IntentResult:
    try:
        return await port.create_intent(
            booking.price_cents, booking.currency,
            f"movehub-payment-{booking.id}-{attempt}",
            {"booking_id": str(booking.id), "payment_id": str(payment_id)})
    except PaymentProviderError as exc:
        raise Unavailable("the payment provider did not answer; try again") from exc


async def start_payment(session: AsyncSession, booking_id: uuid.UUID, caller: Caller,
                        port: PaymentsPort) -> Payment:
    """Use case: the customer pays the booking's price; one open attempt per booking."""
    booking, existing = await _payable(session, booking_id, caller, lock=False)
    if existing is not None:
        return existing
    attempt = await PaymentRepository(session).attempts_for_booking(booking.id)
    payment_id = uuid.uuid5(PAYMENT_ID_NAMESPACE, f"{booking.id}:{attempt}")
    intent = await _create_intent(port, booking, payment_id, attempt)  # no lock held here
    booking, existing = await _payable(session, booking_id, caller, lock=True)
    if existing is not None:
        return existing  # a concurrent request recorded it first (the same intent, same key)
    payment = Payment(id=payment_id, org_id=booking.org_id, booking_id=booking.id,
                      customer_id=booking.customer_id, amount_cents=booking.price_cents,
                      currency=booking.currency, provider=port.name,
                      provider_payment_id=intent.provider_payment_id,
                      client_secret=intent.client_secret, status=intent.status)
    session.add(payment)
    await session.flush()
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
    return await PaymentRepository(session).record_event(
        event["id"], event["type"], str(event["data"]["object"].get("id", "")),
        datetime.fromtimestamp(int(event["created"]), UTC))


async def _apply_intent(session: AsyncSession, obj: dict[str, Any], succeeded: bool,
                        at: datetime) -> None:
    payment = await PaymentRepository(session).lock_by_provider_id(obj.get("id"))
    if payment is None:
        # Not a booking's: an invoice paid online (dispatch/invoices/online.py), or unknown.
        if not await online_invoice_payments.apply_intent_event(session, obj, succeeded, at):
            log.warning("webhook_unknown_payment", provider_payment_id=obj.get("id"))
        return
    if payment.status == "succeeded" or (payment.last_event_at and payment.last_event_at > at):
        return  # never regress a success; an older event says nothing new
    payment.last_event_at = at
    payment.status = "succeeded" if succeeded else "failed"
    if succeeded:
        await _paid(session, payment)


async def _apply_refund(session: AsyncSession, obj: dict[str, Any], at: datetime) -> None:
    refund = await RefundRepository(session).lock_by_provider_id(obj.get("id"))
    if refund is None:
        return
    status = obj.get("status")
    if status == "succeeded" and refund.status in (RefundStatus.SENDING, RefundStatus.PENDING,
                                                   RefundStatus.FAILED):
        refund.status = RefundStatus.SUCCEEDED
    elif status in ("failed", "canceled") and refund.status in (RefundStatus.SENDING,
                                                                RefundStatus.SUCCEEDED):
        # The provider gave up on a refund it had accepted: send it again, with a new key.
        refund.status, refund.provider_refund_id = RefundStatus.FAILED, None
        refund.key_generation += 1
        refund.last_error = f"provider reported the refund {status}"
        await enqueue_send(session, refund)
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
    if await BookingRepository(session).get_by_id(booking_id) is None:
        raise NotFound("no such booking")
    return await PaymentRepository(session).of_booking(booking_id)
