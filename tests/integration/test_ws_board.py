"""/ws/board over a real socket: auth and scope, snapshot, ticks as drivers move, sequenced
events (arrivals from the shard too), tenant isolation, resume without gaps or duplicates,
snapshot when the stream no longer reaches back, slow boards dropped to a snapshot."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from persistence import events
from persistence.config import get_settings
from tests.factories import auth_headers, make_booking, make_driver, make_org, make_truck, make_user
from tests.integration.realtime_server import (
    assign,
    closed_with,
    connect,
    ping,
    recv_json,
    recv_until,
)


async def fleet_org() -> dict[str, Any]:
    org = await make_org()
    dispatcher = await make_user("dispatcher", org)
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user, full_name="Dora Driver")
    return {
        "org": org,
        "board": auth_headers(dispatcher),
        "driver": driver,
        "driver_headers": auth_headers(driver_user, driver),
    }


async def publish(org_id: uuid.UUID, count: int, **data: Any) -> list[int]:
    return [
        await events.publish(org_id, {"type": "booking.updated", "data": {"n": n, **data}})
        for n in range(count)
    ]


async def collect_events(ws: Any, until_seq: int, timeout: float = 10.0) -> list[int]:
    """Event seqs received until `until_seq` shows up."""
    seqs: list[int] = []
    deadline = time.monotonic() + timeout
    while not seqs or seqs[-1] < until_seq:
        message = await recv_json(ws, deadline - time.monotonic())
        if message["type"] == "events":
            seqs.extend(e["seq"] for e in message["events"])
    return seqs


async def test_auth_and_roles(ws_base: str) -> None:
    async with connect(f"{ws_base}/ws/board") as ws:
        assert (await closed_with(ws))[0] == 4401
    world = await fleet_org()
    async with connect(f"{ws_base}/ws/board", world["driver_headers"]) as ws:
        assert (await closed_with(ws))[0] == 4403
    customer = await make_user("customer")
    async with connect(f"{ws_base}/ws/board", auth_headers(customer)) as ws:
        assert (await closed_with(ws))[0] == 4403
    admin = await make_user("platform_admin")
    async with connect(f"{ws_base}/ws/board?org_id={world['org'].id}", auth_headers(admin)) as ws:
        snap = await recv_json(ws)
        assert snap["type"] == "snapshot" and snap["org"]["id"] == str(world["org"].id)
    async with connect(f"{ws_base}/ws/board?since=abc", world["board"]) as ws:
        assert (await closed_with(ws))[0] == 4400
    async with connect(f"{ws_base}/ws/board?since=1&epoch=a%20b", world["board"]) as ws:
        assert (await closed_with(ws))[0] == 4400


async def test_snapshot_then_ticks_as_the_driver_moves(ws_base: str) -> None:
    world = await fleet_org()
    truck, customer = await make_truck(world["org"]), await make_user()
    booking = await make_booking(world["org"], customer)
    await assign(booking, world["driver"], truck)
    async with connect(f"{ws_base}/ws/board", world["board"]) as board:
        snap = await recv_json(board)
        assert snap["type"] == "snapshot" and snap["org"]["name"] == "Test Movers"
        assert snap["org"]["service_area"]["type"] == "MultiPolygon"
        [driver] = snap["drivers"]
        assert driver["name"] == "Dora Driver" and driver["online"] is False
        assert driver["job"] == {"booking_id": str(booking.id), "status": "assigned"}
        assert [b["id"] for b in snap["bookings"]] == [str(booking.id)]
        assert snap["bookings"][0]["driver_id"] == str(world["driver"].id)
        assert snap["trucks"][0]["id"] == str(truck.id)
        async with connect(f"{ws_base}/ws/driver", world["driver_headers"]) as app_socket:
            await recv_json(app_socket)
            await app_socket.send(ping(52.515, 13.401, heading=45.0, speed=9.0))
            tick = await recv_until(board, "tick", 5)
            [moved] = tick["drivers"]
            assert (moved["id"], moved["lat"], moved["lon"], moved["online"]) == (
                str(world["driver"].id),
                52.515,
                13.401,
                True,
            )
            assert moved["status"] == "assigned"
        gone = await recv_until(board, "tick", 5)  # the socket closed: offline at once
        assert gone["drivers"][0]["online"] is False


async def test_arrival_from_the_shard_reaches_the_board(ws_base: str, app: FastAPI) -> None:
    if app.state.fleet is None:
        pytest.skip("arrivals are detected by the Ray fleet shards")
    world = await fleet_org()
    truck, customer = await make_truck(world["org"]), await make_user()
    booking = await make_booking(world["org"], customer)
    await assign(booking, world["driver"], truck)
    async with (
        connect(f"{ws_base}/ws/board", world["board"]) as board,
        connect(f"{ws_base}/ws/driver", world["driver_headers"]) as app_socket,
    ):
        await recv_json(board)
        await recv_json(app_socket)
        await app_socket.send(
            orjson.dumps(
                {"type": "status", "booking_id": str(booking.id), "status": "en_route", "ref": "go"}
            ).decode()
        )
        assert (await recv_json(app_socket))["type"] == "status.ok"
        await app_socket.send(ping(52.5201, 13.4101))  # the booking's pickup (13.41, 52.52)
        seen: list[dict[str, Any]] = []
        found = None
        deadline = time.monotonic() + 5
        while found is None and time.monotonic() < deadline:
            message = await recv_until(board, "events", deadline - time.monotonic(), seen)
            found = next((e for e in message["events"] if e["kind"] == "driver.arrived"), None)
        assert found is not None
        assert found["data"] == {
            "driver_id": str(world["driver"].id),
            "booking_id": str(booking.id),
            "stop": "pickup",
        }


async def test_a_board_never_sees_another_orgs_events(ws_base: str) -> None:
    a, b = await fleet_org(), await fleet_org()
    async with (
        connect(f"{ws_base}/ws/board", a["board"]) as board_a,
        connect(f"{ws_base}/ws/board", b["board"]) as board_b,
    ):
        seq_a = (await recv_json(board_a))["seq"]
        seq_b = (await recv_json(board_b))["seq"]
        async with connect(f"{ws_base}/ws/driver", b["driver_headers"]) as driver_b:
            await recv_json(driver_b)
            await driver_b.send(ping(52.5, 13.4))
            await publish(b["org"].id, 3, secret="B")
            await publish(a["org"].id, 1, mine="A")
            got_b = await collect_events(board_b, seq_b + 3)
            assert got_b == [seq_b + 1, seq_b + 2, seq_b + 3]
            seen: list[dict[str, Any]] = []
            message = await recv_until(board_a, "events", 5, seen)
            assert [e["data"] for e in message["events"]] == [{"n": 0, "mine": "A"}]
            assert [e["seq"] for e in message["events"]] == [seq_a + 1]  # A's own sequence
            await asyncio.sleep(0.4)
        while True:  # whatever else board A got: nothing of B
            try:
                seen.append(await recv_json(board_a, 0.3))
            except TimeoutError:
                break
        text = orjson.dumps(seen).decode()
        assert "secret" not in text and str(b["driver"].id) not in text


async def test_a_board_joining_later_gets_no_event_its_snapshot_holds(
    ws_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await fleet_org()
    head = events.head

    async def slow_head(org_id: uuid.UUID) -> events.Head:  # a busy Redis: ticks run meanwhile
        await asyncio.sleep(0.3)
        return await head(org_id)

    async with connect(f"{ws_base}/ws/board", world["board"]) as first:
        await recv_json(first)
        old = await publish(world["org"].id, 20)  # the replica's room keeps these
        assert await collect_events(first, old[-1]) == old
        monkeypatch.setattr(events, "head", slow_head)
        boards = [connect(f"{ws_base}/ws/board", world["board"]) for _ in range(20)]
        joined = await asyncio.gather(*(b.__aenter__() for b in boards))
        try:
            snapshots = await asyncio.gather(*(recv_json(b) for b in joined))
            assert {s["type"] for s in snapshots} == {"snapshot"}
            assert {s["seq"] for s in snapshots} == {old[-1]}
            [new] = await publish(world["org"].id, 1)
            for board in joined:
                assert await collect_events(board, new) == [new]  # nothing older, no repeat
        finally:
            await asyncio.gather(*(b.__aexit__(None, None, None) for b in boards))


@pytest.mark.parametrize("missed", [5 * 20, 90 * 40])  # 5 s and 90 s of events at a high rate
async def test_resume_gets_exactly_what_was_missed(ws_base: str, missed: int) -> None:
    world = await fleet_org()
    async with connect(f"{ws_base}/ws/board", world["board"]) as board:
        snap = await recv_json(board)
        seq, epoch = snap["seq"], snap["epoch"]
        [first] = await publish(world["org"].id, 1)
        assert await collect_events(board, first) == [first]
    published = await publish(world["org"].id, missed)  # while the board is away
    async with connect(f"{ws_base}/ws/board?since={first}&epoch={epoch}", world["board"]) as board:
        replayed = await recv_json(board, 10)
        assert replayed["type"] == "events" and replayed["epoch"] == epoch
        got = [e["seq"] for e in replayed["events"]]
        if got[-1] < published[-1]:
            got += await collect_events(board, published[-1], timeout=30)
        assert got == published  # no gap, no duplicate, in order
        tick = await recv_until(board, "tick", 5)  # current positions after the replay
        assert [d["id"] for d in tick["drivers"]] == [str(world["driver"].id)]
        [live] = await publish(world["org"].id, 1)
        assert await collect_events(board, live) == [live]
    assert seq + 1 == first


async def test_resume_too_old_gets_a_snapshot(
    ws_base: str, monkeypatch: pytest.MonkeyPatch, app: FastAPI
) -> None:
    world = await fleet_org()
    monkeypatch.setattr(get_settings(), "events_max_per_org", 100)
    async with connect(f"{ws_base}/ws/board", world["board"]) as board:
        first = await recv_json(board)
        seq, epoch = first["seq"], first["epoch"]
    published = await publish(world["org"].id, 1000)  # the stream keeps ~100 of them
    assert await events.read_since(world["org"].id, seq) is None
    async with connect(f"{ws_base}/ws/board?since={seq}&epoch={epoch}", world["board"]) as board:
        snap = await recv_json(board)
        assert snap["type"] == "snapshot" and snap["seq"] == published[-1]
        assert snap["epoch"] == epoch  # the same stream, only trimmed
        for query in (
            f"since={published[-1] + 50}&epoch={epoch}",  # a cursor from the future
            f"since={published[-1] + 50}",
            f"since={published[-5]}&epoch=0ther",
        ):  # another life of the stream
            async with connect(f"{ws_base}/ws/board?{query}", world["board"]) as other:
                assert (await recv_json(other))["type"] == "snapshot", query
        async with connect(
            f"{ws_base}/ws/board?since={published[-5]}",  # before epochs
            world["board"],
        ) as legacy:
            replayed = await recv_json(legacy)
            assert replayed["type"] == "events" and replayed["epoch"] == epoch
            assert [e["seq"] for e in replayed["events"]] == published[-4:]
        await board.send(orjson.dumps({"type": "resume", "since": published[-5], "epoch": "0ther"}).decode())
        assert (await recv_until(board, "snapshot"))["seq"] == published[-1]
        await board.send(orjson.dumps({"type": "resume", "since": published[-5], "epoch": epoch}).decode())
        assert await collect_events(board, published[-1]) == published[-4:]


async def test_a_slow_board_is_dropped_to_a_snapshot(
    ws_base: str, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = app.state.realtime.hub
    monkeypatch.setattr(hub, "queue_frames", 8)
    monkeypatch.setattr(get_settings(), "events_max_per_org", 500)
    world = await fleet_org()
    tiny = socket.create_connection(("127.0.0.1", int(ws_base.rsplit(":", 1)[1])))
    tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)  # no autotuned megabytes
    async with (
        connect(f"{ws_base}/ws/board", world["board"], max_queue=1, max_size=None, sock=tiny) as slow,
        connect(f"{ws_base}/ws/board", world["board"], max_size=None) as fast,
    ):
        await recv_json(slow)
        await recv_json(fast)
        room = hub.rooms[world["org"].id]
        pad = "x" * 8_000
        deepest = 0
        for _ in range(30):  # ~6 MB of events while `slow` reads nothing
            await asyncio.gather(
                *(
                    events.publish(world["org"].id, {"type": "booking.updated", "data": {"pad": pad}})
                    for _ in range(50)
                )
            )
            deepest = max(deepest, *(len(link.queue) for link in room.boards))
            await asyncio.sleep(0.1)
        assert deepest <= 8  # bounded, whatever the slow board does
        assert sum(link.drops for link in room.boards) >= 1
        [last] = await publish(world["org"].id, 1)
        assert (await collect_events(fast, last, timeout=20))[-1] == last  # not held up
        snapshot = await recv_until(slow, "snapshot", 30)  # reads again: a fresh snapshot
        if snapshot["seq"] < last:  # taken when it was dropped: live again from there on
            assert (await collect_events(slow, last, timeout=20))[-1] == last
