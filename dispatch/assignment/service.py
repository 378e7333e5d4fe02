"""Use cases: auto-assign (shard ranks, the database arbitrates), manual assign, unassign.

The exclusion constraints on booking_assignments are the last word on double-booking: each
candidate is tried inside a SAVEPOINT, and a conflict just moves on to the next candidate.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

from geoalchemy2.shape import to_shape
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.assignment.schemas import AssignmentOut
from dispatch.errors import Conflict, NotFound, ValidationFailed
from dispatch.fleet.events import assignment_noted, fleet_changed
from dispatch.lifecycle.service import apply_transition, lock_booking, transition
from persistence.models import Booking, BookingAssignment, BookingStatusHistory
from persistence.outbox import enqueue
from persistence.repositories.assignments import AssignmentRepository
from persistence.repositories.fleet import DriverRepository, TruckRepository
from persistence.repositories.organizations import OrganizationRepository
from persistence.session import Caller
from persistence.statuses import ACTIVE_JOB_STATUSES, IN_PROGRESS_STATUSES, BookingStatus

# A crew may be swapped while it is held for the job but not yet on it (not in progress).
REASSIGNABLE_STATUSES = frozenset(ACTIVE_JOB_STATUSES) - frozenset(IN_PROGRESS_STATUSES)


class FleetPort(Protocol):
    """What assignment needs from the live fleet (the Ray shards, in production)."""

    async def rank(self, org_id: uuid.UUID, spec: dict[str, Any], limit: int = 5) -> list[dict[str, Any]]: ...

    async def plan(self, org_id: uuid.UUID, specs: list[dict[str, Any]]) -> dict[str, Any]: ...


def booking_spec(booking: Booking) -> dict[str, Any]:
    """The job as the shards see it: plain numbers, epoch seconds."""
    pickup, dropoff = to_shape(booking.pickup_location), to_shape(booking.dropoff_location)
    return {
        "pickup_lat": pickup.y,
        "pickup_lon": pickup.x,
        "dropoff_lat": dropoff.y,
        "dropoff_lon": dropoff.x,
        "start": booking.window_start.timestamp(),
        "end": booking.window_end.timestamp(),
        "volume_m3": float(booking.volume_m3),
        "crew_size": booking.crew_size,
        "required_skills": list(booking.required_skills or ["driver"]),
    }


async def serialize_org_assignments(session: AsyncSession, org_id: uuid.UUID) -> None:
    """One assigner per organization at a time (until this transaction ends)."""
    await AssignmentRepository(session).lock_org_assigner(org_id)


def _assignable(booking: Booking, now: datetime) -> None:
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(
            f"only confirmed bookings can be assigned; this one is {booking.status}",
            booking_status=booking.status,
        )
    if booking.window_start <= now:
        raise ValidationFailed("the booking's window has already started", field="window_start")


async def try_assign(
    session: AsyncSession,
    booking: Booking,
    driver_id: uuid.UUID,
    truck_id: uuid.UUID,
    caller: Caller,
    method: str,
    score: dict[str, Any] | None,
) -> BookingAssignment | None:
    """Try one pair in a savepoint; None if the exclusion constraints refuse it."""
    assignment = BookingAssignment(
        org_id=booking.org_id,
        booking_id=booking.id,
        driver_id=driver_id,
        truck_id=truck_id,
        window=Range(booking.window_start, booking.window_end),
        method=method,
        score=score,
        assigned_by=caller.user_id,
    )
    added = await AssignmentRepository(session).add_unless_overlapping(assignment)
    return assignment if added else None


async def record_assignment(
    session: AsyncSession, booking: Booking, assignment: BookingAssignment, caller: Caller, tried: int
) -> AssignmentOut:
    score = assignment.score or {}
    await apply_transition(
        session,
        booking,
        BookingStatus.ASSIGNED,
        caller,
        reason=f"{assignment.method} assignment",
        metadata={
            "driver_id": str(assignment.driver_id),
            "truck_id": str(assignment.truck_id),
            "score": score,
        },
    )
    return await _announce(session, booking, assignment, tried)


async def _announce(
    session: AsyncSession, booking: Booking, assignment: BookingAssignment, tried: int = 1
) -> AssignmentOut:
    """The outbox events of a new assignment: boards and the driver (assignment.created, the
    driver's notification) and the shards (fleet.assignment_noted)."""
    score = assignment.score or {}
    event = {
        "booking_id": str(booking.id),
        "driver_id": str(assignment.driver_id),
        "truck_id": str(assignment.truck_id),
        "org_id": str(booking.org_id),
        "window_start": booking.window_start.isoformat(),
        "window_end": booking.window_end.isoformat(),
        "method": assignment.method,
    }
    await enqueue(
        session,
        "assignment.created",
        event,
        idempotency_key=f"assignment.created:{assignment.id}",
        org_id=booking.org_id,
        aggregate_id=str(booking.id),
    )
    await enqueue(
        session,
        "notify.driver_assignment",
        {"driver_id": str(assignment.driver_id), "context": event},
        idempotency_key=f"notify.driver_assignment:{assignment.id}",
        org_id=booking.org_id,
        aggregate_id=str(booking.id),
    )
    await assignment_noted(
        session,
        booking.org_id,
        assignment.id,
        assignment.driver_id,
        assignment.truck_id,
        booking_spec(booking),
    )
    return AssignmentOut(
        id=assignment.id,
        booking_id=booking.id,
        driver_id=assignment.driver_id,
        truck_id=assignment.truck_id,
        window_start=booking.window_start,
        window_end=booking.window_end,
        method=assignment.method,
        score=score or None,
        candidates_tried=tried,
    )


async def auto_assign(
    session: AsyncSession,
    booking_id: uuid.UUID,
    caller: Caller,
    fleet: FleetPort,
    now: datetime | None = None,
) -> AssignmentOut:
    booking = await lock_booking(session, booking_id)
    _assignable(booking, now or datetime.now(UTC))
    if not await OrganizationRepository(session).is_verified(booking.org_id):
        raise Conflict(
            "the organization is not verified: every required document must be "
            "approved and unexpired before dispatch assigns automatically",
            org_id=str(booking.org_id),
        )
    await serialize_org_assignments(session, booking.org_id)
    candidates = await fleet.rank(booking.org_id, booking_spec(booking), limit=10)
    for tried, candidate in enumerate(candidates, start=1):
        score = {**candidate["breakdown"], "total": candidate["score"]}
        assignment = await try_assign(
            session,
            booking,
            uuid.UUID(candidate["driver_id"]),
            uuid.UUID(candidate["truck_id"]),
            caller,
            "auto",
            score,
        )
        if assignment is not None:
            return await record_assignment(session, booking, assignment, caller, tried)
    raise Conflict(
        "no verified, active driver and truck are free for this booking's window",
        candidates_tried=len(candidates),
    )


async def manual_assign(
    session: AsyncSession,
    booking_id: uuid.UUID,
    caller: Caller,
    driver_id: uuid.UUID,
    truck_id: uuid.UUID,
    now: datetime | None = None,
) -> AssignmentOut:
    booking = await lock_booking(session, booking_id)
    _assignable(booking, now or datetime.now(UTC))
    await serialize_org_assignments(session, booking.org_id)
    await _check_crew(session, booking, driver_id, truck_id)
    assignment = await try_assign(session, booking, driver_id, truck_id, caller, "manual", None)
    if assignment is None:
        await _refuse_clash(session, booking, driver_id, truck_id)
    return await record_assignment(session, booking, assignment, caller, 1)


async def _check_crew(
    session: AsyncSession, booking: Booking, driver_id: uuid.UUID, truck_id: uuid.UUID
) -> None:
    """The chosen driver and truck are the booking's org's, active, verified, big enough."""
    driver = await DriverRepository(session).get_by_id(driver_id)
    truck = await TruckRepository(session).get_by_id(truck_id)
    if driver is None or driver.org_id != booking.org_id:
        raise NotFound("no such driver in this booking's organization")
    if truck is None or truck.org_id != booking.org_id:
        raise NotFound("no such truck in this booking's organization")
    if driver.status != "active" or not driver.verified:
        raise Conflict(
            "the driver is not active and verified",
            driver_status=driver.status,
            driver_verified=driver.verified,
        )
    if truck.status != "active" or float(truck.capacity_m3) < float(booking.volume_m3):
        raise Conflict(
            "the truck is not active or too small for the booking's volume",
            truck_status=truck.status,
            capacity_m3=float(truck.capacity_m3),
        )


async def _refuse_clash(
    session: AsyncSession, booking: Booking, driver_id: uuid.UUID, truck_id: uuid.UUID
) -> NoReturn:
    """The exclusion constraints refused the crew: 409 naming the booking that holds it."""
    assignments = AssignmentRepository(session)
    start, end = booking.window_start, booking.window_end
    clash = await assignments.first_clash(
        BookingAssignment.driver_id, driver_id, start, end
    ) or await assignments.first_clash(BookingAssignment.truck_id, truck_id, start, end)
    raise Conflict(
        f"the driver or truck is already booked (booking {clash})",
        conflicting_booking_id=str(clash) if clash else None,
    )


async def reassign(
    session: AsyncSession,
    booking_id: uuid.UUID,
    caller: Caller,
    driver_id: uuid.UUID,
    truck_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> AssignmentOut:
    """Move an assigned job to another driver (and truck; None keeps the current one) in this
    one transaction: under the booking's lock the current assignment is deactivated and the
    new one inserted in a savepoint. The exclusion constraints refusing the new crew is a 409
    and changes nothing (the current assignment stays active). One status-history row records
    the change; the outbox tells the shards (the old crew's busy window reloaded, the new
    crew's noted) and the new driver (assignment.created, notify.driver_assignment)."""
    booking = await lock_booking(session, booking_id)
    if booking.status not in REASSIGNABLE_STATUSES:
        raise Conflict(
            f"only an assigned booking can be reassigned; this one is {booking.status}",
            booking_status=booking.status,
        )
    if booking.window_start <= (now or datetime.now(UTC)):
        raise ValidationFailed("the booking's window has already started", field="window_start")
    await serialize_org_assignments(session, booking.org_id)
    assignments = AssignmentRepository(session)
    current = await assignments.lock_active(booking.id)
    if current is None:
        raise Conflict("the booking has no active assignment to move", booking_status=booking.status)
    truck_id = truck_id or current.truck_id
    if driver_id == current.driver_id and truck_id == current.truck_id:
        raise Conflict(
            "the booking already has this driver and truck", driver_id=str(driver_id), truck_id=str(truck_id)
        )
    await _check_crew(session, booking, driver_id, truck_id)
    old_driver_id, old_truck_id = current.driver_id, current.truck_id
    assignment = BookingAssignment(
        org_id=booking.org_id,
        booking_id=booking.id,
        driver_id=driver_id,
        truck_id=truck_id,
        window=Range(booking.window_start, booking.window_end),
        method="manual",
        score=None,
        assigned_by=caller.user_id,
    )
    if not await assignments.replace_unless_overlapping(current, assignment):
        await _refuse_clash(session, booking, driver_id, truck_id)
    session.add(
        BookingStatusHistory(
            booking_id=booking.id,
            org_id=booking.org_id,
            from_status=booking.status,
            to_status=booking.status,
            actor_user_id=caller.user_id,
            actor_role=caller.role,
            reason="reassigned",
            metadata_={
                "driver_id": str(driver_id),
                "truck_id": str(truck_id),
                "previous_driver_id": str(old_driver_id),
                "previous_truck_id": str(old_truck_id),
            },
        )
    )
    await session.flush()
    await fleet_changed(session, booking.org_id, "assignment", booking.id, "reassigned")
    return await _announce(session, booking, assignment)


async def unassign(session: AsyncSession, booking_id: uuid.UUID, caller: Caller, reason: str = "") -> Booking:
    """Back to confirmed; the crew is released in the same transaction."""
    booking, _ = await transition(
        session, booking_id, BookingStatus.CONFIRMED, caller, reason=reason or "unassigned"
    )
    return booking
