"""Use cases: auto-assign (shard ranks, the database arbitrates), manual assign, unassign.

The exclusion constraints on booking_assignments are the last word on double-booking: each
candidate is tried inside a SAVEPOINT, and a conflict just moves on to the next candidate.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from geoalchemy2.shape import to_shape
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.assignment.schemas import AssignmentOut
from dispatch.errors import Conflict, NotFound, ValidationFailed
from dispatch.fleet.events import assignment_noted
from dispatch.lifecycle.service import apply_transition, lock_booking, transition
from persistence.models import Booking, BookingAssignment
from persistence.outbox import enqueue
from persistence.repositories.assignments import AssignmentRepository
from persistence.repositories.fleet import DriverRepository, TruckRepository
from persistence.repositories.organizations import OrganizationRepository
from persistence.session import Caller
from persistence.statuses import BookingStatus


class FleetPort(Protocol):
    """What assignment needs from the live fleet (the Ray shards, in production)."""

    async def rank(self, org_id: uuid.UUID, spec: dict[str, Any],
                   limit: int = 5) -> list[dict[str, Any]]: ...

    async def plan(self, org_id: uuid.UUID, specs: list[dict[str, Any]]) -> dict[str, Any]: ...


def booking_spec(booking: Booking) -> dict[str, Any]:
    """The job as the shards see it: plain numbers, epoch seconds."""
    pickup, dropoff = to_shape(booking.pickup_location), to_shape(booking.dropoff_location)
    return {"pickup_lat": pickup.y, "pickup_lon": pickup.x, "dropoff_lat": dropoff.y,
            "dropoff_lon": dropoff.x, "start": booking.window_start.timestamp(),
            "end": booking.window_end.timestamp(), "volume_m3": float(booking.volume_m3),
            "crew_size": booking.crew_size,
            "required_skills": list(booking.required_skills or ["driver"])}


async def serialize_org_assignments(session: AsyncSession, org_id: uuid.UUID) -> None:
    """One assigner per organization at a time (until this transaction ends)."""
    await AssignmentRepository(session).lock_org_assigner(org_id)


def _assignable(booking: Booking, now: datetime) -> None:
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(f"only confirmed bookings can be assigned; this one is {booking.status}",
                       booking_status=booking.status)
    if booking.window_start <= now:
        raise ValidationFailed("the booking's window has already started", field="window_start")


async def try_assign(session: AsyncSession, booking: Booking, driver_id: uuid.UUID,
                  truck_id: uuid.UUID, caller: Caller, method: str,
                  score: dict[str, Any] | None) -> BookingAssignment | None:
    """Try one pair in a savepoint; None if the exclusion constraints refuse it."""
    assignment = BookingAssignment(
        org_id=booking.org_id, booking_id=booking.id, driver_id=driver_id, truck_id=truck_id,
        window=Range(booking.window_start, booking.window_end), method=method, score=score,
        assigned_by=caller.user_id)
    added = await AssignmentRepository(session).add_unless_overlapping(assignment)
    return assignment if added else None


async def record_assignment(session: AsyncSession, booking: Booking, assignment: BookingAssignment,
                     caller: Caller, tried: int) -> AssignmentOut:
    score = assignment.score or {}
    await apply_transition(session, booking, BookingStatus.ASSIGNED, caller,
                           reason=f"{assignment.method} assignment",
                           metadata={"driver_id": str(assignment.driver_id),
                                     "truck_id": str(assignment.truck_id), "score": score})
    event = {"booking_id": str(booking.id), "driver_id": str(assignment.driver_id),
             "truck_id": str(assignment.truck_id), "org_id": str(booking.org_id),
             "window_start": booking.window_start.isoformat(),
             "window_end": booking.window_end.isoformat(), "method": assignment.method}
    await enqueue(session, "assignment.created", event,
                  idempotency_key=f"assignment.created:{assignment.id}", org_id=booking.org_id,
                  aggregate_id=str(booking.id))
    await enqueue(session, "notify.driver_assignment",
                  {"driver_id": str(assignment.driver_id), "context": event},
                  idempotency_key=f"notify.driver_assignment:{assignment.id}",
                  org_id=booking.org_id, aggregate_id=str(booking.id))
    await assignment_noted(session, booking.org_id, assignment.id, assignment.driver_id,
                           assignment.truck_id, booking_spec(booking))
    return AssignmentOut(id=assignment.id, booking_id=booking.id,
                         driver_id=assignment.driver_id, truck_id=assignment.truck_id,
                         window_start=booking.window_start, window_end=booking.window_end,
                         method=assignment.method, score=score or None, candidates_tried=tried)


async def auto_assign(session: AsyncSession, booking_id: uuid.UUID, caller: Caller,
                      fleet: FleetPort, now: datetime | None = None) -> AssignmentOut:
    booking = await lock_booking(session, booking_id)
    _assignable(booking, now or datetime.now(UTC))
    if not await OrganizationRepository(session).is_verified(booking.org_id):
        raise Conflict("the organization is not verified: every required document must be "
                       "approved and unexpired before dispatch assigns automatically",
                       org_id=str(booking.org_id))
    await serialize_org_assignments(session, booking.org_id)
    candidates = await fleet.rank(booking.org_id, booking_spec(booking), limit=10)
    for tried, candidate in enumerate(candidates, start=1):
        score = {**candidate["breakdown"], "total": candidate["score"]}
        assignment = await try_assign(session, booking, uuid.UUID(candidate["driver_id"]),
                                   uuid.UUID(candidate["truck_id"]), caller, "auto", score)
        if assignment is not None:
            return await record_assignment(session, booking, assignment, caller, tried)
    raise Conflict("no verified, active driver and truck are free for this booking's window",
                   candidates_tried=len(candidates))


async def manual_assign(session: AsyncSession, booking_id: uuid.UUID, caller: Caller,
                        driver_id: uuid.UUID, truck_id: uuid.UUID,
                        now: datetime | None = None) -> AssignmentOut:
    booking = await lock_booking(session, booking_id)
    _assignable(booking, now or datetime.now(UTC))
    await serialize_org_assignments(session, booking.org_id)
    driver = await DriverRepository(session).get_by_id(driver_id)
    truck = await TruckRepository(session).get_by_id(truck_id)
    if driver is None or driver.org_id != booking.org_id:
        raise NotFound("no such driver in this booking's organization")
    if truck is None or truck.org_id != booking.org_id:
        raise NotFound("no such truck in this booking's organization")
    if driver.status != "active" or not driver.verified:
        raise Conflict("the driver is not active and verified", driver_status=driver.status,
                       driver_verified=driver.verified)
    if truck.status != "active" or float(truck.capacity_m3) < float(booking.volume_m3):
        raise Conflict("the truck is not active or too small for the booking's volume",
                       truck_status=truck.status, capacity_m3=float(truck.capacity_m3))
    assignment = await try_assign(session, booking, driver_id, truck_id, caller, "manual", None)
    if assignment is None:
        assignments = AssignmentRepository(session)
        start, end = booking.window_start, booking.window_end
        clash = (await assignments.first_clash(BookingAssignment.driver_id, driver_id, start, end)
                 or await assignments.first_clash(BookingAssignment.truck_id, truck_id, start,
                                                  end))
        raise Conflict(f"the driver or truck is already booked (booking {clash})",
                       conflicting_booking_id=str(clash) if clash else None)
    return await record_assignment(session, booking, assignment, caller, 1)


async def unassign(session: AsyncSession, booking_id: uuid.UUID, caller: Caller,
                   reason: str = "") -> Booking:
    """Back to confirmed; the crew is released in the same transaction."""
    booking, _ = await transition(session, booking_id, BookingStatus.CONFIRMED, caller,
                                  reason=reason or "unassigned")
    return booking
