"""Tenant isolation: across organizations and customers every read, edit and delete is a 404,
raw SQL sees only the caller's rows, and a pooled connection carries no tenant context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from persistence.config import get_settings
from persistence.models import BookingAssignment, Driver, Organization, Truck, User
from persistence.session import SYSTEM, Caller, engine, set_caller, tenant_session
from tests.factories import (
    auth_headers,
    caller_for,
    make_booking,
    make_driver,
    make_org,
    make_truck,
    make_user,
)

TENANT_TABLES = ("bookings", "drivers", "trucks", "booking_assignments", "booking_status_history", "outbox")


@dataclass
class Tenant:
    org: Organization
    admin: User
    customer: User
    driver: Driver
    truck: Truck
    booking_id: Any


async def _tenant() -> Tenant:
    org = await make_org()
    admin, customer = await make_user("mover_admin", org), await make_user("customer")
    driver, truck = await make_driver(org), await make_truck(org)
    booking = await make_booking(org, customer, status="pending")
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
    return Tenant(org, admin, customer, driver, truck, booking.id)


async def test_every_cross_tenant_call_is_not_found(client: httpx.AsyncClient) -> None:
    a, b = await _tenant(), await _tenant()
    for intruder, victim in ((a, b), (b, a)):
        staff = auth_headers(intruder.admin)
        customer = auth_headers(intruder.customer)
        calls = [
            ("GET", f"/api/v1/drivers/{victim.driver.id}", staff, None),
            ("PATCH", f"/api/v1/drivers/{victim.driver.id}", staff, {"full_name": "x"}),
            ("DELETE", f"/api/v1/drivers/{victim.driver.id}", staff, None),
            ("GET", f"/api/v1/trucks/{victim.truck.id}", staff, None),
            ("PATCH", f"/api/v1/trucks/{victim.truck.id}", staff, {"capacity_m3": 1}),
            ("DELETE", f"/api/v1/trucks/{victim.truck.id}", staff, None),
            ("GET", f"/api/v1/bookings/{victim.booking_id}", staff, None),
            ("PATCH", f"/api/v1/bookings/{victim.booking_id}", staff, {"notes": "x"}),
            ("GET", f"/api/v1/bookings/{victim.booking_id}", customer, None),
            ("PATCH", f"/api/v1/bookings/{victim.booking_id}", customer, {"notes": "x"}),
            ("PATCH", f"/api/v1/organizations/{victim.org.id}", staff, {"name": "Taken over"}),
            (
                "PUT",
                f"/api/v1/organizations/{victim.org.id}/service-area",
                staff,
                {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
            ),
            (
                "POST",
                f"/api/v1/organizations/{victim.org.id}/staff",
                staff,
                {"role": "dispatcher", "phone": "+4930555000", "full_name": "Mole"},
            ),
        ]
        for method, url, headers, body in calls:
            answer = await client.request(method, url, headers=headers, json=body)
            assert answer.status_code == 404, (method, url, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        for url in ("/api/v1/drivers", "/api/v1/trucks", "/api/v1/bookings"):
            listed = (await client.get(url, headers=staff)).json()["items"]
            assert {row["org_id"] for row in listed} == {str(intruder.org.id)}
        mine = (await client.get("/api/v1/bookings", headers=customer)).json()["items"]
        assert [row["id"] for row in mine] == [str(intruder.booking_id)]
    # Nothing the intruders tried changed anything.
    async with tenant_session(SYSTEM) as session:
        for tenant in (a, b):
            driver = await session.get(Driver, tenant.driver.id)
            assert driver is not None and driver.full_name == "Test Driver"
            assert (await session.get(Organization, tenant.org.id)).name == "Test Movers"  # type: ignore[union-attr]


async def test_raw_sql_sees_only_the_callers_rows(database: str) -> None:
    a, b = await _tenant(), await _tenant()
    for table in TENANT_TABLES:
        async with tenant_session(caller_for(a.admin)) as session:
            foreign = await session.execute(
                text(f"SELECT * FROM {table} WHERE org_id = :org"), {"org": b.org.id}
            )
            assert foreign.all() == [], table
            orgs = await session.scalars(text(f"SELECT DISTINCT org_id FROM {table}"))
            assert set(orgs.all()) <= {a.org.id}, table
    async with tenant_session(caller_for(a.customer)) as session:
        rows = (await session.execute(text("SELECT id, customer_id FROM bookings"))).all()
        assert [(row.id, row.customer_id) for row in rows] == [(a.booking_id, a.customer.id)]
        assert (await session.execute(text("SELECT * FROM drivers"))).all() == []
        assert (await session.execute(text("SELECT * FROM outbox"))).all() == []
        users = (await session.execute(text("SELECT id FROM users"))).scalars().all()
        assert users == [a.customer.id]
    async with tenant_session(caller_for(a.admin)) as session:
        updated = await session.execute(
            text("UPDATE drivers SET full_name = 'hijacked' WHERE id = :id"), {"id": b.driver.id}
        )
        assert updated.rowcount == 0  # type: ignore[attr-defined]
        deleted = await session.execute(text("DELETE FROM trucks WHERE id = :id"), {"id": b.truck.id})
        assert deleted.rowcount == 0  # type: ignore[attr-defined]


async def test_pooled_connection_carries_no_tenant_context(database: str) -> None:
    a = await _tenant()
    # One connection only, so the second checkout is provably the same backend.
    single = create_async_engine(get_settings().database_url, pool_size=1, max_overflow=0)
    try:
        async with single.connect() as conn, conn.begin():
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
            async with AsyncSession(bind=conn) as session:
                await set_caller(session, caller_for(a.admin))
                # Exactly its own booking: the tenant sees it, and nobody else's.
                assert await session.scalar(text("SELECT count(*) FROM bookings")) == 1
        async with single.connect() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) == pid
            assert await conn.scalar(text("SELECT current_setting('app.org_id', true)")) in ("", None)
            assert await conn.scalar(text("SELECT count(*) FROM bookings")) == 0
            assert await conn.scalar(text("SELECT count(*) FROM drivers")) == 0
    finally:
        await single.dispose()
    # The app's own pool: after tenant transactions, a bare connection and a caller without
    # an organization see nothing of any tenant.
    async with tenant_session(caller_for(a.admin)) as session:
        assert await session.scalar(text("SELECT count(*) FROM drivers")) == 1  # its own only
    async with engine().connect() as conn:
        assert await conn.scalar(text("SELECT current_setting('app.org_id', true)")) in ("", None)
        assert await conn.scalar(text("SELECT count(*) FROM bookings")) == 0
    async with tenant_session(Caller(role="dispatcher")) as session:
        assert await session.scalar(text("SELECT current_setting('app.org_id', true)")) == ""
        for table in TENANT_TABLES:
            assert await session.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
