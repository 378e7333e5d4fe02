"""Routes: assigning a booking's driver and truck — auto, manual, unassign, day plan.

The shards learn of what changed through the outbox (`fleet.assignment_noted` for each new
assignment, `fleet.changed` for a released crew), enqueued by the services in the same
transaction, so a change the database refused is never announced."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from dispatch.assignment import planning, service
from dispatch.assignment.schemas import AssignmentOut, ManualAssignment, PlanOut, PlanRequest
from dispatch.bookings.schemas import BookingOut
from dispatch.bookings.service import booking_out
from dispatch.errors import Unavailable
from gateway.deps import SessionDep, StaffCaller

router = APIRouter(tags=["assignment"])


def _fleet(request: Request):  # type: ignore[no-untyped-def]
    fleet = request.app.state.fleet
    if fleet is None:
        raise Unavailable("dispatch runs on the Ray fleet, which this server was started without")
    return fleet


@router.post(
    "/bookings/{booking_id}/assign/auto", response_model=AssignmentOut, status_code=status.HTTP_201_CREATED
)
async def auto_assign(
    booking_id: uuid.UUID, caller: StaffCaller, session: SessionDep, request: Request
) -> AssignmentOut:
    """The org's shard ranks every feasible (driver, truck); the best free pair is committed,
    and its score breakdown (why this driver) is returned and kept in the history."""
    return await service.auto_assign(session, booking_id, caller, _fleet(request))


@router.post(
    "/bookings/{booking_id}/assign", response_model=AssignmentOut, status_code=status.HTTP_201_CREATED
)
async def manual_assign(
    booking_id: uuid.UUID, choice: ManualAssignment, caller: StaffCaller, session: SessionDep
) -> AssignmentOut:
    """Assign a chosen driver and truck; 409 names the booking they are already on."""
    return await service.manual_assign(session, booking_id, caller, choice.driver_id, choice.truck_id)


class Reassignment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    driver_id: uuid.UUID
    truck_id: uuid.UUID | None = Field(default=None, description="omitted: keep the truck")


@router.post(
    "/bookings/{booking_id}/reassign",
    response_model=AssignmentOut,
    responses={
        404: {
            "description": "no such booking (or another organization's), "
            "or the driver or truck is not the booking's org's"
        },
        409: {
            "description": "the booking is not assigned, or the driver or "
            "truck is not free for its window (nothing "
            "changed: the current assignment stays)"
        },
        422: {"description": "the booking's window has already started"},
    },
)
async def reassign(
    booking_id: uuid.UUID, choice: Reassignment, caller: StaffCaller, session: SessionDep
) -> AssignmentOut:
    """Move an assigned job to another driver (and truck) atomically: the old assignment is
    released and the new one made in one transaction, or nothing changes."""
    return await service.reassign(session, booking_id, caller, choice.driver_id, choice.truck_id)


@router.delete("/bookings/{booking_id}/assignment", response_model=BookingOut)
async def unassign(booking_id: uuid.UUID, caller: StaffCaller, session: SessionDep) -> BookingOut:
    """Back to confirmed; the crew is free again (and the shards hear of it) after the commit."""
    return booking_out(await service.unassign(session, booking_id, caller))


@router.post("/dispatch/plan", response_model=PlanOut)
async def plan(payload: PlanRequest, caller: StaffCaller, session: SessionDep, request: Request) -> PlanOut:
    """Assign all of a day's confirmed, unassigned bookings by optimal matching; reports the
    plan's total deadhead and greedy one-by-one's for the same input."""
    return await planning.plan_day(session, caller, payload.org_id, payload.date, _fleet(request))
