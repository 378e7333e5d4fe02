"""Test data builders: organizations, users, drivers, trucks, bookings, tokens and clients for them.

They write as the system caller (RLS lets it), so a test can set up any tenant it needs.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy.dialects.postgresql import Range

from dispatch.auth.tokens import issue_access_token
from persistence.config import get_settings
from persistence.models import (
    Booking,
    BookingAssignment,
    BookingStatusHistory,
    Driver,
    Organization,
    Truck,
    User,
)
from persistence.session import SYSTEM, Caller, tenant_session
from persistence.statuses import BookingStatus

# A square around central Berlin, roughly 20 km across.
CITY_CENTER = (13.405, 52.52)


def square(lon: float, lat: float, half: float = 0.15) -> MultiPolygon:
    return MultiPolygon([box(lon - half, lat - half, lon + half, lat + half)])


def geo(lon: float, lat: float) -> Any:
    return from_shape(Point(lon, lat), srid=4326)


def unique_code(prefix: str = "T") -> str:
    return (prefix + secrets.token_hex(4)).upper()[:12]


async def make_org(
    *, center: tuple[float, float] = CITY_CENTER, verified: bool = True, **fields: Any
) -> Organization:
    lon, lat = center
    values: dict[str, Any] = {
        "name": "Test Movers",
        "code": unique_code(),
        "service_area": from_shape(square(lon, lat), srid=4326),
        "base_location": geo(lon, lat),
        "hourly_rate_cents": 4500,
        "per_km_cents": 150,
        "minimum_charge_cents": 15000,
        "currency": "EUR",
        "verified": verified,
    }
    values.update(fields)
    async with tenant_session(SYSTEM) as session:
        org = Organization(**values)
        session.add(org)
        await session.flush()
    return org


async def make_user(role: str = "customer", org: Organization | None = None, **fields: Any) -> User:
    values: dict[str, Any] = {
        "role": role,
        "org_id": org.id if org else None,
        "email": f"{uuid.uuid4().hex[:12]}@example.test",
        "full_name": f"Test {role}",
    }
    values.update(fields)
    async with tenant_session(SYSTEM) as session:
        user = User(**values)
        session.add(user)
        await session.flush()
    return user


async def make_driver(
    org: Organization,
    *,
    lon: float | None = None,
    lat: float | None = None,
    user: User | None = None,
    **fields: Any,
) -> Driver:
    values: dict[str, Any] = {
        "org_id": org.id,
        "full_name": "Test Driver",
        "skills": ["driver"],
        "home_base": geo(lon or CITY_CENTER[0], lat or CITY_CENTER[1]),
        "verified": True,
        "user_id": user.id if user else None,
    }
    values.update(fields)
    async with tenant_session(SYSTEM) as session:
        driver = Driver(**values)
        session.add(driver)
        await session.flush()
    return driver


async def make_truck(org: Organization, **fields: Any) -> Truck:
    values: dict[str, Any] = {"org_id": org.id, "plate": unique_code("P"), "capacity_m3": 40}
    values.update(fields)
    async with tenant_session(SYSTEM) as session:
        truck = Truck(**values)
        session.add(truck)
        await session.flush()
    return truck


async def make_booking(
    org: Organization, customer: User, *, start: datetime | None = None, hours: float = 4, **fields: Any
) -> Booking:
    start = start or (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    values: dict[str, Any] = {
        "org_id": org.id,
        "customer_id": customer.id,
        "pickup_address": "Alexanderplatz 1",
        "pickup_location": geo(13.41, 52.52),
        "dropoff_address": "Potsdamer Platz 1",
        "dropoff_location": geo(13.375, 52.51),
        "window_start": start,
        "window_end": start + timedelta(hours=hours),
        "volume_m3": 20,
        "crew_size": 2,
        "distance_km": 3.2,
        "price_cents": 30000,
        "currency": "EUR",
        "status": "confirmed",
    }
    values.update(fields)
    async with tenant_session(SYSTEM) as session:
        booking = Booking(**values)
        session.add(booking)
        await session.flush()
    return booking


async def make_assignment(
    booking: Booking, driver: Driver, truck: Truck, *, arrived: datetime | None = None
) -> None:
    """An active crew on the booking for its window; with `arrived`, the driver's arrival in
    its status history at that time (what on-time figures count)."""
    async with tenant_session(SYSTEM) as session:
        session.add(
            BookingAssignment(
                org_id=booking.org_id,
                booking_id=booking.id,
                driver_id=driver.id,
                truck_id=truck.id,
                window=Range(booking.window_start, booking.window_end),
            )
        )
        if arrived is not None:
            session.add(
                BookingStatusHistory(
                    booking_id=booking.id,
                    org_id=booking.org_id,
                    from_status=BookingStatus.EN_ROUTE,
                    to_status=BookingStatus.ARRIVED,
                    actor_role="driver",
                    created_at=arrived,
                )
            )


def caller_for(user: User, driver: Driver | None = None) -> Caller:
    return Caller(
        role=user.role,
        user_id=user.id,
        org_id=user.org_id,  # type: ignore[arg-type]
        driver_id=driver.id if driver else None,
    )


def auth_headers(user: User, driver: Driver | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_access_token(caller_for(user, driver), get_settings())}"}


@asynccontextmanager
async def ip_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client from its own random address, so per-IP limits never leak between tests.

    Drawn from `secrets`, not `random`: pytest-randomly reseeds `random` per test from the
    run's seed, so a rerun with that seed would reuse addresses whose limits Redis still holds.
    """
    address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
