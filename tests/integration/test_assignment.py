"""Assignment through the API on the live Ray fleet: auto, manual, unassign, concurrency,
a shard killed mid-traffic, bad input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import ray
from fastapi import FastAPI
from sqlalchemy import text

from persistence.config import get_settings
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user

pytestmark = pytest.mark.skipif(not get_settings().ray_enabled, reason="needs the Ray fleet")
SOON = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)


async def _fleet(
    drivers: int = 2,
    trucks: int = 2,
    org_fields: dict | None = None,  # type: ignore[no-untyped-def]
    **driver_fields,
):
    org = await make_org(**(org_fields or {}))
    staff, customer = await make_user("dispatcher", org), await make_user("customer")
    crew = [await make_driver(org, lat=52.52 + 0.01 * i, **driver_fields) for i in range(drivers)]
    vans = [await make_truck(org) for _ in range(trucks)]
    return org, staff, customer, crew, vans


async def _overlaps() -> int:
    async with tenant_session(SYSTEM) as session:
        return (
            await session.execute(
                text("""
            SELECT count(*) FROM booking_assignments a JOIN booking_assignments b
              ON a.id < b.id AND a.active AND b.active AND a."window" && b."window"
             AND (a.driver_id = b.driver_id OR a.truck_id = b.truck_id)""")
            )
        ).scalar_one()


async def test_auto_assign_picks_verified_and_explains(client: httpx.AsyncClient) -> None:
    org, staff, customer, crew, _ = await _fleet(drivers=1)
    near_unverified = await make_driver(org, lat=52.5201, verified=False)
    inactive = await make_driver(org, lat=52.5202, status="inactive")
    booking = await make_booking(org, customer, start=SOON)
    response = await client.post(f"/api/v1/bookings/{booking.id}/assign/auto", headers=auth_headers(staff))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["driver_id"] == str(crew[0].id)
    assert body["driver_id"] not in (str(near_unverified.id), str(inactive.id))
    assert {"deadhead_km", "rating", "fairness", "idle", "total"} <= set(body["score"])
    history = (await client.get(f"/api/v1/bookings/{booking.id}/history", headers=auth_headers(staff))).json()
    assert history[-1]["to_status"] == "assigned"
    assert history[-1]["metadata"]["score"]["total"] == body["score"]["total"]


async def test_unverified_organization_is_not_auto_assigned(client: httpx.AsyncClient) -> None:
    org, staff, customer, _, _ = await _fleet(drivers=1, org_fields={"verified": False})
    booking = await make_booking(org, customer, start=SOON)
    response = await client.post(f"/api/v1/bookings/{booking.id}/assign/auto", headers=auth_headers(staff))
    assert response.status_code == 409, response.text
    assert "not verified" in response.json()["detail"]


async def test_manual_conflict_names_the_booking_and_unassign(client: httpx.AsyncClient) -> None:
    org, staff, customer, crew, vans = await _fleet()
    first = await make_booking(org, customer, start=SOON)
    second = await make_booking(org, customer, start=SOON + timedelta(hours=1))
    choice = {"driver_id": str(crew[0].id), "truck_id": str(vans[0].id)}
    ok = await client.post(f"/api/v1/bookings/{first.id}/assign", json=choice, headers=auth_headers(staff))
    assert ok.status_code == 201, ok.text
    clash = await client.post(
        f"/api/v1/bookings/{second.id}/assign", json=choice, headers=auth_headers(staff)
    )
    assert clash.status_code == 409 and clash.json()["conflicting_booking_id"] == str(first.id)
    freed = await client.delete(f"/api/v1/bookings/{first.id}/assignment", headers=auth_headers(staff))
    assert freed.status_code == 200 and freed.json()["status"] == "confirmed"
    again = await client.post(
        f"/api/v1/bookings/{second.id}/assign", json=choice, headers=auth_headers(staff)
    )
    assert again.status_code == 201


async def test_bad_input(client: httpx.AsyncClient) -> None:
    org, staff, customer, _crew, _vans = await _fleet()
    other_org, _, other_customer, _, _ = await _fleet()
    foreign = await make_booking(other_org, other_customer, start=SOON)
    past = await make_booking(org, customer, start=datetime.now(UTC) - timedelta(hours=1))
    headers = auth_headers(staff)
    assert (
        await client.post(f"/api/v1/bookings/{foreign.id}/assign/auto", headers=headers)
    ).status_code == 404
    assert (
        await client.post(
            "/api/v1/bookings/00000000-0000-0000-0000-000000000000/assign/auto", headers=headers
        )
    ).status_code == 404
    assert (await client.post(f"/api/v1/bookings/{past.id}/assign/auto", headers=headers)).status_code == 422
    pending = await make_booking(org, customer, start=SOON, status="pending")
    assert (
        await client.post(f"/api/v1/bookings/{pending.id}/assign/auto", headers=headers)
    ).status_code == 409
    assert (
        await client.post(f"/api/v1/bookings/{pending.id}/assign/auto", headers=auth_headers(customer))
    ).status_code == 403


async def test_200_concurrent_auto_assignments_never_overlap(client: httpx.AsyncClient) -> None:
    """200 auto-assigns at once. A request the pool or a connect cannot serve in time is shed
    with a retryable 503 (Retry-After): that is the overload contract, so the test retries those
    as a client would. Every request ends 201 or 409, and no two active windows overlap."""
    org, staff, customer, _, _ = await _fleet(drivers=4, trucks=3)
    bookings = [await make_booking(org, customer, start=SOON + timedelta(minutes=i % 90)) for i in range(200)]

    async def assign(booking_id: object) -> httpx.Response:
        return await client.post(f"/api/v1/bookings/{booking_id}/assign/auto", headers=auth_headers(staff))

    answers = dict(
        zip([b.id for b in bookings], await asyncio.gather(*(assign(b.id) for b in bookings)), strict=True)
    )
    for _ in range(5):
        shed = [i for i, r in answers.items() if r.status_code == 503]
        if not shed:
            break
        for booking_id in shed:  # shed, never half-done: each says when to come back
            assert int(answers[booking_id].headers["Retry-After"]) >= 1
            assert answers[booking_id].headers["content-type"] == "application/problem+json"
        await asyncio.sleep(1)
        answers.update(zip(shed, await asyncio.gather(*(assign(i) for i in shed)), strict=True))
    codes = [r.status_code for r in answers.values()]
    assert set(codes) <= {201, 409}, {r.text for r in answers.values() if r.status_code not in (201, 409)}
    assert 1 <= codes.count(201) <= 3  # three trucks; every window overlaps every other
    assert await _overlaps() == 0


async def test_shard_killed_mid_traffic_rebuilds_from_database(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    org, staff, customer, _, _ = await _fleet(drivers=6, trucks=6)
    fleet = app.state.fleet
    shard = fleet.shard_for(org.id)
    bookings = [await make_booking(org, customer, start=SOON + timedelta(days=i)) for i in range(12)]

    async def assign(b):  # type: ignore[no-untyped-def]
        return await client.post(f"/api/v1/bookings/{b.id}/assign/auto", headers=auth_headers(staff))

    first = await asyncio.gather(*(assign(b) for b in bookings[:6]))
    ray.kill(shard, no_restart=False)
    second = await asyncio.gather(*(assign(b) for b in bookings[6:]))
    assert all(r.status_code in (201, 409, 503) for r in first + second)
    async with tenant_session(SYSTEM) as session:
        rows = (
            await session.execute(
                text("""
            SELECT driver_id::text, extract(epoch FROM lower("window"))::float8,
                   extract(epoch FROM upper("window"))::float8
            FROM booking_assignments WHERE org_id = :org AND active"""),
                {"org": org.id},
            )
        ).all()
        per_booking = (
            await session.execute(
                text("""
            SELECT count(*) FROM booking_assignments WHERE org_id = :org AND active
            GROUP BY booking_id HAVING count(*) > 1"""),
                {"org": org.id},
            )
        ).all()
    assert per_booking == []
    assert len(rows) == sum(r.status_code == 201 for r in first + second)
    await fleet.shard_for(org.id).refresh_org.remote(str(org.id))
    state = await fleet.shard_for(org.id).state_of.remote(str(org.id))
    assert sorted(state["busy"]) == sorted((d, s, e) for d, s, e in rows)


async def test_offers_and_day_plan(app: FastAPI, client: httpx.AsyncClient) -> None:
    org, staff, customer, _crew, _vans = await _fleet(
        drivers=3, trucks=3, org_fields={"hourly_rate_cents": 100, "minimum_charge_cents": 0}
    )
    await app.state.fleet.refresh_org(org.id)  # what the outbox's fleet.changed event does
    day = (SOON + timedelta(days=30)).date()
    start = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    bookings = [await make_booking(org, customer, start=start + timedelta(minutes=10 * i)) for i in range(3)]
    offers = await client.post(
        "/api/v1/marketplace/offers",
        headers=auth_headers(customer),
        json={
            "pickup_lat": 52.52,
            "pickup_lon": 13.41,
            "dropoff_lat": 52.5,
            "dropoff_lon": 13.38,
            "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=3)).isoformat(),
            "volume_m3": 20,
            "crew_size": 2,
        },
    )
    assert offers.status_code == 200, offers.text
    assert offers.json()[0]["org_id"] == str(org.id)  # the cheapest
    assert offers.json()[0]["price_cents"] > 0
    planned = await client.post(
        "/api/v1/dispatch/plan", headers=auth_headers(staff), json={"date": day.isoformat()}
    )
    assert planned.status_code == 200, planned.text
    body = planned.json()
    assert body["bookings"] == 3 and len(body["assigned"]) == 3
    assert body["deadhead_km"] <= body["greedy_deadhead_km"]
    assert {a["booking_id"] for a in body["assigned"]} == {str(b.id) for b in bookings}
    assert await _overlaps() == 0
    past = await client.post(
        "/api/v1/marketplace/offers",
        headers=auth_headers(customer),
        json={
            "pickup_lat": 52.52,
            "pickup_lon": 13.41,
            "dropoff_lat": 52.5,
            "dropoff_lon": 13.38,
            "window_start": "2020-01-01T09:00:00Z",
            "window_end": "2020-01-01T12:00:00Z",
            "volume_m3": 20,
            "crew_size": 2,
        },
    )
    assert past.status_code == 422


async def test_day_plan_chains_jobs_when_drivers_are_fewer(app: FastAPI, client: httpx.AsyncClient) -> None:
    org, staff, customer, crew, vans = await _fleet(drivers=1, trucks=1)
    await app.state.fleet.refresh_org(org.id)
    day = (SOON + timedelta(days=40)).date()
    morning = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    bookings = [
        await make_booking(org, customer, start=morning + timedelta(hours=h), hours=3) for h in (0, 5)
    ]
    planned = await client.post(
        "/api/v1/dispatch/plan", headers=auth_headers(staff), json={"date": day.isoformat()}
    )
    assert planned.status_code == 200, planned.text
    body = planned.json()
    assert body["method"] == "chains"
    assert [a["booking_id"] for a in body["assigned"]] == [str(b.id) for b in bookings]
    assert {a["driver_id"] for a in body["assigned"]} == {str(crew[0].id)}
    assert {a["truck_id"] for a in body["assigned"]} == {str(vans[0].id)}
    assert await _overlaps() == 0


async def test_50_concurrent_manual_assignments_of_one_driver(client: httpx.AsyncClient) -> None:
    org, staff, customer, crew, _ = await _fleet(drivers=1, trucks=0)
    trucks = [await make_truck(org) for _ in range(50)]
    bookings = [
        await make_booking(org, customer, start=SOON + timedelta(minutes=i), hours=3) for i in range(50)
    ]
    responses = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/bookings/{b.id}/assign",
                headers=auth_headers(staff),
                json={"driver_id": str(crew[0].id), "truck_id": str(t.id)},
            )
            for b, t in zip(bookings, trucks, strict=True)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 49
    conflicts = [r.json() for r in responses if r.status_code == 409]
    winner = next(r.json()["booking_id"] for r in responses if r.status_code == 201)
    assert all(c["conflicting_booking_id"] == winner for c in conflicts)
    assert await _overlaps() == 0
