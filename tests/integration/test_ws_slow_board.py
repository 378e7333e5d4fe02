"""Slow boards as the protocol document says: a board that stops reading (a raw socket with a
tiny receive buffer that no longer calls recv) is dropped to a snapshot, then closed with 1013
(the close frame waits for it to read again), well before the keepalive would cut it; the
other boards are not held up meanwhile. While it is behind, its ticks do not pile up: it holds
one, with each driver's newest position."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time
from typing import Any

import orjson
from fastapi import FastAPI

from gateway.realtime.connection import TransportOutlet, close_wait_s
from persistence import events
from persistence.config import get_settings
from tests.factories import auth_headers, make_driver, make_org, make_user
from tests.integration.realtime_server import connect, ping, recv_json


class StalledClient:
    """A websocket client on a raw socket: a receive buffer of a few KiB, and it reads only
    when told to (so the server's sends pile up against TCP flow control)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    @classmethod
    async def open(cls, base: str, path: str, headers: dict[str, str]) -> StalledClient:
        host, port = base.removeprefix("ws://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode())
        client = cls(sock)
        while b"\r\n\r\n" not in client.buffer:
            client.buffer += await client._recv()
        head, client.buffer = client.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        return client

    async def _recv(self) -> bytes:
        chunk = await asyncio.get_running_loop().sock_recv(self.sock, 65536)
        if not chunk:
            raise EOFError("the server closed the connection without a close frame")
        return chunk

    async def frame(self) -> tuple[int, bytes]:
        """The next (opcode, payload) from the server (unmasked, unfragmented)."""
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            self.buffer += await self._recv()

    def _parse(self) -> tuple[int, bytes] | None:
        if len(self.buffer) < 2:
            return None
        opcode, size, at = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
        if size >= 126:
            width = 2 if size == 126 else 8
            if len(self.buffer) < 2 + width:
                return None
            size = int.from_bytes(self.buffer[2 : 2 + width], "big")
            at += width
        if len(self.buffer) < at + size:
            return None
        payload, self.buffer = self.buffer[at : at + size], self.buffer[at + size :]
        return opcode, payload

    async def read_to_close(self) -> tuple[list[dict[str, Any]], int, str]:
        """Reads again: every text frame still on its way, then the close code and reason."""
        frames: list[dict[str, Any]] = []
        while True:
            opcode, payload = await self.frame()
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0]
                return frames, code, payload[2:].decode()
            if opcode == 0x1:
                frames.append(orjson.loads(payload))

    def close(self) -> None:
        self.sock.close()


async def test_a_board_that_stops_reading_is_dropped_then_closed_with_1013(
    ws_base: str, app: FastAPI, monkeypatch: Any
) -> None:
    settings = get_settings()
    hub = app.state.realtime.hub
    monkeypatch.setattr(hub, "queue_frames", 8)
    monkeypatch.setattr(settings, "events_max_per_org", 500)
    monkeypatch.setattr(settings, "ws_send_timeout_s", 6.0)
    assert settings.ws_ping_timeout_s > settings.ws_send_timeout_s  # the documented order
    org = await make_org()
    headers = auth_headers(await make_user("dispatcher", org))
    stalled = await StalledClient.open(ws_base, "/ws/board", headers)
    try:
        opcode, first = await stalled.frame()
        assert opcode == 0x1 and orjson.loads(first)["type"] == "snapshot"
        room = hub.rooms[org.id]
        [slow] = room.boards
        async with connect(f"{ws_base}/ws/board", headers, max_size=None) as fast:
            seq = (await recv_json(fast))["seq"]
            received: list[int] = []

            async def read_fast() -> None:
                while True:
                    message = await recv_json(fast, 60)
                    if message["type"] == "events":
                        received.extend(e["seq"] for e in message["events"])

            reader = asyncio.create_task(read_fast())
            pad = "x" * 8_000
            published: list[int] = []
            deepest, marker, deadline = 0, None, time.monotonic() + 90
            marker_while_stuck: bool | None = None  # did `fast` get it before slow was closed?
            stalled_at = time.monotonic()
            while slow in room.boards and time.monotonic() < deadline:  # the server gives up
                published += await asyncio.gather(
                    *(
                        events.publish(org.id, {"type": "booking.updated", "data": {"pad": pad}})
                        for _ in range(20)
                    )
                )
                deepest = max(deepest, *(len(link.queue) for link in room.boards))
                if slow.drops and marker is None:  # dropped to a snapshot; still connected
                    marker = await events.publish(
                        org.id, {"type": "booking.updated", "data": {"marker": True}}
                    )
                    published.append(marker)
                if marker_while_stuck is None and marker in received:
                    marker_while_stuck = slow in room.boards
                await asyncio.sleep(0.1)
            stalled_for = time.monotonic() - stalled_at
            assert slow not in room.boards, "the server never gave up on the stalled board"
            assert slow.drops >= 1 and deepest <= 8  # bounded, dropped to a snapshot first
            assert marker is not None and marker_while_stuck
            async with asyncio.timeout(30):
                while not received or received[-1] < published[-1]:
                    await asyncio.sleep(0.05)
            reader.cancel()
            assert received == list(range(seq + 1, published[-1] + 1))  # all, once, in order

        # Reading again: what was already on its way, then the documented close.
        assert stalled_for < settings.ws_ping_timeout_s  # the keepalive had no say yet
        async with asyncio.timeout(close_wait_s(settings)):
            frames, code, reason = await stalled.read_to_close()
        assert (code, reason) == (1013, "slow consumer: reconnect with since and epoch")
        assert {f["type"] for f in frames} <= {"events", "tick", "snapshot"}
    finally:
        stalled.close()


async def test_a_board_behind_its_socket_holds_one_tick_with_the_newest_positions(
    ws_base: str, app: FastAPI, monkeypatch: Any
) -> None:
    monkeypatch.setattr(get_settings(), "ws_send_timeout_s", 60.0)  # no 1013 while we look
    hub = app.state.realtime.hub
    org = await make_org()
    driver_user = await make_user("driver", org)
    driver = await make_driver(org, user=driver_user)
    stalled = await StalledClient.open(ws_base, "/ws/board", auth_headers(await make_user("dispatcher", org)))
    try:
        opcode, first = await stalled.frame()
        assert opcode == 0x1 and orjson.loads(first)["type"] == "snapshot"
        [slow] = hub.rooms[org.id].boards
        assert isinstance(slow.outlet, TransportOutlet)  # the direct path, no send coroutine
        published: list[int] = []
        deadline = time.monotonic() + 30
        while not slow.queue and time.monotonic() < deadline:  # until its socket takes no more
            published += await asyncio.gather(
                *(
                    events.publish(org.id, {"type": "booking.updated", "data": {"pad": "x" * 8_000}})
                    for _ in range(5)
                )
            )
            await asyncio.sleep(0.15)
        assert slow.queue, "the board's socket never filled up"
        queued = len(slow.queue)
        lats = [52.51 + i / 1000 for i in range(6)]
        async with connect(f"{ws_base}/ws/driver", auth_headers(driver_user, driver)) as app_ws:
            await recv_json(app_ws)
            for lat in lats:  # one position per tick or so
                await app_ws.send(ping(lat, 13.40))
                await asyncio.sleep(0.15)
            async with asyncio.timeout(10):
                while (slow.tick_drivers or {}).get(str(driver.id), {}).get("lat") != lats[-1]:
                    await asyncio.sleep(0.05)
            assert len(slow.queue) == queued  # ticks never queue behind the events
            assert slow.stalled_at is not None and slow.failure is None

            # Reading again: every event once and in order, then ONE tick with the driver,
            # at its newest position (none of the stale ones).
            seqs: list[int] = []
            ticks: list[dict[str, Any]] = []
            async with asyncio.timeout(30):
                while not ticks:
                    opcode, payload = await stalled.frame()
                    message = orjson.loads(payload)
                    if message["type"] == "events":
                        seqs += [e["seq"] for e in message["events"]]
                    elif message["type"] == "tick":
                        ticks += [d for d in message["drivers"] if d["id"] == str(driver.id)]
            assert seqs == sorted(published)  # all, once, in order, before the tick
            assert [d["lat"] for d in ticks] == [lats[-1]]
            assert message["seq"] == max(published)
    finally:
        stalled.close()
