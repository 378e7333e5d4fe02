"""The customer's tracking page and the board's ETA in headless Chromium against a real gateway.

A driver takes its job en route over a real /ws/driver socket and drives towards the pickup;
the customer's page, opened from a signed link as the notification carries it, shows the crew
moving and the ETA falling, and the dispatcher's board shows the same ETA falling beside the
job. Screenshot: test-artifacts/tracking-page.png.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from playwright.async_api import Browser, Page
from sqlalchemy.dialects.postgresql import Range
from websockets.asyncio.client import ClientConnection, connect

from dispatch.auth.tokens import issue_access_token
from dispatch.tracking import links
from persistence.config import get_settings
from persistence.models import BookingAssignment
from persistence.session import SYSTEM, tenant_session
from tests.e2e.conftest import ARTIFACTS
from tests.factories import (
    caller_for,
    geo,
    make_booking,
    make_driver,
    make_org,
    make_truck,
    make_user,
)

pytestmark = [pytest.mark.e2e, pytest.mark.ray]

CENTER = (13.405, 52.52)
PICKUP = (13.41, 52.52)  # lon, lat
START_LAT = 52.47  # 5.6 km south: about 10 minutes at 12 m/s with the road factor
STEP_LAT = 0.006  # 670 m north per ping: the ETA falls by about a minute each time
PINGS = 5


@dataclass
class Move:
    booking_id: uuid.UUID
    customer_id: uuid.UUID
    driver_token: str
    board_token: str


@pytest.fixture
async def move() -> Move:
    org = await make_org(center=CENTER, name="Tracking E2E Movers")
    dispatcher = await make_user("dispatcher", org, full_name="Dana Dispatch")
    driver_user = await make_user("driver", org, full_name="Jonas Weber")
    driver = await make_driver(org, lon=PICKUP[0], lat=START_LAT, user=driver_user, full_name="Jonas Weber")
    truck = await make_truck(org, plate="B-MH 303")
    customer = await make_user("customer", full_name="Ada Customer")
    start = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0)
    booking = await make_booking(org, customer, start=start, status="assigned", pickup_location=geo(*PICKUP))
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
    settings = get_settings()
    return Move(
        booking.id,
        customer.id,
        issue_access_token(caller_for(driver_user, driver), settings),
        issue_access_token(caller_for(dispatcher), settings),
    )


@pytest.fixture
async def pages(browser: Browser) -> AsyncIterator[tuple[Page, Page]]:
    errors: list[str] = []
    contexts = [
        await browser.new_context(viewport={"width": 1100, "height": 720}),
        await browser.new_context(viewport={"width": 1440, "height": 900}),
    ]
    opened = [await context.new_page() for context in contexts]
    for page in opened:
        page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield opened[0], opened[1]
    finally:
        for context in contexts:
            await context.close()
        assert not errors, errors


async def receive(socket: ClientConnection, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        frame = orjson.loads(await asyncio.wait_for(socket.recv(), max(0.1, deadline - time.monotonic())))
        if frame.get("type") == kind:
            return dict(frame)


async def ping(socket: ClientConnection, lat: float) -> None:
    await socket.send(
        orjson.dumps(
            {
                "type": "ping",
                "lat": lat,
                "lon": PICKUP[0],
                "heading": 0.0,
                "speed": 12.0,
                "accuracy": 5.0,
                "ts": time.time(),
            }
        ).decode()
    )


async def page_view(page: Page) -> dict[str, Any]:
    return dict(
        await page.evaluate("""() => ({
        eta: document.querySelector('#eta').textContent,
        lat: document.querySelector('#crew-marker').dataset.lat || null,
        hidden: document.querySelector('#crew-marker').getAttribute('visibility') === 'hidden'})""")
    )


async def board_eta(page: Page, booking_id: uuid.UUID) -> float | None:
    value = await page.evaluate(
        """(id) => document.querySelector(`#jobs tr[data-booking-id="${id}"] .eta`)
                     ?.dataset.etaS ?? null""",
        str(booking_id),
    )
    return None if value is None else float(value)


async def test_tracking_page_and_board_follow_the_crew(
    gateway_url: str, move: Move, pages: tuple[Page, Page]
) -> None:
    track, board = pages
    token = links.sign(
        get_settings().digest_secret, move.booking_id, move.customer_id, int(time.time()) + 3600
    )
    await board.goto(f"{gateway_url}/board?token={move.board_token}")
    await board.wait_for_function("() => window.__board && window.__board.status === 'live'", timeout=30_000)
    async with connect(
        gateway_url.replace("http://", "ws://", 1) + "/ws/driver",
        additional_headers={"Authorization": f"Bearer {move.driver_token}"},
        compression=None,
    ) as driver:
        hello = await receive(driver, "hello")
        assert [j["booking_id"] for j in hello["jobs"]] == [str(move.booking_id)]
        await driver.send(
            orjson.dumps(
                {"type": "status", "booking_id": str(move.booking_id), "status": "en_route", "ref": "go"}
            ).decode()
        )
        assert (await receive(driver, "status.ok"))["status"] == "en_route"
        await ping(driver, START_LAT)

        await track.goto(f"{gateway_url}/track/{move.booking_id}?t={token}")
        await track.wait_for_function(
            "() => document.querySelector('#conn').dataset.state === 'live'"
            " && document.querySelector('#eta').textContent.startsWith('about')",
            timeout=15_000,
        )
        seen = [await page_view(track)]
        board_etas = []
        lat = START_LAT
        for _ in range(PINGS):
            lat += STEP_LAT
            await ping(driver, lat)
            # The page polls every 3 s: wait until it shows this position.
            await track.wait_for_function(
                """(lat) => Math.abs(Number(document.querySelector('#crew-marker')
                                .dataset.lat) - lat) < 1e-6""",
                arg=lat,
                timeout=15_000,
            )
            seen.append(await page_view(track))
            board_etas.append(await board_eta(board, move.booking_id))
        assert not seen[-1]["hidden"]
        lats = [float(v["lat"]) for v in seen]
        assert lats == sorted(lats) and lats[-1] > lats[0]  # moving north, towards the pickup
        minutes = [int(v["eta"].split()[1]) for v in seen]
        assert minutes == sorted(minutes, reverse=True) and minutes[-1] < minutes[0]
        assert minutes[0] >= 8 and minutes[-1] <= 6
        ARTIFACTS.mkdir(exist_ok=True)
        await track.screenshot(path=str(ARTIFACTS / "tracking-page.png"))
        # The board got job.eta events too: the ETA beside the job falls.
        shown = [e for e in board_etas if e is not None]
        assert len(shown) >= 2 and shown == sorted(shown, reverse=True) and shown[-1] < shown[0]
        text = await board.inner_text(f'#jobs tr[data-booking-id="{move.booking_id}"]')
        assert "ETA" in text and "min to pickup" in text


async def test_a_forged_link_is_refused_on_the_page(
    gateway_url: str, move: Move, pages: tuple[Page, Page]
) -> None:
    track, _ = pages
    forged = links.sign("not-our-secret", move.booking_id, move.customer_id, int(time.time()) + 3600)
    await track.goto(f"{gateway_url}/track/{move.booking_id}?t={forged}")
    await track.wait_for_function("() => !document.querySelector('#problem').hidden", timeout=15_000)
    assert "not a tracking link" in await track.inner_text("#problem")
    assert (
        await track.evaluate("() => document.querySelector('#crew-marker').getAttribute('visibility')")
        == "hidden"
    )
