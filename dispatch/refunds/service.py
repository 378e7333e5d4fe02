"""Cancellation with tiered refunds, and sending refunds exactly once.

A refund is a row first (written with the cancellation, in one transaction); sending it is a
separate step with an idempotency key derived from the row. The step claims the row
('sending', attempts + 1) and commits before calling the provider, so a crash between the
provider's answer and our commit leaves a 'sending' row that the retry job picks up after its
lease and sends again with the same key: the provider answers with the same refund, which we
record once (provider_refund_id is unique).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import Conflict, NotFound, ValidationFailed
from dispatch.lifecycle.service import lock_booking, transition
from dispatch.refunds.rules import (
    ReasonCode,
    refund_percent,
    refundable_cents,
    retry_delay_s,
    tiers_for,
)
from dispatch.refunds.schemas import CancellationPreview
from persistence.config import get_settings
from persistence.integrations.payments import PaymentProviderError, PaymentsPort
from persistence.models import Booking, Organization, Payment, Refund
from persistence.outbox import enqueue
from persistence.session import SYSTEM, Caller, tenant_session

log = structlog.get_logger("movehub.refunds")
SENDING_LEASE = timedelta(minutes=2)


async def _money(session: AsyncSession, booking: Booking) -> tuple[Payment | None, int, int]:
    """The succeeded payment of a booking, what it paid, and what is refunded or in flight."""
    payment = await session.scalar(
        select(Payment).where(Payment.booking_id == booking.id, Payment.status == "succeeded")
        .order_by(Payment.created_at.desc()).limit(1))
    if payment is None:
        return None, 0, 0
    refunded = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount_cents), 0))
        .where(Refund.payment_id == payment.id, Refund.status != "failed",
               Refund.status != "dead")) or 0
    return payment, payment.amount_cents, int(refunded)


async def _percent(session: AsyncSession, booking: Booking, caller: Caller,
                   now: datetime) -> tuple[float, int]:
    notice = booking.window_start - now
    if caller.is_staff or caller.is_admin:
        return notice.total_seconds() / 3600, 100  # the mover or the platform cancels: all back
    org = await session.get(Organization, booking.org_id)
    tiers = tiers_for(org.refund_policy if org else None)
    return notice.total_seconds() / 3600, refund_percent(notice, tiers)


async def preview(session: AsyncSession, booking_id: uuid.UUID, caller: Caller,
                  now: datetime | None = None) -> CancellationPreview:
    booking = await session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("no such booking")
    hours, percent = await _percent(session, booking, caller, now or datetime.now(UTC))
    _, paid, refunded = await _money(session, booking)
    return CancellationPreview(
        booking_id=booking.id, hours_before_start=round(hours, 2), refund_percent=percent,
        paid_cents=paid, already_refunded_cents=refunded,
        refund_cents=refundable_cents(paid, refunded, percent), currency=booking.currency)


async def _write_refund(session: AsyncSession, booking: Booking, payment: Payment, amount: int,
                        reason_code: ReasonCode, note: str, caller: Caller) -> Refund:
    refund = Refund(org_id=booking.org_id, booking_id=booking.id, payment_id=payment.id,
                    customer_id=booking.customer_id, amount_cents=amount,
                    currency=payment.currency, reason_code=reason_code.value, note=note,
                    requested_by=caller.user_id)
    session.add(refund)
    await session.flush()
    await enqueue(session, "notify.cancellation_refund",
                  {"user_id": str(booking.customer_id),
                   "context": {"booking_id": str(booking.id), "refund_cents": amount,
                               "currency": payment.currency, "reason": reason_code.value}},
                  idempotency_key=f"notify.cancellation_refund:{refund.id}",
                  org_id=booking.org_id, aggregate_id=str(booking.id))
    return refund


async def cancel(session: AsyncSession, booking_id: uuid.UUID, caller: Caller,
                 reason_code: ReasonCode, note: str,
                 now: datetime | None = None) -> tuple[Booking, Refund | None]:
    """Use case: cancel + refund row + notification, in the caller's one transaction."""
    booking, _ = await transition(session, booking_id, "cancelled", caller,
                                  reason=reason_code.value, metadata={"note": note})
    _, percent = await _percent(session, booking, caller, now or datetime.now(UTC))
    payment, paid, refunded = await _money(session, booking)
    amount = refundable_cents(paid, refunded, percent)
    if payment is None or amount == 0:
        return booking, None
    return booking, await _write_refund(session, booking, payment, amount, reason_code, note,
                                        caller)


async def issue_refund(session: AsyncSession, booking_id: uuid.UUID, amount_cents: int,
                       reason_code: ReasonCode | str, note: str, caller: Caller) -> Refund:
    """Write a refund of a paid booking (support resolutions); sending follows the commit."""
    if amount_cents <= 0:
        raise ValidationFailed("a refund amount must be positive", field="amount_cents")
    booking = await lock_booking(session, booking_id)
    payment, paid, refunded = await _money(session, booking)
    if payment is None:
        raise Conflict("the booking has no successful payment to refund")
    if amount_cents > paid - refunded:
        raise Conflict(f"at most {paid - refunded} cents can still be refunded",
                       refundable_cents=paid - refunded)
    return await _write_refund(session, booking, payment, amount_cents, ReasonCode(reason_code),
                               note, caller)


async def _claim(refund_id: uuid.UUID, now: datetime) -> tuple[Refund, str] | None:
    """Mark a due refund 'sending' and count the attempt; committed before the provider call."""
    async with tenant_session(SYSTEM) as session:
        refund = await session.scalar(
            select(Refund).where(
                Refund.id == refund_id, Refund.next_attempt_at <= now,
                or_(Refund.status.in_(("pending", "failed")),
                    (Refund.status == "sending") & (Refund.updated_at <= now - SENDING_LEASE)))
            .with_for_update(skip_locked=True))
        if refund is None:
            return None
        payment = await session.get(Payment, refund.payment_id)
        assert payment is not None and payment.provider_payment_id is not None
        refund.status, refund.attempts, refund.updated_at = "sending", refund.attempts + 1, now
        return refund, payment.provider_payment_id


async def send_refund(refund_id: uuid.UUID, port: PaymentsPort,
                      now: datetime | None = None) -> str | None:
    """One attempt at sending a refund; returns its new status (None: not due or taken)."""
    now = now or datetime.now(UTC)
    claimed = await _claim(refund_id, now)
    if claimed is None:
        return None
    refund, provider_payment_id = claimed
    settings = get_settings()
    try:
        answer = await port.refund(provider_payment_id, refund.amount_cents,
                                   refund.idempotency_key)
    except PaymentProviderError as exc:
        return await _record_failure(refund.id, str(exc), refund.attempts, now,
                                     settings.refund_max_attempts)
    async with tenant_session(SYSTEM) as session:
        stored = await session.get(Refund, refund.id, with_for_update=True)
        assert stored is not None
        if stored.provider_refund_id == answer.provider_refund_id or stored.status == "succeeded":
            return stored.status  # already recorded by a webhook or an earlier attempt
        stored.provider_refund_id = answer.provider_refund_id
        stored.status = "succeeded" if answer.status == "succeeded" else "sending"
        stored.last_error, stored.updated_at = None, now
        return stored.status


async def _record_failure(refund_id: uuid.UUID, error: str, attempts: int, now: datetime,
                          max_attempts: int) -> str:
    async with tenant_session(SYSTEM) as session:
        refund = await session.get(Refund, refund_id, with_for_update=True)
        assert refund is not None
        refund.last_error, refund.updated_at = error[:2000], now
        if attempts >= max_attempts:
            refund.status = "dead"
            await enqueue(session, "alert.refund_dead",
                          {"refund_id": str(refund.id), "booking_id": str(refund.booking_id),
                           "amount_cents": refund.amount_cents, "error": error[:500]},
                          idempotency_key=f"alert.refund_dead:{refund.id}", org_id=refund.org_id)
            log.error("refund_dead", refund_id=str(refund.id), attempts=attempts, error=error)
        else:
            refund.status = "failed"
            refund.next_attempt_at = now + timedelta(seconds=retry_delay_s(attempts))
            log.warning("refund_retry_scheduled", refund_id=str(refund.id), attempts=attempts)
        return refund.status


async def retry_due_refunds(port: PaymentsPort, now: datetime | None = None) -> int:
    """The scheduler's job: send every due pending/failed refund and every stale 'sending' one."""
    now = now or datetime.now(UTC)
    async with tenant_session(SYSTEM) as session:
        due = (await session.scalars(
            select(Refund.id).where(
                Refund.next_attempt_at <= now,
                or_(Refund.status.in_(("pending", "failed")),
                    (Refund.status == "sending") & (Refund.updated_at <= now - SENDING_LEASE)))
            .order_by(Refund.next_attempt_at).limit(100))).all()
    sent = 0
    for refund_id in due:
        if await send_refund(refund_id, port, now) is not None:
            sent += 1
    return sent


async def list_refunds(session: AsyncSession, status: str | None, limit: int,
                       offset: int) -> list[Refund]:
    statement = select(Refund).order_by(Refund.created_at.desc()).limit(limit).offset(offset)
    if status:
        statement = statement.where(Refund.status == status)
    return list(await session.scalars(statement))
