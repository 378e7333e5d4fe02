"""Use case: move a booking to a new status, with its history row and outbox event, atomically."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import InvalidTransition
from dispatch.lifecycle.rules import Status, actor_for_role, allowed_next
from persistence.models.bookings import Booking, BookingStatusHistory
from persistence.outbox import enqueue
from persistence.session import Caller


async def apply_transition(
    session: AsyncSession,
    booking: Booking,
    target: str,
    caller: Caller,
    *,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
) -> BookingStatusHistory:
    """Change status in the caller's transaction; the caller must hold the row lock or rely on
    the booking's version column (a concurrent change then fails with StaleDataError -> 409).
    """
    current = cast(Status, booking.status)
    allowed = allowed_next(current, actor_for_role(caller.role))
    if target not in allowed:
        raise InvalidTransition(
            f"cannot move booking from {current} to {target} as {caller.role}",
            current=current, requested=target, allowed=allowed,
        )
    booking.status = target
    history = BookingStatusHistory(
        booking_id=booking.id, org_id=booking.org_id, from_status=current, to_status=target,
        actor_user_id=caller.user_id, actor_role=caller.role, reason=reason,
        metadata_=metadata or {},
    )
    session.add(history)
    await session.flush()
    await enqueue(
        session, "booking.status_changed",
        {"booking_id": str(booking.id), "from": current, "to": target, "reason": reason,
         "customer_id": str(booking.customer_id), "actor_role": caller.role},
        idempotency_key=f"booking.status_changed:{booking.id}:{history.id}",
        org_id=booking.org_id, aggregate_id=str(booking.id),
    )
    return history
