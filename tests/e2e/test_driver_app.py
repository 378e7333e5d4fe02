"""The driver app in headless Chromium against a real gateway process, with emulated
geolocation and network: a driver signs in on /driver with a one-time code, goes on duty,
receives a job the dispatcher assigns, drives along a route, loses the network, moves the job
on and keeps driving (the app even reloads from its service worker while offline), then comes
back online: the server has the status changes in order, each with the device time it was
made at, and the trail has the points driven offline while live state kept the newest one.
Screenshots: test-artifacts/driver-app.png (and driver-app-offline.png).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page
from sqlalchemy import text

from persistence import events
from persistence.models import Booking, Driver, Organization, Truck, User
from persistence.session import SYSTEM, tenant_session
from persistence.statuses import BookingStatus
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_board_page import sign_in_with_code
from tests.factories import auth_headers, geo, make_booking, make_driver, make_org, make_truck, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.ray]

CENTER = (13.405, 52.52)
START = (13.36, 52.50)  # lon, lat: where the driver begins
STEP = 0.003  # ~200 m north-east per step
# The app pings every MOVEHUB_DRIVER_PING_INTERVAL_S (2 s, the default hello tells it): one
# ping per step, so each step is a breadcrumb under the e2e gateway's 1 s trail interval.


@dataclass
class Crew:
    org: Organization
    dispatcher: User
    driver_user: User
    driver: Driver
    truck: Truck
    booking: Booking


@pytest.fixture
async def crew() -> Crew:
    org = await make_org(center=CENTER, name="Driver App Movers")
    dispatcher = await make_user("dispatcher", org, full_name="Dana Dispatch")
    driver_user = await make_user(
        "driver", org, full_name="Lena Fahrer", email=f"driver-{uuid.uuid4().hex[:8]}@example.com"
    )
    driver = await make_driver(org, lon=START[0], lat=START[1], user=driver_user, full_name="Lena Fahrer")
    truck = await make_truck(org, plate="B-DR 404")
    customer = await make_user("customer")
    start = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0)
    booking = await make_booking(
        org,
        customer,
        start=start,
        hours=3,
        crew_size=3,
        pickup_address="Hauptstrasse 5",
        pickup_location=geo(13.375, 52.512),
        dropoff_address="Karl-Marx-Allee 90",
        dropoff_location=geo(13.44, 52.515),
    )
    return Crew(org, dispatcher, driver_user, driver, truck, booking)


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[tuple[BrowserContext, Page]]:
    context = await browser.new_context(
        viewport={"width": 420, "height": 900},
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        geolocation={"longitude": START[0], "latitude": START[1], "accuracy": 8},
        permissions=["geolocation"],
    )
    page = await context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    try:
        yield context, page
    finally:
        await context.close()
        errors = [m for m in messages if m.startswith("pageerror")]
        assert not errors, errors


async def app_state(page: Page, expression: str) -> Any:
    return await page.evaluate(f"() => {expression}")


async def until(page: Page, condition: str, timeout: float = 15_000) -> None:
    await page.wait_for_function(f"() => {condition}", timeout=timeout)


def position(step: int) -> tuple[float, float]:
    return round(START[0] + STEP * step, 6), round(START[1] + STEP * step / 2, 6)


async def drive(context: BrowserContext, page: Page, steps: range, *, online: bool) -> None:
    """One position per step, held until the app has made a ping from it (a ping every 2 s:
    the steps' device times are that far apart)."""
    for step in steps:
        lon, lat = position(step)
        made = await app_state(page, "window.__driver.track.length")
        await context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 8})
        await page.wait_for_function(
            """([made, lon]) => {
                const track = window.__driver.track;
                return track.length > made && Math.abs(track[track.length - 1].lon - lon) < 1e-9;
            }""",
            arg=[made, lon],
            timeout=15_000,
        )
        last = await app_state(page, "window.__driver.track.at(-1)")
        assert last["queued"] is (not online)


async def history(booking_id: uuid.UUID) -> list[tuple[str, float | None]]:
    async with tenant_session(SYSTEM) as session:
        rows = (
            await session.execute(
                text(
                    "SELECT to_status, metadata FROM booking_status_history WHERE booking_id = :b ORDER BY id"
                ),
                {"b": booking_id},
            )
        ).all()
    return [(r.to_status, r.metadata.get("device_ts")) for r in rows]


async def trail(driver_id: uuid.UUID) -> list[tuple[float, float]]:
    async with tenant_session(SYSTEM) as session:
        rows = (
            await session.execute(
                text(
                    "SELECT ST_X(location::geometry) AS lon, ST_Y(location::geometry) AS lat"
                    " FROM driver_breadcrumbs WHERE driver_id = :d ORDER BY recorded_at"
                ),
                {"d": driver_id},
            )
        ).all()
    return [(round(r.lon, 6), round(r.lat, 6)) for r in rows]


async def live(driver_id: uuid.UUID) -> tuple[float, float] | None:
    async with tenant_session(SYSTEM) as session:
        row = (
            await session.execute(
                text(
                    "SELECT ST_X(location::geometry) AS lon, ST_Y(location::geometry) AS lat"
                    " FROM driver_positions WHERE driver_id = :d"
                ),
                {"d": driver_id},
            )
        ).first()
    return None if row is None else (round(row.lon, 6), round(row.lat, 6))


async def tap(page: Page, status: str) -> None:
    await page.click(f'#moves button[data-status="{status}"]')


async def test_driver_app_keeps_working_offline_and_catches_up(
    gateway_url: str, phone: tuple[BrowserContext, Page], crew: Crew
) -> None:
    context, page = phone
    await page.goto(f"{gateway_url}/driver")
    assert page.url.endswith("/driver/")
    await sign_in_with_code(page, str(crew.driver_user.email))
    await until(page, "window.__driver.status === 'live'")
    assert await app_state(page, "window.__driver.driverId") == str(crew.driver.id)
    assert await page.inner_text("#no-job")  # nothing assigned yet
    # Installable: the manifest is linked and the service worker controls the page.
    await until(page, "navigator.serviceWorker.controller !== null", 30_000)
    assert await app_state(page, "window.__driver.workerError || null") is None

    await page.click("#duty")
    await until(page, "window.__driver.sent.pings >= 1")

    # The dispatcher assigns the job: it appears with its stops, crew, truck and the one move
    # the state machine gives a driver from `assigned`.
    async with httpx.AsyncClient(base_url=gateway_url, headers=auth_headers(crew.dispatcher)) as http:
        answer = await http.post(
            f"/api/v1/bookings/{crew.booking.id}/assign",
            json={"driver_id": str(crew.driver.id), "truck_id": str(crew.truck.id)},
        )
        assert answer.status_code == 201, answer.text
    await page.locator(f'#job[data-booking-id="{crew.booking.id}"]').wait_for(timeout=15_000)
    assert await page.inner_text("#job-pickup") == "Hauptstrasse 5"
    assert await page.inner_text("#job-dropoff") == "Karl-Marx-Allee 90"
    assert await page.inner_text("#job-crew") == "3 movers"
    assert await page.inner_text("#job-truck") == "B-DR 404"
    assert await page.locator("#moves button").evaluate_all(
        "buttons => buttons.map(b => b.dataset.status)"
    ) == [BookingStatus.EN_ROUTE]
    assert await page.locator(".pin.pickup").count() == 1
    assert await page.locator(".pin.dropoff").count() == 1

    # The fleet's ETA for this driver's job (an org event, as the shards publish it) shows.
    await events.publish(
        crew.org.id,
        {
            "type": "job.eta",
            "data": {
                "booking_id": str(crew.booking.id),
                "driver_id": str(crew.driver.id),
                "eta_s": 460.0,
                "distance_m": 2900.0,
                "stop": "pickup",
            },
        },
    )
    await until(page, "window.__driver.etaLog.some(e => e.eta_s === 460)")
    # (With the Ray fleet, the shards' own estimates may follow at once: any of them shows.)
    assert re.fullmatch(r"ETA \d+ min to (pickup|dropoff)", await page.inner_text("#eta"))
    assert "ETA 8 min to pickup" in {
        f"ETA {round(e['eta_s'] / 60)} min to {e['stop']}"
        for e in await app_state(page, "window.__driver.etaLog")
    }

    await tap(page, "en_route")
    await until(page, "window.__driver.replies.some(r => r.type === 'status.ok')")
    assert await page.locator("#moves button").evaluate_all(
        "buttons => buttons.map(b => b.dataset.status)"
    ) == [BookingStatus.ARRIVED]
    await drive(context, page, range(1, 4), online=True)

    # The network goes away: moves and status changes wait in the queue.
    await context.set_offline(True)
    await until(page, "window.__driver.status === 'offline'")
    sent_before = await app_state(page, "window.__driver.sent.pings")
    await drive(context, page, range(4, 6), online=False)
    await tap(page, "arrived")
    await drive(context, page, range(6, 8), online=False)
    await tap(page, "loading")
    assert await app_state(page, "window.__driver.shown(window.__driver.currentJob())") == "loading"
    assert await app_state(page, "window.__driver.pending.map(f => f.status)") == ["arrived", "loading"]

    # Reopened without a network: the service worker serves the app, IndexedDB the queue.
    await page.reload()
    await until(page, "window.__driver && window.__driver.status === 'offline'")
    await page.locator(f'#job[data-booking-id="{crew.booking.id}"]').wait_for(timeout=15_000)
    assert await page.inner_text("#job-status") == "loading"
    assert await app_state(page, "window.__driver.pending.map(f => f.status)") == ["arrived", "loading"]
    # A ping kept longer than the server's age limit is dropped by the app, not sent (the
    # server would refuse it, and enough refusals close the socket for good).
    await page.evaluate("""async () => {
        const outbox = await import("/driver/outbox.js");
        await outbox.push(window.__driver.me.id, {type: "ping", lat: 52.6, lon: 13.6,
            heading: null, speed: null, accuracy: 5, ts: Date.now() / 1000 - 7200});
    }""")
    await drive(context, page, range(8, 10), online=False)  # the queue's count follows
    waiting, shown = await app_state(
        page, "[window.__driver.queued, document.querySelector('#queue').dataset.waiting]"
    )
    assert waiting >= 6 and shown == str(waiting)  # the pings and both status changes
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "driver-app-offline.png"), full_page=True)
    # Nothing made offline has reached the server.
    assert [status for status, _ in await history(crew.booking.id)][-2:] == ["assigned", "en_route"]

    # Back online: the queue goes out in order, the server answers every change.
    await context.set_offline(False)
    await until(page, "window.__driver.status === 'live'", 60_000)
    await until(page, "window.__driver.queued === 0 && window.__driver.pending.length === 0", 60_000)
    assert await app_state(page, "window.__driver.sent.pings") >= 1
    assert await app_state(page, "window.__driver.sent.expired") == 1
    assert await app_state(page, "window.__driver.closes.map(c => c.code)") == []
    assert await page.inner_text("#job-status") == "loading"
    assert await page.locator("#moves button").evaluate_all(
        "buttons => buttons.map(b => b.dataset.status)"
    ) == [BookingStatus.IN_TRANSIT]

    moves = (await history(crew.booking.id))[-4:]
    assert [status for status, _ in moves] == ["assigned", "en_route", "arrived", "loading"]
    device_times = [ts for _, ts in moves[1:]]
    assert all(ts is not None for ts in device_times) and device_times == sorted(device_times)
    assert sent_before >= 1

    # The trail has points driven offline; live state is where the driver is now (the
    # position writer flushes every second: polled, bounded).
    offline_points = {position(step) for step in range(4, 9)}
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        points = set(await trail(crew.driver.id))
        caught_up = len(points & offline_points) >= 2 and await live(crew.driver.id) == position(9)
        if caught_up or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert len(points & offline_points) >= 2, (points, offline_points)
    assert (13.6, 52.6) not in points
    assert await live(crew.driver.id) == position(9)

    await page.screenshot(path=str(ARTIFACTS / "driver-app.png"), full_page=True)
