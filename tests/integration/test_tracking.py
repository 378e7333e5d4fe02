"""The customer's tracking view: GET /api/v1/bookings/{id}/tracking (who may see it, while the
move is under way), signed links, and the crew-near / crew-arrived notifications sent once
each through the outbox (driven by pings through the real batcher and fleet shards)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import Range

from actors.fleet_state import load_orgs
from actors.live import apply_pings, set_job
from dispatch.tracking import flows, links, rules
from dispatch.tracking.rules import EtaModel
from persistence.config import get_settings
from persistence.models import BookingAssignment, OutboxEvent
from persistence.models.positions import DriverPosition
from persistence.models.users import User
from persistence.session import SYSTEM, tenant_session
from tests.factories import (
    auth_headers,
    geo,
    make_booking,
    make_driver,
    make_org,
    make_truck,
    make_user,
)
from tests.peers.harness import (  # noqa: F401 - the *_fixture names register fixtures
    deliveries,
    make_worker,
    outbox_row,
    parked_outbox_fixture,
    smtp_fixture,
    smtp_port,
    twilio_fixture,
    twilio_port,
    unique_phone,
)
from tests.peers.smtp_server import SmtpServer
from tests.peers.twilio_peer import TwilioPeer

PICKUP = (52.52, 13.41)  # make_booking's pickup (lat, lon)


@dataclass
class Move:
    org_id: uuid.UUID
    booking_id: uuid.UUID
    customer: User
    driver_id: uuid.UUID
    driver_name: str
    plate: str


async def a_move(status: str = "en_route", **customer: object) -> Move:
    org = await make_org()
    person = await make_user(**customer)
    driver = await make_driver(org, full_name="Kai Mover")
    truck = await make_truck(org)
    start = datetime.now(UTC).replace(microsecond=0)
    booking = await make_booking(org, person, start=start, status=status)
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
    return Move(org.id, booking.id, person, driver.id, driver.full_name, truck.plate)


async def store_position(move: Move, lat: float, lon: float) -> None:
    async with tenant_session(SYSTEM) as session:
        session.add(
            DriverPosition(
                driver_id=move.driver_id,
                org_id=move.org_id,
                location=geo(lon, lat),
                heading=180.0,
                speed=9.0,
                recorded_at=datetime.now(UTC),
            )
        )


def path(move: Move) -> str:
    return f"/api/v1/bookings/{move.booking_id}/tracking"


async def test_tracking_for_the_customer_and_org_staff_only(http: httpx.AsyncClient) -> None:
    move = await a_move()
    await store_position(move, PICKUP[0] - 0.02, PICKUP[1])  # 2.2 km south of the pickup
    mine = await http.get(path(move), headers=auth_headers(move.customer))
    assert mine.status_code == 200, mine.text
    view = mine.json()
    assert (view["status"], view["heading_for"], view["source"]) == ("en_route", "pickup", "stored")
    assert (view["position"]["lat"], view["position"]["lon"]) == pytest.approx((PICKUP[0] - 0.02, PICKUP[1]))
    assert view["position"]["heading"] == 180.0
    assert view["crew"] == {"driver_name": move.driver_name, "truck_plate": move.plate}
    # 2.22 km x 1.3 road factor, less the 150 m geofence, at the default 30 km/h: 5.5 min.
    assert view["eta"]["stop"] == "pickup"
    assert view["eta"]["distance_m"] == pytest.approx(2224 * 1.3 - 150, rel=0.01)
    assert view["eta"]["eta_s"] == pytest.approx((2224 * 1.3 - 150) / (30 / 3.6), rel=0.01)
    assert view["eta"]["minutes"] == 6

    staff = await make_user("dispatcher", org=await _org_of(move))
    assert (await http.get(path(move), headers=auth_headers(staff))).status_code == 200

    stranger = await make_user()
    other_staff = await make_user("dispatcher", org=await make_org())
    for outsider in (stranger, other_staff):
        refused = await http.get(path(move), headers=auth_headers(outsider))
        assert refused.status_code == 404
        assert refused.headers["content-type"].startswith("application/problem+json")
    missing = await http.get(f"/api/v1/bookings/{uuid.uuid4()}/tracking", headers=auth_headers(move.customer))
    assert missing.status_code == 404
    assert (await http.get(path(move))).status_code == 401


async def _org_of(move: Move):  # type: ignore[no-untyped-def]
    from persistence.models import Organization

    async with tenant_session(SYSTEM) as session:
        return await session.get_one(Organization, move.org_id)


@pytest.mark.parametrize("status", ["confirmed", "assigned", "completed", "cancelled"])
async def test_tracking_only_while_the_move_is_under_way(http: httpx.AsyncClient, status: str) -> None:
    move = await a_move(status)
    answer = await http.get(path(move), headers=auth_headers(move.customer))
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert status in answer.json()["detail"]


@pytest.mark.parametrize("status", ["arrived", "loading", "in_transit", "unloading"])
async def test_tracking_open_from_arrival_to_unloading(http: httpx.AsyncClient, status: str) -> None:
    move = await a_move(status)
    view = (await http.get(path(move), headers=auth_headers(move.customer))).json()
    assert view["status"] == status
    assert view["heading_for"] == ("dropoff" if status == "in_transit" else None)
    assert view["position"] is None and view["eta"] is None  # no ping yet


async def test_signed_link_opens_one_booking_until_it_expires(http: httpx.AsyncClient) -> None:
    move, other = await a_move(), await a_move()
    secret = get_settings().digest_secret
    expires = int(time.time()) + 60
    token = links.sign(secret, move.booking_id, move.customer.id, expires)
    assert (await http.get(path(move), params={"t": token})).status_code == 200
    # The same token for another booking, a forged one, an expired one: refused.
    assert (await http.get(path(other), params={"t": token})).status_code == 401
    forged = links.sign("not-the-secret", move.booking_id, move.customer.id, expires)
    assert (await http.get(path(move), params={"t": forged})).status_code == 401
    stale = links.sign(secret, move.booking_id, move.customer.id, int(time.time()) - 1)
    expired = await http.get(path(move), params={"t": stale})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    assert (await http.get(path(move), params={"t": "garbage"})).status_code == 401
    # A valid link for someone who is not (or no longer) the booking's customer sees nothing.
    someone = links.sign(secret, move.booking_id, uuid.uuid4(), expires)
    assert (await http.get(path(move), params={"t": someone})).status_code == 404


async def test_live_position_and_eta_come_from_the_fleet(app: FastAPI, http: httpx.AsyncClient) -> None:
    move = await a_move()
    fleet = app.state.fleet
    await fleet.set_driver_job(move.org_id, move.driver_id, _shard_job(move))
    now = time.time()
    await fleet.ingest(
        [_ping(move, PICKUP[0] - 0.03, now - 10, 12.0), _ping(move, PICKUP[0] - 0.029, now, 12.0)]
    )
    view = (await http.get(path(move), headers=auth_headers(move.customer))).json()
    assert view["source"] == "live"
    assert view["position"]["lat"] == pytest.approx(PICKUP[0] - 0.029)
    assert view["position"]["speed"] == 12.0
    # The shard's estimate, at the driver's smoothed speed (the default 8.3 m/s moving
    # towards the pinged 12 m/s), not the default speed the stored fallback would use.
    model = EtaModel.of(1.3, 30.0, 10.0, 150.0)
    speed = rules.smoothed_speed(rules.smoothed_speed(None, 12.0, 0.0, model), 12.0, 10.0, model)
    assert speed is not None and 8.4 < speed < 12.0
    road = 0.029 * 111_195 - 150  # heading north, straight at the pickup: no detour
    assert view["eta"]["eta_s"] == pytest.approx(road / speed, rel=0.01)


def _shard_job(move: Move) -> dict[str, object]:
    return {
        "booking_id": str(move.booking_id),
        "status": "en_route",
        "pickup_lat": PICKUP[0],
        "pickup_lon": PICKUP[1],
        "dropoff_lat": 52.51,
        "dropoff_lon": 13.375,
        "window_start": time.time(),
    }


def _ping(move: Move, lat: float, ts: float, speed: float = 10.0) -> dict[str, object]:
    return {
        "org_id": str(move.org_id),
        "driver_id": str(move.driver_id),
        "lat": lat,
        "lon": PICKUP[1],
        "heading": 0.0,
        "speed": speed,
        "accuracy": 5.0,
        "ts": ts,
    }


async def notices_of(move: Move) -> list[OutboxEvent]:
    async with tenant_session(SYSTEM) as session:
        return list(
            (
                await session.scalars(
                    select(OutboxEvent)
                    .where(
                        OutboxEvent.aggregate_id == str(move.booking_id),
                        OutboxEvent.topic.like("notify.crew_%"),
                    )
                    .order_by(OutboxEvent.id)
                )
            ).all()
        )


async def wait_for_notices(move: Move, count: int) -> list[OutboxEvent]:
    for _ in range(100):
        found = await notices_of(move)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    return await notices_of(move)


async def shard_events(move: Move, lats: list[float], start: float) -> list[dict[str, Any]]:
    """The fleet shard's own code (actors/live.py) on the org loaded from the database as a
    shard loads it, in this process: the events these pings raise."""
    settings = get_settings()
    orgs = await load_orgs({0}, 1, str(move.org_id))
    set_job(orgs[str(move.org_id)], str(move.driver_id), _shard_job(move))
    model = EtaModel.of(
        settings.eta_road_factor,
        settings.eta_default_speed_kmh,
        settings.eta_notify_minutes,
        settings.geofence_radius_m,
    )
    return apply_pings(
        orgs,
        [_ping(move, lat, start + i, 9.0) for i, lat in enumerate(lats)],
        settings.geofence_radius_m,
        model,
    )


async def test_crew_near_and_arrived_are_sent_once_each(
    http: httpx.AsyncClient, smtp: SmtpServer, twilio: TwilioPeer, parked_outbox: None
) -> None:
    phone = unique_phone()
    # This customer wants "crew near" by SMS only; "crew arrived" on the defaults (both).
    move = await a_move(
        phone=phone, notification_preferences={"events": {"crew_near": {"email": False, "sms": True}}}
    )
    settings = get_settings()
    # 20 km out (no notice), 3 km out (below the 10 minute threshold), closer, then arrived
    # inside the geofence, twice.
    events = await shard_events(
        move,
        [PICKUP[0] - 0.18, PICKUP[0] - 0.027, PICKUP[0] - 0.02, PICKUP[0] - 0.0005, PICKUP[0] - 0.0004],
        time.time(),
    )
    assert [e["type"] for e in events if e.get("near")] == ["job.eta"]
    assert [e["type"] for e in events].count("driver.arrived") == 1
    assert await flows.on_fleet_events(events, settings) == 2
    both = await notices_of(move)
    assert [n.topic for n in both] == ["notify.crew_near", "notify.crew_arrived"]
    near_row, arrived_row = both
    context = near_row.payload["context"]
    assert near_row.payload["user_id"] == str(move.customer.id)
    assert 1 <= context["minutes"] <= 10
    # A second trigger of each (a restarted shard, another replica) queues nothing more.
    assert await flows.on_fleet_events(events, settings) == 2  # asked again, but ...
    assert [n.id for n in await notices_of(move)] == [n.id for n in both]  # ... no new rows

    worker = make_worker(smtp_port(smtp), twilio_port(twilio))
    await worker.drain_once(datetime.now(UTC) + timedelta(seconds=1))
    assert (await outbox_row(near_row.id)).status == "delivered"
    assert (await outbox_row(arrived_row.id)).status == "delivered"
    assert set(await deliveries(near_row.id)) == {"sms"}  # the customer's preference
    assert set(await deliveries(arrived_row.id)) == {"email", "sms"}
    texts = [m["Body"] for m in twilio.messages if m["To"] == phone]
    assert len(texts) == 2 and "min away" in texts[0] and "arrived" in texts[1]
    mails = smtp.mailbox.to(move.customer.email or "")
    assert len(mails) == 1 and "arrived" in str(mails[0]["Subject"])
    # The message's link opens the tracking view without a session.
    url = urlsplit(context["tracking_url"])
    assert url.path == f"/track/{move.booking_id}"
    token = parse_qs(url.query)["t"][0]
    assert (await http.get(path(move), params={"t": token})).status_code == 200


async def test_pings_through_the_batcher_queue_the_notices(app: FastAPI, parked_outbox: None) -> None:
    """The live path: a driver's pings through the gateway's batcher and the Ray fleet."""
    move = await a_move()
    await app.state.fleet.set_driver_job(move.org_id, move.driver_id, _shard_job(move))
    batcher = app.state.realtime.batcher
    now = time.time()
    for i, lat in enumerate((PICKUP[0] - 0.027, PICKUP[0] - 0.0005)):
        batcher.submit(_ping(move, lat, now + i, 9.0))
        await batcher.flush()
    found = await wait_for_notices(move, 2)
    assert [n.topic for n in found] == ["notify.crew_near", "notify.crew_arrived"]


async def test_no_notice_once_the_move_is_over(app: FastAPI) -> None:
    move = await a_move("completed")
    events = [{"type": "driver.arrived", "booking_id": str(move.booking_id), "stop": "pickup"}]
    assert await flows.on_fleet_events(events, get_settings()) == 0
    assert await notices_of(move) == []
