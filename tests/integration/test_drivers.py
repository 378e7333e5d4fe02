"""Drivers through the API: roster, hire, edit, remove, fleet.changed events, tenancy."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import Range

from persistence.models import BookingAssignment, Driver, OutboxEvent
from persistence.session import SYSTEM, tenant_session
from tests.factories import (
    auth_headers,
    make_booking,
    make_driver,
    make_org,
    make_truck,
    make_user,
)

NEW_DRIVER = {
    "full_name": "Jonas Weber",
    "phone": "+4930123456",
    "skills": ["driver", "foreman"],
    "home_base": {"lon": 13.43, "lat": 52.51},
}


async def fleet_events(resource_id: object) -> list[dict[str, object]]:
    async with tenant_session(SYSTEM) as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.topic == "fleet.changed", OutboxEvent.aggregate_id == str(resource_id))
            .order_by(OutboxEvent.id)
        )
        return [row.payload for row in rows]


async def count_drivers() -> int:
    async with tenant_session(SYSTEM) as session:
        return int(await session.scalar(select(func.count()).select_from(Driver)) or 0)


async def test_hire_edit_and_events(client: httpx.AsyncClient) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("dispatcher", org))
    hired = await client.post("/api/v1/drivers", json=NEW_DRIVER, headers=headers)
    assert hired.status_code == 201, hired.text
    driver = hired.json()
    assert driver["org_id"] == str(org.id) and driver["home_base"] == NEW_DRIVER["home_base"]
    edited = await client.patch(
        f"/api/v1/drivers/{driver['id']}",
        headers=headers,
        json={"status": "suspended", "skills": ["packer", "packer"]},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "suspended" and edited.json()["skills"] == ["packer"]
    events = await fleet_events(driver["id"])
    assert [e["action"] for e in events] == ["created", "updated"]
    assert events[0] == {"org_id": str(org.id), "kind": "driver", "id": driver["id"], "action": "created"}


async def test_roster_filters_sorts_and_paginates(client: httpx.AsyncClient) -> None:
    org = await make_org()
    for name, status, skills in (
        ("Anna", "active", ["driver"]),
        ("Ben", "inactive", ["driver", "packer"]),
        ("Carl", "active", ["packer"]),
    ):
        await make_driver(org, full_name=name, status=status, skills=skills)
    await make_driver(await make_org(), full_name="Other tenant")
    headers = auth_headers(await make_user("mover_admin", org))
    everyone = await client.get("/api/v1/drivers", headers=headers, params={"sort": "-full_name", "limit": 2})
    body = everyone.json()
    assert body["total"] == 3 and [d["full_name"] for d in body["items"]] == ["Carl", "Ben"]
    packers = await client.get(
        "/api/v1/drivers", headers=headers, params={"skill": "packer", "status": "active"}
    )
    assert [d["full_name"] for d in packers.json()["items"]] == ["Carl"]
    named = await client.get("/api/v1/drivers", headers=headers, params={"name": "an"})
    assert [d["full_name"] for d in named.json()["items"]] == ["Anna"]
    assert (await client.get("/api/v1/drivers", headers=headers, params={"limit": 0})).status_code == 422


async def test_remove_deletes_or_deactivates(client: httpx.AsyncClient) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("dispatcher", org))
    loose, busy = await make_driver(org), await make_driver(org)
    booking = await make_booking(org, await make_user("customer"))
    async with tenant_session(SYSTEM) as session:
        session.add(
            BookingAssignment(
                org_id=org.id,
                booking_id=booking.id,
                driver_id=busy.id,
                truck_id=(await make_truck(org)).id,
                window=Range(booking.window_start, booking.window_end),
            )
        )
    gone = await client.delete(f"/api/v1/drivers/{loose.id}", headers=headers)
    assert gone.json() == {"id": str(loose.id), "outcome": "deleted"}
    assert (await client.get(f"/api/v1/drivers/{loose.id}", headers=headers)).status_code == 404
    kept = await client.delete(f"/api/v1/drivers/{busy.id}", headers=headers)
    assert kept.json()["outcome"] == "deactivated"
    after = await client.get(f"/api/v1/drivers/{busy.id}", headers=headers)
    assert after.json()["status"] == "inactive"
    assert [e["action"] for e in await fleet_events(busy.id)] == ["deactivated"]


async def test_other_tenants_driver_is_not_found(client: httpx.AsyncClient) -> None:
    theirs = await make_driver(await make_org())
    headers = auth_headers(await make_user("mover_admin", await make_org()))
    url = f"/api/v1/drivers/{theirs.id}"
    assert (await client.get(url, headers=headers)).status_code == 404
    assert (await client.patch(url, json={"full_name": "Stolen"}, headers=headers)).status_code == 404
    assert (await client.delete(url, headers=headers)).status_code == 404
    async with tenant_session(SYSTEM) as session:
        driver = await session.get(Driver, theirs.id)
        assert driver is not None and driver.full_name == "Test Driver"


async def test_bad_input_writes_nothing(client: httpx.AsyncClient) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("dispatcher", org))
    foreign_user = await make_user("driver", await make_org())
    before = await count_drivers()
    bad_bodies = [
        {**NEW_DRIVER, "home_base": {"lon": 181, "lat": 52.5}},
        {**NEW_DRIVER, "home_base": {"lon": 13.4, "lat": -91}},
        {**NEW_DRIVER, "skills": ["juggler"]},
        {**NEW_DRIVER, "skills": []},
        {**NEW_DRIVER, "status": "retired"},
        {**NEW_DRIVER, "full_name": 12},
        {**NEW_DRIVER, "user_id": str(foreign_user.id)},
        {**NEW_DRIVER, "org_id": str((await make_org()).id)},
        {**NEW_DRIVER, "unexpected": True},
    ]
    for body in bad_bodies:
        answer = await client.post("/api/v1/drivers", json=body, headers=headers)
        assert 400 <= answer.status_code < 500, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    raw = await client.post(
        "/api/v1/drivers", content=b"{not json", headers={**headers, "content-type": "application/json"}
    )
    assert raw.status_code == 422
    named = await client.post("/api/v1/drivers", json={**NEW_DRIVER, "skills": ["x"]}, headers=headers)
    assert named.json()["errors"][0]["field"].startswith("skills")
    assert await count_drivers() == before
    driver = await make_driver(org)
    null_name = await client.patch(f"/api/v1/drivers/{driver.id}", json={"full_name": None}, headers=headers)
    assert null_name.status_code == 422 and null_name.json()["field"] == "full_name"
    customer = auth_headers(await make_user("customer"))
    assert (await client.get("/api/v1/drivers", headers=customer)).status_code == 403
    assert (await client.get("/api/v1/drivers/not-a-uuid", headers=headers)).status_code == 422


async def test_platform_admin_hires_into_a_named_org(client: httpx.AsyncClient) -> None:
    org = await make_org()
    headers = auth_headers(await make_user("platform_admin"))
    missing = await client.post("/api/v1/drivers", json=NEW_DRIVER, headers=headers)
    assert missing.status_code == 422 and missing.json()["field"] == "org_id"
    hired = await client.post("/api/v1/drivers", json={**NEW_DRIVER, "org_id": str(org.id)}, headers=headers)
    assert hired.status_code == 201 and hired.json()["org_id"] == str(org.id)
    listed = await client.get("/api/v1/drivers", params={"org_id": str(org.id)}, headers=headers)
    assert listed.json()["total"] == 1
