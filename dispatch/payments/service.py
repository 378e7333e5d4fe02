"""Paying for a booking, and applying the payment provider's webhook events.

Starting a payment must answer the caller with the provider's client secret, so the provider
is called during the request, but never inside a database transaction (it would hold a pooled
connection, and any lock, for a network call of unbounded length). Three steps:

1. A short transaction as the caller locks the booking, checks it is payable and records the
   attempt (a Payment with no provider id yet: "requested"), or finds the open one; commit.
2. The provider is asked with no session open. The idempotency key names the booking and the
   attempt number (how many payments it had before), and the payment id derives from the same
   pair, so the key can always be told again from the row.
3. A second short transaction locks the booking and the payment, checks again and records the
   provider's answer on the attempt (once: a row that has its provider id keeps it).

Concurrent starts queue on the booking's lock in step 1: one records the attempt, the others
find it. Those that find it still requested ask the provider with the same key (the same
intent comes back) and step 3 records it once. An attempt left requested by a crash or an
unreachable provider (503) is found by the next start, which asks again with the same key and
completes it. Work that follows a state change (refund sends, notifications) goes through the
outbox.

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

from dispatch.errors import Conflict, DomainError, NotFound, Unavailable
from dispatch.invoices import online as online_invoice_payments
from dispatch.refunds.flows import enqueue_send
from persistence.integrations.payments import IntentResult, PaymentProviderError, PaymentsPort
from persistence.models import Booking, Payment
from persistence.outbox import enqueue
from persistence.repositories.bookings import BookingRepository
from persistence.repositories.payments import PaymentRepository
from persistence.repositories.refunds import RefundRepository
from persistence.session import Caller, tenant_session
from persistence.statuses import BookingStatus, RefundStatus

log = structlog.get_logger("movehub.payments")
# Seconds a caller is told to wait (Retry-After) when the provider did not answer.
PROVIDER_RETRY_AFTER_S = 5
PAYABLE = frozenset({BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.ASSIGNED})
# Payment ids derive from (booking, attempt), so a replayed intent maps to the same row.
PAYMENT_ID_NAMESPACE = uuid.UUID("6f1d3c52-5a0e-4f43-9a3e-2f7d0c7b9e11")


def payment_id_for(booking_id: uuid.UUID, attempt: int) -> uuid.UUID:
    return uuid.uuid5(PAYMENT_ID_NAMESPACE, f"{booking_id}:{attempt}")


def attempt_of(payment: Payment, attempts: int) -> int:
    """The attempt number a payment was recorded as (its id derives from it), among the
    booking's `attempts` payments: what its idempotency key names."""
    for attempt in range(attempts):
        if payment_id_for(payment.booking_id, attempt) == payment.id:
            return attempt
    raise Conflict("this payment was not started here; start it again", payment_id=str(payment.id))


def _check_payable(booking: Booking | None, caller: Caller) -> Booking:
    if booking is None or booking.customer_id != caller.user_id:
        raise NotFound("no such booking")
    if booking.status not in PAYABLE:
        raise Conflict(f"a {booking.status} booking cannot be paid", booking_status=booking.status)
    return booking


async def _open_attempt(
    session: AsyncSession, booking_id: uuid.UUID, caller: Caller, provider: str
) -> tuple[Payment, int]:
    """Step 1, under the booking's lock: the open attempt (paid: 409), or a new one recorded
    as requested; with its attempt number."""
    booking = _check_payable(await BookingRepository(session).lock_by_id(booking_id), caller)
    payments = PaymentRepository(session)
    attempts = await payments.attempts_for_booking(booking.id)
    existing = await payments.open_for_booking(booking.id)
    if existing is not None:
        if existing.status == "succeeded":
            raise Conflict("the booking is already paid", payment_id=str(existing.id))
        return existing, attempt_of(existing, attempts)
    payment = Payment(
        id=payment_id_for(booking.id, attempts),
        org_id=booking.org_id,
        booking_id=booking.id,
        customer_id=booking.customer_id,
        amount_cents=booking.price_cents,
        currency=booking.currency,
        provider=provider,
        provider_payment_id=None,
        client_secret=None,
        status="requires_payment",
    )
    session.add(payment)
    await session.flush()
    return payment, attempts


async def _create_intent(port: PaymentsPort, payment: Payment, attempt: int) -> IntentResult:
    try:
        return await port.create_intent(
            payment.amount_cents,
            payment.currency,
            f"movehub-payment-{payment.booking_id}-{attempt}",
            {"booking_id": str(payment.booking_id), "payment_id": str(payment.id)},
        )
    except PaymentProviderError as exc:
        raise Unavailable(
            "the payment provider did not answer; try again", retry_after=PROVIDER_RETRY_AFTER_S
        ) from exc


async def _record_answer(
    session: AsyncSession, booking_id: uuid.UUID, caller: Caller, payment_id: uuid.UUID, intent: IntentResult
) -> tuple[Payment, DomainError | None]:
    """Step 3, under the booking's and the payment's locks: the provider's answer recorded on
    the attempt once. The refusal to raise after the commit (the answer is kept either way,
    so a webhook about the intent still finds its payment)."""
    booking = await BookingRepository(session).lock_by_id(booking_id)
    payment = await PaymentRepository(session).lock_by_id(payment_id)
    if booking is None or payment is None:
        raise NotFound("no such booking")
    if payment.provider_payment_id is None:
        payment.provider_payment_id = intent.provider_payment_id
        payment.client_secret = intent.client_secret
        payment.status = intent.status
        await session.flush()
        if intent.status == "succeeded":
            await _paid(session, payment)
    elif payment.provider_payment_id != intent.provider_payment_id:
        log.warning(
            "payment_intent_differs",
            payment_id=str(payment.id),
            recorded=payment.provider_payment_id,
            answered=intent.provider_payment_id,
        )
    try:
        _check_payable(booking, caller)
    except DomainError as refusal:  # it changed while the provider answered
        return payment, refusal
    return payment, None


async def start_payment(caller: Caller, booking_id: uuid.UUID, port: PaymentsPort) -> Payment:
    """Use case: the customer pays the booking's price; one open attempt per booking. Two
    short transactions as the caller, and the provider asked between them with none open."""
    async with tenant_session(caller) as session:
        payment, attempt = await _open_attempt(session, booking_id, caller, port.name)
    if payment.provider_payment_id is not None:
        return payment  # asked and answered already
    intent = await _create_intent(port, payment, attempt)  # no transaction open here
    async with tenant_session(caller) as session:
        payment, refusal = await _record_answer(session, booking_id, caller, payment.id, intent)
    if refusal is not None:
        raise refusal
    return payment


async def _paid(session: AsyncSession, payment: Payment) -> None:
    await enqueue(
        session,
        "booking.paid",
        {
            "booking_id": str(payment.booking_id),
            "payment_id": str(payment.id),
            "amount_cents": payment.amount_cents,
            "currency": payment.currency,
        },
        idempotency_key=f"booking.paid:{payment.id}",
        org_id=payment.org_id,
        aggregate_id=str(payment.booking_id),
    )


def metadata_id(obj: dict[str, Any], key: str) -> uuid.UUID | None:
    """An id the provider object carries in its metadata (we put it there), if well formed."""
    metadata = obj.get("metadata")
    value = metadata.get(key) if isinstance(metadata, dict) else None
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def _record_event(session: AsyncSession, event: dict[str, Any]) -> bool:
    """True if this event id is new (and now recorded); False for a duplicate delivery."""
    return await PaymentRepository(session).record_event(
        event["id"],
        event["type"],
        str(event["data"]["object"].get("id", "")),
        datetime.fromtimestamp(int(event["created"]), UTC),
    )


async def _apply_intent(session: AsyncSession, obj: dict[str, Any], succeeded: bool, at: datetime) -> None:
    payments = PaymentRepository(session)
    payment = await payments.lock_by_provider_id(obj.get("id"))
    answered_meanwhile = metadata_id(obj, "payment_id")
    if payment is None and answered_meanwhile is not None and obj.get("id"):
        # The event came before the start recorded the provider's answer: the attempt is
        # found by the id the intent carries in its metadata, and gets the intent's id.
        payment = await payments.lock_unanswered(answered_meanwhile)
        if payment is not None:
            payment.provider_payment_id = str(obj["id"])
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
    if status == "succeeded" and refund.status in (
        RefundStatus.SENDING,
        RefundStatus.PENDING,
        RefundStatus.FAILED,
    ):
        refund.status = RefundStatus.SUCCEEDED
    elif status in ("failed", "canceled") and refund.status in (RefundStatus.SENDING, RefundStatus.SUCCEEDED):
        # The provider gave up on a refund it had accepted: send it again, with a new key.
        refund.status, refund.provider_refund_id = RefundStatus.FAILED, None
        refund.key_generation += 1
        refund.last_error = f"provider reported the refund {status}"
        await enqueue_send(session, refund)
        await enqueue(
            session,
            "alert.refund_failed_later",
            {"refund_id": str(refund.id), "booking_id": str(refund.booking_id)},
            idempotency_key=f"alert.refund_failed_later:{refund.id}:{obj.get('id')}",
            org_id=refund.org_id,
        )


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
