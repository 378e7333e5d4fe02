"""`movehub simulate` against a real gateway: its drivers connect over /ws/driver, stream
pings, and take an assigned job through every status to completed."""

from __future__ import annotations

import argparse
import asyncio
import io
import time

import httpx
import pytest
from rich.console import Console

from gateway.simulator.cli import simulate
from gateway.simulator.session import Stats
from persistence.models import Booking
from persistence.session import SYSTEM, tenant_session
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.ray]


async def booking_status(booking_id: object) -> str:
    async with tenant_session(SYSTEM) as session:
        booking = await session.get(Booking, booking_id)
        assert booking is not None
        return booking.status


async def test_simulated_driver_completes_an_assigned_job(gateway_url: str) -> None:
    org = await make_org(center=(13.405, 52.52))
    dispatcher = await make_user("dispatcher", org)
    driver = await make_driver(org, lon=13.40, lat=52.52, user=await make_user("driver", org))
    truck = await make_truck(org)
    booking = await make_booking(org, await make_user("customer"))
    async with httpx.AsyncClient(base_url=gateway_url, headers=auth_headers(dispatcher)) as http:
        answer = await http.post(
            f"/api/v1/bookings/{booking.id}/assign",
            json={"driver_id": str(driver.id), "truck_id": str(truck.id)},
        )
        assert answer.status_code == 201, answer.text

    stats = Stats()
    options = argparse.Namespace(
        url=gateway_url,
        drivers=5,
        org=org.code,
        duration=45.0,
        rate=4.0,
        speedup=400.0,
        auto_assign=0.0,
        seed=7,
    )
    run = asyncio.create_task(simulate(options, stats, Console(file=io.StringIO())))
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and await booking_status(booking.id) != "completed":
        assert not run.done() or run.exception() is None
        await asyncio.sleep(0.5)
    run.cancel()
    await asyncio.gather(run, return_exceptions=True)

    assert await booking_status(booking.id) == "completed"
    assert stats.drivers == 1  # only this org's one driver with an account
    assert stats.pings > 5
    # The job came with hello (assigned before the driver connected) and went through
    # en_route, arrived, loading, in_transit, unloading and completed without a refusal.
    assert stats.statuses_ok == 6
    assert stats.jobs_completed == 1
    assert not stats.errors, stats.errors
