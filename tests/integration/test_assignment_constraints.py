"""The database itself forbids double-booking: exclusion constraints on booking_assignments."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.exc import IntegrityError

from persistence.models import BookingAssignment
from persistence.session import tenant_session
from tests.factories import caller_for, make_booking, make_driver, make_org, make_truck, make_user

START = datetime(2027, 5, 3, 8, tzinfo=UTC)


async def test_fifty_concurrent_overlapping_assignments_one_wins() -> None:
    org = await make_org()
    dispatcher = caller_for(await make_user("dispatcher", org))
    customer = await make_user("customer")
    driver = await make_driver(org)
    trucks = [await make_truck(org) for _ in range(50)]
    bookings = [
        await make_booking(org, customer, start=START + timedelta(minutes=i), hours=3) for i in range(50)
    ]

    async def attempt(i: int) -> str:
        booking = bookings[i]
        try:
            async with tenant_session(dispatcher) as session:
                session.add(
                    BookingAssignment(
                        org_id=org.id,
                        booking_id=booking.id,
                        driver_id=driver.id,
                        truck_id=trucks[i].id,
                        window=Range(booking.window_start, booking.window_end),
                    )
                )
                await session.flush()
            return "assigned"
        except IntegrityError as exc:
            assert "ex_assignments_driver_overlap" in str(exc.orig)
            return "conflict"

    outcomes = await asyncio.gather(*(attempt(i) for i in range(50)))
    assert outcomes.count("assigned") == 1 and outcomes.count("conflict") == 49
    async with tenant_session(dispatcher) as session:
        active = await session.scalar(
            select(func.count())
            .select_from(BookingAssignment)
            .where(BookingAssignment.driver_id == driver.id, BookingAssignment.active)
        )
    assert active == 1


async def test_truck_overlap_rejected_but_released_window_is_free() -> None:
    org = await make_org()
    dispatcher = caller_for(await make_user("dispatcher", org))
    customer = await make_user("customer")
    truck = await make_truck(org)
    first, second = (
        await make_booking(org, customer, start=START, hours=4),
        await make_booking(org, customer, start=START + timedelta(hours=2)),
    )
    window = Range(START, START + timedelta(hours=4))
    async with tenant_session(dispatcher) as session:
        held = BookingAssignment(
            org_id=org.id,
            booking_id=first.id,
            driver_id=(await make_driver(org)).id,
            truck_id=truck.id,
            window=window,
        )
        session.add(held)
    with pytest.raises(IntegrityError, match="ex_assignments_truck_overlap"):
        async with tenant_session(dispatcher) as session:
            session.add(
                BookingAssignment(
                    org_id=org.id,
                    booking_id=second.id,
                    driver_id=(await make_driver(org)).id,
                    truck_id=truck.id,
                    window=window,
                )
            )
    async with tenant_session(dispatcher) as session:
        stored = await session.get(BookingAssignment, held.id)
        assert stored is not None
        stored.active = False
        stored.released_at = func.now()
    async with tenant_session(dispatcher) as session:
        session.add(
            BookingAssignment(
                org_id=org.id,
                booking_id=second.id,
                driver_id=(await make_driver(org)).id,
                truck_id=truck.id,
                window=window,
            )
        )
