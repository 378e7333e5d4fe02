"""Use cases of the lifecycle: the vocabulary the pages read, and moving a booking to a new
status with its history row and outbox event, atomically."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import InvalidTransition, NotFound
from dispatch.fleet.events import fleet_changed
from dispatch.lifecycle.rules import actor_for_role, allowed_next, moves
from dispatch.lifecycle.schemas import Lifecycle, StatusGroups
from persistence.models.bookings import Booking, BookingStatusHistory
from persistence.outbox import enqueue
from persistence.repositories.assignments import AssignmentRepository
from persistence.repositories.base import acting_as_system
from persistence.repositories.bookings import BookingRepository
from persistence.repositories.lifecycle import StatusHistoryRepository
from persistence.session import Caller
from persistence.statuses import (
    ACTIVE_JOB_STATUSES,
    DRIVER_JOB_STATUSES,
    FINISHED_STATUSES,
    IN_PROGRESS_STATUSES,
    OPEN_STATUSES,
    RELEASING_STATUSES,
    BookingStatus,
)


def vocabulary() -> Lifecycle:
    """The statuses, their groups and the allowed moves, for pages that must not keep a copy."""
    return Lifecycle(
        statuses=list(BookingStatus),
        groups=StatusGroups(
            driver_job=list(DRIVER_JOB_STATUSES),
            in_progress=list(IN_PROGRESS_STATUSES),
            active=list(ACTIVE_JOB_STATUSES),
            open=list(OPEN_STATUSES),
            finished=list(FINISHED_STATUSES),
        ),
        moves=moves(),
    )


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
    current = booking.status
    allowed = allowed_next(current, actor_for_role(caller.role))
    if target not in allowed:
        raise InvalidTransition(
            f"cannot move booking from {current} to {target} as {caller.role}",
            current=current,
            requested=target,
            allowed=allowed,
        )
    target = BookingStatus(target).value  # the row and the event hold the plain string
    booking.status = target
    history = BookingStatusHistory(
        booking_id=booking.id,
        org_id=booking.org_id,
        from_status=current,
        to_status=target,
        actor_user_id=caller.user_id,
        actor_role=caller.role,
        reason=reason,
        metadata_=metadata or {},
    )
    session.add(history)
    await session.flush()
    await enqueue(
        session,
        "booking.status_changed",
        {
            "booking_id": str(booking.id),
            "from": current,
            "to": target,
            "reason": reason,
            "customer_id": str(booking.customer_id),
            "actor_role": caller.role,
        },
        idempotency_key=f"booking.status_changed:{booking.id}:{history.id}",
        org_id=booking.org_id,
        aggregate_id=str(booking.id),
    )
    return history


async def lock_booking(session: AsyncSession, booking_id: uuid.UUID) -> Booking:
    """The booking, row-locked for this transaction; another tenant's booking is NotFound."""
    booking = await BookingRepository(session).lock_by_id(booking_id)
    if booking is None:
        raise NotFound("no such booking")
    return booking


async def release_assignment(session: AsyncSession, booking: Booking, caller: Caller) -> None:
    """Free the crew of a booking the caller has just (visibly, under lock) moved on.

    Customers cannot see assignments under RLS, yet their cancellation must free the driver,
    so this one statement runs as the system, scoped to that booking's active assignment.
    """
    async with acting_as_system(session, caller):
        await AssignmentRepository(session).release_active(booking.id)
    await fleet_changed(session, booking.org_id, "assignment", booking.id, "released")


async def finish_assignment(session: AsyncSession, booking: Booking, caller: Caller) -> None:
    """A completed job frees its crew from now on: the assignment stays (who did the job),
    but its window ends now (empty when the job was done before its window began), so the
    exclusion constraints and the shards' busy windows let the crew take the next one."""
    async with acting_as_system(session, caller):
        await AssignmentRepository(session).end_active_window_now(booking.id)
    await fleet_changed(session, booking.org_id, "assignment", booking.id, "finished")


async def transition(
    session: AsyncSession,
    booking_id: uuid.UUID,
    target: str,
    caller: Caller,
    *,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
) -> tuple[Booking, BookingStatusHistory]:
    """Use case: lock, check, move, and free the crew when the job no longer needs it.

    The row lock serializes concurrent transitions: the second waits, then sees the new
    status and is refused (409) if its move is no longer allowed.
    """
    booking = await lock_booking(session, booking_id)
    history = await apply_transition(session, booking, target, caller, reason=reason, metadata=metadata)
    if target in RELEASING_STATUSES:
        await release_assignment(session, booking, caller)
    elif target == BookingStatus.COMPLETED:
        await finish_assignment(session, booking, caller)
    return booking, history


async def history_of(session: AsyncSession, booking_id: uuid.UUID) -> list[BookingStatusHistory]:
    """The booking's status changes, oldest first; a booking the caller cannot see is NotFound."""
    if await BookingRepository(session).get_by_id(booking_id) is None:
        raise NotFound("no such booking")
    return await StatusHistoryRepository(session).trail_of(booking_id)
