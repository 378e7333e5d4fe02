"""Booking lifecycle through the API: who may move what, locking, history, crew release."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import Range

from dispatch.lifecycle.rules import ACTORS, TRANSITIONS
from persistence.models import BookingAssignment, OutboxEvent
from persistence.session import SYSTEM, tenant_session
from persistence.statuses import (
    ACTIVE_JOB_STATUSES,
    DRIVER_JOB_STATUSES,
    FINISHED_STATUSES,
    IN_PROGRESS_STATUSES,
    OPEN_STATUSES,
    BookingStatus,
)
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user


async def _booking(status: str = "pending"):  # type: ignore[no-untyped-def]
    org = await make_org()
    staff, customer = await make_user("dispatcher", org), await make_user("customer")
    return org, staff, customer, await make_booking(org, customer, status=status)


async def test_staff_confirms_customer_cannot(client: httpx.AsyncClient) -> None:
    _, staff, customer, booking = await _booking()
    refused = await client.post(f"/api/v1/bookings/{booking.id}/confirm", headers=auth_headers(customer))
    assert refused.status_code == 409
    assert refused.json()["allowed"] == ["cancelled"]
    confirmed = await client.post(
        f"/api/v1/bookings/{booking.id}/confirm", headers=auth_headers(staff), json={"reason": "checked"}
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    history = (
        await client.get(f"/api/v1/bookings/{booking.id}/history", headers=auth_headers(customer))
    ).json()
    assert [(h["from_status"], h["to_status"]) for h in history][-1] == ("pending", "confirmed")
    assert history[-1]["reason"] == "checked" and history[-1]["actor_role"] == "dispatcher"
    async with tenant_session(SYSTEM) as session:
        topics = (
            await session.scalars(
                select(OutboxEvent.topic).where(OutboxEvent.aggregate_id == str(booking.id))
            )
        ).all()
    assert "booking.status_changed" in topics


async def test_invalid_transition_lists_allowed_moves(client: httpx.AsyncClient) -> None:
    _, staff, _, booking = await _booking("confirmed")
    response = await client.post(
        f"/api/v1/bookings/{booking.id}/status", headers=auth_headers(staff), json={"to": "completed"}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["current"] == "confirmed" and body["allowed"] == ["assigned", "cancelled"]
    unknown = await client.post(
        f"/api/v1/bookings/{booking.id}/status", headers=auth_headers(staff), json={"to": "teleported"}
    )
    assert unknown.status_code == 422


async def test_two_simultaneous_transitions_only_one_applies(client: httpx.AsyncClient) -> None:
    _, staff, _, booking = await _booking()
    responses = await asyncio.gather(
        *(
            client.post(f"/api/v1/bookings/{booking.id}/confirm", headers=auth_headers(staff))
            for _ in range(5)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409]
    history = (await client.get(f"/api/v1/bookings/{booking.id}/history", headers=auth_headers(staff))).json()
    assert [h["to_status"] for h in history].count("confirmed") == 1


async def test_driver_moves_its_job_and_cancel_frees_the_crew(client: httpx.AsyncClient) -> None:
    org, staff, _customer, booking = await _booking("assigned")
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user)
    async with tenant_session(SYSTEM) as session:
        session.add(
            BookingAssignment(
                org_id=org.id,
                booking_id=booking.id,
                driver_id=driver.id,
                truck_id=(await make_truck(org)).id,
                window=Range(booking.window_start, booking.window_end),
            )
        )
    as_driver = auth_headers(driver_user, driver)
    started = await client.post(f"/api/v1/bookings/{booking.id}/start", headers=as_driver)
    assert started.status_code == 200 and started.json()["status"] == "en_route"
    stranger = await make_user("driver", org)
    other = await make_driver(org, user=stranger)
    assert (
        await client.post(f"/api/v1/bookings/{booking.id}/arrive", headers=auth_headers(stranger, other))
    ).status_code == 404
    cancelled = await client.post(
        f"/api/v1/bookings/{booking.id}/cancel",
        headers=auth_headers(staff),
        json={"reason_code": "mover_cancelled", "note": "truck broke"},
    )
    assert cancelled.status_code == 200, cancelled.text
    async with tenant_session(SYSTEM) as session:
        assignment = await session.scalar(
            select(BookingAssignment).where(BookingAssignment.booking_id == booking.id)
        )
    assert assignment is not None and assignment.active is False


async def test_customer_cancel_frees_the_crew_despite_rls(client: httpx.AsyncClient) -> None:
    org, _, customer, booking = await _booking("assigned")
    driver = await make_driver(org)
    async with tenant_session(SYSTEM) as session:
        session.add(
            BookingAssignment(
                org_id=org.id,
                booking_id=booking.id,
                driver_id=driver.id,
                truck_id=(await make_truck(org)).id,
                window=Range(booking.window_start, booking.window_end),
            )
        )
    response = await client.post(
        f"/api/v1/bookings/{booking.id}/cancel",
        headers=auth_headers(customer),
        json={"reason_code": "change_of_plans"},
    )
    assert response.status_code == 200 and response.json()["refund"] is None
    async with tenant_session(SYSTEM) as session:
        active = await session.scalar(
            select(BookingAssignment.active).where(BookingAssignment.booking_id == booking.id)
        )
    assert active is False


async def test_other_tenants_get_404(client: httpx.AsyncClient) -> None:
    _, _, _, booking = await _booking()
    outsider = await make_user("dispatcher", await make_org())
    for path in ("confirm", "history", "cancellation/preview"):
        method = client.get if path != "confirm" else client.post
        response = await method(f"/api/v1/bookings/{booking.id}/{path}", headers=auth_headers(outsider))
        assert response.status_code == 404, path
    start = datetime.now(UTC) + timedelta(days=1)
    assert start > datetime.now(UTC)


async def test_a_completed_job_frees_its_crew_from_then_on(client: httpx.AsyncClient) -> None:
    """The demo's crews finish tomorrow's jobs today: done is done, the next job may come."""
    org, _staff, customer, booking = await _booking("assigned")
    driver_user = await make_user("driver", org)
    driver, truck = await make_driver(org, user=driver_user), await make_truck(org)
    async with tenant_session(SYSTEM) as session:
        session.add(
            BookingAssignment(
                org_id=org.id,
                booking_id=booking.id,
                driver_id=driver.id,
                truck_id=truck.id,
                window=Range(booking.window_start, booking.window_end),
            )
        )
    as_driver = auth_headers(driver_user, driver)
    for status in ("en_route", "arrived", "loading", "in_transit", "unloading", "completed"):
        moved = await client.post(
            f"/api/v1/bookings/{booking.id}/status", headers=as_driver, json={"to": status}
        )
        assert moved.status_code == 200, moved.text
    async with tenant_session(SYSTEM) as session:
        done = await session.scalar(
            select(BookingAssignment).where(BookingAssignment.booking_id == booking.id)
        )
        assert done is not None and done.active  # who did the job stays on record
        assert done.window.isempty  # finished before its window began: holds no time at all
        changed = (
            await session.scalars(
                select(OutboxEvent.payload).where(
                    OutboxEvent.topic == "fleet.changed", OutboxEvent.org_id == org.id
                )
            )
        ).all()
    assert {"kind": "assignment", "id": str(booking.id), "action": "finished"}.items() <= changed[-1].items()
    # The same crew takes another job in the very window the finished one had booked.
    following = await make_booking(org, customer, start=booking.window_start, status="assigned")
    async with tenant_session(SYSTEM) as session:
        session.add(
            BookingAssignment(
                org_id=org.id,
                booking_id=following.id,
                driver_id=driver.id,
                truck_id=truck.id,
                window=Range(following.window_start, following.window_end),
            )
        )


async def test_lifecycle_vocabulary_is_public_and_matches_the_rules(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/lifecycle")  # no token: public vocabulary
    assert answer.status_code == 200
    body = answer.json()
    assert body["statuses"] == [status.value for status in BookingStatus]
    assert body["groups"] == {
        name: [status.value for status in group]
        for name, group in (
            ("driver_job", DRIVER_JOB_STATUSES),
            ("in_progress", IN_PROGRESS_STATUSES),
            ("active", ACTIVE_JOB_STATUSES),
            ("open", OPEN_STATUSES),
            ("finished", FINISHED_STATUSES),
        )
    }
    assert list(body["moves"]) == body["statuses"]  # every status a key, in lifecycle order
    listed = {
        (current, target): actors
        for current, targets in body["moves"].items()
        for target, actors in targets.items()
    }
    assert listed == {
        (current.value, target.value): [a for a in ACTORS if a in allowed]
        for (current, target), allowed in TRANSITIONS.items()
    }
    assert body["moves"]["cancelled"] == {}
    assert body["moves"]["pending"]["confirmed"] == ["mover_staff", "system"]
