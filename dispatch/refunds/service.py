"""Cancellation with tiered refunds, and refunds of support resolutions.

A refund is a row first, written in the use case's one transaction together with its
`refund.send` outbox row; the outbox worker sends it after the commit (dispatch/refunds/flows.py
says how it is sent exactly once).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import Conflict, NotFound, ValidationFailed
from dispatch.lifecycle.service import lock_booking, transition
from dispatch.refunds.flows import enqueue_send
from dispatch.refunds.rules import ReasonCode, refund_percent, refundable_cents, tiers_for
from dispatch.refunds.schemas import CancellationPreview
from persistence.models import Booking, Payment, Refund
from persistence.outbox import enqueue
from persistence.repositories.bookings import BookingRepository
from persistence.repositories.organizations import OrganizationRepository
from persistence.repositories.payments import PaymentRepository
from persistence.repositories.refunds import RefundRepository
from persistence.session import Caller
from persistence.statuses import BookingStatus


async def _money(session: AsyncSession, booking: Booking) -> tuple[Payment | None, int, int]:
    """The succeeded payment of a booking, what it paid, and what is refunded or in flight."""
    payment = await PaymentRepository(session).succeeded_for_booking(booking.id)
    if payment is None:
        return None, 0, 0
    refunded = await RefundRepository(session).committed_cents(payment.id)
    return payment, payment.amount_cents, refunded


async def _percent(
    session: AsyncSession, booking: Booking, caller: Caller, now: datetime
) -> tuple[float, int]:
    notice = booking.window_start - now
    if caller.is_staff or caller.is_admin:
        return notice.total_seconds() / 3600, 100  # the mover or the platform cancels: all back
    org = await OrganizationRepository(session).get_by_id(booking.org_id)
    tiers = tiers_for(org.refund_policy if org else None)
    return notice.total_seconds() / 3600, refund_percent(notice, tiers)


async def preview(
    session: AsyncSession, booking_id: uuid.UUID, caller: Caller, now: datetime | None = None
) -> CancellationPreview:
    booking = await BookingRepository(session).get_by_id(booking_id)
    if booking is None:
        raise NotFound("no such booking")
    hours, percent = await _percent(session, booking, caller, now or datetime.now(UTC))
    _, paid, refunded = await _money(session, booking)
    return CancellationPreview(
        booking_id=booking.id,
        hours_before_start=round(hours, 2),
        refund_percent=percent,
        paid_cents=paid,
        already_refunded_cents=refunded,
        refund_cents=refundable_cents(paid, refunded, percent),
        currency=booking.currency,
    )


async def _write_refund(
    session: AsyncSession,
    booking: Booking,
    payment: Payment,
    amount: int,
    reason_code: ReasonCode,
    note: str,
    caller: Caller,
) -> Refund:
    refund = Refund(
        org_id=booking.org_id,
        booking_id=booking.id,
        payment_id=payment.id,
        customer_id=booking.customer_id,
        amount_cents=amount,
        currency=payment.currency,
        reason_code=reason_code.value,
        note=note,
        requested_by=caller.user_id,
    )
    session.add(refund)
    await session.flush()
    await enqueue_send(session, refund)
    await enqueue(
        session,
        "notify.cancellation_refund",
        {
            "user_id": str(booking.customer_id),
            "context": {
                "booking_id": str(booking.id),
                "refund_cents": amount,
                "currency": payment.currency,
                "reason": reason_code.value,
            },
        },
        idempotency_key=f"notify.cancellation_refund:{refund.id}",
        org_id=booking.org_id,
        aggregate_id=str(booking.id),
    )
    return refund


async def cancel(
    session: AsyncSession,
    booking_id: uuid.UUID,
    caller: Caller,
    reason_code: ReasonCode,
    note: str,
    now: datetime | None = None,
) -> tuple[Booking, Refund | None]:
    """Use case: cancel + refund row + its send + notification, in the caller's one
    transaction."""
    booking, _ = await transition(
        session,
        booking_id,
        BookingStatus.CANCELLED,
        caller,
        reason=reason_code.value,
        metadata={"note": note},
    )
    _, percent = await _percent(session, booking, caller, now or datetime.now(UTC))
    payment, paid, refunded = await _money(session, booking)
    amount = refundable_cents(paid, refunded, percent)
    if payment is None or amount == 0:
        return booking, None
    return booking, await _write_refund(session, booking, payment, amount, reason_code, note, caller)


async def issue_refund(
    session: AsyncSession,
    booking_id: uuid.UUID,
    amount_cents: int,
    reason_code: ReasonCode | str,
    note: str,
    caller: Caller,
) -> Refund:
    """Write a refund of a paid booking (support resolutions); the outbox sends it after the
    commit."""
    if amount_cents <= 0:
        raise ValidationFailed("a refund amount must be positive", field="amount_cents")
    booking = await lock_booking(session, booking_id)
    payment, paid, refunded = await _money(session, booking)
    if payment is None:
        raise Conflict("the booking has no successful payment to refund")
    if amount_cents > paid - refunded:
        raise Conflict(
            f"at most {paid - refunded} cents can still be refunded", refundable_cents=paid - refunded
        )
    return await _write_refund(session, booking, payment, amount_cents, ReasonCode(reason_code), note, caller)


async def list_refunds(session: AsyncSession, status: str | None, limit: int, offset: int) -> list[Refund]:
    """Refunds newest first, optionally of one status."""
    refunds = RefundRepository(session)
    rows, _ = await refunds.page(refunds.by_status(status), limit=limit, offset=offset)
    return rows
