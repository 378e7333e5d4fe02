"""Analytics dashboard: figures per organization, platform scope for admins, validation."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.dialects.postgresql import Range

from persistence.models import BookingAssignment
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user

DAY = datetime(2027, 4, 6, tzinfo=UTC)
RANGE = {"start": DAY.isoformat(), "end": (DAY + timedelta(days=2)).isoformat()}


async def test_dashboard_for_an_organization(client: httpx.AsyncClient) -> None:
    org = await make_org()
    admin = await make_user("mover_admin", org)
    customer = await make_user("customer")
    driver, truck = await make_driver(org, full_name="Ada"), await make_truck(org)
    done = await make_booking(org, customer, start=DAY + timedelta(hours=8), status="completed",
                              price_cents=40000)
    await make_booking(org, customer, start=DAY + timedelta(hours=30), status="cancelled",
                       price_cents=10000)
    await make_booking(org, customer, start=DAY + timedelta(hours=32), price_cents=20000)
    async with tenant_session(SYSTEM) as session:
        session.add(BookingAssignment(org_id=org.id, booking_id=done.id, driver_id=driver.id,
                                      truck_id=truck.id,
                                      window=Range(done.window_start, done.window_end)))
    response = await client.get("/api/v1/analytics/dashboard", params=RANGE,
                                headers=auth_headers(admin))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "organization"
    assert body["bookings"]["total"] == 3
    assert body["bookings"]["revenue_cents"] == 40000
    assert body["bookings"]["completion_rate"] == 0.5
    assert body["drivers"]["top_performers"][0]["full_name"] == "Ada"
    assert [p["bookings"] for p in body["trend"]] == [1, 2]


async def test_other_org_sees_none_and_bad_range_is_422(client: httpx.AsyncClient) -> None:
    stranger = await make_user("dispatcher", await make_org())
    response = await client.get("/api/v1/analytics/bookings", params=RANGE,
                                headers=auth_headers(stranger))
    assert response.json()["total"] == 0
    bad = await client.get("/api/v1/analytics/trend", headers=auth_headers(stranger),
                           params={"start": RANGE["end"], "end": RANGE["start"]})
    assert bad.status_code == 422
