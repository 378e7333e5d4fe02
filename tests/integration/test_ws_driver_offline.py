"""/ws/driver and the driver app's offline queue, over a real socket: pings older than the
driver's last accepted one (a backlog sent on reconnect) go into the breadcrumb trail and not
into live state; status changes queued offline are applied in order, each answered (with why
not), and keep the device time they were made at."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import text

from persistence import events
from persistence.config import get_settings
from persistence.models import Organization
from persistence.session import SYSTEM, tenant_session
from persistence.statuses import BookingStatus
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user
from tests.integration.realtime_server import assign, connect, ping, recv_json, recv_until


async def driver_account(org: Organization) -> tuple[Any, dict[str, str]]:
    user = await make_user("driver", org)
    driver = await make_driver(org, user=user)
    return driver, auth_headers(user, driver)


async def flushed(app: FastAPI) -> None:
    """What the sockets accepted so far, written: the batch to the shards, then PostGIS."""
    realtime = app.state.realtime
    await realtime.batcher.flush()
    await realtime.writer.flush()


async def synced(ws: Any) -> None:
    """Every frame sent before has been handled (frames are handled in order)."""
    await ws.send('{"type":"heartbeat"}')
    await recv_until(ws, "heartbeat", 10)


async def trail_of(driver_id: uuid.UUID) -> dict[float, tuple[float, float]]:
    async with tenant_session(SYSTEM) as session:
        rows = (
            await session.execute(
                text(
                    "SELECT extract(epoch FROM recorded_at)::float8 AS ts, ST_Y(location::geometry) AS lat,"
                    " ST_X(location::geometry) AS lon FROM driver_breadcrumbs WHERE driver_id = :d"
                ),
                {"d": driver_id},
            )
        ).all()
    return {round(r.ts, 3): (round(r.lat, 5), round(r.lon, 5)) for r in rows}


async def live_position(driver_id: uuid.UUID) -> tuple[float, float, float] | None:
    async with tenant_session(SYSTEM) as session:
        row = (
            await session.execute(
                text(
                    "SELECT extract(epoch FROM recorded_at)::float8 AS ts, ST_Y(location::geometry) AS lat,"
                    " ST_X(location::geometry) AS lon FROM driver_positions WHERE driver_id = :d"
                ),
                {"d": driver_id},
            )
        ).first()
    return None if row is None else (round(row.ts, 3), round(row.lat, 5), round(row.lon, 5))


async def test_late_pings_go_to_the_trail_not_live_state(ws_base: str, app: FastAPI) -> None:
    org = await make_org()
    driver, headers = await driver_account(org)
    now = round(time.time(), 3)
    gap = get_settings().trail_min_interval_s
    # The app sends where the driver is now first, then its backlog (older, in order).
    backlog = [
        (now - 10 * gap + i * 2 * gap, round(52.50 + i * 0.001, 5), round(13.30 + i * 0.001, 5))
        for i in range(4)
    ]
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        hello = await recv_json(ws)
        assert hello["type"] == "hello"
        assert hello["ping_interval_s"] == get_settings().driver_ping_interval_s
        await ws.send(ping(52.52, 13.40, now))
        for ts, lat, lon in backlog:
            await ws.send(ping(lat, lon, ts))
        # Still validated: older than the age limit is an error, not a breadcrumb.
        too_old = now - get_settings().ping_max_age_s - 60
        await ws.send(ping(52.0, 13.0, too_old))
        error = await recv_until(ws, "error", 10)
        assert error["code"] == "invalid" and "ts" in error["detail"]
        await synced(ws)
        await flushed(app)

        trail = await trail_of(driver.id)
        for _ in range(50):  # with the fleet on, the live ping reaches the writer via its shard
            if now in trail:
                break
            await asyncio.sleep(0.2)
            await flushed(app)
            trail = await trail_of(driver.id)
        assert {ts: trail.get(round(ts, 3)) for ts, _, _ in backlog} == {
            ts: (lat, lon) for ts, lat, lon in backlog
        }
        assert trail[now] == (52.52, 13.40)
        assert round(too_old, 3) not in trail
        # Live state kept the newest position: the stored one and the shard's.
        assert await live_position(driver.id) == (now, 52.52, 13.40)
        fleet = app.state.fleet
        if fleet is not None:
            snapshot = await fleet.snapshot(org.id)
            row = next(d for d in snapshot["drivers"] if d["id"] == str(driver.id))
            assert (row["lat"], row["lon"]) == (52.52, 13.40)
        assert app.state.realtime.batcher.last_accepted(str(driver.id)) == now

    # A new socket of the same driver (a reconnect) compares with what was accepted before.
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        await recv_json(ws)
        await ws.send(ping(52.49, 13.29, now - 3))
        await synced(ws)
        await flushed(app)
    assert (await trail_of(driver.id))[round(now - 3, 3)] == (52.49, 13.29)
    assert await live_position(driver.id) == (now, 52.52, 13.40)


async def test_queued_status_changes_apply_in_order_or_say_why(ws_base: str) -> None:
    org = await make_org()
    driver, headers = await driver_account(org)
    truck, customer = await make_truck(org, plate="B-OFF 1"), await make_user()
    booking = await make_booking(org, customer)
    await assign(booking, driver, truck)
    made = time.time() - 120  # made offline two minutes ago, sent now in one burst
    queue = [
        ("a", BookingStatus.EN_ROUTE, made),
        ("b", BookingStatus.ARRIVED, made + 30),
        ("c", BookingStatus.COMPLETED, made + 40),  # not allowed from arrived
        ("d", BookingStatus.LOADING, made + 60),
    ]
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        hello = await recv_json(ws)
        job = hello["jobs"][0]
        assert (job["crew_size"], job["truck"]) == (
            booking.crew_size,
            {"id": str(truck.id), "plate": "B-OFF 1"},
        )
        for ref, status, ts in queue:
            await ws.send(
                orjson.dumps(
                    {"type": "status", "booking_id": str(booking.id), "status": status, "ref": ref, "ts": ts}
                ).decode()
            )
            await ws.send(ping(52.52, 13.40, ts + 1))
        replies: list[dict[str, Any]] = []
        while len(replies) < len(queue):  # the fleet's ETA for the job may come between them
            frame = await recv_json(ws, 10)
            if frame["type"] not in ("heartbeat", "job.eta"):
                replies.append(frame)
        # Their echoes from the org stream come after all the answers: none may take the job
        # back to an older status (the app would show `arrived` again after `loading`).
        moves = [("assigned", "en_route"), ("en_route", "arrived"), ("arrived", "loading")]
        for number, (before, after) in enumerate(moves):
            await events.publish(
                org.id,
                {
                    "type": "booking.status_changed",
                    "outbox_id": number,
                    "data": {"booking_id": str(booking.id), "from": before, "to": after},
                },
            )
        await events.publish(
            org.id, {"type": "driver.message", "data": {"driver_id": str(driver.id), "text": "echoes done"}}
        )
        seen: list[dict[str, Any]] = []
        assert (await recv_until(ws, "message", 10, seen))["text"] == "echoes done"
        # (The fleet's ETA for the job may come meanwhile: the pings put the driver on its way.)
        assert [frame for frame in seen if frame["type"] not in ("heartbeat", "job.eta")] == []
    assert [(r["type"], r["ref"]) for r in replies] == [
        ("status.ok", "a"),
        ("status.ok", "b"),
        ("error", "c"),
        ("status.ok", "d"),
    ]
    assert replies[2]["code"] == "conflict" and replies[2]["detail"]
    assert [r.get("status") for r in replies] == ["en_route", "arrived", None, "loading"]
    async with tenant_session(SYSTEM) as session:
        history = (
            await session.execute(
                text(
                    "SELECT to_status, metadata FROM booking_status_history WHERE booking_id = :b ORDER BY id"
                ),
                {"b": booking.id},
            )
        ).all()
    moved = [
        (h.to_status, h.metadata.get("device_ts"))
        for h in history
        if h.to_status in ("en_route", "arrived", "loading", "completed")
    ]
    assert moved == [("en_route", made), ("arrived", made + 30), ("loading", made + 60)]


async def test_eta_of_own_jobs_is_passed_on(ws_base: str) -> None:
    org = await make_org()
    driver, headers = await driver_account(org)
    other, _ = await driver_account(org)
    truck, customer = await make_truck(org), await make_user()
    booking = await make_booking(org, customer)
    await assign(booking, driver, truck)
    eta = {"booking_id": str(booking.id), "eta_s": 420.0, "distance_m": 3100.0, "stop": "pickup"}
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        await recv_json(ws)
        # Another driver's estimate for the same booking is not this driver's to see.
        await events.publish(
            org.id, {"type": "job.eta", "data": {**eta, "driver_id": str(other.id), "eta_s": 1.0}}
        )
        await events.publish(org.id, {"type": "job.eta", "data": {**eta, "driver_id": str(driver.id)}})
        assert await recv_until(ws, "job.eta", 5) == {"type": "job.eta", **eta}


async def test_the_app_is_served_under_its_workers_scope(client: httpx.AsyncClient) -> None:
    entry = await client.get("/driver?token=abc")
    assert (entry.status_code, entry.headers["location"]) == (307, "/driver/?token=abc")
    page = await client.get("/driver/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # The CSP lets the page run its own scripts and worker and reach its socket, nothing inline.
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    worker = await client.get("/driver/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/driver/"
    assert worker.headers["cache-control"] == "no-cache"
    manifest = await client.get("/driver/manifest.webmanifest")
    assert manifest.headers["content-type"] == "application/manifest+json"
    assert manifest.json()["scope"] == "/driver/"
    assert (await client.get("/driver/main.js")).headers["content-type"].startswith("text/javascript")
    missing = await client.get("/driver/secrets.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
