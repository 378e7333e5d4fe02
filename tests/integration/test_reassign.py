"""Atomic reassignment (POST /bookings/{id}/reassign): the old assignment released and the new
one made in one transaction, or nothing changed; other orgs 404; wrong status 409; concurrent
reassigns of one booking leave exactly one active assignment. Manual assignment needs no Ray."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user

SOON = (datetime.now(UTC) + timedelta(days=4)).replace(minute=0, second=0, microsecond=0)


async def _rows(booking_id: uuid.UUID) -> dict[str, list[Any]]:
    """Everything a reassignment may write for the booking, as comparable tuples."""
    async with tenant_session(SYSTEM) as session:

        def rows(sql: str) -> Any:
            return session.execute(text(sql), {"b": booking_id, "a": str(booking_id)})

        return {
            "assignments": [
                tuple(r)
                for r in await rows(
                    "SELECT id, driver_id, truck_id, active, released_at FROM booking_assignments "
                    "WHERE booking_id = :b ORDER BY created_at, id"
                )
            ],
            "history": [
                tuple(r)
                for r in await rows(
                    "SELECT id, from_status, to_status FROM booking_status_history "
                    "WHERE booking_id = :b ORDER BY id"
                )
            ],
            "booking": [tuple(r) for r in await rows("SELECT status, version FROM bookings WHERE id = :b")],
            "outbox": [
                tuple(r)
                for r in await rows("SELECT id, topic FROM outbox WHERE aggregate_id = :a ORDER BY id")
            ],
        }


async def _active(booking_id: uuid.UUID) -> list[tuple[Any, ...]]:
    async with tenant_session(SYSTEM) as session:
        return [
            tuple(r)
            for r in await session.execute(
                text("SELECT driver_id, truck_id FROM booking_assignments WHERE booking_id = :b AND active"),
                {"b": booking_id},
            )
        ]


async def _assigned(http: httpx.AsyncClient, drivers: int = 2):  # type: ignore[no-untyped-def]
    org = await make_org()
    staff, customer = await make_user("dispatcher", org), await make_user("customer")
    crew = [await make_driver(org, lat=52.52 + 0.01 * i) for i in range(drivers)]
    van = await make_truck(org)
    booking = await make_booking(org, customer, start=SOON)
    ok = await http.post(
        f"/api/v1/bookings/{booking.id}/assign",
        headers=auth_headers(staff),
        json={"driver_id": str(crew[0].id), "truck_id": str(van.id)},
    )
    assert ok.status_code == 201, ok.text
    return org, staff, customer, crew, van, booking


async def test_reassign_moves_the_job_in_one_change(http: httpx.AsyncClient) -> None:
    _, staff, _, crew, van, booking = await _assigned(http)
    before = await _rows(booking.id)
    response = await http.post(
        f"/api/v1/bookings/{booking.id}/reassign",
        headers=auth_headers(staff),
        json={"driver_id": str(crew[1].id)},
    )
    assert response.status_code == 200, response.text
    assert response.json()["driver_id"] == str(crew[1].id)
    assert response.json()["truck_id"] == str(van.id)  # the truck kept
    assert await _active(booking.id) == [(crew[1].id, van.id)]
    after = await _rows(booking.id)
    assert after["booking"][0][0] == "assigned"
    new_history = after["history"][len(before["history"]) :]
    assert [(h[1], h[2]) for h in new_history] == [("assigned", "assigned")]
    released = [a for a in after["assignments"] if a[1] == crew[0].id]
    assert len(released) == 1 and released[0][3] is False and released[0][4] is not None
    topics = sorted(t for _, t in after["outbox"][len(before["outbox"]) :])
    assert topics.count("assignment.created") == 1
    assert topics.count("notify.driver_assignment") == 1
    assert "booking.status_changed" not in topics  # the status did not change


async def test_conflicting_target_changes_nothing(http: httpx.AsyncClient) -> None:
    org, staff, customer, crew, _, booking = await _assigned(http)
    other_van = await make_truck(org)
    busy = await make_booking(org, customer, start=SOON + timedelta(hours=1))
    taken = await http.post(
        f"/api/v1/bookings/{busy.id}/assign",
        headers=auth_headers(staff),
        json={"driver_id": str(crew[1].id), "truck_id": str(other_van.id)},
    )
    assert taken.status_code == 201, taken.text
    before, busy_before = await _rows(booking.id), await _rows(busy.id)
    refused = await http.post(
        f"/api/v1/bookings/{booking.id}/reassign",
        headers=auth_headers(staff),
        json={"driver_id": str(crew[1].id)},
    )
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["conflicting_booking_id"] == str(busy.id)
    assert "already booked" in refused.json()["detail"]
    assert await _rows(booking.id) == before
    assert await _rows(busy.id) == busy_before
    assert await _active(booking.id) == [(crew[0].id, before["assignments"][0][2])]


async def test_other_org_is_404_and_unassigned_is_409(http: httpx.AsyncClient) -> None:
    _, _, _, crew, _, booking = await _assigned(http)
    stranger_org = await make_org()
    stranger = await make_user("dispatcher", stranger_org)
    before = await _rows(booking.id)
    foreign = await http.post(
        f"/api/v1/bookings/{booking.id}/reassign",
        headers=auth_headers(stranger),
        json={"driver_id": str(crew[1].id)},
    )
    assert foreign.status_code == 404, foreign.text
    assert await _rows(booking.id) == before

    org = await make_org()
    staff, customer = await make_user("dispatcher", org), await make_user("customer")
    driver = await make_driver(org)
    for status in ("confirmed", "en_route", "completed"):
        other = await make_booking(org, customer, start=SOON, status=status)
        wrong = await http.post(
            f"/api/v1/bookings/{other.id}/reassign",
            headers=auth_headers(staff),
            json={"driver_id": str(driver.id)},
        )
        assert wrong.status_code == 409, (status, wrong.text)
        assert wrong.json()["booking_status"] == status
        assert await _active(other.id) == []


async def test_concurrent_reassigns_leave_one_active(http: httpx.AsyncClient) -> None:
    _, staff, _, crew, van, booking = await _assigned(http, drivers=21)
    targets = crew[1:]
    answers = await asyncio.gather(
        *(
            http.post(
                f"/api/v1/bookings/{booking.id}/reassign",
                headers=auth_headers(staff),
                json={"driver_id": str(driver.id)},
            )
            for driver in targets
        )
    )
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 409}, [a.text for a in answers if a.status_code not in (200, 409)]
    assert codes.count(200) >= 1
    active = await _active(booking.id)
    assert len(active) == 1 and active[0][1] == van.id
    winners = {a.json()["driver_id"] for a in answers if a.status_code == 200}
    assert str(active[0][0]) in winners
    rows = await _rows(booking.id)
    reassigned = [h for h in rows["history"] if h[1] == h[2] == "assigned"]
    assert len(reassigned) == codes.count(200)
    assert len(rows["assignments"]) == 1 + codes.count(200)
