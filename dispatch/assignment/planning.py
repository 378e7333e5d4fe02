"""Use case: plan a day — every confirmed, unassigned booking of an org assigned at once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.assignment.schemas import PlannedJob, PlanOut
from dispatch.assignment.service import (
    FleetPort,
    booking_spec,
    record_assignment,
    serialize_org_assignments,
    try_assign,
)
from dispatch.errors import ValidationFailed
from persistence.repositories.assignments import AssignmentRepository
from persistence.session import Caller


async def plan_day(
    session: AsyncSession,
    caller: Caller,
    org_id: uuid.UUID | None,
    day: date,
    fleet: FleetPort,
    now: datetime | None = None,
) -> PlanOut:
    org = org_id if caller.is_admin and org_id else caller.org_id
    if org is None:
        raise ValidationFailed("name the organization to plan", field="org_id")
    await serialize_org_assignments(session, org)
    start = datetime.combine(day, time.min, UTC)
    now = now or datetime.now(UTC)
    bookings = await AssignmentRepository(session).lock_plannable(
        org, max(start, now), start + timedelta(days=1)
    )
    result = await fleet.plan(org, [booking_spec(b) for b in bookings])
    assigned: list[PlannedJob] = []
    for pair in result["pairs"]:
        booking = bookings[pair["job"]]
        assignment = await try_assign(
            session,
            booking,
            uuid.UUID(pair["driver_id"]),
            uuid.UUID(pair["truck_id"]),
            caller,
            "plan",
            {"deadhead_km": pair["deadhead_km"]},
        )
        if assignment is None:
            continue  # taken meanwhile by someone else: stays unassigned
        await record_assignment(session, booking, assignment, caller, 1)
        assigned.append(
            PlannedJob(
                booking_id=booking.id,
                driver_id=assignment.driver_id,
                truck_id=assignment.truck_id,
                deadhead_km=pair["deadhead_km"],
            )
        )
    done = {a.booking_id for a in assigned}
    return PlanOut(
        bookings=len(bookings),
        assigned=assigned,
        unassigned=[b.id for b in bookings if b.id not in done],
        method=result.get("method", "matching"),
        deadhead_km=result["deadhead_km"],
        greedy_deadhead_km=result["greedy_deadhead_km"],
        greedy_assigned=result.get("greedy_assigned", 0),
    )
