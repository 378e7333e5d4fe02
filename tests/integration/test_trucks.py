"""Trucks through the API: yard, add, edit, retire, plate conflicts, tenancy."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import Range

from persistence.models import BookingAssignment, Truck
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user
from tests.integration.test_drivers import fleet_events


async def count_trucks() -> int:
    async with tenant_session(SYSTEM) as session:
        return int(await session.scalar(select(func.count()).select_from(Truck)) or 0)


async def test_add_edit_list_and_events(client: httpx.AsyncClient) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("dispatcher", org))
    added = await client.post(
        "/api/v1/trucks",
        headers=headers,
        json={"plate": "B-MH 1001", "capacity_m3": 35, "home_base": {"lon": 13.4, "lat": 52.5}},
    )
    assert added.status_code == 201, added.text
    truck = added.json()
    edited = await client.patch(
        f"/api/v1/trucks/{truck['id']}", headers=headers, json={"status": "maintenance", "home_base": None}
    )
    assert edited.json()["status"] == "maintenance" and edited.json()["home_base"] is None
    await make_truck(org, plate="B-MH 1002", capacity_m3=12)
    await make_truck(org, plate="B-MH 1003", capacity_m3=60)
    big = await client.get(
        "/api/v1/trucks", headers=headers, params={"min_capacity_m3": 30, "sort": "-capacity_m3"}
    )
    assert [t["plate"] for t in big.json()["items"]] == ["B-MH 1003", "B-MH 1001"]
    assert big.json()["total"] == 2
    assert [e["action"] for e in await fleet_events(truck["id"])] == ["created", "updated"]


async def test_duplicate_plate_is_a_named_conflict(client: httpx.AsyncClient) -> None:
    org = await make_org()
    await make_truck(org, plate="B-DUP 1")
    headers = auth_headers(await make_user("dispatcher", org))
    before = await count_trucks()
    answer = await client.post(
        "/api/v1/trucks", headers=headers, json={"plate": "B-DUP 1", "capacity_m3": 20}
    )
    assert answer.status_code == 409
    assert answer.json()["constraint"] == "uq_trucks_org_plate"
    assert await count_trucks() == before
    other = auth_headers(await make_user("dispatcher", await make_org()))
    same_plate_elsewhere = await client.post(
        "/api/v1/trucks", headers=other, json={"plate": "B-DUP 1", "capacity_m3": 20}
    )
    assert same_plate_elsewhere.status_code == 201


async def test_remove_retires_when_referenced(client: httpx.AsyncClient) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("mover_admin", org))
    spare, busy = await make_truck(org), await make_truck(org)
    booking = await make_booking(org, await make_user("customer"))
    async with tenant_session(SYSTEM) as session:
        session.add(
            BookingAssignment(
                org_id=org.id,
                booking_id=booking.id,
                driver_id=(await make_driver(org)).id,
                truck_id=busy.id,
                window=Range(booking.window_start, booking.window_end),
            )
        )
    assert (await client.delete(f"/api/v1/trucks/{spare.id}", headers=headers)).json()["outcome"] == "deleted"
    assert (await client.delete(f"/api/v1/trucks/{busy.id}", headers=headers)).json()["outcome"] == "retired"
    assert (await client.get(f"/api/v1/trucks/{busy.id}", headers=headers)).json()["status"] == "retired"


async def test_other_tenant_and_bad_input(client: httpx.AsyncClient) -> None:
    theirs = await make_truck(await make_org())
    org = await make_org()
    headers = auth_headers(await make_user("dispatcher", org))
    url = f"/api/v1/trucks/{theirs.id}"
    assert (await client.get(url, headers=headers)).status_code == 404
    assert (await client.patch(url, json={"capacity_m3": 1}, headers=headers)).status_code == 404
    assert (await client.delete(url, headers=headers)).status_code == 404
    before = await count_trucks()
    for body in (
        {"plate": "ok 1", "capacity_m3": 0},
        {"plate": "B 1", "capacity_m3": -3},
        {"plate": "B 1", "capacity_m3": "big"},
        {"plate": "", "capacity_m3": 3},
        {"plate": "B 1", "capacity_m3": 3, "home_base": {"lon": 0, "lat": 100}},
        {"plate": "B 1", "capacity_m3": 3, "status": "flying"},
    ):
        answer = await client.post("/api/v1/trucks", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
    assert await count_trucks() == before
    own = await make_truck(org)
    assert (
        await client.patch(f"/api/v1/trucks/{own.id}", json={"capacity_m3": None}, headers=headers)
    ).status_code == 422
