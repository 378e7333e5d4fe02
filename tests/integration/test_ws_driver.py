"""/ws/driver over a real socket: auth, hello with jobs, batched pings into the fleet shard,
protocol validation and limits, job status through the state machine, pushes from the stream."""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
import pytest
from fastapi import FastAPI

from persistence import events
from persistence.config import get_settings
from persistence.models import Driver, Organization
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user
from tests.integration.realtime_server import (
    assign,
    closed_with,
    connect,
    ping,
    recv_json,
    recv_until,
)


async def driver_account(org: Organization | None = None) -> tuple[Organization, Driver, dict[str, str]]:
    org = org or await make_org()
    user = await make_user("driver", org)
    driver = await make_driver(org, user=user)
    return org, driver, auth_headers(user, driver)


@pytest.mark.parametrize(
    "headers, code",
    [
        ({}, 4401),
        ({"Authorization": "Bearer not-a-jwt"}, 4401),
    ],
)
async def test_auth_required(ws_base: str, headers: dict[str, str], code: int) -> None:
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        assert (await closed_with(ws))[0] == code


async def test_wrong_role_and_cookie_needs_origin(ws_base: str) -> None:
    org = await make_org()
    dispatcher = await make_user("dispatcher", org)
    async with connect(f"{ws_base}/ws/driver", auth_headers(dispatcher)) as ws:
        code, reason = await closed_with(ws)
    assert code == 4403 and "driver" in reason
    _, _, headers = await driver_account()
    token = headers["Authorization"].split()[1]
    cookie = {"Cookie": f"movehub_access={token}", "Origin": "https://evil.example"}
    async with connect(f"{ws_base}/ws/driver", cookie) as ws:
        assert (await closed_with(ws))[0] == 4401
    async with connect(f"{ws_base}/ws/driver?token={token}") as ws:
        assert (await recv_json(ws))["type"] == "hello"


async def test_hello_pings_reach_the_shard_in_order(ws_base: str, app: FastAPI) -> None:
    org, driver, headers = await driver_account()
    truck, customer = await make_truck(org), await make_user()
    booking = await make_booking(org, customer)
    await assign(booking, driver, truck)
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        hello = await recv_json(ws)
        assert hello["type"] == "hello" and hello["driver_id"] == str(driver.id)
        assert [j["booking_id"] for j in hello["jobs"]] == [str(booking.id)]
        assert hello["jobs"][0]["pickup"]["address"] == "Alexanderplatz 1"
        now = time.time()
        await ws.send(ping(52.51, 13.39, now - 1, heading=90.0, speed=7.5))
        await ws.send(ping(52.40, 13.10, now - 3))  # older: dropped
        await ws.send('{"type":"heartbeat"}')
        assert (await recv_json(ws))["type"] == "heartbeat"
        if app.state.fleet is None:
            return
        for _ in range(50):
            snap = await app.state.fleet.snapshot(org.id)
            row = next(d for d in snap["drivers"] if d["id"] == str(driver.id))
            if row["last_seen"]:
                break
            await asyncio.sleep(0.05)
        assert (row["lat"], row["lon"], row["heading"], row["speed"]) == (52.51, 13.39, 90.0, 7.5)
        assert row["job"]["booking_id"] == str(booking.id)  # the shard watches the job in hand
        calls = app.state.fleet.ingest_calls
        last = now + 0.001 * 29
        for i in range(30):  # a burst: lands in one or two flushes
            await ws.send(ping(52.51 + i * 1e-4, 13.39, now + 0.001 * i))
        for _ in range(100):
            snap = await app.state.fleet.snapshot(org.id)
            row = next(d for d in snap["drivers"] if d["id"] == str(driver.id))
            if row["last_seen"] == last:
                break
            await asyncio.sleep(0.05)
        assert row["last_seen"] == last
        assert app.state.fleet.ingest_calls - calls < 10  # one call per shard per flush


@pytest.mark.parametrize(
    "frame, code",
    [
        ("not json", 1003),
        ("[1, 2]", 1003),
        ('{"type": "teleport"}', 4400),
        (orjson.dumps({"type": "heartbeat", "pad": "x" * 20_000}).decode(), 1009),
        (b"\x00binary", 1003),
    ],
)
async def test_bad_frames_close_with_a_reason(ws_base: str, frame: str | bytes, code: int) -> None:
    _, _, headers = await driver_account()
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        await recv_json(ws)
        await ws.send(frame)
        got, reason = await closed_with(ws)
    assert got == code and reason
    async with connect(f"{ws_base}/ws/driver", headers) as ws:  # the server is still fine
        assert (await recv_json(ws))["type"] == "hello"


async def test_invalid_fields_get_an_error_and_the_socket_stays(ws_base: str) -> None:
    _, _, headers = await driver_account()
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        await recv_json(ws)
        for bad in (
            ping(91.0, 13.0),
            ping(52.5, 13.4, time.time() + 60),
            ping(52.5, 13.4, time.time() - 7200),
            '{"type":"status","booking_id":"nope","status":"en_route","ref":"r1"}',
            orjson.dumps(
                {"type": "status", "booking_id": str(uuid.uuid4()), "status": "flying", "ref": "r2"}
            ).decode(),
        ):
            await ws.send(bad)
            error = await recv_json(ws)
            assert error["type"] == "error" and error["code"] == "invalid", error
        assert error["ref"] == "r2"
        await ws.send('{"type":"heartbeat"}')
        assert (await recv_json(ws))["type"] == "heartbeat"


async def test_frames_are_strict(ws_base: str) -> None:
    """Regression: `"lat": "52.5"` was coerced to a number and unknown fields were ignored."""
    _, _, headers = await driver_account()
    now = time.time()
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        await recv_json(ws)
        for bad, field in (
            (orjson.dumps({"type": "ping", "lat": "52.5", "lon": 13.4, "ts": now}), "lat"),
            (
                orjson.dumps({"type": "ping", "lat": 52.5, "lon": 13.4, "ts": now, "teleport": True}),
                "teleport",
            ),
            (orjson.dumps({"type": "heartbeat", "extra": 1}), "extra"),
            (orjson.dumps({"type": "ping", "lat": True, "lon": 13.4, "ts": now}), "lat"),
        ):
            await ws.send(bad.decode())
            error = await recv_json(ws)
            assert error["type"] == "error" and error["code"] == "invalid", error
            assert error["detail"].startswith(field), error
        await ws.send(
            orjson.dumps({"type": "ping", "lat": 52, "lon": 13, "ts": int(now)}).decode()
        )  # ints for floats are fine
        await ws.send('{"type":"heartbeat"}')
        assert (await recv_json(ws))["type"] == "heartbeat"


async def test_too_many_invalid_frames_close_4400(ws_base: str) -> None:
    _, _, headers = await driver_account()
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        await recv_json(ws)
        for _ in range(25):
            await ws.send(ping(99.0, 0.0))
        assert (await closed_with(ws))[0] == 4400


async def test_rate_limit_and_idle_timeout(ws_base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, headers = await driver_account()
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        await recv_json(ws)
        for _ in range(int(get_settings().ws_max_msgs_per_s * 3) + 5):
            await ws.send('{"type":"heartbeat"}')
        code, reason = await closed_with(ws)
    assert code == 4429 and "rate" in reason
    monkeypatch.setattr(get_settings(), "ws_idle_timeout_s", 0.5)
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        await recv_json(ws)
        assert (await closed_with(ws))[0] == 4408


async def test_status_changes_only_for_own_jobs(ws_base: str) -> None:
    org, driver, headers = await driver_account()
    _, other, _ = await driver_account(org)
    truck, other_truck, customer = await make_truck(org), await make_truck(org), await make_user()
    mine = await make_booking(org, customer)
    theirs = await make_booking(org, customer)
    await assign(mine, driver, truck)
    await assign(theirs, other, other_truck)
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        await recv_json(ws)

        async def status(booking_id: uuid.UUID, to: str, ref: str) -> dict[str, object]:
            await ws.send(
                orjson.dumps(
                    {"type": "status", "booking_id": str(booking_id), "status": to, "ref": ref}
                ).decode()
            )
            return await recv_json(ws, 10)

        assert await status(mine.id, "en_route", "a") == {
            "type": "status.ok",
            "ref": "a",
            "booking_id": str(mine.id),
            "status": "en_route",
        }
        conflict = await status(mine.id, "completed", "b")
        assert (conflict["type"], conflict["code"], conflict["ref"]) == ("error", "conflict", "b")
        hidden = await status(theirs.id, "en_route", "c")
        assert (hidden["type"], hidden["code"]) == ("error", "not_found")


async def test_assignment_and_cancellation_are_pushed(ws_base: str) -> None:
    org, driver, headers = await driver_account()
    truck, customer = await make_truck(org), await make_user()
    booking = await make_booking(org, customer)
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        assert (await recv_json(ws))["jobs"] == []
        await assign(booking, driver, truck)
        await events.publish(
            org.id,
            {
                "type": "assignment.created",
                "outbox_id": 1,
                "data": {"booking_id": str(booking.id), "driver_id": str(driver.id), "org_id": str(org.id)},
            },
        )
        pushed = await recv_until(ws, "job.assigned", 5)
        assert pushed["job"]["booking_id"] == str(booking.id)
        await events.publish(
            org.id,
            {
                "type": "booking.status_changed",
                "outbox_id": 2,
                "data": {"booking_id": str(booking.id), "from": "assigned", "to": "cancelled"},
            },
        )
        cancelled = await recv_until(ws, "job.cancelled", 5)
        assert cancelled["job"]["status"] == "cancelled"


async def test_a_job_reassigned_to_another_driver_leaves_the_first_drivers_app(ws_base: str) -> None:
    org, driver, headers = await driver_account()
    other = await make_driver(org)
    truck, customer = await make_truck(org), await make_user()
    booking, kept = await make_booking(org, customer), await make_booking(org, customer)
    await assign(booking, driver, truck)
    async with connect(f"{ws_base}/ws/driver", headers) as ws:
        assert [j["booking_id"] for j in (await recv_json(ws))["jobs"]] == [str(booking.id)]
        # Another driver's assignment of a job this app does not hold changes nothing here.
        await events.publish(
            org.id,
            {
                "type": "assignment.created",
                "outbox_id": 1,
                "data": {"booking_id": str(kept.id), "driver_id": str(other.id), "org_id": str(org.id)},
            },
        )
        await events.publish(
            org.id,
            {
                "type": "assignment.created",
                "outbox_id": 2,
                "data": {"booking_id": str(booking.id), "driver_id": str(other.id), "org_id": str(org.id)},
            },
        )
        gone = await recv_until(ws, "job.cancelled", 5)
        assert (gone["job"]["booking_id"], gone["reason"]) == (str(booking.id), "reassigned")
        assert gone["job"]["status"] == "assigned"  # the booking itself did not change
