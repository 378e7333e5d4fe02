"""What both sockets share: reading frames under the per-connection limits (size, rate, idle
timeout), closing with a code and a reason, and sending: with a timeout (driver replies), or
as pre-encoded frames written straight to the socket (boards, see Outlet)."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections import deque
from typing import Any

import orjson
from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from persistence.config import Settings

# More than MAX_INVALID frames failing validation within INVALID_WINDOW_S close the socket with
# 4400. A leaky bucket, not a lifetime count: a driver whose clock runs near the 5 s skew limit
# sends the odd invalid ping all day long, and that is not a broken client.
MAX_INVALID = 20
INVALID_WINDOW_S = 60.0


class LeakyBucket:
    """Counts events, forgetting them at `capacity / window_s` per second: full means more
    than `capacity` within about one window."""

    def __init__(self, capacity: float, window_s: float, now: float | None = None) -> None:
        self.capacity, self.leak_per_s = capacity, capacity / window_s
        self.level = 0.0
        self.at = time.monotonic() if now is None else now

    def add(self, now: float | None = None) -> bool:
        """Count one; True when that overflows the bucket."""
        now = time.monotonic() if now is None else now
        leaked = max(0.0, now - self.at) * self.leak_per_s
        self.level = max(0.0, self.level - leaked) + 1
        self.at = max(now, self.at)
        return self.level > self.capacity


# A socket that cannot go on because PostgreSQL or Redis is unreachable (gateway.errors.unavailable).
TRY_LATER = (1013, "a service is unavailable: try again later")


class Closing(Exception):
    """Close the socket with this code and reason (docs/realtime-protocol.md)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class Inbox:
    """Client frames, one at a time; None when the client went away."""

    def __init__(self, websocket: WebSocket, settings: Settings) -> None:
        self.websocket = websocket
        self.max_bytes = settings.ws_max_message_bytes
        self.idle_s = settings.ws_idle_timeout_s
        self.rate = settings.ws_max_msgs_per_s
        # Two seconds' worth (docs/realtime-protocol.md): jitter is not abuse.
        self.burst = max(2.0, 2 * self.rate)
        self.tokens = self.burst
        self.refilled = time.monotonic()
        self.invalid = LeakyBucket(MAX_INVALID, INVALID_WINDOW_S)

    def _take_token(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens < 1:
            raise Closing(4429, f"rate limit exceeded ({self.rate:g} messages/s)")
        self.tokens -= 1

    async def next(self) -> str | None:
        try:
            # asyncio.timeout, not wait_for: no extra task per frame at thousands of pings/s.
            async with asyncio.timeout(self.idle_s):
                message = await self.websocket.receive()
        except TimeoutError as exc:
            raise Closing(4408, f"heartbeat timeout: nothing received for {self.idle_s:g} s") from exc
        if message["type"] == "websocket.disconnect":
            return None
        text: str | None = message.get("text")
        if text is None:
            raise Closing(1003, "binary frames are not accepted; send JSON text")
        if len(text) * 4 > self.max_bytes and len(text.encode()) > self.max_bytes:
            raise Closing(1009, f"message too big (limit {self.max_bytes} bytes)")
        self._take_token()
        return text

    def count_invalid(self) -> None:
        if self.invalid.add():
            raise Closing(4400, f"too many invalid messages (over {MAX_INVALID} in {INVALID_WINDOW_S:g} s)")


def gone(websocket: WebSocket, exc: BaseException) -> bool:
    """The client went away mid-send: not an error worth a stack trace."""
    return (
        isinstance(exc, WebSocketDisconnect | OSError)
        or type(exc).__name__ == "ClientDisconnected"
        or websocket.client_state == WebSocketState.DISCONNECTED
        or websocket.application_state == WebSocketState.DISCONNECTED
    )


def close_wait_s(settings: Settings) -> float:
    """How long a close frame may wait behind a client that does not read: by then uvicorn's
    keepalive has given up on it (its own close is queued instead)."""
    return settings.ws_ping_interval_s + settings.ws_ping_timeout_s + 1.0


async def close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close once, quietly (the client may be gone already). A client that stopped reading
    gets the frame when it reads again; one that never does cannot hold this task forever."""
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(Exception):
        async with asyncio.timeout(close_wait_s(websocket.app.state.settings)):
            await websocket.close(code, reason[:120])


async def refuse(websocket: WebSocket, code: int, reason: str) -> None:
    """Accept, then close with the code: browsers never see an HTTP refusal's reason."""
    with contextlib.suppress(Exception):
        await websocket.accept()
    await close(websocket, code, reason)


async def send_text(websocket: WebSocket, text: str, timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await websocket.send_text(text)
    except TimeoutError as exc:
        raise Closing(1013, "slow consumer: reconnect with since and epoch") from exc


# ---- the board send path -------------------------------------------------------------------
class Outgoing:
    """One server frame encoded once (JSON text) and, for the direct path, once more as the
    websocket frame on the wire: a server's frames are not masked, so the same bytes go to
    every board of the org. `built` is the wall-clock time it was made (benchmark stamps)."""

    __slots__ = ("_wire", "built", "data")

    def __init__(self, data: bytes, built: float = 0.0) -> None:
        self.data, self.built = data, built
        self._wire: bytes | None = None

    @classmethod
    def of(cls, payload: dict[str, Any], built: float = 0.0) -> Outgoing:
        return cls(orjson.dumps(payload), built)

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            size = len(self.data)
            if size < 126:
                head = struct.pack("!BB", 0x81, size)  # FIN + text, unmasked
            elif size < 1 << 16:
                head = struct.pack("!BBH", 0x81, 126, size)
            else:
                head = struct.pack("!BBQ", 0x81, 127, size)
            self._wire = head + self.data
        return self._wire


class Outlet:
    """Where a board's frames go, without a coroutine per frame: `write` never waits, and
    `writable` says whether the socket takes more now (its buffer is below the transport's
    high-water mark). A board's link holds back what the socket does not take."""

    def writable(self) -> bool:
        raise NotImplementedError

    def write(self, frame: Outgoing) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """The board is gone: nothing more is written."""


class TransportOutlet(Outlet):
    """uvicorn's websockets-sansio connection (what `movehub serve` and the tests run): frames
    go to its transport as bytes, as its own send would after `await writable.wait()`."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.transport = protocol.transport
        # Extensions (permessage-deflate) change the bytes per connection: encode through it.
        self.plain = not protocol.conn.extensions

    def writable(self) -> bool:
        return bool(self.protocol.writable.is_set())

    def write(self, frame: Outgoing) -> None:
        protocol = self.protocol
        if protocol.close_sent or protocol.disconnected or self.transport.is_closing():
            return  # closing: the board's tasks end by themselves
        if self.plain:
            self.transport.write(frame.wire)
        else:
            protocol.conn.send_text(frame.data)
            self.transport.write(b"".join(protocol.conn.data_to_send()))


class AsgiOutlet(Outlet):
    """Any other ASGI server: one drain task sends the frames through the ASGI interface;
    not writable while a frame is on its way (a socket with a one-frame buffer)."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.pending: deque[Outgoing] = deque()
        self.wake = asyncio.Event()
        self.failed: BaseException | None = None
        self.task = asyncio.create_task(self._drain())

    def writable(self) -> bool:
        return not self.pending and self.failed is None

    def write(self, frame: Outgoing) -> None:
        self.pending.append(frame)
        self.wake.set()

    async def _drain(self) -> None:
        try:
            while True:
                while self.pending:
                    await self.websocket.send_text(self.pending[0].data.decode())
                    self.pending.popleft()
                self.wake.clear()
                await self.wake.wait()
        except Exception as exc:  # gone: the watchdog or the receiver ends the board
            self.failed = exc

    def close(self) -> None:
        self.task.cancel()


def outlet(websocket: WebSocket) -> Outlet:
    """The direct path when the server is uvicorn's websockets-sansio (Starlette hands the
    server's own `receive` to the route, so it names the connection), else the ASGI path."""
    with contextlib.suppress(ImportError):
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )

        protocol = getattr(websocket._receive, "__self__", None)
        if isinstance(protocol, WebSocketsSansIOProtocol):
            return TransportOutlet(protocol)
    return AsgiOutlet(websocket)
