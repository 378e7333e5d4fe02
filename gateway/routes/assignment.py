"""Routes: assigning a booking's driver and truck — auto, manual, unassign, day plan."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request, status

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


def _remember(background: BackgroundTasks, request: Request, out: AssignmentOut,
              org_id: uuid.UUID, spec: dict[str, float]) -> None:
    """After the commit, tell the org's shard (its cache of busy windows stays current)."""
    fleet = request.app.state.fleet
    if fleet is not None:
        background.add_task(fleet.note_assignment, org_id, out.driver_id, out.truck_id,
                            spec["start"], spec["end"], spec["dropoff_lat"], spec["dropoff_lon"])


@router.post("/bookings/{booking_id}/assign/auto", response_model=AssignmentOut,
             status_code=status.HTTP_201_CREATED)
async def auto_assign(booking_id: uuid.UUID, caller: StaffCaller, session: SessionDep,
                      request: Request, background: BackgroundTasks) -> AssignmentOut:
    """The org's shard ranks every feasible (driver, truck); the best free pair is committed,
    and its score breakdown (why this driver) is returned and kept in the history."""
    out = await service.auto_assign(session, booking_id, caller, _fleet(request))
    booking = await service.assigned_booking(session, booking_id)
    _remember(background, request, out, booking.org_id, service.booking_spec(booking))
    return out


@router.post("/bookings/{booking_id}/assign", response_model=AssignmentOut,
             status_code=status.HTTP_201_CREATED)
async def manual_assign(booking_id: uuid.UUID, choice: ManualAssignment, caller: StaffCaller,
                        session: SessionDep, request: Request,
                        background: BackgroundTasks) -> AssignmentOut:
    """Assign a chosen driver and truck; 409 names the booking they are already on."""
    out = await service.manual_assign(session, booking_id, caller, choice.driver_id,
                                      choice.truck_id)
    booking = await service.assigned_booking(session, booking_id)
    _remember(background, request, out, booking.org_id, service.booking_spec(booking))
    return out


@router.delete("/bookings/{booking_id}/assignment", response_model=BookingOut)
async def unassign(booking_id: uuid.UUID, caller: StaffCaller, session: SessionDep,
                   request: Request, background: BackgroundTasks) -> BookingOut:
    booking = await service.unassign(session, booking_id, caller)
    fleet = request.app.state.fleet
    if fleet is not None:
        background.add_task(fleet.refresh_org, booking.org_id)
    return booking_out(booking)


@router.post("/dispatch/plan", response_model=PlanOut)
async def plan(payload: PlanRequest, caller: StaffCaller, session: SessionDep,
               request: Request, background: BackgroundTasks) -> PlanOut:
    """Assign all of a day's confirmed, unassigned bookings by optimal matching; reports the
    plan's total deadhead and greedy one-by-one's for the same input."""
    out = await planning.plan_day(session, caller, payload.org_id, payload.date,
                                  _fleet(request))
    if out.assigned:
        background.add_task(request.app.state.fleet.refresh_org,
                            payload.org_id or caller.org_id)
    return out
