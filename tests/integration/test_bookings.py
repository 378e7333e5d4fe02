"""Bookings through the API: quotes on known geometry, booking in one transaction, lists,
edits with re-pricing, and bad input that writes nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from dispatch import pricing
from persistence.models import Booking, BookingStatusHistory, OutboxEvent
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_org, make_user

# Two points 0.1 degree of latitude apart on one meridian: 11.13 km on the WGS84 spheroid.
NORTH_KM = 11.13


def tomorrow(hour: int = 8) -> datetime:
    day = (datetime.now(UTC) + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(hours=hour)


def remote_center() -> tuple[float, float]:
    """A place no other test's organization serves, so counts stay exact."""
    return (round(random.uniform(-170, 170), 3), round(random.uniform(-60, 60), 3))


def booking_body(
    org_id: object, center: tuple[float, float] = (13.405, 52.52), **fields: Any
) -> dict[str, Any]:
    lon, lat = center
    start = tomorrow()
    body: dict[str, Any] = {
        "org_id": str(org_id),
        "pickup": {"address": "Alexanderplatz 1", "location": {"lon": lon, "lat": lat}},
        "dropoff": {"address": "Pankow 5", "location": {"lon": lon, "lat": lat + 0.1}},
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=6)).isoformat(),
        "volume_m3": 20,
        "crew_size": 2,
        "required_skills": ["packer"],
        "notes": "3rd floor",
    }
    body.update(fields)
    return body


async def counts() -> tuple[int, int, int]:
    async with tenant_session(SYSTEM) as session:
        return tuple(
            [  # type: ignore[return-value]
                int(await session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Booking, BookingStatusHistory, OutboxEvent)
            ]
        )


async def test_quote_prices_the_postgis_distance(client: httpx.AsyncClient) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("customer"))
    answer = await client.post(
        "/api/v1/bookings/quote",
        headers=headers,
        json={
            "org_id": str(org.id),
            "pickup": {"lon": 13.4, "lat": 52.5},
            "dropoff": {"lon": 13.4, "lat": 52.6},
            "volume_m3": 20,
            "crew_size": 2,
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert abs(body["distance_km"] - NORTH_KM) < 0.02
    expected = pricing.quote(pricing.Pricing(4500, 150, 15000, "EUR"), body["distance_km"], 20, 2)
    assert body["billable_hours"] == expected.billable_hours == 5.5  # 5 h + 0.28 h driving
    assert body["labour_cents"] == 4500 * 2 * 5.5
    assert abs(body["distance_cents"] - expected.distance_cents) <= 1  # km rounded in display
    assert body["total_cents"] == body["labour_cents"] + body["distance_cents"]
    assert body["pickup_in_service_area"] is True
    outside = await client.post(
        "/api/v1/bookings/quote",
        headers=headers,
        json={
            "org_id": str(org.id),
            "pickup": {"lon": 2.35, "lat": 48.85},
            "dropoff": {"lon": 2.35, "lat": 48.85},
            "volume_m3": 1,
            "crew_size": 1,
        },
    )
    assert outside.json()["pickup_in_service_area"] is False
    assert outside.json()["distance_km"] == 0
    assert outside.json()["total_cents"] == 15000  # the minimum charge


async def test_booking_writes_row_history_and_event_together(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer = await make_user("customer")
    answer = await client.post("/api/v1/bookings", json=booking_body(org.id), headers=auth_headers(customer))
    assert answer.status_code == 201, answer.text
    booking = answer.json()
    assert booking["status"] == "pending" and booking["customer_id"] == str(customer.id)
    assert abs(booking["distance_km"] - NORTH_KM) < 0.02 and booking["price_cents"] > 15000
    async with tenant_session(SYSTEM) as session:
        history = (
            await session.scalars(
                select(BookingStatusHistory).where(BookingStatusHistory.booking_id == booking["id"])
            )
        ).all()
        assert [(h.from_status, h.to_status) for h in history] == [(None, "pending")]
        event = await session.scalar(
            select(OutboxEvent).where(
                OutboxEvent.topic == "booking.created", OutboxEvent.aggregate_id == booking["id"]
            )
        )
        assert event is not None and event.org_id == org.id
    read = await client.get(f"/api/v1/bookings/{booking['id']}", headers=auth_headers(customer))
    assert read.json() == booking


async def test_booking_rules(client: httpx.AsyncClient) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("customer"))
    unverified = await make_org(verified=False)
    start = tomorrow()
    cases: list[tuple[dict[str, Any], str]] = [
        (booking_body(org.id, (2.35, 48.85)), "pickup.location"),
        (
            booking_body(org.id, window_start=(datetime.now(UTC) - timedelta(hours=1)).isoformat()),
            "window_start",
        ),
        (booking_body(org.id, window_end=start.isoformat()), "window_end"),
        (booking_body(org.id, window_end=(start + timedelta(hours=15)).isoformat()), "window_end"),
        (booking_body(unverified.id), "org_id"),
        (booking_body("00000000-0000-0000-0000-000000000000"), "org_id"),
    ]
    before = await counts()
    for body, field in cases:
        answer = await client.post("/api/v1/bookings", json=body, headers=headers)
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["field"] == field
    staff = auth_headers(await make_user("dispatcher", org))
    assert (
        await client.post("/api/v1/bookings", json=booking_body(org.id), headers=staff)
    ).status_code == 403
    platform = auth_headers(await make_user("platform_admin"))
    assert (
        await client.post("/api/v1/bookings", json=booking_body(org.id), headers=platform)
    ).status_code == 403
    assert await counts() == before


async def test_malformed_input_is_a_problem_and_writes_nothing(client: httpx.AsyncClient) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("customer"))
    good = booking_body(org.id)
    malformed: list[dict[str, Any]] = [
        {**good, "volume_m3": "lots"},
        {**good, "volume_m3": 0},
        {**good, "crew_size": 13},
        {**good, "crew_size": 1.5},
        {**good, "required_skills": ["juggler"]},
        {**good, "pickup": {"address": "x", "location": {"lon": 190, "lat": 0}}},
        {**good, "dropoff": {"address": "x", "location": {"lon": 0, "lat": -95}}},
        {**good, "pickup": {"address": "", "location": {"lon": 13.4, "lat": 52.5}}},
        {**good, "window_start": "tomorrow morning"},
        {**good, "window_start": "2030-01-01T08:00:00"},  # no offset
        {**good, "org_id": "not-a-uuid"},
        {**good, "surprise": 1},
        {k: v for k, v in good.items() if k != "window_end"},
    ]
    before = await counts()
    for body in malformed:
        answer = await client.post("/api/v1/bookings", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"][0]["field"]
    for raw in (b"{", b"[]", b"null", b"\xff\xfe"):
        answer = await client.post(
            "/api/v1/bookings", content=raw, headers={**headers, "content-type": "application/json"}
        )
        assert answer.status_code == 422, raw
    for path in ("/api/v1/bookings/quote", "/api/v1/bookings"):
        bad_quote = await client.post(path, headers=headers, json={"org_id": str(org.id)})
        assert bad_quote.status_code == 422
    assert await counts() == before
    assert (
        await client.get("/api/v1/bookings/00000000-0000-0000-0000-000000000000", headers=headers)
    ).status_code == 404
    assert (
        await client.patch(
            "/api/v1/bookings/00000000-0000-0000-0000-000000000000", json={"notes": "x"}, headers=headers
        )
    ).status_code == 404


async def test_list_filters_sorts_and_paginates(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer = await make_user("customer")
    base = tomorrow()
    late = await make_booking(org, customer, start=base + timedelta(days=2), status="pending")
    early = await make_booking(org, customer, start=base, status="confirmed")
    middle = await make_booking(
        org, customer, start=base + timedelta(days=1), price_cents=99, status="pending"
    )
    await make_booking(org, await make_user("customer"), start=base)  # someone else's
    mine = auth_headers(customer)
    listed = (await client.get("/api/v1/bookings", headers=mine)).json()
    assert [b["id"] for b in listed["items"]] == [str(early.id), str(middle.id), str(late.id)]
    assert listed["total"] == 3
    pending = (
        await client.get(
            "/api/v1/bookings", headers=mine, params={"status": "pending", "sort": "-window_start"}
        )
    ).json()
    assert [b["id"] for b in pending["items"]] == [str(late.id), str(middle.id)]
    windowed = (
        await client.get(
            "/api/v1/bookings",
            headers=mine,
            params={
                "window_from": (base + timedelta(hours=20)).isoformat(),
                "window_to": (base + timedelta(days=1, hours=12)).isoformat(),
            },
        )
    ).json()
    assert [b["id"] for b in windowed["items"]] == [str(middle.id)]
    page = (
        await client.get("/api/v1/bookings", headers=mine, params={"sort": "price_cents", "limit": 1})
    ).json()
    assert page["items"][0]["id"] == str(middle.id) and page["total"] == 3
    staff = (
        await client.get("/api/v1/bookings", headers=auth_headers(await make_user("dispatcher", org)))
    ).json()
    assert staff["total"] == 4
    assert (await client.get("/api/v1/bookings", headers=mine, params={"status": "lost"})).status_code == 422
    backwards = await client.get(
        "/api/v1/bookings",
        headers=mine,
        params={"window_from": base.isoformat(), "window_to": (base - timedelta(hours=1)).isoformat()},
    )
    assert backwards.status_code == 422 and backwards.json()["field"] == "window_to"
    naive = await client.get("/api/v1/bookings", headers=mine, params={"window_from": "2030-01-01T08:00:00"})
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "window_from"


async def test_amend_notes_and_reschedule_with_reprice(client: httpx.AsyncClient) -> None:
    org = await make_org()
    customer = await make_user("customer")
    headers = auth_headers(customer)
    created = (await client.post("/api/v1/bookings", json=booking_body(org.id), headers=headers)).json()
    url = f"/api/v1/bookings/{created['id']}"
    noted = await client.patch(url, json={"notes": "ring twice"}, headers=headers)
    assert noted.status_code == 200, noted.text
    assert noted.json()["notes"] == "ring twice"
    assert noted.json()["price_cents"] == created["price_cents"]
    later = tomorrow(10)
    moved = await client.patch(
        url,
        headers=auth_headers(await make_user("dispatcher", org)),
        json={
            "window_start": later.isoformat(),
            "window_end": (later + timedelta(hours=5)).isoformat(),
            "dropoff": {"address": "Far away", "location": {"lon": 13.405, "lat": 52.72}},
        },
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["price_cents"] > created["price_cents"]
    assert abs(moved.json()["distance_km"] - 2 * NORTH_KM) < 0.05
    assert moved.json()["version"] > created["version"]
    outside = await client.patch(
        url, headers=headers, json={"pickup": {"address": "Paris", "location": {"lon": 2.35, "lat": 48.85}}}
    )
    assert outside.status_code == 422 and outside.json()["field"] == "pickup.location"
    assigned = await make_booking(org, customer, status="assigned")
    locked = await client.patch(
        f"/api/v1/bookings/{assigned.id}", headers=headers, json={"window_start": later.isoformat()}
    )
    assert locked.status_code == 409 and locked.json()["field"] == "window_start"
    assert (
        await client.patch(f"/api/v1/bookings/{assigned.id}", headers=headers, json={"notes": "still fine"})
    ).status_code == 200
    assert (await client.patch(url, headers=headers, json={"status": "completed"})).status_code == 422
    async with tenant_session(SYSTEM) as session:
        events = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.topic == "booking.updated", OutboxEvent.aggregate_id == created["id"])
        )
        assert events == 2
