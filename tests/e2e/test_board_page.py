"""The fleet board in headless Chromium against a real gateway process.

A dispatcher signs in through the page's one-time-code form (cookies + CSRF), a driver
streams pings over a real /ws/driver socket and the driver's marker moves on the board;
the dispatcher assigns a job from the page, the driver receives it and moves it on, and the
board follows. A screenshot is saved as test-artifacts/board.png.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from playwright.async_api import Browser, Page
from websockets.asyncio.client import ClientConnection, connect

from dispatch.auth.tokens import issue_access_token
from persistence.config import get_settings
from persistence.models import Booking, Driver, Organization, Truck, User
from persistence.statuses import ACTIVE_JOB_STATUSES, FINISHED_STATUSES, BookingStatus
from tests.e2e.conftest import ARTIFACTS
from tests.factories import (
    auth_headers,
    caller_for,
    geo,
    make_booking,
    make_driver,
    make_org,
    make_truck,
    make_user,
)
from tests.integration.test_auth import latest_code

pytestmark = [pytest.mark.e2e, pytest.mark.ray]

CENTER = (13.405, 52.52)
HOME = (13.38, 52.515)
STEP_LON = 0.004  # ~270 m east per ping
PINGS = 5


@dataclass
class Fleet:
    org: Organization
    dispatcher: User
    driver_user: User
    driver: Driver
    truck: Truck
    booking: Booking
    other_driver: Driver
    open_booking: Booking


@pytest.fixture
async def fleet() -> Fleet:
    org = await make_org(center=CENTER, name="Board E2E Movers")
    dispatcher = await make_user(
        "dispatcher", org, full_name="Dana Dispatch", email=f"dispatch-{uuid.uuid4().hex[:8]}@example.com"
    )
    driver_user = await make_user("driver", org, full_name="Jonas Weber")
    driver = await make_driver(org, lon=HOME[0], lat=HOME[1], user=driver_user, full_name="Jonas Weber")
    truck = await make_truck(org, plate="B-MH 101")
    customer = await make_user("customer")
    start = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    booking = await make_booking(org, customer, start=start, hours=4)
    # Company for the picture: a driver who never signed in, a booking nobody has taken yet.
    other_driver = await make_driver(org, lon=13.45, lat=52.49, full_name="Mia Koch")
    await make_truck(org, plate="B-MH 202", capacity_m3=25)
    open_booking = await make_booking(
        org,
        customer,
        start=start + timedelta(hours=20),
        hours=3,
        pickup_address="Sonnenallee 80",
        pickup_location=geo(13.44, 52.48),
        dropoff_address="Kantstrasse 9",
        dropoff_location=geo(13.31, 52.505),
    )
    return Fleet(org, dispatcher, driver_user, driver, truck, booking, other_driver, open_booking)


def ws_url(http_url: str, path: str) -> str:
    return http_url.replace("http://", "ws://", 1) + path


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    opened = await context.new_page()
    messages: list[str] = []
    opened.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    opened.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    try:
        yield opened
    finally:
        await context.close()
        errors = [m for m in messages if m.startswith("pageerror")]
        assert not errors, errors


async def board_state(page: Page, expression: str) -> Any:
    return await page.evaluate(f"() => {expression}")


async def wait_live(page: Page) -> None:
    await page.wait_for_function("() => window.__board && window.__board.status === 'live'", timeout=30_000)


async def marker(page: Page, driver_id: uuid.UUID) -> dict[str, str | None]:
    handle = page.locator(f'[data-driver-id="{driver_id}"]')
    return {
        name: await handle.get_attribute(f"data-{name}")
        for name in ("x", "y", "lat", "lon", "status", "online")
    }


async def receive(socket: ClientConnection, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next frame of this type (others, such as acks, are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = orjson.loads(await asyncio.wait_for(socket.recv(), max(0.1, deadline - time.monotonic())))
        if frame.get("type") == kind:
            return dict(frame)


async def sign_in_with_code(page: Page, email: str) -> None:
    await page.locator("#signin").wait_for(state="visible")
    await page.fill("#signin-destination", email)
    await page.click("#signin-submit")
    await page.wait_for_function(
        "() => !document.querySelector('#signin-code-row').hidden"
        " || document.querySelector('#signin-error').textContent",
        timeout=10_000,
    )
    assert await page.inner_text("#signin-error") == ""
    await page.fill("#signin-code", await latest_code(email))
    await page.click("#signin-submit")
    await page.locator("#signin").wait_for(state="hidden")


async def test_board_follows_driver_pings_and_assigns_from_the_page(
    gateway_url: str, page: Page, fleet: Fleet
) -> None:
    await page.goto(f"{gateway_url}/board")
    await sign_in_with_code(page, str(fleet.dispatcher.email))
    await wait_live(page)
    assert await board_state(page, "window.__board.org.id") == str(fleet.org.id)
    # The service area is drawn, and the snapshot's driver sits at its home base.
    assert await page.locator("[data-area=service]").count() == 1
    before = await marker(page, fleet.driver.id)
    assert before["x"] is not None
    assert float(str(before["lon"])) == pytest.approx(HOME[0], abs=1e-6)

    token = issue_access_token(caller_for(fleet.driver_user, fleet.driver), get_settings())
    async with connect(
        ws_url(gateway_url, "/ws/driver"),
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
    ) as driver_socket:
        hello = await receive(driver_socket, "hello")
        assert hello["driver_id"] == str(fleet.driver.id)
        for step in range(1, PINGS + 1):
            await driver_socket.send(
                orjson.dumps(
                    {
                        "type": "ping",
                        "lat": HOME[1],
                        "lon": HOME[0] + STEP_LON * step,
                        "heading": 90.0,
                        "speed": 12.0,
                        "accuracy": 5.0,
                        "ts": time.time(),
                    }
                ).decode()
            )
            await asyncio.sleep(0.25)
        final_lon = HOME[0] + STEP_LON * PINGS
        await page.wait_for_function(
            """([id, lon]) => {
                const m = document.querySelector(`[data-driver-id="${id}"]`);
                return m && Math.abs(Number(m.dataset.lon) - lon) < 1e-6;
            }""",
            arg=[str(fleet.driver.id), final_lon],
            timeout=10_000,
        )
        after = await marker(page, fleet.driver.id)
        expected = await page.evaluate(
            "([lon, lat]) => window.__board.project(lon, lat)", [final_lon, HOME[1]]
        )
        # Moved east on screen by the projected distance, not north or south.
        assert float(str(after["x"])) - float(str(before["x"])) > 15
        assert float(str(after["x"])) == pytest.approx(expected["x"], abs=0.05)
        assert float(str(after["y"])) == pytest.approx(float(str(before["y"])), abs=0.05)
        assert after["online"] == "true"

        # Manual assignment from the page: cookie session + CSRF header on the POST.
        await page.click(f'#jobs tr[data-booking-id="{fleet.booking.id}"]')
        await page.select_option("#assign-driver", str(fleet.driver.id))
        await page.select_option("#assign-truck", str(fleet.truck.id))
        await page.click("#assign-manual")
        await page.wait_for_function(
            "() => document.querySelector('#assign-result').classList.contains('ok')", timeout=10_000
        )
        assert "manual" in await page.inner_text("#assign-result")
        assigned = await receive(driver_socket, "job.assigned")
        assert assigned["job"]["booking_id"] == str(fleet.booking.id)

        # The driver starts the job; the board hears it as a sequenced event.
        await driver_socket.send(
            orjson.dumps(
                {"type": "status", "booking_id": str(fleet.booking.id), "status": "en_route", "ref": "e2e-1"}
            ).decode()
        )
        answer = await receive(driver_socket, "status.ok")
        assert answer["ref"] == "e2e-1"
        row = page.locator(f'#jobs tr[data-booking-id="{fleet.booking.id}"]')
        await page.wait_for_function(
            """(id) => document.querySelector(`#jobs tr[data-booking-id="${id}"]`)
                         ?.dataset.status === 'en_route'""",
            arg=str(fleet.booking.id),
            timeout=10_000,
        )
        assert "Jonas Weber" in await row.inner_text()
        kinds = await board_state(page, "window.__board.events.map(e => e.kind)")
        assert "booking.status" in kinds

        await asyncio.sleep(1.0)  # let the marker's glide finish for the picture
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "board.png"))


async def test_demo_link_signs_in_with_a_token_and_drops_it_from_the_address(
    gateway_url: str, page: Page, fleet: Fleet
) -> None:
    token = issue_access_token(caller_for(fleet.dispatcher), get_settings())
    await page.goto(f"{gateway_url}/board?token={token}")
    await wait_live(page)
    assert "token=" not in page.url
    # A dispatcher's nav leads to the back office but not to the platform's verification queue.
    assert await page.locator('nav.nav a[data-page="calendar"]').is_visible()
    assert await page.locator('nav.nav a[data-page="verification"]').is_hidden()
    # The page's status words came from GET /api/v1/lifecycle, none from a copy of its own.
    derived = await board_state(
        page,
        """(({done, assignable, released, assigned, unassigned,
        legend}) => ({done: [...done].sort(), assignable: [...assignable].sort(),
        released: [...released].sort(), assigned, unassigned, legend}))(window.__board.lifecycle)""",
    )
    assert derived == {
        "done": sorted(FINISHED_STATUSES),
        "assignable": ["confirmed", "pending"],
        "released": ["cancelled", "confirmed", "no_show"],
        "assigned": BookingStatus.ASSIGNED,
        "unassigned": BookingStatus.CONFIRMED,
        "legend": ["idle", *ACTIVE_JOB_STATUSES, "offline"],
    }
    legend = await page.locator("#legend li").all_inner_texts()
    assert legend == [status.replace("_", " ") for status in derived["legend"]]
    assert await page.locator(f'[data-driver-id="{fleet.driver.id}"]').count() == 1
    assert await page.locator(f'.pin[data-booking-id="{fleet.booking.id}"]').count() == 2
    assert await board_state(page, "window.__board.drivers.size") == 2
    assert await page.locator("#jobs tbody tr").count() == 2
    offline = page.locator(f'[data-driver-id="{fleet.other_driver.id}"]')
    assert await offline.get_attribute("data-online") == "false"
    assert await offline.get_attribute("data-status") == "offline"

    # The socket drops; the page reconnects with ?since= and misses nothing that happened
    # meanwhile, nor sees anything twice.
    await page.evaluate("() => window.__board.socket.close()")
    async with httpx.AsyncClient(base_url=gateway_url, headers=auth_headers(fleet.dispatcher)) as http:
        answer = await http.post(
            f"/api/v1/bookings/{fleet.open_booking.id}/assign",
            json={"driver_id": str(fleet.other_driver.id), "truck_id": str(fleet.truck.id)},
        )
        assert answer.status_code == 201, answer.text
    await page.wait_for_function(
        """(id) => document.querySelector(`#jobs tr[data-booking-id="${id}"]`)
                     ?.dataset.status === 'assigned'""",
        arg=str(fleet.open_booking.id),
        timeout=15_000,
    )
    assert await board_state(page, "window.__board.closes.length") == 1
    assert await board_state(page, "window.__board.status") == "live"
    # Resumed from its sequence number: events replayed, not a second snapshot.
    assert await board_state(page, "window.__board.frames.snapshot") == 1
    seqs = await board_state(page, "window.__board.events.filter(e => e.seq != null).map(e => e.seq)")
    assert seqs == sorted(set(seqs)) and seqs


async def test_a_driver_token_is_not_a_board_login(gateway_url: str, page: Page, fleet: Fleet) -> None:
    token = issue_access_token(caller_for(fleet.driver_user, fleet.driver), get_settings())
    await page.goto(f"{gateway_url}/board?token={token}")
    await page.locator("#signin").wait_for(state="visible")
    assert "dispatchers and mover admins" in await page.inner_text("#signin-note")
    assert await board_state(page, "window.__board.status") == "signin"
