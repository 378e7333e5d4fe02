"""Calendar views through the API: schedules, free gaps, utilization, conflicts, tenancy."""

from datetime import UTC, datetime, timedelta

import httpx

from tests.factories import (
    auth_headers,
    make_assignment,
    make_booking,
    make_driver,
    make_org,
    make_truck,
    make_user,
)

DAY = datetime(2027, 3, 2, tzinfo=UTC)


async def _assigned_fleet():  # type: ignore[no-untyped-def]
    org = await make_org()
    dispatcher = await make_user("dispatcher", org)
    customer = await make_user("customer")
    driver, truck = await make_driver(org), await make_truck(org)
    first = await make_booking(org, customer, start=DAY + timedelta(hours=8), hours=3)
    second = await make_booking(org, customer, start=DAY + timedelta(hours=13), hours=2)
    await make_booking(org, customer, start=DAY + timedelta(hours=9), hours=2)  # unassigned
    for booking in (first, second):
        await make_assignment(booking, driver, truck)
    return org, dispatcher, driver, truck, first, second


def _range(hours: float = 24) -> dict[str, str]:
    return {"start": DAY.isoformat(), "end": (DAY + timedelta(hours=hours)).isoformat()}


async def test_fleet_and_driver_schedule(client: httpx.AsyncClient) -> None:
    _, dispatcher, driver, _, first, second = await _assigned_fleet()
    headers = auth_headers(dispatcher)

    fleet = await client.get("/api/v1/calendar", params=_range(), headers=headers)
    assert fleet.status_code == 200, fleet.text
    assert len(fleet.json()["entries"]) == 3 and fleet.json()["unassigned"] == 1

    schedule = await client.get(f"/api/v1/calendar/drivers/{driver.id}", params=_range(), headers=headers)
    body = schedule.json()
    assert [e["booking_id"] for e in body["entries"]] == [str(first.id), str(second.id)]
    assert len(body["free"]) == 3
    assert body["utilization"] == round(5 / 24, 4)


async def test_availability_names_the_conflicting_booking(client: httpx.AsyncClient) -> None:
    _, dispatcher, driver, truck, first, _ = await _assigned_fleet()
    params = {
        "start": (DAY + timedelta(hours=10)).isoformat(),
        "end": (DAY + timedelta(hours=12)).isoformat(),
        "driver_id": str(driver.id),
    }
    answer = await client.get(
        "/api/v1/calendar/availability", params=params, headers=auth_headers(dispatcher)
    )
    assert answer.json() == {"available": False, "conflicting_booking_ids": [str(first.id)]}
    params.update(
        start=(DAY + timedelta(hours=11)).isoformat(),
        end=(DAY + timedelta(hours=13)).isoformat(),
        truck_id=str(truck.id),
    )
    free = await client.get("/api/v1/calendar/availability", params=params, headers=auth_headers(dispatcher))
    assert free.json()["available"] is True


async def test_utilization_report(client: httpx.AsyncClient) -> None:
    _, dispatcher, driver, truck, _, _ = await _assigned_fleet()
    report = await client.get(
        "/api/v1/calendar/utilization", params=_range(), headers=auth_headers(dispatcher)
    )
    body = report.json()
    assert body["drivers"][0]["resource_id"] == str(driver.id)
    assert body["drivers"][0]["busy_hours"] == 5.0
    assert body["trucks"][0]["resource_id"] == str(truck.id)


async def test_other_tenant_and_bad_ranges(client: httpx.AsyncClient) -> None:
    _, _, driver, _, _, _ = await _assigned_fleet()
    other_dispatcher = await make_user("dispatcher", await make_org())
    headers = auth_headers(other_dispatcher)
    foreign = await client.get(f"/api/v1/calendar/drivers/{driver.id}", params=_range(), headers=headers)
    assert foreign.status_code == 404
    assert (await client.get("/api/v1/calendar", params=_range(), headers=headers)).json()["entries"] == []
    backwards = await client.get(
        "/api/v1/calendar",
        headers=headers,
        params={"start": DAY.isoformat(), "end": (DAY - timedelta(hours=1)).isoformat()},
    )
    assert backwards.status_code == 422
    assert backwards.headers["content-type"] == "application/problem+json"
    too_long = await client.get("/api/v1/calendar", params=_range(24 * 90), headers=headers)
    assert too_long.status_code == 422
    customer = await make_user("customer")
    assert (
        await client.get("/api/v1/calendar", params=_range(), headers=auth_headers(customer))
    ).status_code == 403


async def test_platform_admin_narrows_the_calendar_to_one_org(client: httpx.AsyncClient) -> None:
    org, dispatcher, driver, truck, first, second = await _assigned_fleet()
    other, other_dispatcher, *_ = await _assigned_fleet()
    admin = await make_user("platform_admin")
    narrowed = {**_range(), "org_id": str(org.id)}

    mine = await client.get("/api/v1/calendar", params=narrowed, headers=auth_headers(admin))
    assert mine.status_code == 200, mine.text
    entries = mine.json()["entries"]
    assert len(entries) == 3 and {str(first.id), str(second.id)} <= {e["booking_id"] for e in entries}
    usage = await client.get("/api/v1/calendar/utilization", params=narrowed, headers=auth_headers(admin))
    assert usage.status_code == 200, usage.text
    assert {r["resource_id"] for r in usage.json()["drivers"]} == {str(driver.id)}
    assert {r["resource_id"] for r in usage.json()["trucks"]} == {str(truck.id)}

    # Mover staff naming another organization see nothing of it (RLS), not an error.
    foreign = await client.get("/api/v1/calendar", params=narrowed, headers=auth_headers(other_dispatcher))
    assert foreign.status_code == 200 and foreign.json()["entries"] == []
    assert other.id != org.id and dispatcher.org_id == org.id
    bad = await client.get(
        "/api/v1/calendar", params={**_range(), "org_id": "nope"}, headers=auth_headers(admin)
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
