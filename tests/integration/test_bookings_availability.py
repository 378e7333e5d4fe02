"""GET /availability on known geometry: coverage, capacity, driver/truck overlap, order."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.dialects.postgresql import Range

from persistence.models import BookingAssignment, Organization
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user
from tests.integration.test_bookings import remote_center, tomorrow


async def _fleet(
    center: tuple[float, float], *, capacity: float = 40, driver_status: str = "active", **org_fields: object
) -> tuple[Organization, object, object]:
    org = await make_org(center=center, **org_fields)
    driver = await make_driver(org, lon=center[0], lat=center[1], status=driver_status)
    truck = await make_truck(org, capacity_m3=capacity)
    return org, driver, truck


async def _hold(org: Organization, driver: object, truck: object, hours_from: int, hours: int) -> None:
    booking = await make_booking(org, await make_user("customer"), start=tomorrow(hours_from), hours=hours)
    async with tenant_session(SYSTEM) as session:
        session.add(
            BookingAssignment(
                org_id=org.id,
                booking_id=booking.id,
                driver_id=driver.id,  # type: ignore[attr-defined]
                truck_id=truck.id,  # type: ignore[attr-defined]
                window=Range(booking.window_start, booking.window_end),
            )
        )


async def test_availability_on_known_geometry(client: httpx.AsyncClient) -> None:
    lon, lat = remote_center()
    near, *_ = await _fleet((lon + 0.01, lat), rating_avg=4.1)
    farther, f_driver, f_truck = await _fleet((lon + 0.1, lat), rating_avg=4.8, hourly_rate_cents=5200)
    await _hold(farther, f_driver, f_truck, 14, 3)  # after the asked window: still free
    small, *_ = await _fleet((lon, lat), capacity=10)
    busy, b_driver, b_truck = await _fleet((lon, lat))
    await _hold(busy, b_driver, b_truck, 9, 2)  # overlaps 8:00-14:00
    await _fleet((lon, lat), driver_status="suspended")
    await _fleet((lon, lat), verified=False)
    await _fleet((lon + 5, lat))  # serves elsewhere

    params = {
        "lon": lon,
        "lat": lat,
        "volume": 20,
        "start": tomorrow(8).isoformat(),
        "end": tomorrow(14).isoformat(),
    }
    headers = auth_headers(await make_user("customer"))
    answer = await client.get("/api/v1/availability", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [o["org_id"] for o in body["items"]] == [str(near.id), str(farther.id)]
    assert body["total"] == 2
    assert body["items"][0]["distance_km"] < body["items"][1]["distance_km"]
    small_load = await client.get("/api/v1/availability", headers=headers, params={**params, "volume": 5})
    assert str(small.id) in [o["org_id"] for o in small_load.json()["items"]]
    later = await client.get(
        "/api/v1/availability",
        headers=headers,
        params={**params, "start": tomorrow(15).isoformat(), "end": tomorrow(16).isoformat()},
    )
    ids = [o["org_id"] for o in later.json()["items"]]
    assert str(busy.id) in ids and str(farther.id) not in ids
    cheapest = await client.get(
        "/api/v1/availability", headers=headers, params={**params, "sort": "hourly_rate_cents"}
    )
    assert [o["org_id"] for o in cheapest.json()["items"]] == [str(near.id), str(farther.id)]
    pricier = await client.get(
        "/api/v1/availability", headers=headers, params={**params, "sort": ["-rating_avg", "distance_km"]}
    )
    assert [o["org_id"] for o in pricier.json()["items"]] == [str(farther.id), str(near.id)]
    page = await client.get(
        "/api/v1/availability", headers=headers, params={**params, "limit": 1, "offset": 1}
    )
    assert [o["org_id"] for o in page.json()["items"]] == [str(farther.id)]
    assert page.json()["total"] == 2


async def test_availability_rejects_bad_queries(client: httpx.AsyncClient) -> None:
    headers = auth_headers(await make_user("customer"))
    good = {
        "lon": 13.4,
        "lat": 52.5,
        "volume": 20,
        "start": tomorrow(8).isoformat(),
        "end": tomorrow(12).isoformat(),
    }
    for bad in (
        {"lat": 91},
        {"lon": -181},
        {"volume": 0},
        {"volume": "x"},
        {"end": tomorrow(7).isoformat()},
        {"end": (tomorrow(8) + timedelta(hours=15)).isoformat()},
        {"start": (tomorrow(8) - timedelta(days=10)).isoformat()},
        {"start": "soon"},
        {"sort": "cheapest"},
        {"start": "2030-01-01T08:00:00", "end": "2030-01-01T10:00:00"},
    ):
        answer = await client.get("/api/v1/availability", params={**good, **bad}, headers=headers)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/v1/availability", params=good)).status_code == 401
